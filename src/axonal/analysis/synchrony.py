"""Population synchrony of spike trains and the stability of training dynamics.

Spike trains are time-major, ``[T, N]`` (one sample) or ``[T, B, N]`` (``B`` samples of
``N`` neurons), as a ``torch.Tensor`` or ``numpy.ndarray``; any value ``> 0`` is a spike
(integer neurons' counts are taken as one spike event per step). Time is in steps.

- :func:`cofiring_fraction`: fraction of neuron pairs that fire within ``window`` steps of
  each other.
- :func:`kuramoto_order`: Kuramoto order parameter ``R(t)`` of spike phases.
- :func:`spike_synchronization`, :func:`population_spike_synchronization`: the
  SPIKE-synchronization measure (Kreuz et al. 2015) with its adaptive coincidence window.
- :class:`TrainingDynamics`, :func:`detect_stabilization`: per-epoch records of training
  and the epoch at which a series (loss, weight-update norm) suddenly becomes stable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "KuramotoOrder",
    "TrainingDynamics",
    "cofiring_fraction",
    "detect_stabilization",
    "kuramoto_order",
    "population_spike_synchronization",
    "spike_synchronization",
]


def _as_spike_tensor(spikes: Tensor | np.ndarray, name: str = "spikes") -> Tensor:
    """``spikes`` ``[T, N]`` or ``[T, B, N]`` as a boolean tensor ``[T, B, N]``."""
    if isinstance(spikes, np.ndarray):
        spikes = torch.from_numpy(spikes)
    if not isinstance(spikes, Tensor):
        raise TypeError(
            f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(spikes).__name__}"
        )
    if spikes.dtype.is_complex:
        raise TypeError(f"{name}: expected a real or boolean dtype, got {spikes.dtype}")
    if spikes.dim() not in (2, 3):
        raise ValueError(f"{name}: expected shape [T, N] or [T, B, N], got {tuple(spikes.shape)}")
    if spikes.dtype != torch.bool and bool((spikes < 0).any()):
        raise ValueError(f"{name}: spike values must be >= 0, got a negative value")
    events = spikes > 0 if spikes.dtype != torch.bool else spikes
    return events if events.dim() == 3 else events.unsqueeze(1)


def _dilate_in_time(events: Tensor, window: int) -> Tensor:
    """``events`` ``[T, B, N]`` (bool) -> bool ``[T, B, N]``: a spike within ``window`` steps."""
    steps = events.shape[0]
    counts = torch.cumsum(events.to(torch.int64), dim=0)
    counts = torch.cat([torch.zeros_like(counts[:1]), counts])  # counts[k] = spikes in [0, k)
    t = torch.arange(steps, device=events.device)
    upper = (t + window + 1).clamp(max=steps)
    lower = (t - window).clamp(min=0)
    return (counts[upper] - counts[lower]) > 0


def cofiring_fraction(spikes: Tensor | np.ndarray, window: int = 0) -> float:
    """Fraction of neuron pairs that co-fire, averaged over samples.

    A pair ``(i, j)``, ``i != j``, co-fires in a sample when some spike of ``i`` and some
    spike of ``j`` are at most ``window`` steps apart (``window=0``: in the same step).
    The count uses a spike indicator dilated by ``window`` steps and one matrix product
    ``[N, T] x [T, N]`` per sample (memory ``O(B N^2)``), not a loop over pairs.

    Args:
        spikes: ``[T, N]`` or ``[T, B, N]``, ``N >= 2``.
        window: tolerance in steps, ``>= 0``.

    Returns:
        The mean over the ``B`` samples of ``co-firing pairs / (N (N - 1) / 2)``, in ``[0, 1]``.
    """
    events = _as_spike_tensor(spikes)
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ValueError(f"window must be an int >= 0, got {window!r}")
    n = events.shape[2]
    if n < 2:
        raise ValueError(f"cofiring_fraction needs N >= 2 neurons, got N={n}")
    near = _dilate_in_time(events, window).permute(1, 0, 2).to(torch.float32)  # [B, T, N]
    own = events.permute(1, 2, 0).to(torch.float32)  # [B, N, T]
    meets = torch.bmm(own, near) > 0  # [B, N, N], symmetric
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=events.device), diagonal=1)
    pairs = (meets & upper).sum(dim=(1, 2)).to(torch.float64)
    return float((pairs / (n * (n - 1) / 2)).mean())


class KuramotoOrder(NamedTuple):
    """Result of :func:`kuramoto_order`."""

    r: Tensor
    """``R(t)``, ``[T]`` for a ``[T, N]`` input or ``[T, B]`` for ``[T, B, N]``; NaN where no
    neuron has a defined phase."""
    mean: float
    """Mean of ``R`` over the entries where it is defined; NaN if there are none."""


def _spike_phases(events: Tensor) -> tuple[Tensor, Tensor]:
    """Phases ``[T, B, N]`` (radians, float64) and the mask where they are defined."""
    steps = events.shape[0]
    t = torch.arange(steps, device=events.device).view(steps, 1, 1).expand_as(events)
    previous = torch.cummax(torch.where(events, t, torch.full_like(t, -1)), dim=0).values
    next_from = torch.where(events, t, torch.full_like(t, steps))
    next_from = torch.flip(torch.cummin(torch.flip(next_from, [0]), dim=0).values, [0])
    next_after = torch.cat([next_from[1:], torch.full_like(next_from[:1], steps)])
    first, last = next_from[0], previous[-1]
    defined = (t >= first) & (t <= last) & (events.sum(dim=0) >= 2)
    progress = (t - previous).to(torch.float64) / (next_after - previous).to(torch.float64)
    phase = torch.where(events, torch.zeros_like(progress), 2 * math.pi * progress)
    return phase, defined


def kuramoto_order(spikes: Tensor | np.ndarray) -> KuramotoOrder:
    """Kuramoto order parameter of the spike phases of a population.

    Each neuron's phase rises linearly from 0 to ``2 pi`` between consecutive spikes:
    ``phi_j(t) = 2 pi (t - t_k) / (t_{k+1} - t_k)`` for ``t_k <= t < t_{k+1}``, and is 0 at
    each spike. It is defined from the neuron's first to its last spike (inclusive) and only
    for neurons with at least two spikes. ``R(t) = |mean_j exp(i phi_j(t))|`` over the neurons
    defined at ``t``: 1 for perfectly locked phases, about ``1 / sqrt(n)`` for ``n``
    independent neurons. Near the ends of the recording few neurons are defined, so ``R`` is
    high there even for independent trains.

    Args:
        spikes: ``[T, N]`` or ``[T, B, N]``.

    Returns:
        :class:`KuramotoOrder` with ``r`` ``[T]`` or ``[T, B]`` (float64) and its mean.
    """
    events = _as_spike_tensor(spikes)
    phase, defined = _spike_phases(events)
    weight = defined.to(torch.float64)
    count = weight.sum(dim=2)
    cos_sum = (torch.cos(phase) * weight).sum(dim=2)
    sin_sum = (torch.sin(phase) * weight).sum(dim=2)
    r = torch.hypot(cos_sum, sin_sum) / count  # NaN (0 / 0) where no neuron is defined
    if spikes.ndim == 2:
        r = r.squeeze(1)
    valid = r[~torch.isnan(r)]
    return KuramotoOrder(r=r, mean=float(valid.mean()) if valid.numel() else math.nan)


def _spike_times(train: Tensor | np.ndarray, name: str) -> tuple[np.ndarray, int]:
    """A 1-D train ``[T]`` -> (sorted spike steps as float64, ``T``)."""
    if isinstance(train, np.ndarray):
        train = torch.from_numpy(train)
    if not isinstance(train, Tensor):
        raise TypeError(
            f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(train).__name__}"
        )
    if train.dim() != 1:
        raise ValueError(f"{name}: expected shape [T], got {tuple(train.shape)}")
    events = _as_spike_tensor(train.unsqueeze(1), name)[:, 0, 0]
    return _event_times(events), events.shape[0]


def _event_times(events: Tensor) -> np.ndarray:
    """Boolean ``[T]`` -> sorted spike steps as float64."""
    return torch.nonzero(events).flatten().cpu().numpy().astype(np.float64)


def _intervals(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inter-spike intervals before and after each spike (``inf`` where there is none)."""
    gaps = np.diff(times)
    before = np.concatenate([[np.inf], gaps])
    after = np.concatenate([gaps, [np.inf]])
    return before, after


