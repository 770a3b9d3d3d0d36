"""Base classes for modules that process time-major sequences and carry state over time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from axonal import kernels
from axonal.functional.neurons import initial_state

__all__ = ["Neuron", "SpikingModule", "check_sequence", "check_step"]


def check_sequence(x: Tensor, who: str) -> None:
    """Raise a clear error unless ``x`` is a floating-point time-major ``[T, B, ...]`` tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{who} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(
            f"{who} expects a time-major input [T, B, ...] (at least 2 dims), "
            f"got shape {tuple(x.shape)}; for one time step use .step(x_t)"
        )
    if not x.is_floating_point():
        raise TypeError(f"{who} expects a floating-point input, got {x.dtype}")


def check_step(x: Tensor, who: str) -> None:
    """Raise a clear error unless ``x`` is a floating-point ``[B, ...]`` tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{who} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 1:
        raise ValueError(f"{who}.step expects [B, ...] (at least 1 dim), got a scalar")
    if not x.is_floating_point():
        raise TypeError(f"{who} expects a floating-point input, got {x.dtype}")


class SpikingModule(nn.Module):
    """A module over time-major sequences with an explicit state.

    - ``run(x, state=None) -> (out, state)``: a whole sequence ``[T, B, ...]``.
    - ``step(x_t, state=None) -> (out_t, state)``: one time step ``[B, ...]``.
    - ``forward(x, state=None, return_state=False)``: ``run``, returning only the output unless
      ``return_state``. Calls are stateless: ``state=None`` starts from rest every time.

    ``time_local``: whether running a sequence in consecutive pieces, passing the state on,
    gives the whole run's result (neurons, recurrent layers, delays: yes). A module that mixes
    the time steps of a sequence (e.g. attention over T) sets it to ``False``, and
    :class:`axonal.nn.TimeChunked` refuses it.
    """

    time_local: ClassVar[bool] = True

    def run(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        raise NotImplementedError

    def step(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        raise NotImplementedError

    def forward(self, x: Tensor, state: Any = None, *, return_state: bool = False):
        out, state = self.run(x, state)
        return (out, state) if return_state else out


class Neuron(SpikingModule):
    """A layer of neurons defined by a pure step function of :mod:`axonal.functional`.

    Subclasses set ``step_function`` and ``state_type`` and implement :meth:`parameters_for`.
    An optional ``input_scale`` (set by ``from_continuous``) multiplies the input current
    before the dynamics, e.g. ``(1 - beta) * r`` for a continuous LIF.
    """

    step_function: ClassVar[Callable[..., tuple[Tensor, Any]]]
    state_type: ClassVar[type]

    def __init__(self, input_scale: Tensor | float | None = None) -> None:
        super().__init__()
        scale = None if input_scale is None else torch.as_tensor(input_scale, dtype=torch.float)
        if scale is not None and scale.dim() == 0 and float(scale) == 1.0:
            scale = None
        self.register_buffer("input_scale", scale)

    def parameters_for(self, dtype: torch.dtype) -> Any:
        """The NamedTuple of parameters for the step function, with tensors cast to ``dtype``."""
        raise NotImplementedError

    def _value(self, name: str, value: Tensor | float, learn: bool) -> None:
        """Store a neuron constant as a trainable Parameter (``learn``) or a buffer."""
        tensor = torch.as_tensor(value, dtype=torch.get_default_dtype()).detach().clone()
        if learn:
            setattr(self, name, nn.Parameter(tensor))
        else:
            self.register_buffer(name, tensor)

    def _decay(self, name: str, dtype: torch.dtype) -> Tensor:
        """A per-step decay constant (``beta``, ``alpha``) cast to ``dtype``; a trainable one is
        clamped to [0, 1] first, since the optimizer may push it outside."""
        value = getattr(self, name)
        if isinstance(value, nn.Parameter):
            value = value.clamp(0, 1)
        return value.to(dtype)

    def _drive(self, x: Tensor) -> Tensor:
        return x if self.input_scale is None else x * self.input_scale.to(x.dtype)

    def step(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        check_step(x_t, type(self).__name__)
        x_t = self._drive(x_t)
        if state is None:
            state = initial_state(self.state_type, x_t)
        return type(self).step_function(x_t, state, self.parameters_for(x_t.dtype))

    def run(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        check_sequence(x, type(self).__name__)
        x = self._drive(x)
        if state is None:
            state = initial_state(self.state_type, x[0])
        return kernels.scan(type(self).step_function, x, state, self.parameters_for(x.dtype))


class CellMode:
    """Mixin making ``forward`` one step: ``cell(x_t, state=None) -> (out_t, state)``."""

    def forward(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        return self.step(x_t, state)  # type: ignore[attr-defined]
