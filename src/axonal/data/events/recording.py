"""The event array convention, the recording container and the reader error type.

Events are a NumPy structured array with fields ``x``, ``y`` (pixel column and row, int16),
``t`` (microseconds, int64) and ``p`` (polarity 0 = OFF, 1 = ON, int8), the field names Tonic
uses. The polarity is signed so that Tonic functions that map ``0 -> -1`` work on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from axonal.data.neuromorse.h5 import DataFormatError

EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])


class EventFileError(DataFormatError):
    """An event file is unreadable, truncated, corrupt or in an unknown format."""

    def __init__(self, path: str | Path, message: str, offset: int | None = None) -> None:
        where = f" at byte offset {offset}" if offset is not None else ""
        super().__init__(f"{path}{where}: {message}")
        self.path = Path(path)
        self.offset = offset


@dataclass(frozen=True)
class EventRecording:
    """A decoded recording.

    Attributes:
        events: ``[N]`` structured array of :data:`EVENT_DTYPE`, sorted by ``t``.
        sensor_size: ``(width, height)`` in pixels.
        format: the detected format: ``"evt2"``, ``"evt3"``, ``"dat"`` or ``"aedat4"``.
        path: the file that was read.
    """

    events: np.ndarray
    sensor_size: tuple[int, int]
    format: str
    path: Path

    def __iter__(self):  # allows ``events, sensor_size = read(path)``
        return iter((self.events, self.sensor_size))


def as_events(events: np.ndarray) -> np.ndarray:
    """Check that ``events`` is a structured array with fields x, y, t, p; return it unchanged.

    Raises:
        TypeError: when ``events`` is not a 1-D structured array with those fields.
    """
    names = getattr(getattr(events, "dtype", None), "names", None)
    if names is None or not {"x", "y", "t", "p"} <= set(names):
        raise TypeError(
            "expected a structured array with fields x, y, t, p; "
            f"got {type(events).__name__} with dtype {getattr(events, 'dtype', None)}"
        )
    if events.ndim != 1:
        raise TypeError(f"expected a 1-D event array, got shape {events.shape}")
    return events


def check_sensor_size(sensor_size: tuple[int, ...]) -> tuple[int, int]:
    """Return ``(width, height)`` from a 2- or Tonic-style 3-tuple ``(W, H[, P])``."""
    if len(sensor_size) not in (2, 3) or any(int(s) < 1 for s in sensor_size):
        raise ValueError(f"expected sensor_size (width, height[, polarities]), got {sensor_size}")
    return int(sensor_size[0]), int(sensor_size[1])
