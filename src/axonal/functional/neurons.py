"""One time step of each neuron model, as pure functions.

Every step has the signature ``step(x, state, params) -> (output, new_state)``: ``x`` is the
input current at this step ``[B, ...]``, ``state`` a NamedTuple of tensors shaped like ``x``,
``params`` a NamedTuple of constants (floats, or tensors that broadcast against ``x``).
Modules in :mod:`axonal.nn` wrap these functions; the multi-step kernels in
:mod:`axonal.kernels` implement exactly the same maths and are tested against them.

Membrane update (all leaky neurons), with ``v'`` the membrane after the previous reset::

    v[t] = beta * v'[t-1] + (1 - beta) * v_leak + x[t]
    s[t] = H(v[t] - threshold)                            (H(0) = 0: fire strictly above)
    v'[t] = v[t] - s[t] * threshold                       reset="subtract"
    v'[t] = v[t] * (1 - s[t]) + s[t] * v_reset            reset="zero" (v_reset = 0 default)
    v'[t] = v[t]                                          reset="none"

With ``detach_reset=True`` (default) the reset uses ``s`` without its gradient, so the
surrogate gradient flows through the firing, not through the reset (as snnTorch does).

Every parameter tuple of a neuron with a membrane ends with ``state_quant``: ``None``, or a
function applied to the membrane ``v[t]`` right after its update and before firing (SQUAT state
quantisation, e.g. :class:`axonal.quant.StateQuantizer`); the reset then acts on the quantised
membrane.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from axonal.functional.surrogate import ATan, Surrogate

__all__ = [
    "RESET_MODES",
    "ALIFParameters",
    "ALIFState",
    "CubaLIFParameters",
    "CubaLIFState",
    "CubaLIParameters",
    "IFParameters",
    "ILIFParameters",
    "LIFParameters",
    "LIFState",
    "LIParameters",
    "alif_step",
    "check_reset",
    "cuba_li_step",
    "cuba_lif_step",
    "if_step",
    "ilif_step",
    "initial_state",
    "integer_spike",
    "leaky_integrate",
    "li_step",
    "lif_step",
]

RESET_MODES = ("subtract", "zero", "none")

Value = Tensor | float


class LIFState(NamedTuple):
    """Membrane potential after reset ``v`` ``[B, ...]`` (LIF, IF, LI and I-LIF)."""

    v: Tensor


class CubaLIFState(NamedTuple):
    """Synaptic current ``i`` and membrane ``v`` (after reset), both ``[B, ...]``."""

    i: Tensor
    v: Tensor


class ALIFState(NamedTuple):
    """Membrane ``v`` (after reset) and adaptation variable ``a`` (decaying spike count)."""

    v: Tensor
    a: Tensor


class LIFParameters(NamedTuple):
    """Leaky integrate-and-fire: leak ``beta`` in [0, 1] per step, see the module docstring."""

    beta: Value = 0.9
    threshold: Value = 1.0
    reset: str = "subtract"
    v_reset: Value = 0.0
    v_leak: Value = 0.0
    surrogate: Surrogate = ATan()
    detach_reset: bool = True
    state_quant: Callable[[Tensor], Tensor] | None = None


class IFParameters(NamedTuple):
    """Integrate-and-fire: an LIF without leak (``beta = 1``)."""

    threshold: Value = 1.0
    reset: str = "subtract"
    v_reset: Value = 0.0
    surrogate: Surrogate = ATan()
    detach_reset: bool = True
    state_quant: Callable[[Tensor], Tensor] | None = None


class LIParameters(NamedTuple):
    """Leaky integrator (non-spiking readout): ``v[t] = beta v[t-1] + (1-beta) v_leak + x[t]``."""

    beta: Value = 0.9
    v_leak: Value = 0.0
    state_quant: Callable[[Tensor], Tensor] | None = None


class CubaLIFParameters(NamedTuple):
    """Current-based LIF: ``i[t] = alpha i[t-1] + x[t]`` drives the LIF membrane with ``i[t]``."""

    alpha: Value = 0.8
    beta: Value = 0.9
    threshold: Value = 1.0
    reset: str = "subtract"
    v_reset: Value = 0.0
    v_leak: Value = 0.0
    surrogate: Surrogate = ATan()
    detach_reset: bool = True
    state_quant: Callable[[Tensor], Tensor] | None = None


class ALIFParameters(NamedTuple):
    """Adaptive-threshold LIF. The threshold is ``threshold + adapt_strength * a[t-1]`` and
    ``a[t] = adapt_decay * a[t-1] + s[t]``; a subtract reset removes that effective threshold."""

    beta: Value = 0.9
    threshold: Value = 1.0
    adapt_decay: Value = 0.95
    adapt_strength: Value = 0.2
    reset: str = "subtract"
    v_reset: Value = 0.0
    v_leak: Value = 0.0
    surrogate: Surrogate = ATan()
    detach_reset: bool = True
    state_quant: Callable[[Tensor], Tensor] | None = None


class ILIFParameters(NamedTuple):
    """Integer-valued LIF (I-LIF, SDTrack / Spike-driven Transformer v3).

    Emits ``k / max_spikes`` with the integer count ``k = round(clamp(v / threshold, 0, D))``,
    ``D = max_spikes``; gradient straight-through inside ``[0, D * threshold]``. A subtract reset
    removes ``k * threshold``; a zero reset applies when ``k > 0``.
    """

    beta: Value = 0.25
    threshold: Value = 1.0
    max_spikes: int = 4
    reset: str = "subtract"
    v_reset: Value = 0.0
    v_leak: Value = 0.0
    detach_reset: bool = True
    state_quant: Callable[[Tensor], Tensor] | None = None


def check_reset(reset: str) -> str:
    """Return ``reset`` if it names a reset mode, else raise a ValueError listing the modes."""
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
    return reset


def initial_state(state_type: type, like: Tensor):
    """A resting state of ``state_type`` (every field zero) shaped like one step ``like``."""
    return state_type(*(torch.zeros_like(like) for _ in state_type._fields))


def _is_zero(value: Value) -> bool:
    return isinstance(value, (int, float)) and value == 0


def leaky_integrate(v: Tensor, x: Tensor, beta: Value, v_leak: Value) -> Tensor:
    """``beta * v + (1 - beta) * v_leak + x``; the leak term is skipped when ``v_leak == 0``."""
    v = beta * v + x
    if not _is_zero(v_leak):
        v = v + (1 - beta) * v_leak
    return v


def _quantize(v: Tensor, state_quant: Callable[[Tensor], Tensor] | None) -> Tensor:
    """``state_quant(v)``, or ``v`` unchanged when no state quantiser is set."""
    return v if state_quant is None else state_quant(v)


def _reset(v: Tensor, spikes: Tensor, amount: Value, reset: str, v_reset: Value) -> Tensor:
    """Apply a reset driven by ``spikes`` (already detached or not by the caller)."""
    if reset == "subtract":
        return v - spikes * amount
    if reset == "zero":
        return v - spikes * (v - v_reset)
    return v


def lif_step(x: Tensor, state: LIFState, p: LIFParameters) -> tuple[Tensor, LIFState]:
    """One LIF step: returns spikes ``{0, 1}`` ``[B, ...]`` and the reset membrane."""
    v = _quantize(leaky_integrate(state.v, x, p.beta, p.v_leak), p.state_quant)
    s = p.surrogate(v - p.threshold)
    r = s.detach() if p.detach_reset else s
    return s, LIFState(_reset(v, r, p.threshold, p.reset, p.v_reset))


def if_step(x: Tensor, state: LIFState, p: IFParameters) -> tuple[Tensor, LIFState]:
    """One integrate-and-fire step (``v[t] = v'[t-1] + x[t]``, then fire and reset)."""
    v = _quantize(state.v + x, p.state_quant)
    s = p.surrogate(v - p.threshold)
    r = s.detach() if p.detach_reset else s
    return s, LIFState(_reset(v, r, p.threshold, p.reset, p.v_reset))


def li_step(x: Tensor, state: LIFState, p: LIParameters) -> tuple[Tensor, LIFState]:
    """One leaky-integrator step; the output is the membrane itself."""
    v = _quantize(leaky_integrate(state.v, x, p.beta, p.v_leak), p.state_quant)
    return v, LIFState(v)


def cuba_lif_step(
    x: Tensor, state: CubaLIFState, p: CubaLIFParameters
) -> tuple[Tensor, CubaLIFState]:
    """One current-based LIF step: the synaptic current ``i`` low-pass filters the input and is
    integrated by the membrane; only the membrane is reset."""
    i = p.alpha * state.i + x
    v = _quantize(leaky_integrate(state.v, i, p.beta, p.v_leak), p.state_quant)
    s = p.surrogate(v - p.threshold)
    r = s.detach() if p.detach_reset else s
    return s, CubaLIFState(i, _reset(v, r, p.threshold, p.reset, p.v_reset))


def alif_step(x: Tensor, state: ALIFState, p: ALIFParameters) -> tuple[Tensor, ALIFState]:
    """One adaptive-threshold LIF step (threshold rises by ``adapt_strength`` per recent spike)."""
    v = _quantize(leaky_integrate(state.v, x, p.beta, p.v_leak), p.state_quant)
    theta = p.threshold + p.adapt_strength * state.a
    s = p.surrogate(v - theta)
    r = s.detach() if p.detach_reset else s
    a = p.adapt_decay * state.a + r
    return s, ALIFState(_reset(v, r, theta, p.reset, p.v_reset), a)


class _RoundClamp(torch.autograd.Function):
    """``round(clamp(u, 0, D))`` forward; gradient 1 inside ``[0, D]`` and 0 outside."""

    @staticmethod
    def forward(ctx, u: Tensor, max_spikes: int) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(u)
        ctx.max_spikes = max_spikes
        return torch.round(u.clamp(0, max_spikes))

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (u,) = ctx.saved_tensors
        inside = (u >= 0) & (u <= ctx.max_spikes)
        return grad_output * inside.to(grad_output.dtype), None


def integer_spike(u: Tensor, max_spikes: int) -> Tensor:
    """Integer spike count ``round(clamp(u, 0, max_spikes))`` with a straight-through gradient.

    ``u`` is the membrane in units of the threshold. Half-way values round to even
    (``torch.round``), so ``u = 0.5`` gives 0 and ``u = 1.5`` gives 2.
    """
    if max_spikes < 1:
        raise ValueError(f"max_spikes must be >= 1, got {max_spikes}")
    return _RoundClamp.apply(u, max_spikes)


def ilif_step(x: Tensor, state: LIFState, p: ILIFParameters) -> tuple[Tensor, LIFState]:
    """One integer-valued LIF step: returns ``k / max_spikes`` in ``{0, 1/D, ..., 1}``."""
    v = _quantize(leaky_integrate(state.v, x, p.beta, p.v_leak), p.state_quant)
    k = integer_spike(v / p.threshold, p.max_spikes)
    r = k.detach() if p.detach_reset else k
    if p.reset == "zero":
        r = (r > 0).to(v.dtype)
    return k / p.max_spikes, LIFState(_reset(v, r, p.threshold, p.reset, p.v_reset))


class CubaLIParameters(NamedTuple):
    """Current-based leaky integrator (non-spiking): ``i[t] = alpha i[t-1] + x[t]`` feeds
    ``v[t] = beta v[t-1] + (1 - beta) v_leak + i[t]``; the output is ``v``."""

    alpha: Value = 0.8
    beta: Value = 0.9
    v_leak: Value = 0.0


def cuba_li_step(
    x: Tensor, state: CubaLIFState, p: CubaLIParameters
) -> tuple[Tensor, CubaLIFState]:
    """One current-based leaky-integrator step; the output is the membrane ``v`` ``[B, ...]``."""
    i = p.alpha * state.i + x
    v = leaky_integrate(state.v, i, p.beta, p.v_leak)
    return v, CubaLIFState(i, v)
