"""The three NeuroMorse noise types, their named levels and the 27-file grid.

Applied in the authors' order (``AddNoise.py``): dropout, then jitter, then Poisson background,
then the events are sorted and duplicate ``(t, x)`` pairs removed.

* Dropout: each spike deleted independently with probability ``p``.
* Jitter: Gaussian noise of standard deviation ``sigma`` (steps) added to every time, rounded
  to the nearest step. Word samples clip negative times to 0; the stream does not (as in the
  paper). The authors kept non-integer times; we round so that events stay on the step grid.
* Poisson background: per channel, exponential inter-spike intervals of mean ``1 / rate``
  (``rate`` in spikes per step per channel), cumulated and rounded to steps, over
  ``[0, until)`` where ``until`` is the last spike of the clean word or clean stream.

Named levels (per spike for dropout; 7.5 is the mean number of spikes per keyword):

=========  ======  ==========  ==========
noise      none    low         high
=========  ======  ==========  ==========
dropout    0       0.25 / 7.5  0.5 / 7.5
jitter     0       1           2
poisson    0       0.05        0.1
=========  ======  ==========  ==========
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass

import numpy as np

from axonal.data.neuromorse.morse import EVENT_DTYPE, NUM_CHANNELS, make_events

__all__ = [
    "DROPOUT_LEVELS",
    "JITTER_LEVELS",
    "LEVEL_NAMES",
    "POISSON_LEVELS",
    "NoiseConfig",
    "NoiseSpec",
    "add_noise",
    "drop_events",
    "jitter_events",
    "noise_grid",
    "poisson_events",
]

LEVEL_NAMES = ("none", "low", "high")
DROPOUT_LEVELS = {"none": 0.0, "low": 0.25 / 7.5, "high": 0.5 / 7.5}
JITTER_LEVELS = {"none": 0.0, "low": 1.0, "high": 2.0}
POISSON_LEVELS = {"none": 0.0, "low": 0.05, "high": 0.1}
_TABLES = {"dropout": DROPOUT_LEVELS, "jitter": JITTER_LEVELS, "poisson": POISSON_LEVELS}
_FILE_PREFIXES = ("Dropout", "Jitter", "Poisson")


def _level_value(kind: str, level: str | float) -> float:
    """The value of a named ``level`` ("none"/"low"/"high", any case), or ``level`` itself."""
    if isinstance(level, str):
        table = _TABLES[kind]
        try:
            return table[level.lower()]
        except KeyError:
            raise ValueError(
                f"unknown {kind} level {level!r}; expected one of {LEVEL_NAMES} or a number"
            ) from None
    return float(level)


def _check_strength(kind: str, value: object) -> float:
    """``value`` as a float; a finite number >= 0 (and <= 1 for dropout), else ValueError."""
    upper = 1.0 if kind == "dropout" else math.inf
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and 0 <= value <= upper):
        raise ValueError(f"{kind} must be a finite number in [0, {upper}], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class NoiseConfig:
    """Noise strengths: dropout probability, jitter sigma (steps), Poisson rate (per step
    per channel). Build from values, or from level names with :meth:`from_levels`."""

    dropout: float = 0.0
    jitter: float = 0.0
    poisson: float = 0.0

    def __post_init__(self) -> None:
        for kind in _TABLES:
            object.__setattr__(self, kind, _check_strength(kind, getattr(self, kind)))

    @classmethod
    def from_levels(
        cls,
        dropout: str | float = "none",
        jitter: str | float = "none",
        poisson: str | float = "none",
    ) -> NoiseConfig:
        """Config from level names ("none", "low", "high", any case) or plain values."""
        return cls(
            _level_value("dropout", dropout),
            _level_value("jitter", jitter),
            _level_value("poisson", poisson),
        )

    @classmethod
    def parse(cls, spec: NoiseSpec) -> NoiseConfig:
        """Accept a config, ``None`` or ``"clean"`` (no noise), one level name for all three
        kinds (``"low"``, ``"high"``), a file-style name such as
        ``"Dropout-Low Jitter-None Poisson-High"``, or a ``(dropout, jitter, poisson)`` tuple of
        level names and/or values."""
        if isinstance(spec, NoiseConfig):
            return spec
        if spec is None or (isinstance(spec, str) and spec.lower() == "clean"):
            return cls()
        if isinstance(spec, str) and spec.lower() in ("none", "low", "high"):
            return cls.from_levels(spec, spec, spec)
        if isinstance(spec, str):
            return cls.from_levels(*_split_file_name(spec))
        if isinstance(spec, tuple) and len(spec) == 3:
            return cls.from_levels(*spec)
        raise ValueError(
            "expected a NoiseConfig, None, 'clean', a name like 'Dropout-Low Jitter-None "
            f"Poisson-High' or a 3-tuple (dropout, jitter, poisson), got {spec!r}"
        )

    @property
    def levels(self) -> tuple[str, str, str] | None:
        """The level names, or ``None`` when a value is not one of the named levels."""
        names = []
        for kind, table in _TABLES.items():
            match = [n for n, v in table.items() if math.isclose(v, getattr(self, kind))]
            if not match:
                return None
            names.append(match[0])
        return names[0], names[1], names[2]

    @property
    def name(self) -> str:
        """The authors' file stem: ``"Clean"`` or ``"Dropout-Low Jitter-None Poisson-High"``."""
        levels = self.levels
        if levels is None:
            raise ValueError(f"{self} is not made of named levels, so it has no file name")
        if levels == ("none", "none", "none"):
            return "Clean"
        pairs = zip(_FILE_PREFIXES, levels, strict=True)
        return " ".join(f"{prefix}-{level.capitalize()}" for prefix, level in pairs)


