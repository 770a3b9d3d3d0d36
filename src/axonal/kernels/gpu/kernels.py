"""Triton kernels of the fused GPU scans: forward and backward over all T steps in one launch.

Arrays are flat over neurons, as in :mod:`axonal.kernels.cpu.loops`: input ``x [T, M]`` with
``M`` the number of elements of one step ``[B, ...]``, states ``[S, M]`` (rows ``v``, and ``a``
for ALIF), parameters ``[6, M]`` (rows listed below), all in the input's dtype; parameter
gradients accumulate in float64. One program handles ``BLOCK`` neighbouring neurons and loops
over time inside the kernel, its state in registers.

Exactness: every operation repeats :mod:`axonal.functional.neurons` one by one, launched with
``enable_fp_fusion=False`` (no fused multiply-add), divisions correctly rounded
(``tl.math.div_rn`` in float32) and rounding half to even by adding and subtracting ``MAGIC``
(2^23 or 2^52), so outputs and states are bitwise those of the reference scan on the same
device. Torch on CUDA divides by a host scalar as a product with its reciprocal; ``RECIP_D`` and
``RECIP_THR`` make I-LIF do the same where the reference does (the wrapper decides).

State quantisation: with ``LOG2_LEVELS`` > 0 the pre-reset membrane becomes the nearest of
``2**LOG2_LEVELS`` levels (the quantiser's, padded by the wrapper: the top level repeated,
midpoints ``+inf``): ``levels[i]``, ``i`` the number of midpoints not ``>= u``, found by a
binary search unrolled into ``LOG2_LEVELS`` halvings (indexed loads of a table that stays in
cache). The gradient passes straight through, so the backward is the same at the quantised
membranes.

Memory: the forward keeps nothing per step but the state at the start of every ``CHUNK`` steps
(``ckpt [ceil(T / CHUNK), S, M]``). The backward replays a chunk from its checkpoint and the
input into a scratch buffer ``[CHUNK, R, M]`` (rows: the pre-reset membrane ``u``, ALIF's ``a``
before the step, and the membrane before the step when parameter gradients are wanted), then
walks that chunk backwards in time. Each program touches only its own neurons' columns; a
barrier orders its scratch writes before its reads.

Under ``TRITON_INTERPRET=1`` (set before this module is imported) the same kernels run on CPU
tensors with numpy: :data:`INTERPRET` is then true.
"""

from __future__ import annotations

import triton
import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction

__all__ = ["BLOCK", "CHUNK", "INTERPRET", "backward", "forward"]

BLOCK = 256  # neurons per program (the wrapper may pick 128 for small layers)
CHUNK = 32  # time steps per checkpoint (read by the wrapper at each call)

# models
LIF = tl.constexpr(0)
LI = tl.constexpr(1)
ALIF = tl.constexpr(2)
ILIF = tl.constexpr(3)
# reset modes (the codes of axonal.kernels._support.RESET_CODES)
SUBTRACT = tl.constexpr(0)
ZERO = tl.constexpr(1)
NONE = tl.constexpr(2)
# surrogate derivatives (the codes of axonal.kernels._support.SURROGATE_CODES)
ATAN = tl.constexpr(0)
FAST_SIGMOID = tl.constexpr(1)
SIGMOID = tl.constexpr(2)
TRIANGLE = tl.constexpr(3)
STRAIGHT_THROUGH = tl.constexpr(4)
# parameter rows: beta, threshold, leak ((1 - beta) * v_leak), v_reset, adapt_decay,
# adapt_strength. Scalar constants ``consts [4]``: the surrogate's two, then 1 / max_spikes and
# 1 / threshold (used with RECIP_D / RECIP_THR).
C0, C1, INV_D, INV_THR = tl.constexpr(0), tl.constexpr(1), tl.constexpr(2), tl.constexpr(3)

_jit = triton.jit(do_not_specialize=["T", "n_chunks"])


@triton.jit
def _div(a, b):
    """``a / b`` correctly rounded (Triton's float32 ``/`` may be approximate on a GPU)."""
    return a / b if a.dtype == tl.float64 else tl.math.div_rn(a, b)


