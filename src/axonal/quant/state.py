"""Neuron-state (membrane) quantisation, SQUAT (Venkatesh, Marinescu, Eshraghian 2024).

``state_levels`` builds the quantisation levels of snnTorch's ``state_quant`` for a threshold
``theta`` over the range ``[v_min, v_max] = [-theta (1 + lower), theta (1 + upper)]`` with
``N = 2**bits`` levels:

- ``"uniform"``: ``N`` evenly spaced levels from ``v_min`` to ``v_max``.
- ``"threshold"``: ``N_low = floor(N (theta - v_min) / (v_max - v_min))`` levels from ``v_min``
  up toward ``theta`` with steps ``(theta - v_min) m**j / sum_{k<N_low} m**k`` (``j = 0, 1, ...``,
  shrinking geometrically, ``theta`` itself never reached), then ``N - N_low`` levels above
  ``theta`` with steps ``(v_max - theta) m**j / sum_{k<N_up} m**k`` for ``j = N_up - 1 .. 0`` (the
  smallest step next to ``theta``, the last level exactly ``v_max``).
- ``"zero"``: the same construction centred on 0 instead of ``theta``.

The multiplier ``m`` defaults by bit width to :data:`MULTIPLIERS` (0.95 from 8 bits on).
:class:`StateQuantizer` rounds to the nearest level with a straight-through gradient and is
what a neuron's ``state_quant`` expects (applied after the membrane update, before firing).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from axonal.quant._checks import check_bits, check_non_negative, check_positive
from axonal.quant.ste import straight_through

__all__ = ["MODES", "MULTIPLIERS", "StateQuantizer", "state_levels"]

MODES = ("uniform", "threshold", "zero")
MULTIPLIERS = {1: 0.05, 2: 0.1, 3: 0.3, 4: 0.5, 5: 0.7, 6: 0.9, 7: 0.925}
_MULTIPLIER_FROM_8_BITS = 0.95


def _default_multiplier(bits: int) -> float:
    return MULTIPLIERS.get(bits, _MULTIPLIER_FROM_8_BITS)


def _geometric_steps(span: float, count: int, m: float) -> list[float]:
    """``count`` steps ``span * m**j / sum_k m**k``, ``j = 0 .. count - 1`` (summing to span)."""
    total = sum(m**k for k in range(count))
    return [span * m**j / total for j in range(count)]


def _centred_levels(n: int, v_min: float, v_max: float, centre: float, m: float) -> list[float]:
    """Levels geometrically denser toward ``centre`` (see the module docstring)."""
    n_low = math.floor(n * (centre - v_min) / (v_max - v_min))
    n_up = n - n_low
    levels: list[float] = []
    if n_low > 0:
        level = v_min
        levels.append(level)
        for step in _geometric_steps(centre - v_min, n_low, m)[: n_low - 1]:
            level += step
            levels.append(level)
    level = centre
    for step in reversed(_geometric_steps(v_max - centre, n_up, m)):
        level += step
        levels.append(level)
    return levels


def state_levels(
    bits: int,
    mode: str = "uniform",
    threshold: float = 1.0,
    lower: float = 0.0,
    upper: float = 0.2,
    multiplier: float | None = None,
    *,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The ``2**bits`` membrane levels ``[2**bits]`` (sorted, in the membrane's units).

    ``threshold`` is the firing threshold ``theta`` (> 0); ``lower`` and ``upper`` extend the
    range to ``[-theta (1 + lower), theta (1 + upper)]``; ``upper`` must be > 0, else no level
    lies above the threshold and a quantised neuron (firing strictly above it) never fires.
    ``multiplier`` (geometric ratio of the non-uniform modes, > 0) defaults by bit width. The
    levels are computed in float64 and returned as ``dtype``.
    """
    bits = check_bits(bits)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    theta = check_positive(threshold, "threshold")
    lower = check_non_negative(lower, "lower")
    upper = check_positive(upper, "upper (levels above the threshold, so neurons can fire)")
    m = _default_multiplier(bits)
    if multiplier is not None:
        m = check_positive(multiplier, "multiplier")
    n = 2**bits
    v_min, v_max = -theta * (1 + lower), theta * (1 + upper)
    if mode == "uniform":
        return torch.linspace(v_min, v_max, n, dtype=torch.float64).to(dtype)
    centre = theta if mode == "threshold" else 0.0
    return torch.tensor(_centred_levels(n, v_min, v_max, centre, m), dtype=torch.float64).to(dtype)


class StateQuantizer(nn.Module):
    """Rounds a membrane to the nearest of ``levels`` ``[L]``, gradient 1 (straight-through).

    ``quantizer(v [...]) -> [...]``, every value one of the levels (cast to ``v``'s dtype); a
    value half-way between two levels goes to the lower one. Values outside the range clamp to
    the end levels while the gradient still passes unchanged, as in snnTorch's ``state_quant``.
    Pass it as ``state_quant=`` to a neuron of :mod:`axonal.nn`.
    """

    levels: Tensor
    midpoints: Tensor

    def __init__(self, levels: Tensor) -> None:
        super().__init__()
        if not isinstance(levels, Tensor) or levels.dim() != 1 or levels.numel() < 2:
            shape = tuple(levels.shape) if isinstance(levels, Tensor) else type(levels).__name__
            raise ValueError(f"levels must be a 1-D tensor of at least 2 values, got {shape}")
        if not levels.is_floating_point() or not torch.isfinite(levels).all():
            raise ValueError(f"levels must be finite floating-point values, got {levels}")
        levels = levels.detach().sort().values
        self.register_buffer("levels", levels.clone())
        self.register_buffer("midpoints", (levels[1:] + levels[:-1]) / 2)

    @classmethod
    def from_bits(cls, bits: int, mode: str = "uniform", **kwargs: float | None) -> StateQuantizer:
        """``StateQuantizer(state_levels(bits, mode, **kwargs))``."""
        return cls(state_levels(bits, mode, **kwargs))  # type: ignore[arg-type]

    def _nearest(self, v: Tensor) -> Tensor:
        midpoints = self.midpoints.to(device=v.device, dtype=v.dtype)
        index = torch.searchsorted(midpoints, v.contiguous())
        return self.levels.to(device=v.device, dtype=v.dtype)[index]

    def forward(self, v: Tensor) -> Tensor:
        return straight_through(v, self._nearest)

    def extra_repr(self) -> str:
        low, high = float(self.levels[0]), float(self.levels[-1])
        return f"levels={self.levels.numel()}, range=[{low:.4g}, {high:.4g}]"
