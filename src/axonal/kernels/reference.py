"""The ground truth for every kernel: a plain PyTorch loop of a one-step function over time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["scan"]

Step = Callable[[Tensor, Any, Any], tuple[Tensor, Any]]


def scan(step: Step, x: Tensor, state: Any, params: Any) -> tuple[Tensor, Any]:
    """Run ``step`` over the leading time axis of ``x`` ``[T, B, ...]``.

    Returns the stacked outputs ``[T, B, ...]`` and the state after the last step.
    The loop uses ``x.unbind(0)``: indexing ``x[t]`` would make autograd allocate a full
    ``[T, ...]`` zero tensor per step in the backward pass.
    """
    outputs = []
    for x_t in x.unbind(0):
        out, state = step(x_t, state, params)
        outputs.append(out)
    return torch.stack(outputs), state