@triton.jit
def _leaky(v, x, beta, leak, HAS_LEAK: tl.constexpr):
    """``beta * v + x``, then ``+ (1 - beta) * v_leak`` (precomputed in ``leak``) if any."""
    u = beta * v + x
    if HAS_LEAK:
        u = u + leak
    return u


@triton.jit
def _reset(u, r, amount, v_reset, MODE: tl.constexpr):
    """Membrane after the reset driven by ``r`` (``_reset`` of the functional code)."""
    if MODE == SUBTRACT:
        w = u - r * amount
    elif MODE == ZERO:
        w = u - r * (u - v_reset)
    else:
        w = u
    return w


@triton.jit
def _reset_grads(g, u, r, amount, v_reset, MODE: tl.constexpr):
    """Given ``g = dL/dv'``, the partials of the reset: ``(dL/du, dL/dr, dL/d amount)``."""
    zero = tl.zeros_like(g)
    if MODE == SUBTRACT:
        du, dr, da = g, -(g * amount), -(g * r)
    elif MODE == ZERO:
        du, dr, da = g - g * r, -(g * (u - v_reset)), zero
    else:
        du, dr, da = g, zero, zero
    return du, dr, da


@triton.jit
def _ratio(u, thr, inv_thr, RECIP: tl.constexpr):
    """I-LIF: ``u / thr``, or ``u * (1 / thr)`` as torch on CUDA divides by a host scalar."""
    return u * inv_thr if RECIP else _div(u, thr)


@triton.jit
def _count(w, D: tl.constexpr, MAGIC: tl.constexpr):
    """I-LIF: ``round(clamp(w, 0, D))``, half to even (exact for ``0 <= w < MAGIC``)."""
    c = tl.minimum(tl.maximum(w, 0.0), D)
    return (c + MAGIC) - MAGIC


@triton.jit
def _drive(k, MODE: tl.constexpr):
    """What drives the I-LIF reset: the count ``k``, or ``k > 0`` for a zero reset."""
    return tl.minimum(k, 1.0) if MODE == ZERO else k


@triton.jit
def _quantize(u, levels_ptr, mids_ptr, LOG2_LEVELS: tl.constexpr):
    """``levels[i]``, ``i`` the number of midpoints that are not ``>= u`` (see the module
    docstring): a tie goes to the lower level, NaN to the top one."""
    i = tl.zeros(u.shape, tl.int32)
    for s in tl.static_range(LOG2_LEVELS):  # invariant: mids[:i] are all not >= u
        c = i + (1 << (LOG2_LEVELS - 1 - s))
        i = tl.where(tl.load(mids_ptr + (c - 1)) >= u, i, c)
    return tl.load(levels_ptr + i)


@triton.jit
def _step(x, v, a, beta, thr, leak, v_reset, decay, strength, inv_d, inv_thr, levels_ptr,
          mids_ptr, MODEL: tl.constexpr, MODE: tl.constexpr, HAS_LEAK: tl.constexpr,
          D: tl.constexpr, RECIP_D: tl.constexpr, RECIP_THR: tl.constexpr,
          MAGIC: tl.constexpr, LOG2_LEVELS: tl.constexpr):  # fmt: skip
    """One step: ``(output, pre-reset membrane u, new v, new a)`` (``a`` is ALIF's only)."""
    u = _leaky(v, x, beta, leak, HAS_LEAK)
    if LOG2_LEVELS > 0:
        u = _quantize(u, levels_ptr, mids_ptr, LOG2_LEVELS)
    if MODEL == LI:
        out, v_new, a_new = u, u, a
    elif MODEL == ILIF:
        k = _count(_ratio(u, thr, inv_thr, RECIP_THR), D, MAGIC)
        out = k * inv_d if RECIP_D else _div(k, tl.full(k.shape, D, k.dtype))
        v_new, a_new = _reset(u, _drive(k, MODE), thr, v_reset, MODE), a
    elif MODEL == ALIF:
        theta = thr + strength * a
        s = (u - theta > 0).to(u.dtype)
        out, v_new, a_new = s, _reset(u, s, theta, v_reset, MODE), decay * a + s
    else:
        s = (u - thr > 0).to(u.dtype)
        out, v_new, a_new = s, _reset(u, s, thr, v_reset, MODE), a
    return out, u, v_new, a_new


