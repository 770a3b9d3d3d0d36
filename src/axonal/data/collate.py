"""Batching of variable-length time-major samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import default_collate

__all__ = ["pad_time_major", "time_major_collate"]


def pad_time_major(tensors: Sequence[Tensor]) -> Tensor:
    """Stack ``[T_i, ...]`` tensors into ``[T_max, B, ...]``, zero-padding each at the end
    (zero = no spikes / no input). Trailing shapes must agree."""
    if len(tensors) == 0:
        raise ValueError("expected at least one tensor, got none")
    tensors = [torch.as_tensor(t) for t in tensors]
    shapes = {tuple(t.shape[1:]) for t in tensors}
    if any(t.ndim == 0 for t in tensors) or len(shapes) != 1:
        raise ValueError(
            "expected [T_i, ...] tensors with equal trailing shapes, got shapes "
            f"{[tuple(t.shape) for t in tensors]}"
        )
    return pad_sequence(tensors)


def time_major_collate(samples: Sequence[tuple[Any, Any]]) -> tuple[Tensor, Any]:
    """DataLoader ``collate_fn`` for ``(input [T_i, ...], target)`` samples.

    Returns ``(inputs [T_max, B, ...], targets)``; targets are collated with
    ``torch.utils.data.default_collate`` (ints -> tensor ``[B]``, tensors -> stacked).
    """
    if len(samples) == 0:
        raise ValueError("time_major_collate needs at least one sample, got 0")
    return pad_time_major([x for x, _ in samples]), default_collate([y for _, y in samples])
