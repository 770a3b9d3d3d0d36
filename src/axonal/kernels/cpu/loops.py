"""Numba loops of the fused CPU scans: forward and backward over all T steps in one call.

Arrays are flat over neurons: input ``x [T, M]`` with ``M`` the number of elements of one step
``[B, ...]``, states ``[S, M]`` (rows ``v``, and ``a`` for ALIF), parameters ``[6, M]`` (rows
named below; ``[6, min(BLOCK, M)]`` when every parameter is one number, shared by all blocks),
all in the input's dtype; parameter gradients accumulate in float64. A call
handles the neuron blocks ``[b0, b1)`` of ``BLOCK`` neurons: inside a block it runs over time
with the block's state in cache. Callers run disjoint block ranges on different threads (every
loop releases the GIL).

Vectorisation. A step of a block is one loop over its contiguous neurons, which LLVM
vectorises only when the body has no branch: a loop loads every row it may need and picks
values with selects (``a if flag else b``, the flag fixed for the call: reset mode,
``detach_reset``). The flags that change the work are constants of each copy of a loop instead
(the helpers marked ``_inline`` are inlined by numba, and a dispatcher passes the flag on as a
constant): whether the membrane comes quantised in ``u``, whether ``u`` is kept for the
backward, the surrogate. Measured on this code, two things made the same loops 2-3x slower:
a dispatch inside the loop over time (so the forward and replay have one loop over time per
model and case, in a function per model, :func:`_lif_chunk` ...), and backward loops inlined
into the loop over time (so a backward step is a call, :func:`_spiking_step`).

The arithmetic repeats :mod:`axonal.functional.neurons` operation by operation (no fused
multiply-add, no reassociation: ``fastmath=False``), so outputs and states are bitwise equal to
the reference scan. Selects are exact: each mode's value is computed as the functional code
computes it, and the leak row is ``-0.0`` where the functional code adds no leak term (``u +
(-0.0)`` is ``u`` bit for bit, zeros included). ``error_model="numpy"`` drops the
zero-division check that would keep divisions from vectorising (``x / 0`` gives inf or nan, as
in torch).

State quantisation: ``levels`` (sorted) and ``mids`` (midpoints of neighbouring levels, as
:class:`axonal.quant.StateQuantizer` computes them), both padded to ``P`` values, a power of
two (levels with the top level, midpoints with ``+inf``), replace the pre-reset membrane by
``levels[i]`` with ``i`` the number of midpoints that are not ``>= u`` (``searchsorted``: a tie
goes to the lower level, NaN to the top one). Up to ``SELECT_MAX`` levels this is one select
per midpoint (vectorised, no indexed load), beyond a binary search whose index loads do not
vectorise (``python -m benchmarks.state_quant``: 2- and 4-bit scans 1.2-1.5x the unquantised
one, against 8-22x with the search alone; docs/benchmarks.md). Empty ``levels``: no
quantisation. Its gradient is the straight-through one (1), so the backward is the same, at the
quantised membranes.

Memory: the forward keeps nothing per step but the state at the start of every ``CHUNK``
steps (``ckpt [ceil(T / CHUNK), S, M]``). The backward re-runs each chunk from its checkpoint
and the input ``x`` (bitwise the same membranes), then walks the chunk backwards in time.

``cfg = (model, reset, detach_reset, surrogate, max_spikes)``, ints; ``consts`` holds the
surrogate's two constants in the input's dtype.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BLOCK = 1024  # neurons per block
CHUNK = 32  # time steps per checkpoint
SELECT_MAX = 32  # padded state levels up to which quantisation selects instead of searching

# models
LIF, LI, ALIF, ILIF = 0, 1, 2, 3
# reset modes (the codes of axonal.kernels._support.RESET_CODES)
SUBTRACT, ZERO, NONE = 0, 1, 2
# surrogate derivatives (the codes of axonal.kernels._support.SURROGATE_CODES)
ATAN, FAST_SIGMOID, SIGMOID, TRIANGLE, STRAIGHT_THROUGH = 0, 1, 2, 3, 4
# parameter rows (LI uses beta and leak, ALIF all, the others the first four)
BETA, THRESHOLD, LEAK, V_RESET, ADAPT_DECAY, ADAPT_STRENGTH = 0, 1, 2, 3, 4, 5

_options = {"nogil": True, "cache": True, "fastmath": False, "error_model": "numpy"}
_jit = njit(**_options)
_inline = njit(inline="always", **_options)
Array = np.ndarray
Config = tuple[int, int, int, int, int]


@_inline
def _bounds(b: int, m: int) -> tuple[int, int]:
    lo = b * BLOCK
    return lo, min(lo + BLOCK, m)


@_inline
def _rows(p, lo, hi):
    """The parameter rows of neurons ``lo:hi``: beta, threshold, leak, v_reset, decay,
    strength (contiguous 1-d views, so that the loops over them vectorise). Rows shorter than
    ``hi`` are shared by every block (scalar parameters: one block's worth of columns)."""
    a, b = (lo, hi) if p.shape[1] >= hi else (0, hi - lo)
    return (
        p[BETA, a:b],
        p[THRESHOLD, a:b],
        p[LEAK, a:b],
        p[V_RESET, a:b],
        p[ADAPT_DECAY, a:b],
        p[ADAPT_STRENGTH, a:b],
    )


@_inline
def _copy(src, dst):
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@_inline
def _reset(u, r, amount, v_reset, mode):
    """Membrane after the reset driven by ``r`` (``_reset`` of the functional code); a select,
    not a branch, between the modes."""
    drop = (u - v_reset) if mode == ZERO else amount
    return u if mode == NONE else u - r * drop


@_inline
def _reset_grads(g, u, r, amount, v_reset, mode):
    """Given ``g = dL/dv'``, the partials of :func:`_reset`: ``(dL/du, dL/dr, dL/d amount)``."""
    zero = g - g
    du = (g - g * r) if mode == ZERO else g
    dr = -(g * amount) if mode == SUBTRACT else -(g * (u - v_reset)) if mode == ZERO else zero
    return du, dr, -(g * r) if mode == SUBTRACT else zero


@_inline
def _count(u, thr, d):
    """I-LIF: the count ``round(clamp(u / thr, 0, d))`` (half to even) and ``u / thr``."""
    w = u / thr
    return np.rint(min(max(w, w - w), d)), w


@_inline
def _ilif_reset_drive(k, mode, one):
    """What drives the I-LIF reset: the count ``k``, or for a zero reset ``k > 0`` (that is
    ``min(k, 1)`` for a count)."""
    return min(k, one) if mode == ZERO else k


@_inline
def _surrogate(z, kind, c, c1, one):
    """The surrogate derivative at ``z`` (the ``derivative`` methods of the surrogates), with
    its constants ``c, c1`` (see ``consts``) and ``one`` in the dtype of ``z``."""
    if kind == ATAN:  # (alpha / 2, pi / 2 * alpha)
        y = c1 * z
        return c / (one + y * y)
    if kind == FAST_SIGMOID:  # (slope, -)
        d = c * abs(z) + one
        return one / (d * d)
    if kind == SIGMOID:  # (slope, -)
        s = one / (one + np.exp(-(c * z)))
        return c * s * (one - s)
    if kind == TRIANGLE:  # (width, -)
        return max(one - abs(z) / c, one - one) / c
    return (abs(z) <= c) * one  # STRAIGHT_THROUGH, (window, -)


# ---- forward: one step of a block; the state rows v (and a) are updated in place ----
# With ``from_u`` a loop reads the pre-reset membrane from ``u`` (integrated and quantised by
# :func:`_integrate` and :func:`_quantize`); else it integrates ``xt`` itself, and with
# ``keep_u`` stores the membrane into ``u``. Both flags are constants of each copy.


@_inline
def _membrane(v, xt, beta, leak, u, j, from_u):
    """``(beta * v + x) + leak`` (``leak = (1 - beta) * v_leak``, or -0.0), or ``u[j]``."""
    return u[j] if from_u else (beta[j] * v[j] + xt[j]) + leak[j]


@_inline
def _lif_loop(xt, v, rows, mode, from_u, keep_u, s, u):
    """LIF: spikes into ``s``."""
    beta, thr, leak, v_reset, _, _ = rows
    one = v.dtype.type(1)
    for j in range(v.shape[0]):
        uj = _membrane(v, xt, beta, leak, u, j, from_u)
        if keep_u:
            u[j] = uj
        sj = (uj - thr[j] > 0) * one
        s[j] = sj
        v[j] = _reset(uj, sj, thr[j], v_reset[j], mode)


@_inline
def _alif_loop(xt, v, a, rows, mode, from_u, keep_u, s, u):
    """ALIF: spikes into ``s``; ``a = decay * a + s``, the threshold ``thr + strength * a``."""
    beta, thr, leak, v_reset, decay, strength = rows
    one = v.dtype.type(1)
    for j in range(v.shape[0]):
        uj = _membrane(v, xt, beta, leak, u, j, from_u)
        if keep_u:
            u[j] = uj
        theta = thr[j] + strength[j] * a[j]
        sj = (uj - theta > 0) * one
        s[j] = sj
        a[j] = decay[j] * a[j] + sj
        v[j] = _reset(uj, sj, theta, v_reset[j], mode)


@_inline
def _ilif_loop(xt, v, rows, mode, d, from_u, keep_u, out, u):
    """I-LIF: ``k / d`` into ``out``, the reset driven by the count ``k``."""
    beta, thr, leak, v_reset, _, _ = rows
    one = v.dtype.type(1)
    for j in range(v.shape[0]):
        uj = _membrane(v, xt, beta, leak, u, j, from_u)
        if keep_u:
            u[j] = uj
        k, _ = _count(uj, thr[j], d)
        out[j] = k / d
        v[j] = _reset(uj, _ilif_reset_drive(k, mode, one), thr[j], v_reset[j], mode)


@_inline
def _li_loop(xt, v, rows, from_u, keep_u, out, u):
    """Leaky integrator: the membrane into ``out``."""
    beta, _, leak, _, _, _ = rows
    for j in range(v.shape[0]):
        uj = _membrane(v, xt, beta, leak, u, j, from_u)
        if keep_u:
            u[j] = uj
        out[j] = uj
        v[j] = uj


@_inline
def _integrate(v, xt, beta, leak, u):
    """``u = (beta * v + x) + leak``."""
    for j in range(u.shape[0]):
        u[j] = (beta[j] * v[j] + xt[j]) + leak[j]


@_inline
def _quantize(u, levels, mids, q):
    """Each ``u[j]`` becomes ``levels[i]``, ``i`` the number of midpoints that are not
    ``>= u[j]`` (see the module docstring), for all neurons at once; ``q`` is scratch in
    ``u``'s dtype. ``levels`` and ``mids`` are padded to a power of two ``P`` (see
    :data:`SELECT_MAX`)."""
    n = mids.shape[0]
    if n <= SELECT_MAX:  # one select per midpoint, broadcast: vectorises, no gather
        for j in range(u.shape[0]):
            q[j] = levels[0]
        for m in range(n - 1):
            mid, level = mids[m], levels[m + 1]
            for j in range(u.shape[0]):
                q[j] = level if not (mid >= u[j]) else q[j]
    else:  # binary search, one step for all neurons at a time; q holds the index
        for j in range(u.shape[0]):
            q[j] = 0
        k = n // 2
        while k > 0:  # invariant: mids[:q[j]] are all not >= u[j]
            for j in range(u.shape[0]):
                c = q[j] + k
                q[j] = c if not (mids[np.int64(c) - 1] >= u[j]) else q[j]
            k //= 2
        for j in range(u.shape[0]):
            q[j] = levels[np.int64(q[j])]
    for j in range(u.shape[0]):
        u[j] = q[j]


@_inline
def _rows_at(x, t, t0, lo, hi, keep, out, u):
    """Step ``t``'s input row, and where its pre-reset membrane and output go: forward
    (``keep`` False) ``u[0]`` (scratch) and ``out[t]``; replay ``u[t - t0]`` and ``out[0]``
    (scratch)."""
    if keep:
        return x[t, lo:hi], u[t - t0], out[0]
    return x[t, lo:hi], u[0], out[t, lo:hi]


@_inline
def _prepare(x, t, t0, lo, hi, v, a, rows, levels, mids, quant, keep, want_v, alif, out, u,
             v_prev, a_prev, q):  # fmt: skip
    """Step ``t``: input, membrane and output rows (see :func:`_rows_at`); in a replay the
    state before the step kept; with ``quant`` the quantised membrane computed into ``u``."""
    xt, ut, ot = _rows_at(x, t, t0, lo, hi, keep, out, u)
    if keep and want_v:
        _copy(v, v_prev[t - t0])
    if keep and alif:
        _copy(a, a_prev[t - t0])
    if quant:
        _integrate(v, xt, rows[BETA], rows[LEAK], ut)
        _quantize(ut, levels, mids, q)
    return xt, ut, ot


# Steps ``t0:t1`` of neurons ``lo:hi``: one function per model (numba compiles every branch of
# a function, so a shared one would hold every model's loop in every copy: compiling took 5x
# longer), one loop over time per case. Forward (``keep`` False, ``u`` of one row): outputs
# into ``out[t]``. Replay (``keep``): pre-reset membranes into ``u[t - t0]`` and, with
# ``want_v`` (``v_prev`` of more than one row), the membranes before each step into ``v_prev``
# (ALIF: ``a`` into ``a_prev``). ``keep_u`` is ``keep`` without quantisation (a quantised
# membrane is in ``u`` already).


@_inline
def _lif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, quant, keep, keep_u, want_v,
               out, u, v_prev, a_prev, q):  # fmt: skip
    for t in range(t0, t1):
        xt, ut, ot = _prepare(x, t, t0, lo, hi, v, a, rows, levels, mids, quant, keep, want_v,
                              False, out, u, v_prev, a_prev, q)  # fmt: skip
        _lif_loop(xt, v, rows, cfg[1], quant, keep_u, ot, ut)


