"""Fused GPU scans (Triton): each neuron's whole forward and backward over time in one launch.

``lookup(step, x, state, params)`` returns the fused scan registered for the one-step function
``step`` (:data:`FUSED`) when it supports these arguments, else ``None``; a fused scan has the
signature and results of ``reference.scan(step, ...)``. Supported: CUDA float32/float64 inputs
``[T, B, ...]``, states shaped like one step, tensor parameters of the input's dtype and device
that broadcast to one step, the built-in surrogates (not ``Custom``), ``state_quant`` None or
an :class:`axonal.quant.StateQuantizer` (exactly that class; its levels go into the kernels),
``max_spikes < 2**22``, and gradients with respect to the input, the initial state and every
parameter except ``v_reset`` (the contract of :mod:`axonal.kernels.cpu`). Under Triton's interpreter
(``TRITON_INTERPRET=1`` set before this module is imported) the same kernels take CPU tensors
instead, so that they can be tested without a GPU.

How it runs: one program per block of neurons loops over all T steps inside the kernel
(:mod:`axonal.kernels.gpu.kernels`); outputs and states are bitwise those of the reference scan
on the same device, gradients equal up to rounding.

Memory: for the backward a scan keeps its input ``x`` (a reference, not a copy) and the state
every ``kernels.CHUNK`` = 32 steps; the backward replays each chunk from its checkpoint into a
scratch buffer of ``CHUNK`` steps (1 to 3 rows of ``[B, ...]`` per step), bitwise as the
forward ran it, and walks it backwards. Besides the output (and, in the backward, the input
gradient) nothing per step is allocated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, NamedTuple

import torch
import triton
from torch import Tensor

from axonal.kernels._plans import Kernels, Plan, fused_scans, kernel_runner
from axonal.kernels._support import (
    RESET_CODES,
    SURROGATE_CODES,
    field_rule,
    has_leak,
    padded_levels,
    supported,
    surrogate_constants,
)
from axonal.kernels.gpu import kernels as K

__all__ = ["DEVICE_TYPE", "FUSED", "lookup"]

DEVICE_TYPE = "cpu" if K.INTERPRET else "cuda"  # where the kernels' tensors live
_MAGIC = {torch.float32: 2.0**23, torch.float64: 2.0**52}  # round half to even below these



class _Config(NamedTuple):
    """What the kernels are compiled for (``flags``), their scalar constants ``consts``: the
    surrogate's two, ``1 / max_spikes`` and ``1 / threshold`` (I-LIF), and the state
    quantiser's padded levels and midpoints on the input's device (empty without one)."""

    model: int
    flags: dict[str, int | float]
    consts: tuple[float, float, float, float]
    levels: Tensor
    mids: Tensor


_MODELS = {"lif": K.LIF.value, "li": K.LI.value, "alif": K.ALIF.value, "ilif": K.ILIF.value}
_OWN_RULE = field_rule(max_spikes_below=2**22)  # exact rounding below MAGIC


def _config(plan: Plan, x: Tensor) -> _Config:
    """What the kernels are compiled for and read for ``plan`` on ``x``'s device. Torch on
    CUDA divides by a host scalar (``max_spikes``, a Python-number threshold) as a product with
    its reciprocal, rounded in the input's dtype; I-LIF repeats that there."""
    kind = SURROGATE_CODES.get(type(plan.surrogate), 0)
    constants = surrogate_constants(plan.surrogate)
    on_cuda = x.device.type == "cuda"
    recip_thr = on_cuda and not isinstance(plan.threshold, Tensor)
    levels, mids = padded_levels(plan.state_quant, x.dtype, x.device)
    flags = {
        "MODE": RESET_CODES[plan.reset],
        "HAS_LEAK": int(has_leak(plan.v_leak)),
        "D": plan.max_spikes,
        "RECIP_D": int(on_cuda),
        "RECIP_THR": int(recip_thr),
        "MAGIC": _MAGIC[x.dtype],
        "LOG2_LEVELS": max(levels.numel() - 1, 0).bit_length(),  # P = 2**LOG2; 0: no levels
        "DETACH": int(plan.detach_reset),
        "KIND": kind,
    }
    inverse = [
        (torch.tensor(1.0, dtype=x.dtype) / torch.tensor(v, dtype=x.dtype)).item()
        for v in (plan.max_spikes, plan.threshold if recip_thr else 1.0)
    ]
    return _Config(_MODELS[plan.model], flags, (*constants, *inverse), levels, mids)


