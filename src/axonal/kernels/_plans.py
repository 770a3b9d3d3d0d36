"""What each neuron's fused scan runs, and how, the same for every backend.

A backend's kernels know four loops (``"lif"``, ``"li"``, ``"alif"``, ``"ilif"``) over six
parameter rows. :func:`fused_scans` maps every one-step function of
:mod:`axonal.functional.neurons` onto them (IF is the LIF loop with ``beta = 1``; CubaLIF and
CubaLI run a leaky integrator for the synaptic current first) and returns the scans that a
backend registers. A backend supplies its :class:`Kernels` (config, parameter rows, forward,
backward over flat ``[T, M]`` arrays); :func:`kernel_runner` flattens the sequence, runs the
forward directly or through autograd when a gradient is wanted, and sums the parameter
gradients back to each parameter's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from axonal.functional import neurons as F
from axonal.functional.surrogate import Surrogate
from axonal.kernels._support import has_leak

__all__ = ["MODELS", "Kernels", "Plan", "Run", "fused_scans", "kernel_runner", "leak_row"]

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


class Kernels(NamedTuple):
    """A backend's kernels over flat arrays: ``x [T, M]``, states ``[S, M]``, rows ``[6, ...]``.

    - ``config(plan, x)``: what the kernels need of a plan (flags, constants, levels).
    - ``rows(values, step, x)``: the six parameter rows for one step's shape ``step``.
    - ``forward(x, state, rows, config, save) -> (out, final, checkpoints)``; ``state`` is
      read only; without ``save`` (no backward follows) no checkpoint is kept.
    - ``backward(g_out, g_state, x, checkpoints, rows, config, want_params) -> (gx, g_state,
      g_rows)``: ``g_out`` is ``[T, M]`` or ``[1, M]`` (constant over time), ``g_state`` a
      contiguous copy it may overwrite; ``g_rows [6, M]`` float64 sums over time (empty
      unless ``want_params``).
    """

    config: Callable[[Plan, Tensor], Any]
    rows: Callable[[tuple[Tensor | float, ...], torch.Size, Tensor], Tensor]
    forward: Callable[..., tuple[Tensor, Tensor, Tensor]]
    backward: Callable[..., tuple[Tensor, Tensor, Tensor]]


class _Scan(torch.autograd.Function):
    """``(x [T, M], state [S, M], step, config, kernels, *params) -> (out [T, M], final)``.

    Keeps ``x`` and the checkpoints for the backward, which replays the forward from them.
    Parameter gradients are summed over time in float64 per neuron (by the kernels), then over
    the batch (and the neurons, for a scalar) in float64, and only then rounded.
    """

    @staticmethod
    def forward(ctx, x, state, step, config, kernels, *params):  # type: ignore[override]
        rows = kernels.rows(params, step, x)
        out, final, ckpt = kernels.forward(x, state, rows, config, True)
        ctx.save_for_backward(x, ckpt, rows)
        ctx.step, ctx.config, ctx.kernels = step, config, kernels
        ctx.shapes = [p.shape if isinstance(p, Tensor) else None for p in params]
        return out, final

    @staticmethod
    @once_differentiable
    def backward(ctx, g_out, g_final):  # type: ignore[override]
        x, ckpt, rows = ctx.saved_tensors
        want = ctx.needs_input_grad[5:]
        g_out = (g_out[:1] if g_out.stride(0) == 0 else g_out).contiguous()  # e.g. out.sum()
        g_state = g_final.clone(memory_format=torch.contiguous_format)
        gx, g_state, gp = ctx.kernels.backward(g_out, g_state, x, ckpt, rows, ctx.config,
                                               any(want))  # fmt: skip
        g_params = [
            gp[i].reshape(ctx.step).sum_to_size(shape).to(x.dtype) if wanted else None
            for i, (wanted, shape) in enumerate(zip(want, ctx.shapes, strict=True))
        ]
        return gx, g_state, None, None, None, *g_params


def kernel_runner(kernels: Kernels) -> Run:
    """The ``run`` of :func:`fused_scans` on ``kernels``: flatten ``[T, B, ...]`` to
    ``[T, M]``, run the kernels (through autograd when a gradient is wanted), reshape back."""

    def run(plan: Plan, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, list[Tensor]]:
        config = kernels.config(plan, x)
        steps, step = x.shape[0], x.shape[1:]
        flat = x.reshape(steps, -1).contiguous()
        rows_of = [s.reshape(-1) for s in state]  # [S, M], read only: one state is a mere view
        stacked = rows_of[0].unsqueeze(0) if len(state) == 1 else torch.stack(rows_of)
        values = tuple(v if isinstance(v, Tensor) else float(v) for v in plan.rows)
        tensors = (flat, stacked, *(v for v in values if isinstance(v, Tensor)))
        if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
            out, final = _Scan.apply(flat, stacked, step, config, kernels, *values)
        else:
            rows = kernels.rows(values, step, flat)
            out, final, _ = kernels.forward(flat, stacked, rows, config, False)
        return out.reshape(x.shape), [f.reshape(step) for f in final.unbind(0)]

    return run


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