def _coincident(
    times: np.ndarray, other: np.ndarray, length: int, max_tau: float | None
) -> np.ndarray:
    """For each spike of ``times``: is it coincident with its nearest spike of ``other``?"""
    if times.size == 0 or other.size == 0:
        return np.zeros(times.size, dtype=bool)
    right = np.clip(np.searchsorted(other, times), 0, other.size - 1)
    left = np.clip(right - 1, 0, other.size - 1)
    nearest = np.where(np.abs(other[left] - times) <= np.abs(other[right] - times), left, right)
    own_before, own_after = _intervals(times)
    other_before, other_after = _intervals(other)
    shortest = np.minimum.reduce(
        [
            own_before,
            own_after,
            other_before[nearest],
            other_after[nearest],
            np.full(times.size, float(length)),
        ]
    )
    tau = 0.5 * shortest
    if max_tau is not None:
        tau = np.minimum(tau, max_tau)
    return np.abs(times - other[nearest]) < tau


def _check_max_tau(max_tau: float | None) -> None:
    if max_tau is not None and not max_tau > 0:
        raise ValueError(f"max_tau must be > 0 or None, got {max_tau!r}")


def spike_synchronization(
    train_a: Tensor | np.ndarray,
    train_b: Tensor | np.ndarray,
    *,
    max_tau: float | None = None,
) -> float:
    """SPIKE-synchronization of two spike trains (Kreuz et al. 2015), in ``[0, 1]``.

    A spike at ``t_i`` of one train is *coincident* when its nearest spike ``t_j`` of the
    other train satisfies ``|t_i - t_j| < tau_ij``, with the adaptive window
    ``tau_ij = min(ISIs around t_i, ISIs around t_j, T) / 2`` (the inter-spike intervals
    before and after each spike within its own train; ``T`` bounds it for lone spikes) and,
    if given, ``tau_ij <= max_tau``. The measure is the number of coincident spikes of both
    trains over their total number of spikes; 1 if both trains are silent.

    Args:
        train_a, train_b: ``[T]`` spike trains of the same length.
        max_tau: optional upper bound on the coincidence window, in steps.
    """
    _check_max_tau(max_tau)
    times_a, length = _spike_times(train_a, "train_a")
    times_b, length_b = _spike_times(train_b, "train_b")
    if length != length_b:
        raise ValueError(f"trains must have the same length T, got {length} and {length_b}")
    total = times_a.size + times_b.size
    if total == 0:
        return 1.0
    hits = _coincident(times_a, times_b, length, max_tau).sum()
    hits += _coincident(times_b, times_a, length, max_tau).sum()
    return float(hits / total)