@_jit
def _lif_chunk(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, out, u, v_prev, a_prev, q):
    keep, want_v = u.shape[0] > 1, v_prev.shape[0] > 1
    if levels.shape[0] > 0:
        _lif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, True, keep, False, want_v,
                   out, u, v_prev, a_prev, q)  # fmt: skip
    elif keep:
        _lif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, False, True, True, want_v,
                   out, u, v_prev, a_prev, q)  # fmt: skip
    else:
        _lif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, False, False, False, want_v,
                   out, u, v_prev, a_prev, q)  # fmt: skip


@_inline
def _alif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, quant, keep, keep_u, want_v,
                out, u, v_prev, a_prev, q):  # fmt: skip
    for t in range(t0, t1):
        xt, ut, ot = _prepare(x, t, t0, lo, hi, v, a, rows, levels, mids, quant, keep, want_v,
                              True, out, u, v_prev, a_prev, q)  # fmt: skip
        _alif_loop(xt, v, a, rows, cfg[1], quant, keep_u, ot, ut)


@_jit
def _alif_chunk(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, out, u, v_prev, a_prev, q):
    keep, want_v = u.shape[0] > 1, v_prev.shape[0] > 1
    if levels.shape[0] > 0:
        _alif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, True, keep, False, want_v,
                    out, u, v_prev, a_prev, q)  # fmt: skip
    elif keep:
        _alif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, False, True, True, want_v,
                    out, u, v_prev, a_prev, q)  # fmt: skip
    else:
        _alif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, False, False, False, want_v,
                    out, u, v_prev, a_prev, q)  # fmt: skip


