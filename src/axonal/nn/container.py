"""Containers that thread neuron state through a stack of layers, and streaming execution."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from axonal.nn.base import SpikingModule, check_sequence, check_step

__all__ = ["Sequential", "Streaming"]


class Sequential(SpikingModule, nn.Sequential):
    """Layers applied in order to a time-major sequence ``[T, B, ...]``.

    Spiking layers (:class:`SpikingModule`: neurons, recurrent layers, nested ``Sequential``)
    see the whole sequence and keep their state across time; any other module (``nn.Linear``,
    ``nn.Conv2d``, ``nn.Flatten``, ...) is applied to every time step at once by folding time
    into the batch (``[T*B, ...]``). The state is a list with one entry per layer (``None`` for
    stateless layers)::

        net = Sequential(nn.Linear(2, 64), LIF(), nn.Linear(64, 10), LI())
        out = net(x)                               # [T, B, 10]
        out, state = net(x, return_state=True)     # continue later with net(x2, state)
    """

    def __getitem__(self, index: int | slice) -> nn.Module:
        """A layer, or for a slice a plain :class:`Sequential` of those layers (also for
        subclasses such as the model zoo's networks, whose constructors take other
        arguments)."""
        if isinstance(index, slice):
            return Sequential(*list(self._modules.values())[index])
        return super().__getitem__(index)

    def run(self, x: Tensor, state: list[Any] | None = None) -> tuple[Tensor, list[Any]]:
        check_sequence(x, "Sequential")
        states = self._states(state)
        new_states: list[Any] = []
        for layer, layer_state in zip(self, states, strict=True):
            if isinstance(layer, SpikingModule):
                x, layer_state = layer(x, layer_state, return_state=True)
            else:
                time, batch = x.shape[:2]
                x = layer(x.flatten(0, 1)).unflatten(0, (time, batch))
            new_states.append(layer_state)
        return x, new_states

    def step(self, x_t: Tensor, state: list[Any] | None = None) -> tuple[Tensor, list[Any]]:
        check_step(x_t, "Sequential")
        new_states: list[Any] = []
        for layer, layer_state in zip(self, self._states(state), strict=True):
            if isinstance(layer, SpikingModule):
                x_t, layer_state = layer.step(x_t, layer_state)
            else:
                x_t = layer(x_t)
            new_states.append(layer_state)
        return x_t, new_states

    def _states(self, state: list[Any] | None) -> list[Any]:
        if state is None:
            return [None] * len(self)
        if len(state) != len(self):
            raise ValueError(f"state has {len(state)} entries, the container {len(self)} layers")
        return list(state)


class Streaming(nn.Module):
    """Run a spiking module one time step per call, keeping its state between calls.

    For closed-loop and online use (a sensor sample in, a decision out)::

        online = Streaming(net)
        for x_t in sensor:          # x_t: [B, ...]
            y_t = online(x_t)
        online.reset()              # back to rest before the next recording

    ``reset()`` is the one way to clear the state; multi-step calls of the wrapped module
    itself stay stateless.
    """

    def __init__(self, module: SpikingModule) -> None:
        super().__init__()
        if not isinstance(module, SpikingModule):
            raise TypeError(
                f"Streaming wraps an axonal SpikingModule, got {type(module).__name__}"
            )
        self.module = module
        self.state: Any = None

    def forward(self, x_t: Tensor) -> Tensor:
        out, self.state = self.module.step(x_t, self.state)
        return out

    def reset(self) -> None:
        """Forget the state: the next call starts from rest."""
        self.state = None
