"""Discrete axonal constants <-> NIR's continuous neuron parameters, exact in both directions.

Import (NIR -> axonal) with a step ``dt`` (seconds) and a ``method`` (``"exp"`` or ``"euler"``):

- every decay factor is ``decay(tau, dt, method)`` (``beta`` from ``tau``/``tau_mem``,
  ``alpha`` from ``tau_syn``), see :mod:`axonal.functional.continuous`;
- the input scale is ``input_scale(gain, r)``, the float64 product ``gain * r`` rounded once,
  with ``gain = 1 - beta`` (LI, LIF), ``dt`` (I, IF) or ``(1 - alpha) w_in (1 - beta)``
  (CubaLI, CubaLIF), computed in float64 from the rounded decays.

Export inverts these formulas and writes the neuron parameters in float64: the relative error of
the inversion (about 1e-16) is far below half a float32 step (3e-8), so a round trip rebuilds
the module's float32 ``beta``, ``alpha`` and ``input_scale`` bit for bit, hence the same spikes.
(Written in float32, ``tau`` and ``r`` could not always hit every float32 ``beta`` and scale.)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from axonal.functional.continuous import METHODS

__all__ = [
    "check_discretisation",
    "input_scale",
    "leak_gain",
    "resistance",
    "time_constant",
]


def leak_gain(decay_factor: Tensor) -> Tensor:
    """``1 - decay`` in float64: the input gain of a leaky state per unit of ``r``."""
    return 1 - decay_factor.double()


def input_scale(gain: Tensor, r: Tensor) -> Tensor:
    """A neuron's ``input_scale``: ``gain * r`` in float64, rounded once to float32 (the dtype
    :class:`axonal.nn.base.Neuron` stores it in)."""
    return (gain * r.double()).to(torch.float32)


def time_constant(decay_factor: Tensor, dt: float, method: str) -> Tensor:
    """The time constant (seconds, float64) that ``decay(tau, dt, method)`` maps back to
    ``decay_factor``. Raises ValueError unless every decay lies strictly inside (0, 1)."""
    d = decay_factor.double()
    if not ((d > 0) & (d < 1)).all():
        raise ValueError(
            "a decay factor (beta, alpha) must lie strictly inside (0, 1) to have a finite "
            f"time constant, got values in [{d.min().item()}, {d.max().item()}]"
        )
    return -dt / torch.log(d) if method == "exp" else dt / (1 - d)


def resistance(scale: Tensor, gain: Tensor) -> Tensor:
    """The ``r`` (float64) for which ``input_scale(gain, r)`` is ``scale``; ``gain`` > 0."""
    return scale.double() / gain


def check_discretisation(dt: float, method: str) -> None:
    """Raise ValueError unless ``dt`` is a finite step > 0 (seconds) and ``method`` is one of
    :data:`axonal.functional.continuous.METHODS`."""
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a finite number of seconds > 0, got {dt!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
