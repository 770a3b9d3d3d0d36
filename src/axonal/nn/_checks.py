"""Argument checks shared by the neuron and layer modules of :mod:`axonal.nn`."""

from __future__ import annotations

import torch
from torch import Tensor

Value = Tensor | float


def check_range(name: str, value: Value, low: float, high: float | None = None) -> None:
    """Raise ValueError naming ``name`` unless every element of ``value`` is finite and in
    ``[low, high]`` (``[low, inf)`` without ``high``)."""
    t = torch.as_tensor(value)
    bad = ~torch.isfinite(t) | (t < low)
    if high is not None:
        bad |= t > high
    if bad.any():
        interval = f"[{low}, {high}]" if high is not None else f"[{low}, inf)"
        raise ValueError(f"{name} must lie in {interval}, got {value}")


def check_threshold(threshold: Value) -> None:
    """Raise ValueError unless every element of ``threshold`` is finite and > 0."""
    t = torch.as_tensor(threshold)
    if (~torch.isfinite(t) | (t <= 0)).any():
        raise ValueError(f"threshold must be finite and > 0, got {threshold}")
