"""Argument checks shared by the quantisers."""

from __future__ import annotations

import math

MAX_BITS = 16


def check_bits(bits: object, low: int = 1, name: str = "bits") -> int:
    """Return ``bits`` if it is an int in ``[low, MAX_BITS]``, else raise a clear error."""
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError(f"{name} must be an int in [{low}, {MAX_BITS}], got {bits!r}")
    if not low <= bits <= MAX_BITS:
        raise ValueError(f"{name} must be an int in [{low}, {MAX_BITS}], got {bits}")
    return bits


def check_positive(value: object, name: str) -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a finite number > 0, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def check_non_negative(value: object, name: str) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a finite number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)