@_inline
def _ilif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, quant, keep, keep_u, want_v,
                out, u, v_prev, a_prev, q):  # fmt: skip
    d = v.dtype.type(cfg[4])
    for t in range(t0, t1):
        xt, ut, ot = _prepare(x, t, t0, lo, hi, v, a, rows, levels, mids, quant, keep, want_v,
                              False, out, u, v_prev, a_prev, q)  # fmt: skip
        _ilif_loop(xt, v, rows, cfg[1], d, quant, keep_u, ot, ut)


@_jit
def _ilif_chunk(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, out, u, v_prev, a_prev, q):
    keep, want_v = u.shape[0] > 1, v_prev.shape[0] > 1
    if levels.shape[0] > 0:
        _ilif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, True, keep, False, want_v,
                    out, u, v_prev, a_prev, q)  # fmt: skip
    elif keep:
        _ilif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, False, True, True, want_v,
                    out, u, v_prev, a_prev, q)  # fmt: skip
    else:
        _ilif_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, False, False, False, want_v,
                    out, u, v_prev, a_prev, q)  # fmt: skip


@_inline
def _li_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, quant, keep, keep_u, want_v, out,
              u, v_prev, a_prev, q):  # fmt: skip
    for t in range(t0, t1):
        xt, ut, ot = _prepare(x, t, t0, lo, hi, v, a, rows, levels, mids, quant, keep, want_v,
                              False, out, u, v_prev, a_prev, q)  # fmt: skip
        _li_loop(xt, v, rows, quant, keep_u, ot, ut)


