"""Time-to-first-spike (latency) coding: brighter inputs fire earlier, at most once.

Every element of ``x`` in [0, 1] is mapped to one integer firing step ``t`` in
``[0, T-1]`` (``T = num_steps``) or stays silent. An element fires only if
``x > threshold``; the firing step is

* ``mode="linear"``: ``t = round((1 - x) * (T - 1))``.
* ``mode="log"`` (RC circuit): an RC membrane driven by a constant input ``x`` reaches
  ``threshold`` after ``t_raw = tau * ln(x / (x - threshold))`` steps.

  - ``normalize=False``: ``t = round(t_raw)`` with ``tau`` in steps; elements whose ``t``
    is past ``T - 1`` stay silent.
  - ``normalize=True``: the raw times are mapped linearly onto the window so that ``x = 1``
    fires at step 0 and the cut-off input ``x_c = threshold + (1 - threshold) / T`` (one
    level of a ``T``-level linear code above the threshold) fires at step ``T - 1``:
    ``t = round(clamp((T - 1) * (t_raw(x) - t_raw(1)) / (t_raw(x_c) - t_raw(1)), 0, T - 1))``.
    Inputs in ``(threshold, x_c]`` fire at the last step. ``tau`` cancels out. For ``T = 1``
    every firing element fires at step 0.

``round`` is ``torch.round`` (halves go to the even integer). ``tau`` is used only by the
log code without normalisation and ``normalize`` only by the log code; the linear code
always fits the window.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from axonal.encoding._checks import (
    require_float_tensor,
    require_num_steps,
    require_real,
    require_unit_interval,
)

LatencyMode = Literal["linear", "log"]


def latency(
    x: Tensor,
    num_steps: int,
    *,
    mode: LatencyMode = "linear",
    tau: float = 5.0,
    threshold: float = 0.01,
    normalize: bool = True,
) -> Tensor:
    """Encode intensities as single spikes whose timing falls with intensity.

    The exact mapping from ``x`` to the firing step is in the module docstring.

    Args:
        x: intensities in [0, 1], shape ``[...]`` with at least one dim, floating dtype.
        num_steps: number of time steps ``T`` (>= 1).
        mode: ``"linear"`` or ``"log"`` (RC-circuit) time code.
        tau: RC time constant in steps (> 0), used by ``mode="log"`` with
            ``normalize=False``.
        threshold: inputs ``x <= threshold`` never fire; must lie in (0, 1).
        normalize: for ``mode="log"``, stretch the raw times over ``[0, T-1]``.

    Returns:
        Spikes of shape ``[T, *x.shape]`` in ``x``'s dtype and device, with at most one 1
        per element along time.

    Raises:
        TypeError: ``x`` is not a floating tensor or a number has a wrong type.
        ValueError: bad rank, NaN/inf or values outside [0, 1] in ``x``; ``num_steps`` < 1;
            unknown ``mode``; ``tau`` <= 0; ``threshold`` outside (0, 1).
    """
    require_float_tensor(x, "x")
    require_unit_interval(x, "x")
    steps = require_num_steps(num_steps)
    tau = require_real(tau, "tau", positive=True)
    threshold = require_real(threshold, "threshold", positive=True)
    if threshold >= 1.0:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    values = x.to(torch.float64)
    if mode == "linear":
        times = _linear_steps(values, steps)
    elif mode == "log":
        times = _rc_steps(values, steps, tau, threshold, normalize)
    else:
        raise ValueError(f"mode must be 'linear' or 'log', got {mode!r}")
    silent = (values <= threshold) | (times > steps - 1)
    times = torch.where(silent, steps, times)
    return _spikes_at(times, steps).to(x.dtype)


def spike_times(spikes: Tensor) -> Tensor:
    """Return the first firing step of every element, the inverse of :func:`latency`.

    Args:
        spikes: spike trains of shape ``[T, ...]`` (any dtype; nonzero means a spike).

    Returns:
        Int64 tensor of shape ``spikes.shape[1:]``: the first step with a spike, or ``T``
        for elements that never fire.

    Raises:
        TypeError: ``spikes`` is not a tensor.
        ValueError: ``spikes`` is 0-d or has no time steps.
    """
    if not isinstance(spikes, Tensor):
        raise TypeError(f"spikes must be a torch.Tensor, got {type(spikes).__name__}")
    if spikes.ndim < 1 or spikes.shape[0] < 1:
        raise ValueError(f"spikes must have shape [T, ...] with T >= 1, got {tuple(spikes.shape)}")
    steps = spikes.shape[0]
    step_index = _step_index(steps, spikes.ndim, spikes.device)
    return torch.where(spikes != 0, step_index, steps).amin(dim=0)


def _linear_steps(values: Tensor, steps: int) -> Tensor:
    """Linear code: step ``round((1 - x) * (T - 1))`` as int64 (silence handled by caller)."""
    return torch.round((1.0 - values) * (steps - 1)).to(torch.int64)


def _rc_steps(values: Tensor, steps: int, tau: float, threshold: float, normalize: bool) -> Tensor:
    """RC code: integer firing steps for ``x > threshold`` (others get a placeholder)."""
    safe = torch.where(values > threshold, values, 1.0)
    charge_time = torch.log(safe) - torch.log(safe - threshold)  # t_raw / tau
    if not normalize:
        return torch.round(tau * charge_time).to(torch.int64)
    if steps == 1:
        return torch.zeros_like(values, dtype=torch.int64)
    earliest = -math.log1p(-threshold)  # t_raw(1) / tau
    cutoff = threshold + (1.0 - threshold) / steps
    latest = math.log(cutoff) - math.log(cutoff - threshold)  # t_raw(x_c) / tau
    scaled = (charge_time - earliest) * ((steps - 1) / (latest - earliest))
    return torch.round(scaled.clamp(0.0, steps - 1)).to(torch.int64)


def _step_index(steps: int, ndim: int, device: torch.device) -> Tensor:
    """Step numbers ``0..T-1`` shaped ``[T, 1, ..., 1]`` to broadcast against ``ndim`` dims."""
    return torch.arange(steps, device=device).view(steps, *([1] * (ndim - 1)))


def _spikes_at(times: Tensor, steps: int) -> Tensor:
    """Boolean spikes ``[T, *times.shape]``, one at each step in ``times`` (``T`` = none)."""
    return _step_index(steps, times.ndim + 1, times.device) == times
