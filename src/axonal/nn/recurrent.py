"""Recurrent spiking layers: neurons whose own spikes feed back through a weight matrix."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from axonal.functional.neurons import LIFState
from axonal.functional.surrogate import Surrogate
from axonal.kernels import reference
from axonal.nn.base import CellMode, SpikingModule, check_sequence
from axonal.nn.neurons import LIF

__all__ = ["RLIF", "RLIFCell", "RLIFState"]


class RLIFState(NamedTuple):
    """Membrane after reset ``v`` and the previous step's spikes ``s``, both ``[B, size]``."""

    v: Tensor
    s: Tensor


class RLIF(SpikingModule):
    """Recurrent LIF layer of ``size`` neurons: ``v[t] = beta v'[t-1] + x[t] + W s[t-1] (+ b)``.

    Input ``[T, B, size]`` (the already-projected feed-forward current), output spikes
    ``[T, B, size]``. ``recurrent`` is an ``nn.Linear(size, size)``; the LIF constants and their
    options are those of :class:`axonal.nn.LIF`.
    """

    def __init__(
        self,
        size: int,
        beta: Tensor | float = 0.9,
        threshold: Tensor | float = 1.0,
        reset: str = "subtract",
        surrogate: str | Surrogate = "atan",
        *,
        bias: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        detach_reset: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        self.size = size
        self.recurrent = nn.Linear(size, size, bias=bias)
        self.neuron = LIF(
            beta, threshold, reset, surrogate, learn_beta=learn_beta,
            learn_threshold=learn_threshold, detach_reset=detach_reset,
        )  # fmt: skip

    def _check_size(self, x: Tensor) -> None:
        if x.shape[-1] != self.size:
            raise ValueError(
                f"RLIF of size {self.size} expects [..., {self.size}], got {tuple(x.shape)}"
            )

    def step(self, x_t: Tensor, state: RLIFState | None = None) -> tuple[Tensor, RLIFState]:
        self._check_size(x_t)
        if state is None:
            zeros = torch.zeros_like(x_t)
            state = RLIFState(zeros, zeros)
        s, lif = self.neuron.step(x_t + self.recurrent(state.s), LIFState(state.v))
        return s, RLIFState(lif.v, s)

    def run(self, x: Tensor, state: RLIFState | None = None) -> tuple[Tensor, RLIFState]:
        check_sequence(x, "RLIF")
        self._check_size(x)
        return reference.scan(lambda x_t, st, _: self.step(x_t, st), x, state, None)


class RLIFCell(CellMode, RLIF):
    """One recurrent LIF step: ``cell(x_t [B, size], state=None) -> (spikes, RLIFState)``."""