@_jit
def _li_chunk(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, out, u, v_prev, a_prev, q):
    keep, want_v = u.shape[0] > 1, v_prev.shape[0] > 1
    if levels.shape[0] > 0:
        _li_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, True, keep, False, want_v,
                  out, u, v_prev, a_prev, q)  # fmt: skip
    elif keep:
        _li_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, False, True, True, want_v,
                  out, u, v_prev, a_prev, q)  # fmt: skip
    else:
        _li_steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, False, False, False, want_v,
                  out, u, v_prev, a_prev, q)  # fmt: skip


@_inline
def _steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, out, u, v_prev, a_prev, q):
    """Steps ``t0:t1`` of the model of ``cfg`` (see above)."""
    model = cfg[0]
    if model == LIF:
        _lif_chunk(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, out, u, v_prev, a_prev, q)
    elif model == ALIF:
        _alif_chunk(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, out, u, v_prev, a_prev, q)
    elif model == ILIF:
        _ilif_chunk(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, out, u, v_prev, a_prev, q)
    else:
        _li_chunk(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, out, u, v_prev, a_prev, q)


@_jit
def forward(
    x: Array,
    state: Array,
    p: Array,
    cfg: Config,
    levels: Array,
    mids: Array,
    out: Array,
    ckpt: Array,
    final: Array,
    b0: int,
    b1: int,
) -> None:
    """Outputs into ``out [T, M]`` from the initial ``state [S, M]`` (read only); the final
    state goes to ``final [S, M]``; the state before steps ``0, CHUNK, 2 CHUNK, ...`` goes to
    ``ckpt`` (``[ceil(T / CHUNK), S, M]``, or empty when no backward will replay the scan)."""
    T, M = x.shape
    last = state.shape[0] - 1  # the a row of ALIF, else v again
    for b in range(b0, b1):
        lo, hi = _bounds(b, M)
        rows = _rows(p, lo, hi)
        v, a = state[0, lo:hi].copy(), state[last, lo:hi].copy()
        u, q = np.empty((1, hi - lo), x.dtype), np.empty(hi - lo, x.dtype)
        for c in range(-(-T // CHUNK)):
            if ckpt.shape[0] > 0:
                _copy(a, ckpt[c, last, lo:hi])
                _copy(v, ckpt[c, 0, lo:hi])
            t0 = c * CHUNK
            _steps(x, t0, min(t0 + CHUNK, T), lo, hi, v, a, rows, cfg, levels, mids, out, u, u, u,
                   q)  # fmt: skip
        _copy(a, final[last, lo:hi])
        _copy(v, final[0, lo:hi])


# ---- backward: one step of a block; g = dL/dv' (and ga = dL/da) move a step back in place ----
# Each writes dL/du (= dL/dx) into ``gx`` and dL/d threshold (ALIF: dL/d theta) into ``dthr``.


@_inline
def _spiking_back_loop(u, at, got, g, ga, rows, mode, detach, alif, kind, c, c1, gx, dthr, ga_t):
    """Backward of firing and reset at the threshold (ALIF, ``alif``: ``thr + strength * at``,
    and ``ga`` carried back, its value after the step kept in ``ga_t``), with the surrogate
    ``kind`` (constants ``c, c1``). Through the reset only when not ``detach``."""
    beta, thr, _, v_reset, decay, strength = rows
    one, neg_zero = u.dtype.type(1), -u.dtype.type(0)
    for j in range(g.shape[0]):
        theta = thr[j] + strength[j] * at[j] if alif else thr[j]
        z = u[j] - theta
        s = (z > 0) * one
        du, dr, dtheta = _reset_grads(g[j], u[j], s, theta, v_reset[j], mode)
        adapt = ga[j]  # (loaded whatever the flags: a load inside a select stops vectorising)
        through = (got[j] + (neg_zero if detach else dr)) + (
            adapt if alif and not detach else neg_zero
        )
        gz = through * _surrogate(z, kind, c, c1, one)
        du = du + gz
        dtheta = dtheta - gz
        gx[j] = du
        dthr[j] = dtheta
        g[j] = du * beta[j]
        if alif:
            ga_t[j] = adapt
            ga[j] = adapt * decay[j] + dtheta * strength[j]


@_inline
def _spiking_back(u, at, got, g, ga, rows, mode, detach, alif, kind, c, c1, gx, dthr, ga_t):
    """:func:`_spiking_back_loop` compiled for each surrogate."""
    if kind == ATAN:
        _spiking_back_loop(u, at, got, g, ga, rows, mode, detach, alif, ATAN, c, c1, gx, dthr,
                           ga_t)  # fmt: skip
    elif kind == FAST_SIGMOID:
        _spiking_back_loop(u, at, got, g, ga, rows, mode, detach, alif, FAST_SIGMOID, c, c1, gx,
                           dthr, ga_t)  # fmt: skip
    elif kind == SIGMOID:
        _spiking_back_loop(u, at, got, g, ga, rows, mode, detach, alif, SIGMOID, c, c1, gx, dthr,
                           ga_t)  # fmt: skip
    elif kind == TRIANGLE:
        _spiking_back_loop(u, at, got, g, ga, rows, mode, detach, alif, TRIANGLE, c, c1, gx, dthr,
                           ga_t)  # fmt: skip
    else:
        _spiking_back_loop(u, at, got, g, ga, rows, mode, detach, alif, STRAIGHT_THROUGH, c, c1,
                           gx, dthr, ga_t)  # fmt: skip


@_inline
def _li_back(got, g, rows, gx, dthr):
    beta = rows[BETA]
    for j in range(g.shape[0]):
        du = got[j] + g[j]
        gx[j] = du
        dthr[j] = du - du
        g[j] = du * beta[j]


@_inline
def _ilif_back(u, got, g, rows, mode, detach, d, gx, dthr):
    """I-LIF: straight-through inside ``0 <= u / thr <= d``."""
    beta, thr, _, v_reset, _, _ = rows
    one = u.dtype.type(1)
    through_reset = not detach and mode == SUBTRACT  # a zero reset uses k > 0: no gradient
    for j in range(g.shape[0]):
        k, w = _count(u[j], thr[j], d)
        r = _ilif_reset_drive(k, mode, one)
        du, dr, da = _reset_grads(g[j], u[j], r, thr[j], v_reset[j], mode)
        gk = got[j] / d + dr if through_reset else got[j] / d
        gw = gk * ((w >= 0) & (w <= d))
        du = du + gw / thr[j]
        gx[j] = du
        dthr[j] = da - gw * (w / thr[j])
        g[j] = du * beta[j]


@_inline
def _accumulate(gp, lo, hi, du, v_prev, dthr, ga_t, a_prev, alif):
    """Add one step's parameter gradients of neurons ``lo:hi``: ``du`` is dL/du, ``v_prev`` the
    reset membrane of the step before, ``dthr`` dL/d threshold (ALIF: also decay and strength,
    from ``ga_t`` and ``a[t-1]``)."""
    g_beta, g_thr, g_leak = gp[BETA, lo:hi], gp[THRESHOLD, lo:hi], gp[LEAK, lo:hi]
    for j in range(du.shape[0]):
        g_beta[j] += du[j] * v_prev[j]
        g_thr[j] += dthr[j]
        g_leak[j] += du[j]
    if alif:
        g_decay, g_strength = gp[ADAPT_DECAY, lo:hi], gp[ADAPT_STRENGTH, lo:hi]
        for j in range(du.shape[0]):
            g_decay[j] += ga_t[j] * a_prev[j]
            g_strength[j] += dthr[j] * a_prev[j]


@_jit
def _spiking_step(ut, at, got, g, ga, rows, cfg, alif, consts, gxt, dthr, ga_t):
    """The backward of one step of LIF or ALIF neurons (see :func:`_spiking_walk`). A function
    of its own, called per step: inlined into the loop over time, the same loops ran 2-3x
    slower (LLVM compiled them differently there)."""
    _, mode, detach, kind, _ = cfg
    c, c1 = consts[0], consts[1]
    if alif:
        _spiking_back(ut, at, got, g, ga, rows, mode, detach, True, kind, c, c1, gxt, dthr, ga_t)
    else:
        _spiking_back(ut, at, got, g, ga, rows, mode, detach, False, kind, c, c1, gxt, dthr, ga_t)


@_inline
def _spiking_walk(g_out, gx, gp, t0, t1, lo, hi, rows, cfg, consts, u, v_prev, a_prev, g, ga,
                  dthr, ga_t):  # fmt: skip
    """LIF and ALIF: steps ``t1 - 1`` down to ``t0`` of neurons ``lo:hi`` backwards: dL/dx into
    ``gx``, the parameter gradients added to ``gp`` (if it has rows), ``g`` (and ALIF's ``ga``)
    moved back to before ``t0``. Rows ``t - t0`` of ``u, v_prev, a_prev`` are those of the
    replay; ``dthr`` and ``ga_t`` are scratch."""
    per_step, want_p, alif = g_out.shape[0] > 1, gp.shape[0] > 0, cfg[0] == ALIF
    for t in range(t1 - 1, t0 - 1, -1):
        r = t - t0
        ut, at, gxt = u[r], a_prev[r if alif else 0], gx[t, lo:hi]
        got = g_out[t * per_step, lo:hi]
        _spiking_step(ut, at, got, g, ga, rows, cfg, alif, consts, gxt, dthr, ga_t)
        if want_p:
            _accumulate(gp, lo, hi, gxt, v_prev[r], dthr, ga_t, at, alif)


@_jit
def _plain_step(ut, got, g, rows, cfg, gxt, dthr):
    """The backward of one step of LI or I-LIF neurons (see :func:`_spiking_step`)."""
    model, mode, detach, _, max_spikes = cfg
    if model == LI:
        _li_back(got, g, rows, gxt, dthr)
    else:
        _ilif_back(ut, got, g, rows, mode, detach, ut.dtype.type(max_spikes), gxt, dthr)


@_jit
def _plain_walk(g_out, gx, gp, t0, t1, lo, hi, rows, cfg, u, v_prev, g, dthr):
    """:func:`_spiking_walk` for the models without a surrogate, LI and I-LIF."""
    per_step, want_p = g_out.shape[0] > 1, gp.shape[0] > 0
    for t in range(t1 - 1, t0 - 1, -1):
        ut, gxt, got = u[t - t0], gx[t, lo:hi], g_out[t * per_step, lo:hi]
        _plain_step(ut, got, g, rows, cfg, gxt, dthr)
        if want_p:
            _accumulate(gp, lo, hi, gxt, v_prev[t - t0], dthr, dthr, dthr, False)


@_jit
def backward(
    g_out: Array,
    g_state: Array,
    x: Array,
    ckpt: Array,
    p: Array,
    cfg: Config,
    levels: Array,
    mids: Array,
    consts: Array,
    gx: Array,
    gp: Array,
    b0: int,
    b1: int,
) -> None:
    """Backward of :func:`forward`.

    ``g_out [T or 1, M]`` (one row when the gradient is constant over time); ``g_state [S, M]``
    in: dL/d(final state), out: dL/d(initial state); ``gx [T, M]`` out: dL/dx; ``gp [6, M]``
    float64 accumulators of the parameter gradients (``[0, M]``: not wanted).
    """
    T, M = gx.shape
    last = g_state.shape[0] - 1
    want_p = gp.shape[0] > 0
    alif = cfg[0] == ALIF
    for b in range(b0, b1):
        lo, hi = _bounds(b, M)
        n = hi - lo
        rows = _rows(p, lo, hi)
        g, ga = g_state[0, lo:hi].copy(), g_state[last, lo:hi].copy()
        u, v_prev = np.empty((CHUNK, n), x.dtype), np.empty((CHUNK if want_p else 1, n), x.dtype)
        a_prev = np.zeros((CHUNK if alif else 1, n), x.dtype)
        v, a, s = np.empty(n, x.dtype), np.empty(n, x.dtype), np.empty((1, n), x.dtype)
        dthr, ga_t, q = np.empty(n, x.dtype), np.zeros(n, x.dtype), np.empty(n, x.dtype)
        for c in range(ckpt.shape[0] - 1, -1, -1):
            t0 = c * CHUNK
            t1 = min(t0 + CHUNK, T)
            _copy(ckpt[c, 0, lo:hi], v)
            _copy(ckpt[c, last, lo:hi], a)
            _steps(x, t0, t1, lo, hi, v, a, rows, cfg, levels, mids, s, u, v_prev, a_prev, q)
            if cfg[0] == LIF or alif:
                _spiking_walk(g_out, gx, gp, t0, t1, lo, hi, rows, cfg, consts, u, v_prev, a_prev,
                              g, ga, dthr, ga_t)  # fmt: skip
            else:
                _plain_walk(g_out, gx, gp, t0, t1, lo, hi, rows, cfg, u, v_prev, g, dthr)
        _copy(ga, g_state[last, lo:hi])
        _copy(g, g_state[0, lo:hi])
