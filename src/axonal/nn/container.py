"""Containers that thread neuron state through a stack of layers, chunked and streaming
execution."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from axonal.kernels._memory import empty_cpu
from axonal.nn.base import SpikingModule, check_sequence, check_step

__all__ = ["Sequential", "Streaming", "TimeChunked"]


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


def _positive_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1 (time steps per chunk), got {steps!r}")
    return steps


def _empty_sequence(first: Tensor, time: int) -> Tensor:
    """An uninitialised ``[time, *first.shape[1:]]`` tensor like ``first``; on the CPU
    allocated as the CPU kernels allocate their outputs (huge pages:
    :func:`axonal.kernels._memory.empty_cpu`)."""
    shape = (time, *first.shape[1:])
    if first.device.type == "cpu":
        return empty_cpu(shape, first.dtype)
    return first.new_empty(shape)


class TimeChunked(SpikingModule):
    """Run ``module`` over ``[T, B, ...]`` a chunk of ``steps`` time steps at a time, carrying
    its state from chunk to chunk: for modules that are local and causal in time, the same
    output and final state as one whole run (bitwise where the layers are batch-size
    invariant, see below), with intermediates of only ``steps`` time steps in memory.

    Why: a :class:`Sequential` folds time into the batch, so each layer's output (e.g.
    ``[20, 16, 32, 34, 34]``, 47 MB) is written to memory and read back by the next layer;
    chunk by chunk the intermediates of a few steps stay in the cache and only the final output
    ``[T, B, ...]`` (allocated once) goes to memory.

    When it chunks: only without autograd (``torch.no_grad()`` / ``torch.inference_mode()``)
    and when no submodule is in training mode (BatchNorm in training mode normalises with the
    statistics of the batch it sees; with autograd the graph keeps every chunk anyway);
    otherwise, and when ``T <= steps``, it runs ``module.run`` on the whole sequence.

    Exact for: neurons, recurrent layers, :class:`Delay`, :class:`Sequential` and the model zoo
    networks built from those with per-step layers (Linear, Conv2d, pooling, Flatten, eval-mode
    BatchNorm), as far as those layers give each sample the same result in a batch of
    ``steps * B`` as in one of ``T * B``. PyTorch's CPU kernels do not always: measured on an
    AVX-512 Xeon, Linear differs in the last bits on fewer than 13-16 rows (with 2 threads,
    Linear(1024, 1024) on up to 128 rows) and Conv2d on one sample, so there the chunked run
    equals the whole run up to float rounding (which can flip a spike sitting at threshold).
    Event-driven layers (:mod:`axonal.nn.event`) choose their path per call from the density of
    what they see, so a chunk may take the other path (again equal up to rounding).
    A module that looks across time within a sequence (a submodule with the class attribute
    ``time_local = False``, e.g. :class:`axonal.models.sma.SMA`) is refused at construction.

    Args:
        module: the spiking module to run; its ``run`` must keep the time axis (``T`` steps
            in, ``T`` out).
        steps: time steps per chunk (an int >= 1); the last chunk takes the remainder.

    Input ``x [T, B, ...]``, output ``module``'s ``[T, B, ...]``; the state is ``module``'s.
    ``step(x_t, state)`` is ``module.step``.
    """

    def __init__(self, module: SpikingModule, steps: int) -> None:
        super().__init__()
        if not isinstance(module, SpikingModule):
            raise TypeError(
                f"TimeChunked wraps an axonal SpikingModule, got {type(module).__name__}"
            )
        mixing = (m for m in module.modules() if isinstance(m, SpikingModule) and not m.time_local)
        across = sorted({type(m).__name__ for m in mixing})
        if across:
            raise ValueError(
                f"TimeChunked cannot split {type(module).__name__} into chunks of time: "
                f"{', '.join(across)} look(s) across the time steps of a sequence "
                "(time_local = False); run it on whole sequences"
            )
        self.module = module
        self.steps = _positive_steps(steps)

    def chunking(self) -> bool:
        """Whether a call now runs chunk by chunk: no autograd and every submodule in eval
        mode."""
        return not torch.is_grad_enabled() and not any(m.training for m in self.module.modules())

    def run(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        check_sequence(x, "TimeChunked")
        time = x.shape[0]
        if time <= self.steps or not self.chunking():
            return self.module(x, state, return_state=True)
        out = None
        for start in range(0, time, self.steps):
            chunk = x[start : start + self.steps]
            y, state = self.module(chunk, state, return_state=True)
            if y.shape[0] != chunk.shape[0]:
                raise ValueError(
                    f"TimeChunked needs a module that keeps the time axis: {chunk.shape[0]} "
                    f"steps in gave an output of shape {tuple(y.shape)}"
                )
            if out is None:
                out = _empty_sequence(y, time)
            out[start : start + chunk.shape[0]] = y
        return out, state

    def step(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        return self.module.step(x_t, state)

    def extra_repr(self) -> str:
        return f"steps={self.steps}"


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
