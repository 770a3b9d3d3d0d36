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
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "SPIKE_TIMES",
    "STDP_MODES",
    "spike_latency",
    "ssdp_delta",
    "stdp_delta",
    "stdp_pairings",
    "stdp_trace",
    "stdp_update",
]

SPIKE_TIMES = ("first", "last")
STDP_MODES = ("all_to_all", "nearest")


def _check_trains(pre: Tensor, post: Tensor) -> None:
    """Raise unless ``pre [T, B, N_in]``, ``post [T, B, N_out]`` are float trains sharing T, B."""
    for name, x in (("pre", pre), ("post", post)):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{name} spikes must be floating point (0/1), got {x.dtype}")
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


def spike_latency(spikes: Tensor, spike_time: str = "first") -> Tensor:
    """Step of each neuron's first (or last) spike; ``T`` for a silent neuron.

    Args:
        spikes: ``[T, B, N]``; a value > 0 is a spike.
        spike_time: ``"first"`` (first-spike latency, as the SSDP paper states) or ``"last"``
            (what the SSDP code's ``cumsum(spikes, dim=0).argmax(dim=0)`` returns: argmax
            gives the first index where the running count reaches its maximum, i.e. the step
            of the last spike).

    Returns:
        ``[B, N]`` float latencies in steps, in ``[0, T]``.
    """
    if spike_time not in SPIKE_TIMES:
        raise ValueError(f"spike_time must be one of {SPIKE_TIMES}, got {spike_time!r}")
    fired = spikes > 0
    steps = fired.shape[0]
    if spike_time == "first":
        latency = fired.to(torch.uint8).argmax(dim=0)  # first maximal index
    else:
        latency = steps - 1 - fired.flip(0).to(torch.uint8).argmax(dim=0)
    latency = latency.to(spikes.dtype)
    return latency.masked_fill(~fired.any(dim=0), float(steps))


def _latency_one_hot(latency: Tensor, bins: int) -> Tensor:
    """``[B, N]`` integer-valued latencies -> one-hot ``[B * bins, N]`` (row ``b * bins + t``)."""
    one_hot = torch.nn.functional.one_hot(latency.long(), bins).to(latency.dtype)  # [B, N, bins]
    return one_hot.permute(0, 2, 1).reshape(-1, latency.shape[1])


def ssdp_delta(
    pre: Tensor,
    post: Tensor,
    a_plus: float = 1.5e-4,
    a_baseline: float = 5e-5,
    sigma: float = 1.0,
    spike_time: str = "first",
) -> Tensor:
    """SSDP weight change for one mini-batch (see the module docstring for the formula).

    Latencies are whole steps in ``[0, T]``, so the Gaussian kernel takes only ``(T+1)^2``
    values ``K[p, q]``. Writing each latency as a one-hot row, ``sum_b G`` and ``sum_b S G``
    become two matrix products ``[N_out, B (T+1)] @ [B (T+1), N_in]`` (co-firing pairs use the
    first ``T`` bins only: a silent neuron sits in bin ``T``). This is exact, never builds the
    ``[B, N_out, N_in]`` tensors of the reference code, and needs memory
    ``O(B (T+1) (N_in + N_out) + N_out N_in)``, the size of the spike trains plus ``dW``.

    Args:
        pre: presynaptic spikes ``[T, B, N_in]`` (value > 0 is a spike).
        post: postsynaptic spikes ``[T, B, N_out]``.
        a_plus: potentiation amplitude ``A+`` (>= 0) for co-firing pairs.
        a_baseline: baseline depression ``A_base`` (>= 0) for pairs with a silent neuron.
        sigma: width of the Gaussian timing kernel, in steps (> 0).
        spike_time: ``"first"`` or ``"last"`` spike latency (see :func:`spike_latency`).

    Returns:
        ``dW`` ``[N_out, N_in]``, clamped to ``[-1, 1]``, in ``pre``'s dtype and device.
    """
    _check_trains(pre, post)
    _check_amplitude("a_plus", a_plus)
    _check_amplitude("a_baseline", a_baseline)
    _check_positive("sigma", sigma)
    steps, batch = pre.shape[:2]
    bins = steps + 1
    lag = torch.arange(bins, dtype=pre.dtype, device=pre.device)
    kernel = torch.exp(-((lag[:, None] - lag[None, :]) ** 2) / (2.0 * sigma**2))  # [bins, bins]
    post_hot = _latency_one_hot(spike_latency(post.to(pre.dtype), spike_time), bins)
    pre_hot = _latency_one_hot(spike_latency(pre, spike_time), bins)
    # (post_hot^T, per sample, times the kernel): [B, bins, N_out] -> rows b*bins + q
    post_kernel = (kernel.T @ post_hot.view(batch, bins, -1)).reshape(batch * bins, -1)
    sum_g = post_kernel.T @ pre_hot  # sum_b G
    fired = (torch.arange(batch * bins, device=pre.device) % bins) < steps
    co_post = post_hot.view(batch, bins, -1)[:, :steps]
    co_kernel = (kernel[:steps, :steps].T @ co_post).reshape(batch * steps, -1)
    sum_sg = co_kernel.T @ pre_hot[fired]  # sum_b S G
    delta = ((a_plus + a_baseline) * sum_sg - a_baseline * sum_g) / batch
    return delta.clamp_(-1.0, 1.0)


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