def _launch(x: Tensor) -> tuple[tuple[int], dict[str, Any], Any]:
    """Grid, launch options and device guard for ``x [T, M]``: ``K.BLOCK`` neurons per
    program, 128 below 2^17 neurons so that a small layer still spreads over many programs.
    ``enable_fp_fusion=False``: no fused multiply-add, as the reference computes."""
    neurons = x.shape[1]
    block = K.BLOCK if neurons >= 1 << 17 else 128
    guard = torch.cuda.device(x.device) if x.device.type == "cuda" else nullcontext()
    options = {"BLOCK": block, "num_warps": 4, "enable_fp_fusion": False}
    return (triton.cdiv(neurons, block),), options, guard


@functools.lru_cache(maxsize=256)
def _device_consts(values: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
    """``values`` as a tensor on ``device``, copied there once (a copy from the host waits for
    the device to finish its queued work)."""
    return torch.tensor(values, dtype=dtype).to(device)


def _consts(config: _Config, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The scalar constants, levels and midpoints as the kernels take them (without a
    quantiser, the constants stand in for the unread level pointers)."""
    consts = _device_consts(config.consts, x.dtype, x.device)
    if config.levels.numel() == 0:
        return consts, consts, consts
    return consts, config.levels, config.mids


def _forward(
    x: Tensor, state: Tensor, rows: Tensor, config: _Config, save: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Run the forward kernel on ``x [T, M]``; returns outputs, final state and checkpoints
    (empty unless ``save``)."""
    steps, neurons = x.shape
    chunks = triton.cdiv(steps, K.CHUNK)
    out = torch.empty_like(x)
    final = state.detach().clone()
    ckpt = x.new_empty((chunks, *state.shape) if save else (0,))
    grid, options, guard = _launch(x)
    f = config.flags
    with guard:
        K.forward[grid](
            x, final, rows, *_consts(config, x), out, ckpt, steps, neurons, chunks,
            MODEL=config.model, MODE=f["MODE"], HAS_LEAK=f["HAS_LEAK"], D=f["D"],
            RECIP_D=f["RECIP_D"], RECIP_THR=f["RECIP_THR"], MAGIC=f["MAGIC"],
            LOG2_LEVELS=f["LOG2_LEVELS"], SAVE=int(save), CHUNK=K.CHUNK, **options,
        )  # fmt: skip
    return out, final, ckpt


def _rows(values: tuple[Tensor | float, ...], step: torch.Size, x: Tensor) -> Tensor:
    """Parameters as rows ``[6, M]`` of per-neuron values in ``x``'s dtype and device: tensors
    broadcast to one ``step``, numbers filled in (rounded as ``torch.as_tensor`` would; filling
    needs no copy from the host, which would wait for the device)."""
    rows = x.new_empty(len(values), *step)
    for row, v in zip(rows, values, strict=True):
        if isinstance(v, Tensor):
            row.copy_(v.detach().expand(step))
        else:
            row.fill_(v)
    return rows.reshape(len(values), -1)


def _backward(
    g_out: Tensor, g_state: Tensor, x: Tensor, ckpt: Tensor, rows: Tensor, config: _Config,
    want_params: bool,
) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """Run the backward kernel: dL/dx ``[T, M]``, dL/d(initial state) ``[S, M]`` (written over
    ``g_state``) and the parameter gradients ``[6, M]`` in float64 (empty unless
    ``want_params``); see :class:`axonal.kernels._plans.Kernels`."""
    steps, neurons = x.shape
    gx = torch.empty_like(x)
    gp = torch.zeros((6, neurons) if want_params else (0,), dtype=torch.float64, device=x.device)
    scratch_rows = ckpt.shape[1] + int(want_params)
    scratch = x.new_empty(min(K.CHUNK, steps), scratch_rows, neurons)
    grid, options, guard = _launch(x)
    f = config.flags
    with guard:
        K.backward[grid](
            g_out, g_state, x, ckpt, rows, *_consts(config, x), gx, gp, scratch, steps,
            neurons, ckpt.shape[0], MODEL=config.model, MODE=f["MODE"], HAS_LEAK=f["HAS_LEAK"],
            D=f["D"], RECIP_D=f["RECIP_D"], RECIP_THR=f["RECIP_THR"], MAGIC=f["MAGIC"],
            LOG2_LEVELS=f["LOG2_LEVELS"], DETACH=f["DETACH"], KIND=f["KIND"],
            PER_STEP=int(g_out.shape[0] > 1), WANT_P=int(want_params), CHUNK=K.CHUNK, **options,
        )  # fmt: skip
    return gx, g_state, gp


FUSED = fused_scans(kernel_runner(Kernels(_config, _rows, _forward, _backward)))
"""One-step function -> its fused Triton scan (:func:`axonal.kernels._plans.fused_scans`)."""


def lookup(step: Callable[..., Any], x: Tensor, state: Any, params: Any) -> Callable | None:
    """The fused scan for ``step`` if one is registered and supports these arguments."""
    fused = FUSED.get(step)
    ok = fused is not None and supported(x, state, params, DEVICE_TYPE, _OWN_RULE)
    return fused if ok else None