@triton.jit
def _last_row(stride, MODEL: tl.constexpr):
    """Offset of the last state row: ALIF's ``a``, else ``v`` again (offset 0)."""
    return stride if MODEL == ALIF else stride * 0


@triton.jit
def _params(p_ptr, offs, mask, stride):
    """The six parameter rows of this block of neurons."""
    beta = tl.load(p_ptr + offs, mask=mask, other=1.0)
    thr = tl.load(p_ptr + stride + offs, mask=mask, other=1.0)
    leak = tl.load(p_ptr + 2 * stride + offs, mask=mask, other=0.0)
    v_reset = tl.load(p_ptr + 3 * stride + offs, mask=mask, other=0.0)
    decay = tl.load(p_ptr + 4 * stride + offs, mask=mask, other=0.0)
    strength = tl.load(p_ptr + 5 * stride + offs, mask=mask, other=0.0)
    return beta, thr, leak, v_reset, decay, strength


@_jit
def forward(x_ptr, state_ptr, p_ptr, consts_ptr, levels_ptr, mids_ptr, out_ptr, ckpt_ptr, T, M,
            n_chunks, MODEL: tl.constexpr, MODE: tl.constexpr, HAS_LEAK: tl.constexpr,
            D: tl.constexpr, RECIP_D: tl.constexpr, RECIP_THR: tl.constexpr,
            MAGIC: tl.constexpr, LOG2_LEVELS: tl.constexpr, SAVE: tl.constexpr,
            CHUNK: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    """Outputs into ``out [T, M]``; ``state [S, M]`` becomes the final state; with ``SAVE`` the
    state before steps ``0, CHUNK, 2 CHUNK, ...`` goes to ``ckpt [n_chunks, S, M]``. The state
    quantiser's padded ``levels`` and ``mids`` are read only with ``LOG2_LEVELS`` > 0."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    stride = M + tl.zeros([], tl.int64)  # 64-bit offsets (T * M may exceed 2^31)
    last = _last_row(stride, MODEL)
    states = last + stride
    beta, thr, leak, v_reset, decay, strength = _params(p_ptr, offs, mask, stride)
    inv_d, inv_thr = tl.load(consts_ptr + INV_D), tl.load(consts_ptr + INV_THR)
    v = tl.load(state_ptr + offs, mask=mask, other=0.0)
    a = tl.load(state_ptr + last + offs, mask=mask, other=0.0)
    for c in range(n_chunks):
        if SAVE:
            tl.store(ckpt_ptr + c * states + offs, v, mask=mask)
            if MODEL == ALIF:
                tl.store(ckpt_ptr + c * states + last + offs, a, mask=mask)
        t0 = c * CHUNK
        for r in range(tl.minimum(T - t0, CHUNK)):
            at = (t0 + r) * stride + offs
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            out, _, v, a = _step(x, v, a, beta, thr, leak, v_reset, decay, strength, inv_d,
                                 inv_thr, levels_ptr, mids_ptr, MODEL, MODE, HAS_LEAK, D,
                                 RECIP_D, RECIP_THR, MAGIC, LOG2_LEVELS)  # fmt: skip
            tl.store(out_ptr + at, out, mask=mask)
    tl.store(state_ptr + offs, v, mask=mask)
    if MODEL == ALIF:
        tl.store(state_ptr + last + offs, a, mask=mask)


@triton.jit
def _surrogate(z, c0, c1, KIND: tl.constexpr):
    """The surrogate derivative at ``z`` (the ``derivative`` methods of the surrogates)."""
    if KIND == ATAN:  # c0 = alpha / 2, c1 = pi / 2 * alpha
        y = c1 * z
        d = _div(c0 + tl.zeros_like(z), 1.0 + y * y)
    elif KIND == FAST_SIGMOID:  # c0 = slope
        e = c0 * tl.abs(z) + 1.0
        d = _div(tl.full(z.shape, 1.0, z.dtype), e * e)
    elif KIND == SIGMOID:  # c0 = slope
        s = _div(tl.full(z.shape, 1.0, z.dtype), 1.0 + tl.exp(-(c0 * z)))
        d = c0 * s * (1.0 - s)
    elif KIND == TRIANGLE:  # c0 = width
        w = c0 + tl.zeros_like(z)
        d = _div(tl.maximum(1.0 - _div(tl.abs(z), w), 0.0), w)
    else:  # STRAIGHT_THROUGH, c0 = window
        d = (tl.abs(z) <= c0).to(z.dtype)
    return d


@triton.jit
def _spike_back(u, a_t, got, g, ga, beta, thr, v_reset, decay, strength, c0, c1,
                MODEL: tl.constexpr, MODE: tl.constexpr, DETACH: tl.constexpr,
                KIND: tl.constexpr):  # fmt: skip
    """LIF and ALIF: ``(dL/du, dL/d threshold, new g, new ga)`` of one step."""
    theta = thr + strength * a_t if MODEL == ALIF else thr
    z = u - theta
    sg = _surrogate(z, c0, c1, KIND)
    s = (z > 0).to(u.dtype)
    du, dr, dtheta = _reset_grads(g, u, s, theta, v_reset, MODE)
    if DETACH:
        gz = got * sg
    elif MODEL == ALIF:
        gz = (got + dr + ga) * sg
    else:
        gz = (got + dr) * sg
    du = du + gz
    dtheta = dtheta - gz
    if MODEL == ALIF:
        ga = ga * decay + dtheta * strength
    return du, dtheta, du * beta, ga


@triton.jit
def _ilif_back(u, got, g, beta, thr, v_reset, inv_thr, MODE: tl.constexpr,
               DETACH: tl.constexpr, D: tl.constexpr, RECIP_THR: tl.constexpr,
               MAGIC: tl.constexpr):  # fmt: skip
    """I-LIF: straight-through inside ``0 <= u / thr <= D``; ``(dL/du, dL/d thr, new g)``."""
    w = _ratio(u, thr, inv_thr, RECIP_THR)
    k = _count(w, D, MAGIC)
    du, dr, da = _reset_grads(g, u, _drive(k, MODE), thr, v_reset, MODE)
    gk = _div(got, tl.full(got.shape, D, got.dtype))
    if not DETACH and MODE == SUBTRACT:  # a zero reset uses k > 0: no gradient
        gk = gk + dr
    gw = gk * ((w >= 0) & (w <= D)).to(u.dtype)
    du = du + _div(gw, thr)
    return du, da - gw * _div(w, thr), du * beta


@_jit
def backward(g_out_ptr, g_state_ptr, x_ptr, ckpt_ptr, p_ptr, consts_ptr, levels_ptr, mids_ptr,
             gx_ptr, gp_ptr, scratch_ptr, T, M, n_chunks,
             MODEL: tl.constexpr, MODE: tl.constexpr, HAS_LEAK: tl.constexpr, D: tl.constexpr,
             RECIP_D: tl.constexpr, RECIP_THR: tl.constexpr, MAGIC: tl.constexpr,
             LOG2_LEVELS: tl.constexpr, DETACH: tl.constexpr, KIND: tl.constexpr,
             PER_STEP: tl.constexpr, WANT_P: tl.constexpr, CHUNK: tl.constexpr,
             BLOCK: tl.constexpr):  # fmt: skip
    """Backward of :func:`forward`.

    ``g_out [T, M]``, or ``[1, M]`` without ``PER_STEP`` (constant over time); ``g_state
    [S, M]`` in: dL/d(final state), out: dL/d(initial state); ``gx [T, M]`` out: dL/dx;
    ``gp [6, M]`` float64, out with ``WANT_P``: the parameter gradients summed over time;
    ``scratch [CHUNK, R, M]`` work space (R = 1 + ALIF + WANT_P rows).
    """
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    stride = M + tl.zeros([], tl.int64)
    last = _last_row(stride, MODEL)
    states = last + stride
    row_v = states  # scratch rows: u, then ALIF's a, then the membrane before the step
    rows = row_v + stride if WANT_P else row_v
    beta, thr, leak, v_reset, decay, strength = _params(p_ptr, offs, mask, stride)
    c0, c1 = tl.load(consts_ptr + C0), tl.load(consts_ptr + C1)
    inv_d, inv_thr = tl.load(consts_ptr + INV_D), tl.load(consts_ptr + INV_THR)
    g = tl.load(g_state_ptr + offs, mask=mask, other=0.0)
    ga = tl.load(g_state_ptr + last + offs, mask=mask, other=0.0)
    acc_beta = tl.zeros([BLOCK], tl.float64)
    acc_thr = tl.zeros([BLOCK], tl.float64)
    acc_leak = tl.zeros([BLOCK], tl.float64)
    acc_decay = tl.zeros([BLOCK], tl.float64)
    acc_strength = tl.zeros([BLOCK], tl.float64)
    for i in range(n_chunks):
        c = n_chunks - 1 - i
        t0 = c * CHUNK
        n = tl.minimum(T - t0, CHUNK)
        v = tl.load(ckpt_ptr + c * states + offs, mask=mask, other=0.0)
        a = tl.load(ckpt_ptr + c * states + last + offs, mask=mask, other=0.0)
        for r in range(n):  # replay the chunk into the scratch rows
            x = tl.load(x_ptr + (t0 + r) * stride + offs, mask=mask, other=0.0)
            here = scratch_ptr + r * rows + offs
            if MODEL == ALIF:
                tl.store(here + stride, a, mask=mask)
            if WANT_P:
                tl.store(here + row_v, v, mask=mask)
            _, u, v, a = _step(x, v, a, beta, thr, leak, v_reset, decay, strength, inv_d,
                               inv_thr, levels_ptr, mids_ptr, MODEL, MODE, HAS_LEAK, D,
                               RECIP_D, RECIP_THR, MAGIC, LOG2_LEVELS)  # fmt: skip
            tl.store(here, u, mask=mask)
        tl.debug_barrier()
        for j in range(n):  # walk the chunk backwards
            r = n - 1 - j
            at = (t0 + r) * stride + offs
            here = scratch_ptr + r * rows + offs
            u = tl.load(here, mask=mask, other=0.0)
            if PER_STEP:
                got = tl.load(g_out_ptr + at, mask=mask, other=0.0)
            else:
                got = tl.load(g_out_ptr + offs, mask=mask, other=0.0)
            a_t = u  # ALIF's a before the step, loaded below
            ga_t = ga  # dL/da after the step (ALIF)
            if MODEL == LI:
                du = got + g
                dthr = tl.zeros_like(du)
                g = du * beta
            elif MODEL == ILIF:
                du, dthr, g = _ilif_back(u, got, g, beta, thr, v_reset, inv_thr, MODE, DETACH,
                                         D, RECIP_THR, MAGIC)  # fmt: skip
            else:
                if MODEL == ALIF:
                    a_t = tl.load(here + stride, mask=mask, other=0.0)
                du, dthr, g, ga = _spike_back(u, a_t, got, g, ga, beta, thr, v_reset, decay,
                                              strength, c0, c1, MODEL, MODE, DETACH,
                                              KIND)  # fmt: skip
            tl.store(gx_ptr + at, du, mask=mask)
            if WANT_P:
                v_prev = tl.load(here + row_v, mask=mask, other=0.0)
                acc_beta += (du * v_prev).to(tl.float64)
                acc_thr += dthr.to(tl.float64)
                acc_leak += du.to(tl.float64)
                if MODEL == ALIF:
                    acc_decay += (ga_t * a_t).to(tl.float64)
                    acc_strength += (dthr * a_t).to(tl.float64)
        tl.debug_barrier()  # this chunk's reads come before the next chunk's writes
    tl.store(g_state_ptr + offs, g, mask=mask)
    if MODEL == ALIF:
        tl.store(g_state_ptr + last + offs, ga, mask=mask)
    if WANT_P:
        tl.store(gp_ptr + offs, acc_beta, mask=mask)
        tl.store(gp_ptr + stride + offs, acc_thr, mask=mask)
        tl.store(gp_ptr + 2 * stride + offs, acc_leak, mask=mask)
        tl.store(gp_ptr + 4 * stride + offs, acc_decay, mask=mask)
        tl.store(gp_ptr + 5 * stride + offs, acc_strength, mask=mask)


INTERPRET: bool = isinstance(forward, InterpretedFunction)
