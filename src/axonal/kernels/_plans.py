"""What each neuron's fused scan runs, the same for every backend.

A backend's kernels know four loops (``"lif"``, ``"li"``, ``"alif"``, ``"ilif"``) over six
parameter rows. :func:`fused_scans` maps every one-step function of
:mod:`axonal.functional.neurons` onto them (IF is the LIF loop with ``beta = 1``; CubaLIF and
CubaLI run a leaky integrator for the synaptic current first) and returns the scans that a
backend registers, given the one function it supplies: ``run(plan, x, state) -> (out, final
state rows)``, which runs one :class:`Plan`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from torch import Tensor

from axonal.functional import neurons as F
from axonal.functional.surrogate import Surrogate
from axonal.kernels._support import has_leak

__all__ = ["MODELS", "Plan", "Run", "fused_scans", "leak_row"]

MODELS = ("lif", "li", "alif", "ilif")
"""The loops every backend implements."""


class Plan(NamedTuple):
    """One scan of a backend's loops.

    ``model``: one of :data:`MODELS`. ``rows``: the six parameter rows' values, each a number
    or a tensor that broadcasts to one step: beta, threshold, leak (:func:`leak_row`), v_reset,
    adapt_decay, adapt_strength. The other fields are the neuron's own; ``v_leak`` says whether
    the leak row is added at all (a kernel may skip it), ``threshold`` is I-LIF's divisor (a
    number or a tensor: the GPU repeats how torch divides by each).
    """

    model: str
    rows: tuple[Tensor | float, ...]
    reset: str = "none"
    detach_reset: bool = True
    surrogate: Surrogate | None = None
    max_spikes: int = 1
    state_quant: Any = None
    v_leak: Tensor | float = 0.0
    threshold: Tensor | float = 1.0


Run = Callable[[Plan, Tensor, tuple[Tensor, ...]], tuple[Tensor, list[Tensor]]]
"""``run(plan, x [T, B, ...], state) -> (out [T, B, ...], final state tensors)``."""


def leak_row(beta: Tensor | float, v_leak: Tensor | float) -> Tensor | float:
    """``(1 - beta) * v_leak`` computed as the functional code does, or -0.0 when it skips the
    term (adding -0.0 changes no value, so a loop may add the leak row unconditionally)."""
    return (1 - beta) * v_leak if has_leak(v_leak) else -0.0


def fused_scans(run: Run) -> dict[Callable[..., Any], Callable[..., tuple[Tensor, Any]]]:
    """The fused scan of every one-step function, built on a backend's ``run``; each has the
    signature and results of ``reference.scan(step, x, state, params)`` without ``step``."""

    def lif(x: Tensor, state: F.LIFState, p: F.LIFParameters) -> tuple[Tensor, F.LIFState]:
        rows = (p.beta, p.threshold, leak_row(p.beta, p.v_leak), p.v_reset, 0.0, 0.0)
        plan = Plan("lif", rows, p.reset, p.detach_reset, p.surrogate,
                    state_quant=p.state_quant, v_leak=p.v_leak)  # fmt: skip
        out, (v,) = run(plan, x, state)
        return out, F.LIFState(v)

    def if_(x: Tensor, state: F.LIFState, p: F.IFParameters) -> tuple[Tensor, F.LIFState]:
        rows = (1.0, p.threshold, -0.0, p.v_reset, 0.0, 0.0)  # 1 * v is exact
        plan = Plan("lif", rows, p.reset, p.detach_reset, p.surrogate, state_quant=p.state_quant)
        out, (v,) = run(plan, x, state)
        return out, F.LIFState(v)

    def li(x: Tensor, state: F.LIFState, p: F.LIParameters) -> tuple[Tensor, F.LIFState]:
        rows = (p.beta, 1.0, leak_row(p.beta, p.v_leak), 0.0, 0.0, 0.0)
        out, (v,) = run(Plan("li", rows, state_quant=p.state_quant, v_leak=p.v_leak), x, state)
        return out, F.LIFState(v)

    def synaptic_current(x: Tensor, i: Tensor, alpha: Tensor | float) -> tuple[Tensor, Tensor]:
        """``i[t] = alpha * i[t-1] + x[t]``: the leaky-integrator loop without leak term."""
        current, (i,) = run(Plan("li", (alpha, 1.0, -0.0, 0.0, 0.0, 0.0)), x, (i,))
        return current, i

    def cuba_li(
        x: Tensor, state: F.CubaLIFState, p: F.CubaLIParameters
    ) -> tuple[Tensor, F.CubaLIFState]:
        current, i = synaptic_current(x, state.i, p.alpha)
        out, (v,) = li(current, F.LIFState(state.v), F.LIParameters(p.beta, p.v_leak))
        return out, F.CubaLIFState(i, v)

    def cuba_lif(
        x: Tensor, state: F.CubaLIFState, p: F.CubaLIFParameters
    ) -> tuple[Tensor, F.CubaLIFState]:
        current, i = synaptic_current(x, state.i, p.alpha)
        params = F.LIFParameters(p.beta, p.threshold, p.reset, p.v_reset, p.v_leak,
                                 p.surrogate, p.detach_reset, p.state_quant)  # fmt: skip
        out, (v,) = lif(current, F.LIFState(state.v), params)
        return out, F.CubaLIFState(i, v)

    def alif(x: Tensor, state: F.ALIFState, p: F.ALIFParameters) -> tuple[Tensor, F.ALIFState]:
        rows = (p.beta, p.threshold, leak_row(p.beta, p.v_leak), p.v_reset, p.adapt_decay,
                p.adapt_strength)  # fmt: skip
        plan = Plan("alif", rows, p.reset, p.detach_reset, p.surrogate,
                    state_quant=p.state_quant, v_leak=p.v_leak)  # fmt: skip
        out, (v, a) = run(plan, x, state)
        return out, F.ALIFState(v, a)

    def ilif(x: Tensor, state: F.LIFState, p: F.ILIFParameters) -> tuple[Tensor, F.LIFState]:
        rows = (p.beta, p.threshold, leak_row(p.beta, p.v_leak), p.v_reset, 0.0, 0.0)
        plan = Plan("ilif", rows, p.reset, p.detach_reset, None, p.max_spikes, p.state_quant,
                    p.v_leak, p.threshold)  # fmt: skip
        out, (v,) = run(plan, x, state)
        return out, F.LIFState(v)

    return {
        F.lif_step: lif,
        F.if_step: if_,
        F.li_step: li,
        F.cuba_lif_step: cuba_lif,
        F.cuba_li_step: cuba_li,
        F.alif_step: alif,
        F.ilif_step: ilif,
    }
