"""Straight-through estimator: a quantiser's values forward, the identity's gradient backward."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["straight_through"]


class _StraightThrough(torch.autograd.Function):
    """``quantize(x)`` forward (computed without autograd); gradient passed through unchanged."""

    @staticmethod
    def forward(ctx, x: Tensor, quantize: Callable[[Tensor], Tensor]) -> Tensor:  # type: ignore[override]
        with torch.no_grad():
            return quantize(x)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return grad_output, None


def straight_through(x: Tensor, quantize: Callable[[Tensor], Tensor]) -> Tensor:
    """``quantize(x)`` exactly in the forward pass, with ``d out / d x = 1`` everywhere.

    Unlike ``x + (q - x).detach()``, the forward values are exactly ``quantize(x)`` (no
    rounding error from the addition), so quantised tensors hold level values bit for bit.
    """
    return _StraightThrough.apply(x, quantize)
