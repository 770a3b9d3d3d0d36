"""An ESIM-like event-camera simulator: intensity frames in, an event array out.

Model. Every pixel keeps a reference log intensity ``L_ref``, set to ``log(I[0] + eps)`` at the
first frame. Between two frames ``k-1`` and ``k`` the log intensity ``L = log(I + eps)`` is
taken to change linearly in time. While ``L[k] - L_ref >= C_on`` the pixel crosses the level
``L_ref + C_on``: an ON event (``p = 1``) is emitted at the time where the linear ramp meets
that level, and ``L_ref`` moves up by ``C_on``; OFF events (``p = 0``) mirror this with
``L[k] - L_ref <= -C_off``. A change spanning ``n`` thresholds thus gives ``n`` events with
timestamps spread between the two frames, and ``-C_off < L - L_ref < C_on`` holds after every
frame.

Refractory period. A crossing less than ``refractory_us`` after the pixel's last *emitted*
event is not emitted, but ``L_ref`` still moves: the change seen while refractory is lost, as
in a sensor whose pixel is held in reset.

Threshold mismatch. With ``threshold_sigma > 0`` each pixel draws its own ``C_on`` and
``C_off`` from ``Normal(C, threshold_sigma)`` (log units), clipped below at
:data:`MIN_THRESHOLD`.

Background noise. With ``noise_rate_hz > 0`` every pixel also fires a Poisson process of that
rate (events per pixel per second) over ``[t[0], t[-1]]``, each event with a random polarity.
Noise events do not touch ``L_ref`` or the refractory state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from axonal.data.events.recording import EVENT_DTYPE
from axonal.data.events.transforms import as_generator

MIN_THRESHOLD = 0.01
"""Smallest per-pixel contrast threshold (log units) after mismatch is drawn."""


@dataclass(frozen=True)
class EventSimulator:
    """Turn intensity frames into events (see the module docstring for the model).

    Attributes:
        threshold_on: ON contrast threshold ``C_on`` in log-intensity units, > 0.
        threshold_off: OFF contrast threshold ``C_off`` in log-intensity units, > 0.
        threshold_sigma: standard deviation of the per-pixel threshold mismatch, >= 0.
        refractory_us: per-pixel refractory period in microseconds, >= 0.
        noise_rate_hz: background noise events per pixel per second, >= 0.
        eps: offset in ``log(I + eps)``, > 0, so that black pixels have a finite log.
    """

    threshold_on: float = 0.2
    threshold_off: float = 0.2
    threshold_sigma: float = 0.0
    refractory_us: int = 0
    noise_rate_hz: float = 0.0
    eps: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("threshold_on", "threshold_off", "eps"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("threshold_sigma", "refractory_us", "noise_rate_hz"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def __call__(
        self, frames: np.ndarray, timestamps_us: np.ndarray, seed: int | np.random.Generator = 0
    ) -> np.ndarray:
        """Simulate the events of a frame sequence.

        Args:
            frames: ``[T, H, W]`` intensities, float in ``[0, 1]`` or uint8 (divided by 255).
            timestamps_us: ``[T]`` strictly increasing frame times in microseconds (integers).
            seed: int or ``numpy.random.Generator`` for threshold mismatch and noise.

        Returns:
            ``[N]`` array of :data:`EVENT_DTYPE` (x = column, y = row), sorted by ``t``
            (stable: simultaneous events keep row-major pixel order, noise last).
        """
        intensity = _check_frames(frames)
        t = _check_timestamps(timestamps_us, intensity.shape[0])
        rng = as_generator(seed)
        _, height, width = intensity.shape
        c_on = self._pixel_thresholds(self.threshold_on, (height, width), rng)
        c_off = self._pixel_thresholds(self.threshold_off, (height, width), rng)
        log_i = np.ascontiguousarray(np.log(intensity + self.eps).transpose(1, 2, 0))
        x, y, ts, p = _crossings(log_i, t, c_on, c_off, int(self.refractory_us))
        events = np.empty(len(x), dtype=EVENT_DTYPE)
        events["x"], events["y"], events["t"], events["p"] = x, y, ts, p
        noise = self._noise((height, width), int(t[0]), int(t[-1]), rng)
        events = np.concatenate([events, noise])
        return events[np.argsort(events["t"], kind="stable")]

    def _pixel_thresholds(
        self, threshold: float, shape: tuple[int, int], rng: np.random.Generator
    ) -> np.ndarray:
        """``[H, W]`` float64 thresholds: ``threshold`` plus clipped Gaussian mismatch."""
        if self.threshold_sigma == 0:
            return np.full(shape, float(threshold))
        drawn = threshold + self.threshold_sigma * rng.standard_normal(shape)
        return np.maximum(drawn, MIN_THRESHOLD)

    def _noise(
        self, shape: tuple[int, int], t_start: int, t_end: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Poisson background events, uniform over pixels, time and polarity (unsorted)."""
        if self.noise_rate_hz == 0:
            return np.empty(0, dtype=EVENT_DTYPE)
        height, width = shape
        count = rng.poisson(self.noise_rate_hz * height * width * (t_end - t_start) * 1e-6)
        noise = np.empty(count, dtype=EVENT_DTYPE)
        noise["x"] = rng.integers(0, width, count)
        noise["y"] = rng.integers(0, height, count)
        noise["t"] = rng.integers(t_start, t_end, count, endpoint=True)
        noise["p"] = rng.integers(0, 2, count)
        return noise


