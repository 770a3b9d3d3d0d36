"""Tonic-style event transforms: callable classes from an event array to an event array.

They accept any 1-D structured array with fields x, y, t (us), p (axonal's or Tonic's dtype)
and return a new array of the same dtype; inputs are never modified. Random transforms own a
``numpy.random.Generator`` made from ``seed`` (an int or a Generator), never the global RNG.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from axonal.data.events.recording import as_events, check_sensor_size


def as_generator(seed: int | np.random.Generator) -> np.random.Generator:
    """A numpy Generator from an int seed, or the Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int or numpy.random.Generator, got {type(seed).__name__}")


@njit(cache=True)
def _supported(x: np.ndarray, y: np.ndarray, t: np.ndarray, width: int, height: int,
               filter_time: int) -> np.ndarray:
    """``[N]`` bool: a 4-neighbour pixel fired within ``filter_time`` us before the event."""
    last = np.full((height + 2, width + 2), np.iinfo(np.int64).min // 2, dtype=np.int64)
    keep = np.zeros(x.shape[0], dtype=np.bool_)
    for i in range(x.shape[0]):
        r, c, ti = y[i] + 1, x[i] + 1, t[i]
        newest = max(max(last[r - 1, c], last[r + 1, c]), max(last[r, c - 1], last[r, c + 1]))
        keep[i] = ti - newest < filter_time
        last[r, c] = ti
    return keep


@dataclass(frozen=True)
class Denoise:
    """Drop events with no support: keep an event only when one of its 4 neighbouring pixels
    had an event less than ``filter_time_us`` earlier (its own pixel does not count).

    Same rule as Tonic's ``Denoise``, except that Tonic keeps every event with
    ``t < filter_time`` (its memory starts at ``filter_time``); here a pixel without events
    never supports one.
    """

    filter_time_us: int

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        if len(events) == 0:
            return events.copy()
        x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
        keep = _supported(x, y, events["t"].astype(np.int64), int(x.max()) + 1,
                          int(y.max()) + 1, int(self.filter_time_us))
        return events[keep]


@dataclass(frozen=True)
class Downsample:
    """Scale coordinates: ``x <- floor(x * spatial_factor)``, same for ``y`` (``0 < f <= 1``).

    The new sensor size is ``(floor(W * f), floor(H * f))``; see :meth:`sensor_size`.
    """

    spatial_factor: float

    def __post_init__(self) -> None:
        if not 0 < self.spatial_factor <= 1:
            raise ValueError(f"spatial_factor must be in (0, 1], got {self.spatial_factor}")

    def sensor_size(self, sensor_size: tuple[int, ...]) -> tuple[int, int]:
        """The ``(width, height)`` after downsampling a ``sensor_size`` sensor."""
        width, height = check_sensor_size(sensor_size)
        return int(width * self.spatial_factor), int(height * self.spatial_factor)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = as_events(events).copy()
        for axis in ("x", "y"):
            out[axis] = np.floor(out[axis] * self.spatial_factor)
        return out


@dataclass(frozen=True)
class CropTime:
    """Keep events with ``min_us <= t <= max_us`` (bounds inclusive, as in Tonic)."""

    min_us: int = 0
    max_us: int | None = None

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        keep = events["t"] >= self.min_us
        if self.max_us is not None:
            keep &= events["t"] <= self.max_us
        return events[keep]


@dataclass
class SpatialJitter:
    """Add Gaussian noise (standard deviations ``sigma_x``, ``sigma_y`` pixels) to x and y,
    round to the nearest pixel, and drop events that leave the sensor (``clip=False``) or
    clamp them to its border (``clip=True``)."""

    sensor_size: tuple[int, ...]
    sigma_x: float
    sigma_y: float
    clip: bool = False
    seed: int | np.random.Generator = 0
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = as_generator(self.seed)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        width, height = check_sensor_size(self.sensor_size)
        x = np.rint(events["x"] + self.rng.normal(0.0, self.sigma_x, len(events)))
        y = np.rint(events["y"] + self.rng.normal(0.0, self.sigma_y, len(events)))
        if self.clip:
            x, y = np.clip(x, 0, width - 1), np.clip(y, 0, height - 1)
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        out = events[inside].copy()
        out["x"], out["y"] = x[inside], y[inside]
        return out


@dataclass
class TimeJitter:
    """Add Gaussian noise (``sigma_us``) to t, rounded to whole us, then re-sort stably by t.
    Events pushed below ``t = 0`` are dropped."""

    sigma_us: float
    seed: int | np.random.Generator = 0
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = as_generator(self.seed)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        t = events["t"] + np.rint(self.rng.normal(0.0, self.sigma_us, len(events)))
        out = events.copy()
        out["t"] = t
        out = out[t >= 0]
        return out[np.argsort(out["t"], kind="stable")]


@dataclass
class DropEvent:
    """Drop each event independently with probability ``p``."""

    p: float
    seed: int | np.random.Generator = 0
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise ValueError(f"p must be in [0, 1], got {self.p}")
        self.rng = as_generator(self.seed)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        return events[self.rng.random(len(events)) >= self.p]


def _crop(events: np.ndarray, left: int, top: int, width: int, height: int) -> np.ndarray:
    """Events inside the box ``[left, left + width) x [top, top + height)``, shifted so the box
    starts at ``(0, 0)``. A negative ``left``/``top`` (a box larger than the sensor) keeps every
    event and moves it right/down, i.e. pads."""
    x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
    keep = (x >= left) & (x < left + width) & (y >= top) & (y < top + height)
    out = events[keep].copy()
    out["x"] = x[keep] - left
    out["y"] = y[keep] - top
    return out


def _crop_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """``(width, height)`` of a crop from an int (square) or a pair."""
    width, height = (size, size) if isinstance(size, (int, np.integer)) else size
    if int(width) < 1 or int(height) < 1:
        raise ValueError(f"crop size must be positive (width, height), got {size}")
    return int(width), int(height)


@dataclass(frozen=True)
class CenterCrop:
    """Keep the central ``size`` = ``(width, height)`` (or an int: square) window of a
    ``sensor_size`` sensor and shift coordinates to start at 0; the new sensor size is ``size``.

    Same rule as Tonic's ``CenterCrop`` (offsets ``(W - w) // 2``, ``(H - h) // 2``), including
    a window larger than the sensor, which pads: events move to the centre of the larger frame.
    """

    sensor_size: tuple[int, ...]
    size: int | tuple[int, int]

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        _crop_size(self.size)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        sensor_w, sensor_h = check_sensor_size(self.sensor_size)
        width, height = _crop_size(self.size)
        return _crop(events, (sensor_w - width) // 2, (sensor_h - height) // 2, width, height)


@dataclass
class RandomCrop:
    """Keep a ``size`` = ``(width, height)`` window at a uniformly random position inside the
    ``sensor_size`` sensor (a new position per call) and shift coordinates to start at 0."""

    sensor_size: tuple[int, ...]
    size: int | tuple[int, int]
    seed: int | np.random.Generator = 0
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sensor_w, sensor_h = check_sensor_size(self.sensor_size)
        width, height = _crop_size(self.size)
        if width > sensor_w or height > sensor_h:
            raise ValueError(
                f"crop size {(width, height)} is larger than the sensor {(sensor_w, sensor_h)}"
            )
        self.rng = as_generator(self.seed)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        sensor_w, sensor_h = check_sensor_size(self.sensor_size)
        width, height = _crop_size(self.size)
        left = int(self.rng.integers(0, sensor_w - width + 1))
        top = int(self.rng.integers(0, sensor_h - height + 1))
        return _crop(events, left, top, width, height)


@njit(cache=True)
def _outside_refractory(x: np.ndarray, y: np.ndarray, t: np.ndarray, width: int, height: int,
                        refractory: int) -> np.ndarray:
    """``[N]`` bool: more than ``refractory`` us since the pixel's last *kept* event."""
    last = np.full((height, width), np.iinfo(np.int64).min // 2, dtype=np.int64)
    keep = np.zeros(x.shape[0], dtype=np.bool_)
    for i in range(x.shape[0]):
        if t[i] - last[y[i], x[i]] > refractory:
            keep[i] = True
            last[y[i], x[i]] = t[i]
    return keep


@dataclass(frozen=True)
class RefractoryPeriod:
    """Drop an event when its pixel emitted a kept event at most ``refractory_us`` earlier.

    As in a sensor pixel, only emitted (kept) events start a refractory period. Tonic's
    ``RefractoryPeriod`` also restarts it at dropped events, so it drops a superset of these
    drops in bursts longer than the period; where no dropped event falls inside another's
    period both keep the same events (tested).
    """

    refractory_us: int

    def __post_init__(self) -> None:
        if self.refractory_us < 0:
            raise ValueError(f"refractory_us must be >= 0, got {self.refractory_us}")

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        if len(events) == 0:
            return events.copy()
        x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
        keep = _outside_refractory(x, y, events["t"].astype(np.int64), int(x.max()) + 1,
                                   int(y.max()) + 1, int(self.refractory_us))
        return events[keep]


@dataclass
class UniformNoise:
    """Add background events, uniform over the ``sensor_size`` pixels and both polarities,
    then sort stably by time.

    How many: ``n`` events, or ``fraction * len(events)`` (rounded) per call; give exactly one.
    When: uniform over ``[0, duration_us)`` if ``duration_us`` is given, else over the input's
    span ``[t_min, t_max]``. Tonic's ``UniformNoise`` draws ``n`` events over the span (from
    the global NumPy RNG).
    """

    sensor_size: tuple[int, ...]
    n: int | None = None
    fraction: float | None = None
    duration_us: int | None = None
    seed: int | np.random.Generator = 0
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        if (self.n is None) == (self.fraction is None):
            raise ValueError("give exactly one of n (events) and fraction (of the input's events)")
        if self.n is not None and self.n < 0:
            raise ValueError(f"n must be >= 0, got {self.n}")
        if self.fraction is not None and not self.fraction >= 0:
            raise ValueError(f"fraction must be >= 0, got {self.fraction}")
        if self.duration_us is not None and self.duration_us < 1:
            raise ValueError(f"duration_us must be >= 1, got {self.duration_us}")
        self.rng = as_generator(self.seed)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        if self.duration_us is not None:
            t_low, t_high = 0, int(self.duration_us)
        elif len(events) == 0:
            raise ValueError("UniformNoise needs events to take the time span from "
                             "(or a duration_us)")
        else:
            t_low, t_high = int(events["t"].min()), int(events["t"].max()) + 1
        count = self.n if self.n is not None else round(self.fraction * len(events))
        width, height = check_sensor_size(self.sensor_size)
        noise = np.zeros(count, dtype=events.dtype)
        noise["x"] = self.rng.integers(0, width, count)
        noise["y"] = self.rng.integers(0, height, count)
        noise["t"] = self.rng.integers(t_low, t_high, count)
        noise["p"] = self.rng.integers(0, 2, count)
        merged = np.concatenate([events, noise])
        return merged[np.argsort(merged["t"], kind="stable")]


@dataclass
class RandomFlip:
    """With probability ``p`` (one draw per call) mirror the events: ``axis="x"`` maps
    ``x -> W - 1 - x`` (left-right), ``axis="y"`` maps ``y -> H - 1 - y`` (up-down),
    ``axis="p"`` swaps the polarities ``0 <-> 1``. Tonic: ``RandomFlipLR``, ``RandomFlipUD``,
    ``RandomFlipPolarity``."""

    sensor_size: tuple[int, ...]
    axis: str = "x"
    p: float = 0.5
    seed: int | np.random.Generator = 0
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_sensor_size(self.sensor_size)
        if self.axis not in ("x", "y", "p"):
            raise ValueError(f"axis must be 'x', 'y' or 'p', got {self.axis!r}")
        if not 0 <= self.p <= 1:
            raise ValueError(f"p must be in [0, 1], got {self.p}")
        self.rng = as_generator(self.seed)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = as_events(events).copy()
        if self.rng.random() >= self.p:
            return out
        width, height = check_sensor_size(self.sensor_size)
        top = {"x": width - 1, "y": height - 1, "p": 1}[self.axis]
        out[self.axis] = top - out[self.axis].astype(np.int64)
        return out


@dataclass(frozen=True)
class MergePolarities:
    """Set every polarity to 0 (one channel), as Tonic's ``MergePolarities``."""

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = as_events(events).copy()
        out["p"] = 0
        return out
