"""Argument checks shared by the encoders.

Every check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (wrong
value, rank or range) with what was expected and what was given.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def require_float_tensor(x: object, name: str, min_dim: int = 1) -> Tensor:
    """Check that ``x`` is a finite floating-point tensor with at least ``min_dim`` dims.

    Returns:
        ``x`` unchanged, typed as a tensor.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
    if x.ndim < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimension(s), got shape {tuple(x.shape)}"
        )
    if not bool(torch.isfinite(x).all()):
        bad = "NaN" if bool(torch.isnan(x).any()) else "inf"
        raise ValueError(f"{name} must be finite, found {bad}")
    return x


def require_unit_interval(x: Tensor, name: str) -> None:
    """Check that every element of the finite tensor ``x`` lies in [0, 1]."""
    if x.numel() == 0:
        return
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"{name} must lie in [0, 1], found min {low:g} and max {high:g}")


def require_int(name: str, value: object, minimum: int) -> int:
    """Check that ``value`` is an integer >= ``minimum`` and return it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def require_num_steps(num_steps: object) -> int:
    """Check that ``num_steps`` is an integer >= 1 and return it."""
    return require_int("num_steps", num_steps, 1)


def require_real(value: object, name: str, *, positive: bool) -> float:
    """Check that ``value`` is a finite real number (> 0 if ``positive``, else >= 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number < 0.0 or (positive and number == 0.0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return number


def threshold_tensor(
    value: float | Tensor, name: str, element_shape: torch.Size, device: torch.device
) -> Tensor:
    """Turn a scalar or per-element threshold into a float64 tensor of ``element_shape``.

    Args:
        value: a number > 0, or a tensor of values > 0 broadcastable to ``element_shape``.
        name: argument name used in error messages.
        element_shape: shape of one time step of the signal (all dims after time).
        device: device of the returned tensor.

    Returns:
        Float64 tensor of shape ``element_shape`` (a broadcast view; do not write to it).
    """
    if not isinstance(value, Tensor):
        return torch.full(
            element_shape,
            require_real(value, name, positive=True),
            dtype=torch.float64,
            device=device,
        )
    if value.is_complex() or value.dtype == torch.bool:
        raise TypeError(f"{name} must be a real tensor, got dtype {value.dtype}")
    values = value.to(device=device, dtype=torch.float64)
    if not bool(torch.isfinite(values).all()) or not bool((values > 0).all()):
        raise ValueError(f"{name} must be finite and > 0 everywhere, got {value}")
    try:
        return torch.broadcast_to(values, element_shape)
    except RuntimeError as error:
        raise ValueError(
            f"{name} of shape {tuple(value.shape)} does not broadcast to the per-step "
            f"shape {tuple(element_shape)}"
        ) from error
