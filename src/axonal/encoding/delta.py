"""Delta (send-on-delta, level-crossing) coding of continuous time-major signals.

Definition. The signal ``s`` has shape ``[T, ...]``. Every element keeps a reference level
``r`` that starts at ``r = s[0]``; step 0 never emits. At each step ``t >= 1`` with
``d = s[t] - r``:

* if ``d >= theta_up``, ``n = floor(d / theta_up)`` UP crossings happen and
  ``r += n * theta_up``;
* else if ``-d >= theta_down``, ``n = floor(-d / theta_down)`` DOWN crossings happen and
  ``r -= n * theta_down``;
* else nothing happens.

With ``counts=True`` the output holds ``n``; with ``counts=False`` it holds ``min(n, 1)``
while ``r`` still moves by all ``n`` crossings, so both modes track the signal alike.

Refractory period. With ``refractory = k > 0`` an element that emitted at step ``t`` is
silent at steps ``t+1 .. t+k``: it emits nothing and its reference does not move. At the
next allowed step the change accumulated meanwhile is reported (as ``n > 1`` crossings if
``counts=True``).

Reconstruction. The reference after step ``t`` equals
``s[0] + theta_up * cumsum(UP)[t] - theta_down * cumsum(DOWN)[t]``, which
:func:`delta_reconstruct` rebuilds from ``counts=True`` events. Without refractory period,
``-theta_down < s[t] - r[t] < theta_up`` holds at every step.

Implementation. With ``theta_down == theta_up`` and no refractory period the recurrence is
solved by a vectorised scan: writing ``r = s[0] + k * theta`` and ``q = (s - s[0]) / theta``,
one step is the clamp ``k <- clamp(k, floor(q[t]), ceil(q[t]))`` (hysteresis, so ``k`` is
*not* a function of ``q[t]`` alone). Clamps compose into clamps, so all prefixes are found
in ``ceil(log2 T)`` whole-tensor passes (Hillis-Steele scan) on the signal's device. Other
settings run the literal recurrence: a NumPy loop over time, vectorised over elements, on
the CPU. Both paths compute in float64; results can differ only where a difference
lands exactly on a multiple of a threshold, where floating-point rounding decides.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from axonal.encoding._checks import require_float_tensor, require_int, threshold_tensor


def delta(
    signal: Tensor,
    threshold: float | Tensor,
    *,
    off_threshold: float | Tensor | None = None,
    refractory: int = 0,
    counts: bool = False,
) -> Tensor:
    """Encode a continuous signal as UP/DOWN level-crossing events.

    The exact rule is in the module docstring.

    Args:
        signal: time-major signal ``[T, ...]`` (T >= 1), floating dtype, in signal units.
        threshold: UP step ``theta_up`` (> 0), a number or a tensor broadcastable to
            ``signal.shape[1:]`` (e.g. one value per channel), in signal units.
        off_threshold: DOWN step ``theta_down`` in the same form; ``None`` means
            ``threshold``.
        refractory: number of steps (>= 0) an element stays silent after emitting.
        counts: emit the number of crossings per step instead of a {0, 1} flag.

    Returns:
        Events ``[T, ..., 2]`` with the last dim (UP, DOWN), in ``signal``'s dtype and
        device; step 0 is all zeros.

    Raises:
        TypeError: ``signal`` is not a floating tensor, or an argument has a wrong type.
        ValueError: ``signal`` is 0-d, empty in time or not finite; a threshold is not
            finite and > 0 or does not broadcast; ``refractory`` < 0.
    """
    require_float_tensor(signal, "signal")
    if signal.shape[0] < 1:
        raise ValueError(f"signal must have T >= 1 steps, got shape {tuple(signal.shape)}")
    element_shape, device = signal.shape[1:], signal.device
    up_step = threshold_tensor(threshold, "threshold", element_shape, device)
    down_step = (
        up_step
        if off_threshold is None
        else threshold_tensor(off_threshold, "off_threshold", element_shape, device)
    )
    refractory = require_int("refractory", refractory, 0)
    values = signal.to(torch.float64)
    if refractory == 0 and torch.equal(up_step, down_step):
        up, down = _delta_scan(values, up_step)
    else:
        up, down = _delta_loop(values, up_step, down_step, refractory)
    events = torch.stack((up, down), dim=-1)
    if not counts:
        events = events.clamp(max=1.0)
    return events.to(signal.dtype)


def delta_reconstruct(
    events: Tensor,
    threshold: float | Tensor,
    initial: Tensor | float,
    *,
    off_threshold: float | Tensor | None = None,
) -> Tensor:
    """Rebuild the staircase (the encoder's reference level) from delta events.

    ``level[t] = initial + threshold * cumsum(UP)[t] - off_threshold * cumsum(DOWN)[t]``.
    For ``counts=True`` events this is exactly the encoder's reference (up to rounding),
    so without refractory period it stays within one threshold of the signal. ``counts=False``
    events lose the multiplicity of multi-crossing steps and lag behind.

    Args:
        events: ``[T, ..., 2]`` non-negative event counts (UP, DOWN), floating dtype.
        threshold: UP step used by the encoder (number or tensor broadcastable to
            ``events.shape[1:-1]``), in signal units.
        initial: the signal at step 0, broadcastable to ``events.shape[1:-1]``.
        off_threshold: DOWN step used by the encoder; ``None`` means ``threshold``.

    Returns:
        Staircase signal ``[T, ...]`` in ``events``' dtype and device.

    Raises:
        TypeError: ``events`` is not a floating tensor.
        ValueError: ``events`` has a bad shape, negative or non-finite values; a threshold
            or ``initial`` is invalid.
    """
    require_float_tensor(events, "events", min_dim=2)
    if events.shape[-1] != 2 or bool((events < 0).any()):
        raise ValueError(
            "events must be non-negative counts of shape [T, ..., 2], got shape "
            f"{tuple(events.shape)} with min {float(events.min()):g}"
        )
    element_shape, device = events.shape[1:-1], events.device
    up_step = threshold_tensor(threshold, "threshold", element_shape, device)
    down_step = (
        up_step
        if off_threshold is None
        else threshold_tensor(off_threshold, "off_threshold", element_shape, device)
    )
    start = _initial_level(initial, element_shape, device)
    totals = events.to(torch.float64).cumsum(dim=0)
    level = start + up_step * totals[..., 0] - down_step * totals[..., 1]
    return level.to(events.dtype)


def _initial_level(
    initial: Tensor | float, element_shape: torch.Size, device: torch.device
) -> Tensor:
    """Float64 starting level of shape ``element_shape`` from a number or tensor."""
    start = torch.as_tensor(initial, dtype=torch.float64, device=device)
    if not bool(torch.isfinite(start).all()):
        raise ValueError("initial must be finite")
    try:
        return torch.broadcast_to(start, element_shape)
    except RuntimeError as error:
        raise ValueError(
            f"initial of shape {tuple(start.shape)} does not broadcast to the per-step "
            f"shape {tuple(element_shape)}"
        ) from error


def _delta_scan(values: Tensor, step: Tensor) -> tuple[Tensor, Tensor]:
    """Symmetric-threshold, no-refractory counts ``(UP, DOWN)``, each ``[T, ...]``.

    Step ``t`` maps the level index ``k`` to ``clamp(k, lo[t], hi[t])`` with
    ``lo = floor(q)``, ``hi = ceil(q)``. Applying ``[a1, b1]`` then ``[a2, b2]`` equals the
    single clamp ``[clamp(a1, a2, b2), clamp(b1, a2, b2)]``, so an inclusive scan of these
    pairs gives every prefix composition; applied to ``k = 0`` they give ``k[t]``.
    """
    levels = (values - values[0]) / step
    low, high = torch.floor(levels), torch.ceil(levels)
    offset = 1
    while offset < values.shape[0]:
        later_low, later_high = low[offset:], high[offset:]
        new_low = torch.clamp(low[:-offset], later_low, later_high)
        new_high = torch.clamp(high[:-offset], later_low, later_high)
        low[offset:], high[offset:] = new_low, new_high
        offset *= 2
    index = torch.clamp(torch.zeros_like(low), low, high)
    change = torch.diff(index, dim=0, prepend=torch.zeros_like(index[:1]))
    return change.clamp(min=0.0), (-change).clamp(min=0.0)


def _delta_loop(
    values: Tensor, up_step: Tensor, down_step: Tensor, refractory: int
) -> tuple[Tensor, Tensor]:
    """Literal recurrence as a NumPy loop over time: counts ``(UP, DOWN)``, each ``[T, ...]``."""
    steps = values.shape[0]
    signal = values.cpu().numpy().reshape(steps, -1)
    up_size = up_step.cpu().numpy().reshape(-1)
    down_size = down_step.cpu().numpy().reshape(-1)
    up = np.zeros_like(signal)
    down = np.zeros_like(signal)
    reference = signal[0].copy()
    ready_at = np.zeros(signal.shape[1], dtype=np.int64)
    gap = np.empty_like(reference)
    for t in range(1, steps):
        np.subtract(signal[t], reference, out=gap)
        n_up, n_down = up[t], down[t]
        np.floor_divide(gap, up_size, out=n_up)
        np.floor_divide(-gap, down_size, out=n_down)
        np.maximum(n_up, 0.0, out=n_up)
        np.maximum(n_down, 0.0, out=n_down)
        if refractory:
            blocked = ready_at > t
            n_up[blocked] = 0.0
            n_down[blocked] = 0.0
            ready_at[(n_up + n_down) > 0] = t + refractory + 1
        reference += n_up * up_size - n_down * down_size
    shape = values.shape
    return (
        torch.from_numpy(up).reshape(shape).to(values.device),
        torch.from_numpy(down).reshape(shape).to(values.device),
    )
