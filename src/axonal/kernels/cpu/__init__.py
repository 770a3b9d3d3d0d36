"""Fused CPU scans: each neuron's whole forward and backward over time in one compiled loop.

``lookup(step, x, state, params)`` returns the fused scan registered for the one-step function
``step`` (:data:`FUSED`) when it supports these arguments, else ``None``; a fused scan has the
signature and results of ``reference.scan(step, ...)``. Supported: CPU float32/float64 inputs
``[T, B, ...]``, states shaped like one step, tensor parameters of the input's dtype that
broadcast to one step, the built-in surrogates (not ``Custom``), ``state_quant`` None or an
:class:`axonal.quant.StateQuantizer` (exactly that class: its levels go into the loops; any
other function runs the reference scan), and gradients with respect to the input, the initial
state and every parameter except ``v_reset``.

How it runs: the loops (:mod:`axonal.kernels.cpu.loops`, numba, compiled on first use and
cached on disk) run over blocks of neurons on ``torch.get_num_threads()`` threads, which take
tasks of a few blocks from a shared counter. Outputs and input gradients are allocated by
numpy (transparent huge pages, see :func:`axonal.kernels._memory.empty_cpu`).
Memory: for the backward a scan keeps its input ``x`` (a reference, not a copy) and the state
every ``loops.CHUNK`` = 32 steps; the backward replays each chunk from its checkpoint, bitwise
as the forward ran it. Nothing per step is allocated besides the output (and, in the backward,
the input gradient). Without gradients only the output is allocated.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from axonal.kernels._memory import empty_cpu
from axonal.kernels._plans import Kernels, Plan, fused_scans, kernel_runner
from axonal.kernels._support import (
    RESET_CODES,
    SURROGATE_CODES,
    field_rule,
    padded_levels,
    supported,
    surrogate_constants,
)
from axonal.kernels._threads import PARALLEL_MIN, worker_pool
from axonal.kernels.cpu import loops

__all__ = ["FUSED", "lookup"]

_TASK_MIN = 1 << 17  # neuron-steps per task of a thread (a call costs ~10 us)


class _Config(NamedTuple):
    """``cfg`` as the loops read it, the surrogate's two constants, and the state quantiser's
    levels and midpoints (``[0]`` when there is none)."""

    cfg: tuple[int, int, int, int, int]
    consts: tuple[float, float]
    levels: Tensor
    mids: Tensor




_MODELS = {"lif": loops.LIF, "li": loops.LI, "alif": loops.ALIF, "ilif": loops.ILIF}
_OWN_RULE = field_rule()


def _config(plan: Plan, x: Tensor) -> _Config:
    """What the loops read for ``plan``: its flags, surrogate constants and quantiser levels."""
    kind = SURROGATE_CODES.get(type(plan.surrogate), -1)
    cfg = (_MODELS[plan.model], RESET_CODES[plan.reset], int(plan.detach_reset), kind,
           plan.max_spikes)  # fmt: skip
    consts = surrogate_constants(plan.surrogate)
    return _Config(cfg, consts, *padded_levels(plan.state_quant, x.dtype))


def _run(loop: Callable[..., None], steps: int, neurons: int, *args: Any) -> None:
    """Run ``loop(*args, b0, b1)`` over all neuron blocks on torch's thread count. The threads
    take tasks of a few blocks each from a shared counter until none is left, so that a thread
    slowed down by another process does not hold up the others."""
    blocks = -(-neurons // loops.BLOCK)
    workers = min(torch.get_num_threads(), blocks)
    if workers <= 1 or steps * neurons < PARALLEL_MIN:
        loop(*args, 0, blocks)
        return
    grain = -(-_TASK_MIN // (steps * loops.BLOCK))  # blocks per task
    starts = itertools.count(0, grain)  # shared by the threads (next() holds the GIL)

    def work() -> None:
        for b0 in starts:
            if b0 >= blocks:
                return
            loop(*args, b0, min(b0 + grain, blocks))

    futures = [worker_pool().submit(work) for _ in range(workers - 1)]
    work()
    for future in futures:
        future.result()


def _np(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


def _empty_like(x: Tensor) -> Tensor:
    """``torch.empty_like(x)``, contiguous, with huge pages (:func:`_memory.empty_cpu`)."""
    return empty_cpu(tuple(x.shape), x.dtype)


def _forward(
    x: Tensor, state: Tensor, rows: Tensor, config: _Config, save: bool = True
) -> tuple[Tensor, ...]:
    """Run the forward loop on ``x [T, M]`` from ``state [S, M]`` (not written); returns
    outputs, final state and checkpoints (none without ``save``: no backward follows)."""
    steps, neurons = x.shape
    out = _empty_like(x)
    final = torch.empty_like(state, memory_format=torch.contiguous_format)
    ckpt = x.new_empty((-(-steps // loops.CHUNK), *state.shape) if save else (0, *state.shape))
    _run(loops.forward, steps, neurons, _np(x), _np(state), _np(rows), config.cfg,
         _np(config.levels), _np(config.mids), _np(out), _np(ckpt), _np(final))  # fmt: skip
    return out, final, ckpt


def _rows(values: tuple[Tensor | float, ...], step: torch.Size, x: Tensor) -> Tensor:
    """Parameters as rows ``[P, M]`` of per-neuron values (each broadcast to one ``step``), or,
    when every value is a single number, ``[P, min(BLOCK, M)]`` rows that every block of the
    loops shares (filling ``M``-long rows cost as much as the forward loop for one step)."""
    scalar = all(not isinstance(v, Tensor) or v.numel() == 1 for v in values)
    width = min(loops.BLOCK, step.numel()) if scalar else step.numel()
    rows = torch.empty(len(values), width, dtype=x.dtype)
    for row, value in zip(rows, values, strict=True):
        if not isinstance(value, Tensor):
            row.fill_(value)
        elif scalar:
            row.copy_(value.detach().reshape(1).expand(width))
        else:
            row.view(step).copy_(value.detach())
    return rows


def _backward(
    g_out: Tensor, g_state: Tensor, x: Tensor, ckpt: Tensor, rows: Tensor, config: _Config,
    want_params: bool,
) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """Run the backward loop (see :class:`axonal.kernels._plans.Kernels`)."""
    steps, neurons = x.shape
    gx = _empty_like(x)
    gp = torch.zeros(rows.shape[0] if want_params else 0, neurons, dtype=torch.float64)
    consts = np.array(config.consts, dtype=_np(x).dtype)
    _run(loops.backward, steps, neurons, _np(g_out), _np(g_state), _np(x), _np(ckpt),
         _np(rows), config.cfg, _np(config.levels), _np(config.mids), consts, _np(gx),
         _np(gp))  # fmt: skip
    return gx, g_state, gp


FUSED = fused_scans(kernel_runner(Kernels(_config, _rows, _forward, _backward)))
"""One-step function -> its fused CPU scan (:func:`axonal.kernels._plans.fused_scans`)."""


def lookup(step: Callable[..., Any], x: Tensor, state: Any, params: Any) -> Callable | None:
    """The fused scan for ``step`` if one is registered and supports these arguments."""
    fused = FUSED.get(step)
    return fused if fused is not None and supported(x, state, params, "cpu", _OWN_RULE) else None
