"""Numba loops of the fused CPU scans: forward and backward over all T steps in one call.

Arrays are flat over neurons: input ``x [T, M]`` with ``M`` the number of elements of one step
``[B, ...]``, states ``[S, M]`` (rows ``v``, and ``a`` for ALIF), parameters ``[6, M]`` (rows
named below), all in the input's dtype; parameter gradients accumulate in float64. A call
handles the neuron blocks ``[b0, b1)`` of ``BLOCK`` neurons: inside a block it runs over time
with the block's state in cache and the innermost loops over contiguous neurons (vectorised).
Callers run disjoint block ranges on different threads (every loop releases the GIL).

The arithmetic repeats :mod:`axonal.functional.neurons` operation by operation (no fused
multiply-add, no reassociation: ``fastmath=False``), so outputs and states are bitwise equal
to the reference scan. ``error_model="numpy"`` drops the zero-division check that would keep
divisions from vectorising (``x / 0`` gives inf or nan, as in torch). The row helpers take
contiguous 1-d rows (slicing inside them measured about 2x slower).

Memory: the forward keeps nothing per step but the state at the start of every ``CHUNK``
steps (``ckpt [ceil(T / CHUNK), S, M]``). The backward re-runs each chunk from its checkpoint
and the input ``x`` (bitwise the same membranes), then walks the chunk backwards in time.

``cfg = (model, reset, detach_reset, has_leak, surrogate, max_spikes)``, ints; ``consts`` holds
the surrogate's two constants in the input's dtype.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BLOCK = 1024  # neurons per block
CHUNK = 32  # time steps per checkpoint

# models
LIF, LI, ALIF, ILIF = 0, 1, 2, 3
# reset modes
SUBTRACT, ZERO, NONE = 0, 1, 2
# surrogate derivatives
ATAN, FAST_SIGMOID, SIGMOID, TRIANGLE, STRAIGHT_THROUGH = 0, 1, 2, 3, 4
# parameter rows (LI uses beta and leak, ALIF all, the others the first four)
BETA, THRESHOLD, LEAK, V_RESET, ADAPT_DECAY, ADAPT_STRENGTH = 0, 1, 2, 3, 4, 5

_jit = njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
Array = np.ndarray
Config = tuple[int, int, int, int, int, int]


@_jit
def _bounds(b: int, m: int) -> tuple[int, int]:
    lo = b * BLOCK
    return lo, min(lo + BLOCK, m)


@_jit
def _leaky(v, x, beta, leak, has_leak):
    """``beta * v + x``, then ``+ (1 - beta) * v_leak`` (precomputed in ``leak``) if any."""
    u = beta * v + x
    if has_leak:
        u = u + leak
    return u


@_jit
def _reset(u, r, amount, v_reset, mode):
    """Membrane after the reset driven by ``r`` (``_reset`` of the functional code)."""
    if mode == SUBTRACT:
        return u - r * amount
    if mode == ZERO:
        return u - r * (u - v_reset)
    return u


@_jit
def _reset_grads(g, u, r, amount, v_reset, mode):
    """Given ``g = dL/dv'``, the partials of the reset: ``(dL/du, dL/dr, dL/d amount)``."""
    zero = g - g
    if mode == SUBTRACT:
        return g, -(g * amount), -(g * r)
    if mode == ZERO:
        return g - g * r, -(g * (u - v_reset)), zero
    return g, zero, zero


@_jit
def _count(u, thr, d):
    """I-LIF: the count ``round(clamp(u / thr, 0, d))`` (half to even) and ``u / thr``."""
    w = u / thr
    return np.rint(min(max(w, w - w), d)), w


@_jit
def _ilif_reset_drive(k, mode, one):
    """What drives the I-LIF reset: the count ``k``, or for a zero reset ``k > 0`` (that is
    ``min(k, 1)`` for a count)."""
    return min(k, one) if mode == ZERO else k


@_jit
def _rows(p, lo, hi):
    """The parameter rows of neurons ``lo:hi``: beta, threshold, leak, v_reset, decay,
    strength (contiguous 1-d views, so that the loops over them vectorise)."""
    return (
        p[BETA, lo:hi],
        p[THRESHOLD, lo:hi],
        p[LEAK, lo:hi],
        p[V_RESET, lo:hi],
        p[ADAPT_DECAY, lo:hi],
        p[ADAPT_STRENGTH, lo:hi],
    )


