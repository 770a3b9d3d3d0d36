"""Local plasticity maths: SSDP and trace-based pair STDP, as pure functions.

Every function takes spike trains that are time-major ``[T, B, N]`` (``N_in`` presynaptic,
``N_out`` postsynaptic neurons; a neuron spikes at step ``t`` when its value is > 0) and
returns a weight change ``dW`` of shape ``[N_out, N_in]``, laid out like ``nn.Linear.weight``.
Time is counted in steps. Nothing here has state or touches a weight; the rule objects of
:mod:`axonal.learning.plasticity` bind these to a layer.

SSDP (spike-synchrony-dependent plasticity, arXiv:2505.14841, as its code computes it)::

    s[b, n]   = 1 if neuron n spiked anywhere in the window, else 0
    t[b, n]   = its first (or last) spike step, T when it is silent
    S[b, j, i] = s_post[b, j] * s_pre[b, i]
    G[b, j, i] = exp(-(t_post[b, j] - t_pre[b, i])^2 / (2 sigma^2))
    dW[j, i]  = clamp(mean_b(A+ S G - A_base (1 - S) G), -1, 1)

STDP (pair-based, with exponential windows; Morrison et al. 2008)::

    pair (t_pre, t_post), t_post >= t_pre:  + A+ exp(-(t_post - t_pre) / tau+)   (potentiation)
    pair (t_pre, t_post), t_post <  t_pre:  - A- exp(-(t_pre - t_post) / tau-)   (depression)

summed over pairs (``"all_to_all"``) or over nearest-neighbour pairs only (``"nearest"``),
averaged over the batch. Simultaneous spikes count as causal (potentiation).

Causal-window STDP (post-triggered and weight-dependent, Bethi et al. 2022, the rule of the
NeuroMorse paper's STDP network)::

    w(d)       = max(0, 1 - d / L)        linear causal window of length L, lag d >= 0 steps
    at each post spike of j at step t:   W[j, i] += eta (w(t - t_pre_i) - W[j, i])

with ``t_pre_i <= t`` the latest spike of ``i`` (``"nearest"``; ``w = 0`` without one) or a
sum over all its earlier spikes (``"all_to_all"``). Summed over the post spikes of a pass,
averaged over the batch: ``dW = eta (ltp - n_post W)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit
from torch import Tensor

__all__ = [
    "SPIKE_TIMES",
    "STDP_MODES",
    "causal_stdp_pairings",
    "causal_stdp_update",
    "causal_window_trace",
    "spike_latency",
    "ssdp_delta",
    "stdp_delta",
    "stdp_pairings",
    "stdp_trace",
    "stdp_update",
]

SPIKE_TIMES = ("first", "last")
STDP_MODES = ("all_to_all", "nearest")


def _check_trains(pre: Tensor, post: Tensor, allow_bool: bool = False) -> None:
    """Raise unless ``pre [T, B, N_in]``, ``post [T, B, N_out]`` are float (or, if allowed,
    bool) trains sharing T, B."""
    for name, x in (("pre", pre), ("post", post)):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if not (x.is_floating_point() or (allow_bool and x.dtype == torch.bool)):
            kinds = "floating point (0/1) or bool" if allow_bool else "floating point (0/1)"
            raise TypeError(f"{name} spikes must be {kinds}, got {x.dtype}")
        if x.dim() != 3:
            raise ValueError(f"{name} must be [T, B, N], got shape {tuple(x.shape)}")
    if pre.shape[:2] != post.shape[:2]:
        raise ValueError(
            f"pre and post must share [T, B], got pre {tuple(pre.shape)} and post "
            f"{tuple(post.shape)}"
        )
    if pre.shape[0] == 0 or pre.shape[1] == 0:
        raise ValueError(f"need at least one time step and one sample, got {tuple(pre.shape)}")


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_amplitude(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@njit(nogil=True, cache=True)
def _first_steps(values: np.ndarray, out: np.ndarray) -> None:
    """``out[k]`` = first ``t`` with ``values[t, k] > 0``, else ``T``: one pass over
    ``values [T, M]``, a branch-free running minimum (vectorised by the compiler)."""
    steps, size = values.shape
    best = np.full(size, steps, dtype=np.int32)
    silent = np.int32(steps)
    for t in range(steps):
        row, now = values[t], np.int32(t)
        for k in range(size):
            best[k] = min(best[k], now if row[k] > 0 else silent)
    out[:] = best


@njit(nogil=True, cache=True)
def _last_steps(values: np.ndarray, out: np.ndarray) -> None:
    """``out[k]`` = last ``t`` with ``values[t, k] > 0``, else ``T`` (running maximum)."""
    steps, size = values.shape
    best = np.full(size, -1, dtype=np.int32)
    none = np.int32(-1)
    for t in range(steps):
        row, now = values[t], np.int32(t)
        for k in range(size):
            best[k] = max(best[k], now if row[k] > 0 else none)
    for k in range(size):
        out[k] = best[k] if best[k] >= 0 else steps


def _latency_steps(spikes: Tensor, spike_time: str) -> Tensor:
    """Spikes ``[T, B, N]`` (value > 0, or bool) -> int64 ``[B, N]``: first / last spike step,
    ``T`` if silent.

    A contiguous float train on the CPU is read once by a compiled loop (no ``[T, B, N]``
    temporary). Otherwise (GPU, bool, other dtypes): one weighted maximum over time on the
    smallest integer dtype that holds ``T`` (``uint8`` up to 255 steps, a free view of the bool
    train): with weights ``T - t`` the first spike has the largest weight, with ``t + 1`` the
    last; a silent neuron's maximum is 0. Neither path copies the train to float or uses
    ``cumsum``.
    """
    steps = spikes.shape[0]
    if (
        spikes.device.type == "cpu"
        and spikes.dtype in (torch.float32, torch.float64)
        and spikes.is_contiguous()
    ):
        out = torch.empty(spikes.shape[1:], dtype=torch.int64)
        kernel = _first_steps if spike_time == "first" else _last_steps
        kernel(spikes.detach().view(steps, out.numel()).numpy(), out.view(-1).numpy())
        return out
    fired = spikes if spikes.dtype == torch.bool else spikes > 0
    if steps < 2**8:
        marks = fired.view(torch.uint8)  # same storage: the product below is the only copy
    else:
        marks = fired.to(torch.int16 if steps < 2**15 else torch.int32)
    shape = (steps,) + (1,) * (fired.dim() - 1)
    ramp = torch.arange(1, steps + 1, dtype=marks.dtype, device=fired.device).view(shape)
    if spike_time == "first":
        return steps - (marks * ramp.flip(0)).amax(dim=0).long()
    last = (marks * ramp).amax(dim=0).long() - 1
    return torch.where(last < 0, steps, last)


def spike_latency(spikes: Tensor, spike_time: str = "first") -> Tensor:
    """Step of each neuron's first (or last) spike; ``T`` for a silent neuron.

    Args:
        spikes: ``[T, B, N]``; a value > 0 (or ``True``) is a spike.
        spike_time: ``"first"`` (first-spike latency, as the SSDP paper states) or ``"last"``
            (what the SSDP code's ``cumsum(spikes, dim=0).argmax(dim=0)`` returns: argmax
            gives the first index where the running count reaches its maximum, i.e. the step
            of the last spike).

    Returns:
        ``[B, N]`` latencies in steps, in ``[0, T]``, in ``spikes``' dtype (the default float
        dtype for bool spikes).
    """
    if spike_time not in SPIKE_TIMES:
        raise ValueError(f"spike_time must be one of {SPIKE_TIMES}, got {spike_time!r}")
    dtype = spikes.dtype if spikes.is_floating_point() else torch.get_default_dtype()
    return _latency_steps(spikes, spike_time).to(dtype)


def _sample_latency_pairs(latency: Tensor, bins: int) -> tuple[Tensor, Tensor]:
    """``[B, N]`` int64 latencies -> keys ``b * bins + latency`` ``[B, N]`` and the bool
    ``[B * bins]`` mask of the keys that occur."""
    batch = latency.shape[0]
    key = latency + bins * torch.arange(batch, device=latency.device).unsqueeze(1)
    present = torch.zeros(batch * bins, dtype=torch.bool, device=latency.device)
    present[key.flatten()] = True
    return key, present


def _ssdp_kernel_sum(key: Tensor, present: Tensor, cols: Tensor, table: Tensor) -> Tensor:
    """``out[r, c] = sum_b table[rows[b, r], cols[b, c]]`` for integer latencies.

    The rows side comes as its ``(b, latency)`` keys and their mask
    (:func:`_sample_latency_pairs`). Each of the ``U`` distinct pairs (at most
    ``B * min(bins, N_rows)``, usually far fewer: neurons fire at input events) gets one
    gathered row ``table[latency, cols[b, :]]``; every output row ``r`` then sums its ``B``
    rows with one ``embedding_bag``. Work ``O(U N_cols + B N_rows N_cols)`` additions,
    memory ``O(U N_cols)``; no ``[B, N_rows, N_cols]`` tensor.

    Args:
        key: ``[B, N_rows]`` int64 keys. present: ``[B * bins]`` bool.
        cols: ``[B, N_cols]`` int64 latencies in ``[0, bins)``.
        table: ``[bins, bins]`` values ``f(p, q)``.

    Returns:
        ``[N_rows, N_cols]`` in ``table``'s dtype.
    """
    bins = table.shape[0]
    pairs = present.nonzero().squeeze(1)  # [U] distinct keys, sorted by sample
    slot = torch.cumsum(present, dim=0) - 1  # key -> its row among the U pairs
    per_sample = present.view(cols.shape[0], bins).sum(dim=1)
    cols_of_pair = cols.repeat_interleave(per_sample, dim=0, output_size=pairs.numel())
    values = torch.gather(table.index_select(0, pairs % bins), 1, cols_of_pair)
    bags = slot[key].T.contiguous()  # [N_rows, B]
    return torch.nn.functional.embedding_bag(bags, values, mode="sum")


def ssdp_delta(
    pre: Tensor,
    post: Tensor,
    a_plus: float = 1.5e-4,
    a_baseline: float = 5e-5,
    sigma: float = 1.0,
    spike_time: str = "first",
) -> Tensor:
    """SSDP weight change for one mini-batch (see the module docstring for the formula).

    Latencies are whole steps in ``[0, T]`` (``T``: silent), found in one pass over each train
    (:func:`spike_latency`), so the per-pair term ``f(p, q) = G (A+ S - A_base (1 - S))``
    takes only ``(T+1)^2`` values, a table built once. ``sum_b f(t_post[b, j], t_pre[b, i])``
    is then gathered from that table over the distinct (sample, latency) pairs of one side
    and summed with one ``embedding_bag`` (:func:`_ssdp_kernel_sum`, on the side with the
    smaller table). This is exact (tested against the dense ``[B, N_out, N_in]`` formula),
    costs ``O(T B (N_in + N_out))`` reads plus ``O(B N_out N_in)`` additions, and builds
    neither a ``[B, N_out, N_in]`` tensor nor a float copy of the trains. On the GPU it
    synchronises twice (the number of distinct pairs decides shapes).

    Args:
        pre: presynaptic spikes ``[T, B, N_in]`` (float, value > 0 is a spike; or bool).
        post: postsynaptic spikes ``[T, B, N_out]``.
        a_plus: potentiation amplitude ``A+`` (>= 0) for co-firing pairs.
        a_baseline: baseline depression ``A_base`` (>= 0) for pairs with a silent neuron.
        sigma: width of the Gaussian timing kernel, in steps (> 0).
        spike_time: ``"first"`` or ``"last"`` spike latency (see :func:`spike_latency`).

    Returns:
        ``dW`` ``[N_out, N_in]``, clamped to ``[-1, 1]``, in ``pre``'s dtype (the default float
        dtype for bool ``pre``) and device.
    """
    _check_trains(pre, post, allow_bool=True)
    _check_amplitude("a_plus", a_plus)
    _check_amplitude("a_baseline", a_baseline)
    _check_positive("sigma", sigma)
    if spike_time not in SPIKE_TIMES:
        raise ValueError(f"spike_time must be one of {SPIKE_TIMES}, got {spike_time!r}")
    steps, batch = pre.shape[:2]
    dtype = pre.dtype if pre.is_floating_point() else torch.get_default_dtype()
    t_pre, t_post = _latency_steps(pre, spike_time), _latency_steps(post, spike_time)
    work = torch.promote_types(dtype, torch.float32)  # half precision is summed in float32
    lag = torch.arange(steps + 1, dtype=work, device=pre.device)
    gauss = torch.exp(-((lag[:, None] - lag[None, :]) ** 2) / (2.0 * sigma**2))
    fired = lag < steps
    both = fired[:, None] & fired[None, :]  # S as a function of the two latencies
    table = gauss * torch.where(both, a_plus, -a_baseline)  # f(p, q), [T+1, T+1]
    post_key, post_present = _sample_latency_pairs(t_post, steps + 1)
    pre_key, pre_present = _sample_latency_pairs(t_pre, steps + 1)
    post_size = post_present.sum() * t_pre.shape[1]  # elements of the gathered table
    pre_size = pre_present.sum() * t_post.shape[1]
    if bool(post_size <= pre_size):
        delta = _ssdp_kernel_sum(post_key, post_present, t_pre, table)
    else:  # f is symmetric in (p, q): sum over the pre side and transpose
        delta = _ssdp_kernel_sum(pre_key, pre_present, t_post, table).T
    return (delta / batch).clamp_(-1.0, 1.0).to(dtype)


def stdp_trace(spikes: Tensor, tau: float, mode: str = "all_to_all") -> Tensor:
    """Exponential spike trace ``x[t] = exp(-1/tau) x[t-1] + s[t]`` over ``[T, B, N]``.

    ``"all_to_all"`` adds each spike to the trace (it sums over all earlier spikes);
    ``"nearest"`` resets the trace to ``s[t]`` at a spike (it remembers only the latest one).

    Args:
        spikes: ``[T, B, N]`` spike values (0/1, or counts for ``"all_to_all"``).
        tau: decay time constant in steps (> 0).
        mode: ``"all_to_all"`` or ``"nearest"``.

    Returns:
        ``[T, B, N]``: the trace at each step, including that step's spike.
    """
    _check_positive("tau", tau)
    if mode not in STDP_MODES:
        raise ValueError(f"mode must be one of {STDP_MODES}, got {mode!r}")
    decay = math.exp(-1.0 / tau)
    trace = torch.empty_like(spikes)
    value = torch.zeros_like(spikes[0])
    for t in range(spikes.shape[0]):
        value = decay * value
        if mode == "nearest":
            value = torch.where(spikes[t] > 0, spikes[t], value)
        else:
            value = value + spikes[t]
        trace[t] = value
    return trace


def _pair_events(events: Tensor, trace: Tensor, n_rows: int) -> Tensor:
    """``sum_b sum_t events[t, b, j] * trace[t, b, :]`` -> ``[n_rows, N]``, over spikes only."""
    t, b, j = events.nonzero(as_tuple=True)
    rows = trace[t, b] * events[t, b, j].unsqueeze(1)  # [n_spikes, N]
    out = torch.zeros(n_rows, trace.shape[2], dtype=trace.dtype, device=trace.device)
    return out.index_add_(0, j, rows)


def stdp_pairings(
    pre: Tensor,
    post: Tensor,
    tau_plus: float = 20.0,
    tau_minus: float = 20.0,
    mode: str = "all_to_all",
) -> tuple[Tensor, Tensor]:
    """Unit-amplitude potentiation and depression sums of pair STDP, event-driven.

    At every post spike ``(t, b, j)`` the pre trace ``x[t, b, :]`` (tau+, including spikes
    at ``t``) is added to row ``j`` of ``ltp``; at every pre spike ``(t, b, i)`` the post
    trace one step earlier, decayed once, ``exp(-1/tau-) y[t-1, b, :]`` is added to column
    ``i`` of ``ltd``. The traces cost ``O(T B (N_in + N_out))`` elementwise; the pairing
    costs ``O(n_post_spikes N_in + n_pre_spikes N_out)``, no ``T x N_out x N_in`` product.

    Args:
        pre: ``[T, B, N_in]`` presynaptic spikes. post: ``[T, B, N_out]`` postsynaptic spikes.
        tau_plus: potentiation window time constant, steps (> 0).
        tau_minus: depression window time constant, steps (> 0).
        mode: ``"all_to_all"`` (every pair) or ``"nearest"`` (each spike pairs only with the
            partner's latest earlier spike).

    Returns:
        ``(ltp, ltd)``, both ``[N_out, N_in]`` and >= 0, averaged over the batch:
        ``ltp = mean_b sum_{t_post >= t_pre} exp(-(t_post - t_pre)/tau+)``,
        ``ltd = mean_b sum_{t_post < t_pre} exp(-(t_pre - t_post)/tau-)`` (pairs as ``mode``).
    """
    _check_trains(pre, post)
    post = post.to(pre.dtype)
    batch = pre.shape[1]
    pre_trace = stdp_trace(pre, tau_plus, mode)
    post_trace = stdp_trace(post, tau_minus, mode)
    earlier = torch.cat([torch.zeros_like(post_trace[:1]), post_trace[:-1]])
    earlier = earlier * math.exp(-1.0 / tau_minus)
    ltp = _pair_events(post, pre_trace, post.shape[2])
    ltd = _pair_events(pre, earlier, pre.shape[2]).T
    return ltp / batch, ltd / batch


def stdp_update(
    ltp: Tensor,
    ltd: Tensor,
    a_plus: float = 1e-2,
    a_minus: float = 1e-2,
    *,
    weight: Tensor | None = None,
    w_min: float | None = None,
    w_max: float | None = None,
    multiplicative: bool = False,
) -> Tensor:
    """Turn the pairing sums of :func:`stdp_pairings` into a weight change.

    Additive: ``dW = A+ ltp - A- ltd``. Multiplicative (weight-dependent, soft bounds):
    ``dW = A+ (w_max - W) ltp - A- (W - w_min) ltd`` (needs ``weight``, ``w_min``, ``w_max``).
    With a ``weight`` and bounds, ``dW`` is then cut so that ``W + dW`` stays in
    ``[w_min, w_max]`` (hard bounds; ``None`` leaves that side open).

    Returns:
        ``dW`` ``[N_out, N_in]``: the change to add to ``weight``.
    """
    _check_amplitude("a_plus", a_plus)
    _check_amplitude("a_minus", a_minus)
    if ltp.shape != ltd.shape:
        raise ValueError(f"ltp and ltd must match, got {tuple(ltp.shape)}, {tuple(ltd.shape)}")
    if w_min is not None and w_max is not None and not w_min < w_max:
        raise ValueError(f"need w_min < w_max, got w_min={w_min}, w_max={w_max}")
    if weight is not None and weight.shape != ltp.shape:
        raise ValueError(f"weight must be {tuple(ltp.shape)}, got {tuple(weight.shape)}")
    if (w_min is not None or w_max is not None) and weight is None:
        raise ValueError("weight bounds need the weight: pass weight=")
    if multiplicative:
        if weight is None or w_min is None or w_max is None:
            raise ValueError("multiplicative STDP needs weight, w_min and w_max")
        w = weight.to(ltp.dtype)
        delta = a_plus * (w_max - w) * ltp - a_minus * (w - w_min) * ltd
    else:
        delta = a_plus * ltp - a_minus * ltd
    if weight is None or (w_min is None and w_max is None):
        return delta
    w = weight.to(ltp.dtype)
    return (w + delta).clamp(min=w_min, max=w_max) - w


def stdp_delta(
    pre: Tensor,
    post: Tensor,
    a_plus: float = 1e-2,
    a_minus: float = 1e-2,
    tau_plus: float = 20.0,
    tau_minus: float = 20.0,
    *,
    mode: str = "all_to_all",
    weight: Tensor | None = None,
    w_min: float | None = None,
    w_max: float | None = None,
    multiplicative: bool = False,
) -> Tensor:
    """Pair-STDP weight change ``[N_out, N_in]`` for spikes ``pre [T, B, N_in]``,
    ``post [T, B, N_out]``: :func:`stdp_pairings` then :func:`stdp_update` (see both)."""
    ltp, ltd = stdp_pairings(pre, post, tau_plus, tau_minus, mode)
    return stdp_update(
        ltp, ltd, a_plus, a_minus, weight=weight, w_min=w_min, w_max=w_max,
        multiplicative=multiplicative,
    )  # fmt: skip


def causal_window_trace(spikes: Tensor, length: int, mode: str = "nearest") -> Tensor:
    """Linear causal window of earlier spikes, ``w(d) = max(0, 1 - d / length)`` at lag ``d``.

    ``"nearest"``: ``x[t] = w(t - s)`` for the latest spike ``s <= t`` (0 without one);
    ``"all_to_all"``: ``x[t] = sum_{s <= t} w(t - s) spikes[s]``. A spike at ``t`` itself has
    lag 0 and weight 1; lags ``>= length`` weigh 0.

    Args:
        spikes: ``[T, B, N]`` (value > 0 is a spike; ``"all_to_all"`` weighs counts).
        length: window length ``L`` in steps, an int >= 1.
        mode: ``"nearest"`` or ``"all_to_all"``.

    Returns:
        ``[T, B, N]`` in ``spikes``' dtype (float).
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be an int >= 1 (steps), got {length!r}")
    if mode not in STDP_MODES:
        raise ValueError(f"mode must be one of {STDP_MODES}, got {mode!r}")
    steps = spikes.shape[0]
    if mode == "all_to_all":
        trace = torch.zeros_like(spikes)
        for lag in range(min(length, steps)):
            trace[lag:] += (1.0 - lag / length) * spikes[: steps - lag]
        return trace
    t = torch.arange(steps, device=spikes.device).view(steps, *([1] * (spikes.dim() - 1)))
    latest = torch.where(spikes > 0, t, -length).cummax(dim=0).values  # -length: no spike yet
    return (1.0 - (t - latest).to(spikes.dtype) / length).clamp_(min=0.0)


def causal_stdp_pairings(
    pre: Tensor, post: Tensor, length: int = 15, mode: str = "nearest"
) -> tuple[Tensor, Tensor]:
    """Window sums of causal-window STDP, event-driven (see the module docstring).

    At every post spike ``(t, b, j)`` the pre window row ``x[t, b, :]``
    (:func:`causal_window_trace`) is added to ``ltp[j]``; cost ``O(T B N_in)`` for the trace
    plus ``O(n_post_spikes N_in)``.

    Args:
        pre: ``[T, B, N_in]`` presynaptic spikes. post: ``[T, B, N_out]`` postsynaptic spikes.
        length: causal window length ``L`` in steps.
        mode: ``"nearest"`` (the latest pre spike only) or ``"all_to_all"``.

    Returns:
        ``(ltp [N_out, N_in], count [N_out])`` averaged over the batch: the summed window
        values at the post spikes and the number of post spikes of each neuron.
    """
    _check_trains(pre, post)
    post = post.to(pre.dtype)
    batch = pre.shape[1]
    ltp = _pair_events(post, causal_window_trace(pre, length, mode), post.shape[2])
    return ltp / batch, post.sum(dim=(0, 1)) / batch


def causal_stdp_update(
    ltp: Tensor,
    count: Tensor,
    eta: float = 0.1,
    *,
    weight: Tensor,
    w_min: float | None = 0.0,
    w_max: float | None = 1.0,
) -> Tensor:
    """``dW = eta (ltp - count[:, None] W)``, cut so that ``W + dW`` stays in ``[w_min, w_max]``.

    Every post spike moves its row a fraction ``eta`` toward the window values of its pre
    spikes, summed over the post spikes of :func:`causal_stdp_pairings`. (Applying the spikes
    one after the other instead differs by ``O(eta^2)`` per pass.)

    Args:
        ltp: ``[N_out, N_in]``. count: ``[N_out]``. eta: learning rate (>= 0).
        weight: the current ``[N_out, N_in]`` weight. w_min, w_max: bounds (``None``: open).

    Returns:
        ``dW`` ``[N_out, N_in]``.
    """
    _check_amplitude("eta", eta)
    if weight.shape != ltp.shape or count.shape != ltp.shape[:1]:
        raise ValueError(
            f"need ltp and weight [N_out, N_in] and count [N_out], got ltp {tuple(ltp.shape)}, "
            f"weight {tuple(weight.shape)}, count {tuple(count.shape)}"
        )
    if w_min is not None and w_max is not None and not w_min < w_max:
        raise ValueError(f"need w_min < w_max, got w_min={w_min}, w_max={w_max}")
    w = weight.to(ltp.dtype)
    delta = eta * (ltp - count.unsqueeze(1) * w)
    if w_min is None and w_max is None:
        return delta
    return (w + delta).clamp(min=w_min, max=w_max) - w
