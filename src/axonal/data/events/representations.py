"""Dense tensor representations of an event array (time-major, ``float32`` torch tensors).

All functions take an ``[N]`` structured array with fields x, y, t (us), p (0/1), sorted by
``t``, and ``sensor_size = (width, height)`` (a Tonic-style ``(W, H, P)`` is accepted too).
"""

from __future__ import annotations

import numpy as np
import torch

from axonal.data.events.recording import as_events, check_sensor_size


def _time_bins(
    events: np.ndarray,
    n_time_bins: int | None,
    time_window_us: int | None,
    event_count: int | None,
) -> tuple[np.ndarray, int]:
    """Bin index ``[N]`` of every event and the number of bins ``T`` (no event is dropped)."""
    if sum(v is not None for v in (n_time_bins, time_window_us, event_count)) != 1:
        raise ValueError(
            "give exactly one of n_time_bins, time_window_us, event_count; got "
            f"n_time_bins={n_time_bins}, time_window_us={time_window_us}, "
            f"event_count={event_count}"
        )
    given = next(v for v in (n_time_bins, time_window_us, event_count) if v is not None)
    if int(given) < 1:
        raise ValueError(f"the binning parameter must be >= 1, got {given}")
    n = len(events)
    if event_count is not None:
        return np.arange(n) // event_count, max(1, -(-n // event_count))
    if n == 0:
        return np.zeros(0, dtype=np.int64), n_time_bins or 1
    elapsed = events["t"].astype(np.int64) - int(events["t"][0])
    if time_window_us is not None:
        return elapsed // time_window_us, int(elapsed[-1]) // time_window_us + 1
    return elapsed * n_time_bins // (int(elapsed[-1]) + 1), n_time_bins


def to_frames(
    events: np.ndarray,
    sensor_size: tuple[int, ...],
    *,
    n_time_bins: int | None = None,
    time_window_us: int | None = None,
    event_count: int | None = None,
) -> torch.Tensor:
    """Count events per time bin, polarity and pixel.

    Exactly one binning is given:
        - ``n_time_bins``: ``T`` equal bins over ``[t0, t_last]``; event ``i`` goes to bin
          ``(t_i - t0) * T // (t_last - t0 + 1)``, so every event is counted.
        - ``time_window_us``: bins ``[t0 + kW, t0 + (k+1)W)``; ``T = (t_last - t0) // W + 1``.
        - ``event_count``: ``C`` consecutive events per bin; ``T = ceil(N / C)``.

    Returns:
        ``[T, 2, H, W]`` float32 counts; channel 0 = OFF (p = 0), channel 1 = ON (p = 1).
    """
    events = as_events(events)
    width, height = check_sensor_size(sensor_size)
    bins, n_bins = _time_bins(events, n_time_bins, time_window_us, event_count)
    flat = ((bins * 2 + events["p"]) * height + events["y"]) * width + events["x"]
    counts = np.bincount(flat.astype(np.int64), minlength=n_bins * 2 * height * width)
    return torch.from_numpy(counts.astype(np.float32)).reshape(n_bins, 2, height, width)


def to_voxel_grid(events: np.ndarray, sensor_size: tuple[int, ...], n_bins: int) -> torch.Tensor:
    """Event volume with bilinear interpolation in time (Zhu et al., 2019).

    Time is normalised to ``tau_i = (n_bins - 1) (t_i - t0) / (t_last - t0)`` (all zeros when
    every event has the same time); event ``i`` adds ``s_i * max(0, 1 - |b - tau_i|)`` to bin
    ``b`` at its pixel, with ``s_i = +1`` for ON and ``-1`` for OFF.

    Returns:
        ``[n_bins, H, W]`` float32.
    """
    events = as_events(events)
    width, height = check_sensor_size(sensor_size)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    grid = np.zeros(n_bins * height * width, dtype=np.float64)
    if len(events):
        t = events["t"].astype(np.float64)
        span = t[-1] - t[0]
        tau = (n_bins - 1) * (t - t[0]) / span if span > 0 else np.zeros_like(t)
        left = np.floor(tau).astype(np.int64)
        frac = tau - left
        sign = 2.0 * events["p"] - 1.0
        pixel = events["y"].astype(np.int64) * width + events["x"]
        for b, weight in ((left, 1.0 - frac), (left + 1, frac)):
            inside = b < n_bins
            np.add.at(grid, b[inside] * height * width + pixel[inside], (sign * weight)[inside])
    return torch.from_numpy(grid.astype(np.float32)).reshape(n_bins, height, width)


def to_time_surface(
    events: np.ndarray,
    sensor_size: tuple[int, ...],
    tau_us: float,
    *,
    time_window_us: int,
) -> torch.Tensor:
    """Exponentially decaying surface of the latest event time per polarity and pixel.

    Surface ``k`` is taken at ``s_k = t0 + (k + 1) W`` (the end of window ``k``, windows as in
    :func:`to_frames`) from the events with ``t < s_k``: ``exp(-(s_k - last_t) / tau_us)``
    where the pixel had an event of that polarity, 0 where it had none.

    Returns:
        ``[T, 2, H, W]`` float32 in ``[0, 1]``.
    """
    events = as_events(events)
    width, height = check_sensor_size(sensor_size)
    if tau_us <= 0:
        raise ValueError(f"tau_us must be > 0, got {tau_us}")
    bins, n_bins = _time_bins(events, None, time_window_us, None)
    t0 = int(events["t"][0]) if len(events) else 0
    last = np.full(2 * height * width, -np.inf)
    flat = (events["p"].astype(np.int64) * height + events["y"]) * width + events["x"]
    bounds = np.searchsorted(bins, np.arange(n_bins + 1))
    surfaces = np.empty((n_bins, 2 * height * width), dtype=np.float32)
    for k in range(n_bins):
        part = slice(bounds[k], bounds[k + 1])
        np.maximum.at(last, flat[part], events["t"][part].astype(np.float64))
        sample = t0 + (k + 1) * time_window_us
        surfaces[k] = np.exp(-(sample - last) / tau_us)
    return torch.from_numpy(surfaces).reshape(n_bins, 2, height, width)