# ---- one time step of a block of neurons; the state rows v (and a) are updated in place ----
# ``out`` receives the step's output (``spikes``) or its pre-reset membrane (not ``spikes``).


@_jit
def _lif_row(xt, v, rows, mode, has_leak, spikes, out):
    beta, thr, leak, v_reset, _, _ = rows
    one = xt.dtype.type(1)
    for j in range(v.shape[0]):
        u = _leaky(v[j], xt[j], beta[j], leak[j], has_leak)
        s = (u - thr[j] > 0) * one
        out[j] = s if spikes else u
        v[j] = _reset(u, s, thr[j], v_reset[j], mode)


@_jit
def _li_row(xt, v, rows, has_leak, out):
    beta, _, leak, _, _, _ = rows
    for j in range(v.shape[0]):
        v[j] = _leaky(v[j], xt[j], beta[j], leak[j], has_leak)
        out[j] = v[j]


@_jit
def _alif_row(xt, v, a, rows, mode, has_leak, spikes, out, at):
    """ALIF also writes ``a`` before the step into ``at``."""
    beta, thr, leak, v_reset, decay, strength = rows
    one = xt.dtype.type(1)
    for j in range(v.shape[0]):
        u = _leaky(v[j], xt[j], beta[j], leak[j], has_leak)
        theta = thr[j] + strength[j] * a[j]
        s = (u - theta > 0) * one
        out[j] = s if spikes else u
        at[j] = a[j]
        a[j] = decay[j] * a[j] + s
        v[j] = _reset(u, s, theta, v_reset[j], mode)


@_jit
def _ilif_row(xt, v, rows, mode, has_leak, d, spikes, out):
    """I-LIF outputs ``k / d``."""
    beta, thr, leak, v_reset, _, _ = rows
    one = xt.dtype.type(1)
    for j in range(v.shape[0]):
        u = _leaky(v[j], xt[j], beta[j], leak[j], has_leak)
        k, _ = _count(u, thr[j], d)
        out[j] = k / d if spikes else u
        v[j] = _reset(u, _ilif_reset_drive(k, mode, one), thr[j], v_reset[j], mode)


@_jit
def _step(xt, v, a, rows, cfg, spikes, out, at):
    """One step of the configured model (``a`` and ``at`` are used by ALIF only)."""
    model, mode, _, has_leak, _, max_spikes = cfg
    if model == LIF:
        _lif_row(xt, v, rows, mode, has_leak, spikes, out)
    elif model == LI:
        _li_row(xt, v, rows, has_leak, out)
    elif model == ALIF:
        _alif_row(xt, v, a, rows, mode, has_leak, spikes, out, at)
    else:
        _ilif_row(xt, v, rows, mode, has_leak, xt.dtype.type(max_spikes), spikes, out)


