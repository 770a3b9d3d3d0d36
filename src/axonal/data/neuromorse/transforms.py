"""Events -> dense time-major tensors."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from axonal.data.neuromorse.morse import NUM_CHANNELS
from axonal.data.neuromorse.stream import END_OFFSET

__all__ = ["ToDense"]


class ToDense:
    """Convert events (fields ``t``, ``x``) to a ``[T, 2]`` tensor of {0, 1} spikes.

    Args:
        num_steps: ``T``. ``None`` gives the authors' padded length ``last spike + 1 + 15``
            (at most 132 for the clean keywords). Events with ``t < 0`` or ``t >= T`` are
            dropped.
        dtype: tensor dtype.
    """

    def __init__(self, num_steps: int | None = None, dtype: torch.dtype = torch.float32) -> None:
        if num_steps is not None and (not isinstance(num_steps, int) or num_steps < 1):
            raise ValueError(f"num_steps must be a positive int or None, got {num_steps!r}")
        self.num_steps = num_steps
        self.dtype = dtype

    def __call__(self, events: np.ndarray) -> Tensor:
        t = np.asarray(events["t"], dtype=np.int64)
        x = np.asarray(events["x"], dtype=np.int64)
        if len(x) and (x.min() < 0 or x.max() >= NUM_CHANNELS):
            raise ValueError(f"channels must be in [0, {NUM_CHANNELS}), got {x.min()}..{x.max()}")
        steps = self.num_steps
        if steps is None:
            steps = int(t.max(initial=-1)) + 1 + END_OFFSET
        keep = (t >= 0) & (t < steps)
        dense = torch.zeros(steps, NUM_CHANNELS, dtype=self.dtype)
        dense[torch.from_numpy(t[keep]), torch.from_numpy(x[keep])] = 1
        return dense

    def __repr__(self) -> str:
        return f"ToDense(num_steps={self.num_steps}, dtype={self.dtype})"
