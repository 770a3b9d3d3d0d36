"""Bernoulli rate coding: intensity becomes firing probability per time step."""

from __future__ import annotations

import torch
from torch import Tensor

from axonal.encoding._checks import (
    require_float_tensor,
    require_num_steps,
    require_real,
    require_unit_interval,
)


def rate(
    x: Tensor, num_steps: int, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """Encode intensities as independent Bernoulli spike trains.

    At every step each element fires with probability ``p = min(gain * x, 1)``, independently
    of the other steps and elements, so its expected firing rate is ``p`` spikes per step.

    Args:
        x: intensities in [0, 1], shape ``[...]`` with at least one dim, floating dtype.
            Values outside [0, 1] are rejected (before ``gain`` is applied).
        num_steps: number of time steps ``T`` (>= 1).
        gain: finite scale >= 0 applied to ``x``; products above 1 are clamped to 1.
        generator: random source on ``x``'s device, for reproducible spike trains. When
            ``None`` a fresh, non-deterministically seeded generator is used; the global
            random state is never touched.

    Returns:
        Spikes of shape ``[T, *x.shape]`` with values in {0, 1}, in ``x``'s dtype and device.

    Raises:
        TypeError: ``x`` is not a floating tensor, or ``num_steps``/``gain`` have a wrong type.
        ValueError: ``x`` is 0-d, has NaN/inf or values outside [0, 1]; ``num_steps`` < 1;
            ``gain`` is negative or not finite.
    """
    require_float_tensor(x, "x")
    require_unit_interval(x, "x")
    steps = require_num_steps(num_steps)
    probability = (x * require_real(gain, "gain", positive=False)).clamp(max=1.0)
    if generator is None:
        generator = torch.Generator(device=x.device)
        generator.seed()
    draws = torch.rand((steps, *x.shape), generator=generator, dtype=x.dtype, device=x.device)
    return (draws < probability).to(x.dtype)