def _check_frames(frames: np.ndarray) -> np.ndarray:
    """Return ``frames`` as float64 intensities in ``[0, 1]``; raise on bad shape/dtype/range."""
    frames = np.asarray(frames)
    if frames.ndim != 3 or 0 in frames.shape:
        raise ValueError(f"expected frames of shape [T, H, W], got shape {frames.shape}")
    if frames.dtype == np.uint8:
        return frames.astype(np.float64) / 255.0
    if not np.issubdtype(frames.dtype, np.floating):
        raise TypeError(f"expected float or uint8 frames, got dtype {frames.dtype}")
    if not np.all((frames >= 0) & (frames <= 1)):
        raise ValueError(
            f"expected float frames in [0, 1], got range [{np.nanmin(frames)}, "
            f"{np.nanmax(frames)}] (or NaN)"
        )
    return frames.astype(np.float64)


def _check_timestamps(timestamps_us: np.ndarray, num_frames: int) -> np.ndarray:
    """Return ``[T]`` int64 timestamps; raise unless integer, one per frame, increasing."""
    t = np.asarray(timestamps_us)
    if t.shape != (num_frames,):
        raise ValueError(f"expected timestamps_us of shape ({num_frames},), got {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"expected integer timestamps in microseconds, got dtype {t.dtype}")
    if np.any(np.diff(t) <= 0):
        raise ValueError("expected strictly increasing timestamps_us")
    return t.astype(np.int64)


@njit(cache=True)
def _crossings(
    log_i: np.ndarray, t: np.ndarray, c_on: np.ndarray, c_off: np.ndarray, refractory: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Level crossings of ``log_i`` ``[H, W, T]``: ``(x, y, t, p)`` arrays, pixel by pixel."""
    height, width, steps = log_i.shape
    cap = 1024
    xs = np.empty(cap, np.int16)
    ys = np.empty(cap, np.int16)
    ts = np.empty(cap, np.int64)
    ps = np.empty(cap, np.int8)
    n = 0
    for r in range(height):
        for c in range(width):
            ref = log_i[r, c, 0]
            last = np.iinfo(np.int64).min // 2
            for k in range(1, steps):
                l0, l1 = log_i[r, c, k - 1], log_i[r, c, k]
                d = l1 - ref
                if d >= c_on[r, c]:
                    step, pol = c_on[r, c], 1
                elif d <= -c_off[r, c]:
                    step, pol = -c_off[r, c], 0
                else:
                    continue
                count = int(np.floor(d / step))
                for j in range(1, count + 1):
                    frac = (ref + j * step - l0) / (l1 - l0)
                    tj = t[k - 1] + np.int64(np.round(frac * (t[k] - t[k - 1])))
                    if tj - last < refractory:
                        continue
                    last = tj
                    if n == cap:
                        cap *= 2
                        xs, ys, ts, ps = _grow(xs, cap), _grow(ys, cap), _grow(ts, cap), _grow(
                            ps, cap)
                    xs[n], ys[n], ts[n], ps[n] = c, r, tj, pol
                    n += 1
                ref += count * step
    return xs[:n], ys[:n], ts[:n], ps[:n]


@njit(cache=True)
def _grow(a: np.ndarray, cap: int) -> np.ndarray:
    out = np.empty(cap, a.dtype)
    out[: a.shape[0]] = a
    return out
