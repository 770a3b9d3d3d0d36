"""Spike functions with surrogate gradients.

Forward, every surrogate is the Heaviside step ``H(x) = 1 if x > 0 else 0`` (strictly greater,
as NIR's ``Threshold`` and snnTorch fire); ``x`` is the membrane minus the threshold.
Backward, the step's zero/undefined derivative is replaced by a smooth ``derivative(x)``.
All arithmetic stays in the input's dtype (float16/bfloat16/float64 are preserved).

Surrogates are small frozen dataclasses, so they are hashable, comparable and printable::

    spike = ATan(alpha=2.0)
    s = spike(v - threshold)          # {0, 1}, gradient alpha/2 / (1 + (pi/2 alpha x)^2)

Your own surrogate: ``Custom(fn=lambda x: torch.exp(-x.abs()))`` or subclass
:class:`Surrogate` and implement :meth:`Surrogate.derivative`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = [
    "ATan",
    "Custom",
    "FastSigmoid",
    "Sigmoid",
    "StraightThrough",
    "Surrogate",
    "Triangle",
    "get_surrogate",
]


class _HeavisideWithSurrogate(torch.autograd.Function):
    """Heaviside forward, ``grad * surrogate.derivative(x)`` backward."""

    @staticmethod
    def forward(ctx, x: Tensor, surrogate: Surrogate) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None


class Surrogate:
    """Base class: a spike function ``H(x)`` whose backward uses :meth:`derivative`."""

    def derivative(self, x: Tensor) -> Tensor:
        """Surrogate of ``dH/dx`` at ``x`` (same shape and dtype as ``x``)."""
        raise NotImplementedError

    def __call__(self, x: Tensor) -> Tensor:
        if not x.is_floating_point():
            raise TypeError(f"spike functions need a floating-point tensor, got {x.dtype}")
        return _HeavisideWithSurrogate.apply(x, self)


@dataclass(frozen=True)
class ATan(Surrogate):
    """Arc-tangent surrogate (snnTorch's default): ``alpha/2 / (1 + (pi/2 * alpha * x)^2)``.

    Smooth relaxation: ``1/pi * atan(pi/2 * alpha * x) + 1/2``.
    """

    alpha: float = 2.0

    def derivative(self, x: Tensor) -> Tensor:
        return (self.alpha / 2) / (1 + (math.pi / 2 * self.alpha * x) ** 2)

    def primitive(self, x: Tensor) -> Tensor:
        """An antiderivative of :meth:`derivative` (what the backward pass differentiates)."""
        return torch.atan(math.pi / 2 * self.alpha * x) / math.pi + 0.5


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """Fast sigmoid (SuperSpike): ``1 / (slope * |x| + 1)^2``.

    Antiderivative: ``x / (slope * |x| + 1)``.
    """

    slope: float = 25.0

    def derivative(self, x: Tensor) -> Tensor:
        return 1 / (self.slope * x.abs() + 1) ** 2

    def primitive(self, x: Tensor) -> Tensor:
        """An antiderivative of :meth:`derivative` (what the backward pass differentiates)."""
        return x / (self.slope * x.abs() + 1)


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """Logistic surrogate: ``slope * sig(slope x) * (1 - sig(slope x))``."""

    slope: float = 5.0

    def derivative(self, x: Tensor) -> Tensor:
        s = torch.sigmoid(self.slope * x)
        return self.slope * s * (1 - s)

    def primitive(self, x: Tensor) -> Tensor:
        """An antiderivative of :meth:`derivative` (what the backward pass differentiates)."""
        return torch.sigmoid(self.slope * x)


@dataclass(frozen=True)
class Triangle(Surrogate):
    """Triangular (piecewise-linear) surrogate of half-width ``width``, unit area:
    ``max(0, 1 - |x| / width) / width``."""

    width: float = 1.0

    def derivative(self, x: Tensor) -> Tensor:
        return (1 - x.abs() / self.width).clamp(min=0) / self.width

    def primitive(self, x: Tensor) -> Tensor:
        """An antiderivative of :meth:`derivative` (what the backward pass differentiates)."""
        u = (x / self.width).clamp(-1, 1)
        return 0.5 + u - u * u.abs() / 2


@dataclass(frozen=True)
class StraightThrough(Surrogate):
    """Straight-through estimator: gradient 1 for ``|x| <= window``, 0 outside.

    ``window=inf`` (default) passes the gradient everywhere.
    """

    window: float = math.inf

    def derivative(self, x: Tensor) -> Tensor:
        return (x.abs() <= self.window).to(x.dtype)

    def primitive(self, x: Tensor) -> Tensor:
        """An antiderivative of :meth:`derivative` (what the backward pass differentiates)."""
        return x.clamp(-self.window, self.window)


@dataclass(frozen=True)
class Custom(Surrogate):
    """A user-supplied derivative: ``Custom(fn=lambda x: torch.exp(-x.abs()))``."""

    fn: Callable[[Tensor], Tensor] = field(compare=True)
    name: str = "custom"

    def derivative(self, x: Tensor) -> Tensor:
        return self.fn(x)


_BY_NAME: dict[str, type[Surrogate]] = {
    "atan": ATan,
    "fast_sigmoid": FastSigmoid,
    "sigmoid": Sigmoid,
    "triangle": Triangle,
    "straight_through": StraightThrough,
}


def get_surrogate(spec: str | Surrogate) -> Surrogate:
    """Resolve ``"atan"``, ``"fast_sigmoid"``, ``"sigmoid"``, ``"triangle"``,
    ``"straight_through"`` (default constants) or pass a :class:`Surrogate` through."""
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, str) and spec in _BY_NAME:
        return _BY_NAME[spec]()
    raise ValueError(
        f"unknown surrogate {spec!r}; expected one of {sorted(_BY_NAME)} or a Surrogate instance"
    )