NoiseSpec = NoiseConfig | str | tuple | None


def _split_file_name(name: str) -> tuple[str, str, str]:
    """``"Dropout-Low Jitter-None Poisson-High"`` -> ``("Low", "None", "High")``."""
    parts = name.split()
    prefixes = tuple(p.partition("-")[0].lower() for p in parts)
    if prefixes != tuple(p.lower() for p in _FILE_PREFIXES):
        raise ValueError(
            f"expected a noise name like 'Dropout-Low Jitter-None Poisson-High', got {name!r}"
        )
    return parts[0].partition("-")[2], parts[1].partition("-")[2], parts[2].partition("-")[2]


def noise_grid() -> list[NoiseConfig]:
    """The 27 named combinations in the authors' order (dropout outermost, Poisson innermost)."""
    return [NoiseConfig.from_levels(*c) for c in itertools.product(LEVEL_NAMES, repeat=3)]


def drop_events(events: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Delete each event independently with probability ``p``; returns the survivors ``[M]``."""
    if _check_strength("dropout", p) == 0:
        return events
    return events[rng.random(len(events)) >= p]


def jitter_events(
    events: np.ndarray, sigma: float, rng: np.random.Generator, clip: bool = True
) -> np.ndarray:
    """Add ``round(N(0, sigma^2))`` steps to every time; ``clip`` sets negative times to 0."""
    if _check_strength("jitter", sigma) == 0:
        return events
    out = events.copy()
    out["t"] += np.rint(rng.normal(0.0, sigma, len(events))).astype(np.int64)
    if clip:
        np.maximum(out["t"], 0, out=out["t"])
    return out


def poisson_events(until: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Background spikes on each of the 2 channels at ``rate`` spikes/step over ``[0, until)``.

    Times are cumulated exponential intervals (mean ``1 / rate``) rounded to steps; two
    spikes may land on the same step. After :func:`add_noise` removes duplicates, a step and
    channel holds background with probability ``1 - exp(-rate)`` (0.049 low, 0.095 high).
    Returns ``[M]`` events, channel 0 first, each channel sorted by time.
    """
    if _check_strength("poisson", rate) == 0 or until <= 0:
        return np.empty(0, dtype=EVENT_DTYPE)
    parts: list[np.ndarray] = []
    for channel in range(NUM_CHANNELS):
        times = _poisson_times(until, rate, rng)
        parts.append(make_events(times, np.full(len(times), channel, dtype=np.int64)))
    return np.concatenate(parts)


def _poisson_times(until: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Rounded arrival times ``< until`` of one Poisson process of ``rate`` per step."""
    mean = rate * until
    chunk = int(mean + 6.0 * math.sqrt(mean) + 16)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, chunk))
    while arrivals[-1] < until:
        more = arrivals[-1] + np.cumsum(rng.exponential(1.0 / rate, chunk))
        arrivals = np.concatenate((arrivals, more))
    times = np.rint(arrivals).astype(np.int64)
    return times[times < until]


def add_noise(
    events: np.ndarray,
    config: NoiseConfig,
    rng: np.random.Generator,
    *,
    clip_negative: bool,
) -> np.ndarray:
    """Dropout, jitter, Poisson background (up to the last clean spike), then sort and unique.

    ``events`` ``[N]`` are the clean events sorted by time; returns ``[M]`` events sorted by
    ``(t, x)`` without duplicates.
    """
    if len(events) == 0:
        raise ValueError("expected at least one clean event to add noise to, got none")
    until = int(events["t"].max())
    noisy = drop_events(events, config.dropout, rng)
    noisy = jitter_events(noisy, config.jitter, rng, clip=clip_negative)
    noisy = np.concatenate((noisy, poisson_events(until, config.poisson, rng)))
    return _unique_events(noisy)


def _unique_events(events: np.ndarray) -> np.ndarray:
    """Events sorted by ``(t, x)`` with duplicates removed (``p`` is always 1).

    Same result as ``np.unique`` on the records, via the int key ``2 t + x``, which orders
    like ``(t, x)`` for every integer ``t`` and is much faster than sorting records."""
    keys = np.sort(events["t"] * NUM_CHANNELS + events["x"])
    keys = keys[np.concatenate((keys[:1] == keys[:1], keys[1:] != keys[:-1]))]
    return make_events(np.floor_divide(keys, NUM_CHANNELS), np.remainder(keys, NUM_CHANNELS))