def population_spike_synchronization(
    spikes: Tensor | np.ndarray, *, max_tau: float | None = None
) -> float:
    """Multivariate SPIKE-synchronization (Kreuz et al. 2015), averaged over samples.

    Each spike of neuron ``n`` scores the fraction of the other ``N - 1`` neurons with which
    it is coincident (see :func:`spike_synchronization`); the measure is the mean score over
    all spikes of the population (1 if the sample is silent). The loop over the
    ``N (N - 1)`` ordered pairs makes it a measure for small populations (tens of neurons).

    Args:
        spikes: ``[T, N]`` or ``[T, B, N]``, ``N >= 2``.
        max_tau: optional upper bound on the coincidence window, in steps.
    """
    _check_max_tau(max_tau)
    events = _as_spike_tensor(spikes)
    length, samples, n = events.shape
    if n < 2:
        raise ValueError(f"population_spike_synchronization needs N >= 2, got N={n}")
    values = []
    for b in range(samples):
        trains = [_event_times(events[:, b, j]) for j in range(n)]
        total = sum(times.size for times in trains)
        hits = sum(
            int(_coincident(trains[i], trains[j], length, max_tau).sum())
            for i in range(n)
            for j in range(n)
            if i != j
        )
        values.append(1.0 if total == 0 else hits / ((n - 1) * total))
    return float(np.mean(values))


