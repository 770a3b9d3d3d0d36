"""Event-driven inference: ``nn.Linear`` / ``nn.Conv2d`` that add weight columns of spikes.

:class:`EventLinear` and :class:`EventConv2d` are drop-in subclasses of ``nn.Linear`` and
``nn.Conv2d`` (same constructor, parameters and ``state_dict``). Their forward runs the event
kernels of :mod:`axonal.kernels.event` (work proportional to the number of spikes) when all of
these hold, and the dense op otherwise:

- no gradient is needed: under ``torch.no_grad()`` / ``torch.inference_mode()``, or nothing
  (input, weight, bias) requires grad; training always takes the dense path;
- the input is a CPU float32/float64 tensor of the weight's dtype and shape (``EventConv2d``:
  ``padding_mode="zeros"``);
- every input element is 0 or 1, and the fraction of nonzero ones (the density) is below
  ``crossover``. Both are measured in one pass over the input (about 1 ms per 1.6 M elements
  on one thread of the machine below).

``layer.last_path`` (``"event"`` or ``"dense"``) and ``layer.last_density`` tell what the
latest call did. :func:`event_driven` converts a whole model in place and back.

Crossovers (class attributes, overridable per layer with ``layer.crossover = ...``) come from
``python -m benchmarks.sparse --threads 1 --clock cpu`` (``docs/benchmarks.md``), which times
both paths (CPU time, one thread) over densities from 0.1 % to 50 % on a shared, loaded
2-vCPU Intel Xeon (Sapphire Rapids) KVM guest: Linear(1024, 1024) on 1600 rows crossed at
8.4 %, so :data:`LINEAR_CROSSOVER` = 0.08; the 3x3 convolutions on 320 maps of 34x34 crossed at
4.4 % (2 -> 16 channels) and 5.5 % (16 -> 32), so :data:`CONV_CROSSOVER` = 0.04, the lower
one rounded down. CPU time counts the page faults of fresh output memory, which the dense
convolution takes more of; on compute alone the 16 -> 32 convolution crosses nearer 2.5-3 %.
Layers with more input channels make the dense op more efficient and probably cross lower:
set ``crossover`` per layer from a measurement when it matters.
The event path keeps a rearranged copy of the weight (as much memory again) while the
weight is unchanged.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from types import ModuleType

import torch
from torch import Tensor, nn

__all__ = ["CONV_CROSSOVER", "LINEAR_CROSSOVER", "EventConv2d", "EventLinear", "event_driven"]

LINEAR_CROSSOVER = 0.08  # measured by benchmarks/sparse.py: 8.4 %, see the module docstring
CONV_CROSSOVER = 0.04  # measured by benchmarks/sparse.py: 4.4 % and 5.5 %, see the docstring
_DTYPES = (torch.float32, torch.float64)
_STATE = ("crossover", "last_path", "last_density", "_event_layout")  # instance attributes


@functools.cache
def _kernels() -> ModuleType | None:
    """:mod:`axonal.kernels.event`, imported on first use (numba); None, after one warning,
    if it cannot be imported."""
    try:
        from axonal.kernels import event
    except ImportError as error:
        warnings.warn(
            f"axonal: the event kernels are unavailable ({error}); Event layers run dense",
            RuntimeWarning,
            stacklevel=4,
        )
        return None
    return event


def _check_crossover(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"crossover must be a density in [0, 1], got {value!r}")
    return float(value)


class _EventDriven(nn.Module):
    """The shared switch: which path a call takes, and the cached weight layout."""

    crossover: float
    last_path: str | None = None
    last_density: float | None = None
    weight: Tensor
    bias: Tensor | None

    def _set_crossover(self, crossover: float | None) -> None:
        if crossover is not None:
            self.crossover = _check_crossover(crossover)

    def _fits(self, x: Tensor) -> bool:
        """Whether the event kernel applies to ``x`` (layer-specific shape checks)."""
        raise NotImplementedError

    def _event_kernels(self, x: Tensor) -> ModuleType | None:
        """The kernel module if this call takes the event path (and records the choice)."""
        self.last_path, self.last_density = "dense", None
        weights = [t for t in (self.weight, self.bias) if t is not None]
        if (
            _check_crossover(self.crossover) == 0
            or not isinstance(x, Tensor)
            or x.device.type != "cpu"
            or x.dtype not in _DTYPES
            or any(t.dtype != x.dtype or t.device != x.device for t in weights)
            or (torch.is_grad_enabled() and any(t.requires_grad for t in (x, *weights)))
            or x.numel() == 0
            or not self._fits(x)
        ):
            return None
        kernels = _kernels()
        if kernels is None:
            return None
        self.last_density, binary = kernels.census(x)
        if not binary or self.last_density >= self.crossover:
            return None
        self.last_path = "event"
        return kernels

    def _layout(self, make: Callable[[Tensor], Tensor], *extra: int) -> Tensor:
        """``make(weight)``, kept while the weight (its storage, version, dtype, shape) and
        ``extra`` stay the same."""
        w = self.weight
        key = (w.data_ptr(), w._version, w.dtype, tuple(w.shape), *extra)
        cached = self.__dict__.get("_event_layout")
        if cached is None or cached[0] != key:
            cached = (key, make(w))
            self.__dict__["_event_layout"] = cached
        return cached[1]


class EventLinear(_EventDriven, nn.Linear):
    """``nn.Linear`` that, at inference on binary inputs sparser than ``crossover``, adds the
    weight columns of the active inputs (:func:`axonal.kernels.event.spike_linear`).

    Input ``[..., in_features]`` (e.g. ``[T, B, in]``), output ``[..., out_features]``, as
    ``nn.Linear``; the event path equals the dense one up to float rounding.
    ``crossover``: density below which the event path runs (default :data:`LINEAR_CROSSOVER`).
    """

    crossover = LINEAR_CROSSOVER

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None, *, crossover: float | None = None) -> None:  # fmt: skip
        super().__init__(in_features, out_features, bias, device, dtype)
        self._set_crossover(crossover)

    def _fits(self, x: Tensor) -> bool:
        return x.dim() >= 1 and x.shape[-1] == self.in_features

    def forward(self, input: Tensor) -> Tensor:
        kernels = self._event_kernels(input)
        if kernels is None:
            return super().forward(input)
        layout = self._layout(kernels.linear_layout)
        return kernels.spike_linear(input, self.weight, self.bias, layout=layout)


class EventConv2d(_EventDriven, nn.Conv2d):
    """``nn.Conv2d`` that, at inference on binary inputs sparser than ``crossover``, scatters
    the kernel of each input spike into the outputs it reaches
    (:func:`axonal.kernels.event.spike_conv2d`).

    Input ``[N, C, H, W]`` or ``[C, H, W]``, output as ``nn.Conv2d`` (contiguous); every
    stride, padding (also ``"same"``), dilation and groups; ``padding_mode="zeros"`` only (the
    others run dense). ``crossover``: density below which the event path runs (default
    :data:`CONV_CROSSOVER`).
    """

    crossover = CONV_CROSSOVER

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None, *, crossover: float | None = None) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)  # fmt: skip
        self._set_crossover(crossover)

    def _fits(self, x: Tensor) -> bool:
        return (
            self.padding_mode == "zeros"
            and x.dim() in (3, 4)
            and x.shape[-3] == self.in_channels
        )

    def forward(self, input: Tensor) -> Tensor:
        kernels = self._event_kernels(input)
        if kernels is None:
            return super().forward(input)
        layout = self._layout(functools.partial(kernels.conv2d_layout, groups=self.groups),
                              self.groups)  # fmt: skip
        batched = input if input.dim() == 4 else input.unsqueeze(0)
        out = kernels.spike_conv2d(batched, self.weight, self.bias, self.stride, self.padding,
                                   self.dilation, self.groups, layout=layout)  # fmt: skip
        return out if input.dim() == 4 else out.squeeze(0)


_SWAPS: dict[type[nn.Module], type[nn.Module]] = {nn.Linear: EventLinear, nn.Conv2d: EventConv2d}


def event_driven(model: nn.Module, enable: bool = True) -> nn.Module:
    """Make every ``nn.Linear`` / ``nn.Conv2d`` of ``model`` (itself included) event-driven,
    in place; ``enable=False`` turns every ``EventLinear`` / ``EventConv2d`` back.

    Only the class of each layer changes (as ``torch.nn.utils.parametrize`` does): the same
    module objects, parameters, hooks and ``state_dict``; subclasses of the two (e.g. a
    parametrized layer) are left alone. Returns ``model``. Raises ValueError if ``model``
    holds no layer of either kind.
    """
    swaps = _SWAPS if enable else {new: old for old, new in _SWAPS.items()}
    found = [m for m in model.modules() if type(m) in (*_SWAPS, *_SWAPS.values())]
    if not found:
        raise ValueError(
            f"{type(model).__name__} holds no nn.Linear or nn.Conv2d to make event-driven"
        )
    for module in found:
        if type(module) in swaps:
            if not enable:
                for name in _STATE:
                    module.__dict__.pop(name, None)
            module.__class__ = swaps[type(module)]
    return model
