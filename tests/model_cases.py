"""Shared by the model-zoo test files: a few Adam steps on one batch, recording the loss."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def train_losses(model: nn.Module, x: Tensor, target: Tensor, steps: int) -> list[float]:
    """Cross-entropy of the time-averaged logits of ``model(x)`` ``[T, B, classes]`` before each
    of ``steps`` Adam steps (lr 1e-2) on the batch ``(x, target)``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x).mean(0), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