@_jit
def forward(
    x: Array, state: Array, p: Array, cfg: Config, out: Array, ckpt: Array, b0: int, b1: int
) -> None:
    """Outputs into ``out [T, M]``; ``state [S, M]`` becomes the final state; the state before
    steps ``0, CHUNK, 2 CHUNK, ...`` goes to ``ckpt``."""
    T, M = x.shape
    last = state.shape[0] - 1  # the a row of ALIF, else v again
    for b in range(b0, b1):
        lo, hi = _bounds(b, M)
        rows = _rows(p, lo, hi)
        v, a = state[0, lo:hi].copy(), state[last, lo:hi].copy()
        a_prev = np.empty(hi - lo, x.dtype)  # not needed here
        for t in range(T):
            if t % CHUNK == 0:
                ckpt[t // CHUNK, last, lo:hi] = a
                ckpt[t // CHUNK, 0, lo:hi] = v
            _step(x[t, lo:hi], v, a, rows, cfg, True, out[t, lo:hi], a_prev)
        state[last, lo:hi] = a
        state[0, lo:hi] = v


# ---- the backward of one step of a block; g = dL/dv' (and ga = dL/da) updated in place ----
# Each writes dL/du (= dL/dx) into ``gxt`` and dL/d threshold into ``dthr``.


@_jit
def _surrogate_row(z, kind, consts, out):
    """``out[j]`` = the surrogate derivative at ``z[j]`` (the ``derivative`` methods of the
    surrogates); one loop per kind, so that each is vectorised."""
    one = consts.dtype.type(1)
    c = consts[0]
    if kind == ATAN:  # consts = (alpha / 2, pi / 2 * alpha)
        for j in range(z.shape[0]):
            y = consts[1] * z[j]
            out[j] = c / (one + y * y)
    elif kind == FAST_SIGMOID:  # consts = (slope, -)
        for j in range(z.shape[0]):
            d = c * abs(z[j]) + one
            out[j] = one / (d * d)
    elif kind == SIGMOID:  # consts = (slope, -)
        for j in range(z.shape[0]):
            s = one / (one + np.exp(-(c * z[j])))
            out[j] = c * s * (one - s)
    elif kind == TRIANGLE:  # consts = (width, -)
        for j in range(z.shape[0]):
            out[j] = max(one - abs(z[j]) / c, one - one) / c
    else:  # STRAIGHT_THROUGH, consts = (window, -)
        for j in range(z.shape[0]):
            out[j] = (abs(z[j]) <= c) * one


@_jit
def _lif_back_row(ut, got, g, rows, mode, detach, kind, consts, gxt, dthr, z, sg):
    beta, thr, _, v_reset, _, _ = rows
    one = ut.dtype.type(1)
    for j in range(g.shape[0]):
        z[j] = ut[j] - thr[j]
    _surrogate_row(z, kind, consts, sg)
    for j in range(g.shape[0]):
        s = (z[j] > 0) * one
        du, dr, da = _reset_grads(g[j], ut[j], s, thr[j], v_reset[j], mode)
        gz = (got[j] if detach else got[j] + dr) * sg[j]
        du = du + gz
        gxt[j] = du
        dthr[j] = da - gz
        g[j] = du * beta[j]


@_jit
def _li_back_row(got, g, rows, gxt, dthr):
    beta = rows[BETA]
    for j in range(g.shape[0]):
        du = got[j] + g[j]
        gxt[j] = du
        dthr[j] = du - du
        g[j] = du * beta[j]


@_jit
def _alif_back_row(ut, at, got, g, ga, rows, mode, detach, kind, consts, gxt, dthr, ga_t, z, sg):
    """ALIF: ``dthr`` is dL/d theta; ``ga_t`` gets dL/da[t] before ``ga`` moves a step back."""
    beta, thr, _, v_reset, decay, strength = rows
    one = ut.dtype.type(1)
    for j in range(g.shape[0]):
        z[j] = ut[j] - (thr[j] + strength[j] * at[j])
    _surrogate_row(z, kind, consts, sg)
    for j in range(g.shape[0]):
        theta = thr[j] + strength[j] * at[j]
        s = (z[j] > 0) * one
        du, dr, dtheta = _reset_grads(g[j], ut[j], s, theta, v_reset[j], mode)
        gz = (got[j] if detach else got[j] + dr + ga[j]) * sg[j]
        du = du + gz
        dtheta = dtheta - gz
        gxt[j] = du
        dthr[j] = dtheta
        ga_t[j] = ga[j]
        g[j] = du * beta[j]
        ga[j] = ga[j] * decay[j] + dtheta * strength[j]


@_jit
def _ilif_back_row(ut, got, g, rows, mode, detach, d, gxt, dthr):
    """I-LIF: straight-through inside ``0 <= u / thr <= d``."""
    beta, thr, _, v_reset, _, _ = rows
    one = ut.dtype.type(1)
    through_reset = not detach and mode == SUBTRACT  # a zero reset uses k > 0: no gradient
    for j in range(g.shape[0]):
        k, w = _count(ut[j], thr[j], d)
        r = _ilif_reset_drive(k, mode, one)
        du, dr, da = _reset_grads(g[j], ut[j], r, thr[j], v_reset[j], mode)
        gk = got[j] / d + dr if through_reset else got[j] / d
        gw = gk * ((w >= 0) & (w <= d))
        du = du + gw / thr[j]
        gxt[j] = du
        dthr[j] = da - gw * (w / thr[j])
        g[j] = du * beta[j]


@_jit
def _back_step(ut, at, got, g, ga, rows, cfg, consts, gxt, dthr, ga_t, z, sg):
    model, mode, detach, _, kind, max_spikes = cfg
    if model == LIF:
        _lif_back_row(ut, got, g, rows, mode, detach, kind, consts, gxt, dthr, z, sg)
    elif model == LI:
        _li_back_row(got, g, rows, gxt, dthr)
    elif model == ALIF:
        _alif_back_row(ut, at, got, g, ga, rows, mode, detach, kind, consts, gxt, dthr, ga_t, z, sg)
    else:
        _ilif_back_row(ut, got, g, rows, mode, detach, ut.dtype.type(max_spikes), gxt, dthr)


@_jit
def _reset_row(ut, at, rows, cfg, out):
    """The reset membrane ``v'`` of a step from its pre-reset membrane (and ALIF's ``a``)."""
    model, mode, _, _, _, max_spikes = cfg
    _, thr, _, v_reset, _, strength = rows
    one, d = ut.dtype.type(1), ut.dtype.type(max_spikes)
    for j in range(ut.shape[0]):
        if model == LI:
            out[j] = ut[j]
        elif model == ILIF:
            k, _ = _count(ut[j], thr[j], d)
            out[j] = _reset(ut[j], _ilif_reset_drive(k, mode, one), thr[j], v_reset[j], mode)
        else:
            theta = thr[j] + strength[j] * at[j] if model == ALIF else thr[j]
            out[j] = _reset(ut[j], (ut[j] - theta > 0) * one, theta, v_reset[j], mode)


@_jit
def _accumulate(gp, lo, du, v_prev, dthr, ga_t, at):
    """Add one step's parameter gradients of the block starting at ``lo``: ``du`` is dL/du,
    ``v_prev`` the reset membrane of the step before, ``dthr`` dL/d threshold (ALIF: also
    decay and strength, from ``ga_t`` and ``a[t-1]``)."""
    for j in range(du.shape[0]):
        gp[BETA, lo + j] += du[j] * v_prev[j]
        gp[THRESHOLD, lo + j] += dthr[j]
        gp[LEAK, lo + j] += du[j]
        gp[ADAPT_DECAY, lo + j] += ga_t[j] * at[j]
        gp[ADAPT_STRENGTH, lo + j] += dthr[j] * at[j]


@_jit
def backward(
    g_out: Array,
    g_state: Array,
    x: Array,
    ckpt: Array,
    p: Array,
    cfg: Config,
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
    per_step = g_out.shape[0] > 1
    want_p = gp.shape[0] > 0
    for b in range(b0, b1):
        lo, hi = _bounds(b, M)
        n = hi - lo
        rows = _rows(p, lo, hi)
        g, ga = g_state[0, lo:hi].copy(), g_state[last, lo:hi].copy()
        u, a_prev = np.empty((CHUNK, n), x.dtype), np.empty((CHUNK, n), x.dtype)
        z, sg, dthr = np.empty(n, x.dtype), np.empty(n, x.dtype), np.empty(n, x.dtype)
        ga_t, v_prev = np.zeros(n, x.dtype), np.empty(n, x.dtype)
        for c in range(ckpt.shape[0] - 1, -1, -1):
            t0 = c * CHUNK
            t1 = min(t0 + CHUNK, T)
            v, a = ckpt[c, 0, lo:hi].copy(), ckpt[c, last, lo:hi].copy()
            for t in range(t0, t1):  # replay the chunk: pre-reset membranes (and a[t-1])
                _step(x[t, lo:hi], v, a, rows, cfg, False, u[t - t0], a_prev[t - t0])
            for t in range(t1 - 1, t0 - 1, -1):
                r = t - t0
                got, gxt = g_out[t * per_step, lo:hi], gx[t, lo:hi]
                _back_step(u[r], a_prev[r], got, g, ga, rows, cfg, consts, gxt, dthr, ga_t, z, sg)
                if want_p:
                    if r == 0:
                        v_prev[:] = ckpt[c, 0, lo:hi]
                    else:
                        _reset_row(u[r - 1], a_prev[r - 1], rows, cfg, v_prev)
                    _accumulate(gp, lo, gxt, v_prev, dthr, ga_t, a_prev[r])
        g_state[last, lo:hi] = ga
        g_state[0, lo:hi] = g
