"""The one error and the one warning of the NIR exchange."""

from __future__ import annotations

__all__ = ["NIRConversionError", "NIRSemanticsWarning"]


class NIRConversionError(ValueError):
    """A model or graph that cannot be converted, with every offending node listed.

    ``problems`` holds ``(node, reason)`` pairs; nodes are named by their path (``"rlif_2/lif"``
    for a node inside a sub-graph, the module path for an axonal model).
    """

    def __init__(self, what: str, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {node}: {reason}" for node, reason in self.problems)
        super().__init__(f"{what} ({len(self.problems)} problem(s)):\n{lines}")


class NIRSemanticsWarning(UserWarning):
    """Exported nodes whose exact behaviour only axonal recovers (from its metadata): other NIR
    tools run the nearest plain NIR primitive instead; or an import whose ``dt``/``method``
    differs from the ones the graph was exported with."""