def detect_stabilization(
    values: Sequence[float] | np.ndarray | Tensor, window: int = 5, ratio: float = 0.2
) -> int | None:
    """Index at which a series switches from unstable to stable, or ``None``.

    With ``r(s)`` the variance (``ddof=0``) of ``values[s : s + window]``, index ``t`` is a
    stabilization point when

    - the reference level ``ref(t)``, the mean of ``r(s)`` over the windows lying entirely
      before ``t`` (``s <= t - window``), is > 0, and
    - every window from ``t`` to the end of the series is calm: ``r(s) < ratio * ref(t)`` for
      all ``s >= t``, and there are at least ``window`` such windows.

    The first such ``t`` is returned (an index into ``values``, so ``window <= t <=
    len(values) - 2 * window + 1``). Requiring the series to stay calm to its end, and
    averaging the reference over all earlier windows, keeps the false-positive rate on a
    stationary noisy series low (about 0.5 % for i.i.d. noise with the defaults, against
    over 40 % when one window is compared with the next few). A transition whose last
    unstable values happen to be close to the stable level is found up to ``window - 1``
    steps early.

    Args:
        values: per-epoch series ``[E]`` (loss, weight-update norm ...), finite.
        window: window length in epochs, ``>= 2``.
        ratio: how much the variance must collapse, in ``(0, 1)``.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise ValueError(f"window must be an int >= 2, got {window!r}")
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be in (0, 1), got {ratio!r}")
    series = np.asarray(
        values.detach().cpu().numpy() if isinstance(values, Tensor) else values,
        dtype=np.float64,
    )
    if series.ndim != 1:
        raise ValueError(f"values must be 1-D [E], got shape {series.shape}")
    if not np.isfinite(series).all():
        raise ValueError("values must be finite, got NaN or inf")
    if series.size < 3 * window - 1:
        return None
    rolling = np.lib.stride_tricks.sliding_window_view(series, window).var(axis=1)
    reference = np.cumsum(rolling) / np.arange(1, rolling.size + 1)  # mean of r[0..s]
    calm_until_end = np.maximum.accumulate(rolling[::-1])[::-1]  # max of r[s..]
    for t in range(window, series.size - 2 * window + 2):
        ref = reference[t - window]
        if ref > 0 and calm_until_end[t] < ratio * ref:
            return t
    return None


@dataclass
class TrainingDynamics:
    """Per-epoch record of training measures (loss, weight-update norm, synchrony, rate ...).

    ``record(epoch, loss=0.7, weight_update_norm=0.01, synchrony=0.3, rate=0.05)`` adds one
    epoch; any names may be used. A measure missing at an epoch is stored as NaN, so every
    series is aligned with :attr:`epochs`.
    """

    epochs: list[int] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)

    def record(self, epoch: int, **measures: float | Tensor) -> None:
        """Add the measures of ``epoch`` (an int greater than every recorded epoch)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise TypeError(f"epoch must be an int, got {type(epoch).__name__}")
        if self.epochs and epoch <= self.epochs[-1]:
            raise ValueError(f"epochs must increase: got {epoch} after {self.epochs[-1]}")
        values = {name: float(value) for name, value in measures.items()}
        for name in values.keys() - self.series.keys():
            self.series[name] = [math.nan] * len(self.epochs)
        self.epochs.append(epoch)
        for name, column in self.series.items():
            column.append(values.get(name, math.nan))

    def as_dict(self) -> dict[str, list[float] | list[int]]:
        """``{"epoch": [...], name: [...], ...}``, JSON-serialisable (NaN for gaps)."""
        return {"epoch": list(self.epochs), **{k: list(v) for k, v in self.series.items()}}

    def stabilization_epoch(self, name: str, window: int = 5, ratio: float = 0.2) -> int | None:
        """The recorded epoch at which series ``name`` stabilises (:func:`detect_stabilization`).

        The series must have no gaps.
        """
        if name not in self.series:
            raise ValueError(f"no series {name!r}; recorded: {sorted(self.series)}")
        index = detect_stabilization(self.series[name], window=window, ratio=ratio)
        return None if index is None else self.epochs[index]
