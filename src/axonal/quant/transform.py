"""One-call, reversible quantisation of a model's layers (QAT and post-training quantisation).

:func:`quantize_model` registers a :class:`WeightQuantizer` parametrization
(:mod:`torch.nn.utils.parametrize`) on the ``weight`` of every ``nn.Linear``, ``nn.Conv1d`` and
``nn.Conv2d``: the layer then computes with fake-quantised weights, while the float weights stay
the trainable parameters (straight-through gradient), which is weight QAT when trained and PTQ
when not. With ``activations=True`` it also attaches an :class:`ActivationQuantizer` to each
layer: a forward pre-hook that fake-quantises the layer's input to int8, absmax per token.
:func:`dequantize_model` removes both and leaves the original float weights, bit for bit.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.utils.hooks import RemovableHandle

from axonal.quant._checks import check_bits
from axonal.quant.weights import (
    SCHEMES,
    quantize_activation_int8,
    quantize_ternary,
    quantize_uniform,
    ternary_codes,
    uniform_codes,
)

__all__ = [
    "QUANTIZABLE",
    "ActivationQuantizer",
    "WeightQuantizer",
    "activation_quantizers",
    "dequantize_model",
    "quantize_model",
    "quantized_layers",
]

QUANTIZABLE: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d)
_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


class WeightQuantizer(nn.Module):
    """Parametrization ``W -> codes * scale`` (see :mod:`axonal.quant.weights`).

    ``scheme="uniform"`` takes ``bits`` in ``[2, 16]``; ``scheme="ternary"`` stores 2-bit codes
    (``bits`` must be ``None`` or 2). ``per_channel`` gives one scale per output channel (axis 0).
    """

    def __init__(self, scheme: str = "uniform", bits: int | None = 8, per_channel: bool = True):
        super().__init__()
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        if scheme == "ternary" and bits not in (None, 2):
            raise ValueError(f"ternary weights use 2-bit codes: bits must be None or 2, got {bits}")
        self.scheme = scheme
        self.bits = 2 if scheme == "ternary" else check_bits(bits, low=2, name="weight_bits")
        self.per_channel = per_channel

    def codes(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """Integer codes (as floats, shaped like ``w``) and the scale broadcasting against them."""
        if self.scheme == "ternary":
            return ternary_codes(w, self.per_channel)
        return uniform_codes(w, self.bits, self.per_channel)

    def forward(self, w: Tensor) -> Tensor:
        if self.scheme == "ternary":
            return quantize_ternary(w, self.per_channel)
        return quantize_uniform(w, self.bits, self.per_channel)

    def extra_repr(self) -> str:
        return f"scheme={self.scheme!r}, bits={self.bits}, per_channel={self.per_channel}"


class ActivationQuantizer(nn.Module):
    """Int8 absmax-per-token fake quantisation of a layer's input (straight-through gradient),
    run as the layer's forward pre-hook; see :func:`axonal.quant.quantize_activation_int8`.

    ``dim`` holds a token's features: -1 for a Linear's ``[..., D]`` input, 1 for a
    convolution's ``[N, C, ...]`` input (one token per position, its ``C`` channels). Attach it
    with :meth:`attach` (as the submodule ``activation_quantizer`` of the layer) and remove it
    with :meth:`detach`.
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim
        self._handle: RemovableHandle | None = None

    @classmethod
    def for_layer(cls, layer: nn.Module) -> ActivationQuantizer:
        """The quantiser for a Linear (``dim=-1``) or a convolution (``dim=1``) layer."""
        if isinstance(layer, nn.Linear):
            return cls(dim=-1)
        if isinstance(layer, _CONVOLUTIONS):
            return cls(dim=1)
        raise TypeError(
            f"activation quantisation supports nn.Linear and nn.Conv1d/2d/3d inputs, got "
            f"{type(layer).__name__}"
        )

    def forward(self, x: Tensor) -> Tensor:
        return quantize_activation_int8(x, self.dim)

    def attach(self, layer: nn.Module) -> None:
        """Register on ``layer``: the submodule ``layer.activation_quantizer`` and its hook."""
        if hasattr(layer, "activation_quantizer"):
            name = parametrize.type_before_parametrizations(layer).__name__
            raise ValueError(f"{name} already has an activation_quantizer")
        layer.activation_quantizer = self
        self._handle = layer.register_forward_pre_hook(self._hook)

    def detach(self, layer: nn.Module) -> None:
        """Undo :meth:`attach` on ``layer``."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        del layer.activation_quantizer

    def _hook(self, layer: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (self(args[0]), *args[1:])

    def extra_repr(self) -> str:
        return f"bits=8, dim={self.dim}"


def activation_quantizers(model: nn.Module) -> dict[str, ActivationQuantizer]:
    """Every :class:`ActivationQuantizer` attached to a layer of ``model``, by layer name."""
    return {
        name: module.activation_quantizer
        for name, module in model.named_modules()
        if isinstance(getattr(module, "activation_quantizer", None), ActivationQuantizer)
    }


def quantized_layers(model: nn.Module) -> dict[str, tuple[nn.Module, WeightQuantizer]]:
    """Every layer of ``model`` whose weight :func:`quantize_model` parametrised, by name."""
    found = {}
    for name, module in model.named_modules():
        if parametrize.is_parametrized(module, "weight"):
            for p in module.parametrizations["weight"]:
                if isinstance(p, WeightQuantizer):
                    found[name] = (module, p)
    return found


def quantize_model(
    model: nn.Module,
    weight_bits: int | None = 8,
    scheme: str = "uniform",
    *,
    per_channel: bool = True,
    layer_types: tuple[type[nn.Module], ...] = QUANTIZABLE,
    activations: bool = False,
) -> nn.Module:
    """Fake-quantise the weights of every layer of ``layer_types`` in ``model`` (in place) and,
    with ``activations=True``, their inputs too (int8, absmax per token: the features of a
    Linear's input, the channels at each position of a convolution's).

    Returns ``model``. Raises a ValueError if the model holds no such layer or is already
    quantised (call :func:`dequantize_model` first), a TypeError if ``activations`` is set
    and a layer type is not a Linear or a convolution.
    """
    if quantized_layers(model) or activation_quantizers(model):
        raise ValueError("model is already quantised; call dequantize_model(model) first")
    targets = [m for m in model.modules() if isinstance(m, layer_types)]
    if not targets:
        names = ", ".join(t.__name__ for t in layer_types)
        raise ValueError(f"model has no layer to quantise (looked for {names})")
    if activations:  # built first: an unsupported layer fails before the model changes
        inputs = [ActivationQuantizer.for_layer(m) for m in targets]
    for module in targets:
        quantizer = WeightQuantizer(scheme, weight_bits, per_channel)
        parametrize.register_parametrization(module, "weight", quantizer)
    if activations:
        for module, input_quantizer in zip(targets, inputs, strict=True):
            input_quantizer.attach(module)
    return model


def _own_class(module: nn.Module) -> None:
    """Give a parametrised ``module`` its own copy of its class. ``copy.deepcopy`` of a
    parametrised module shares the class that holds the ``weight`` property, and removing a
    parametrization deletes that property from the class: without this, dequantising a copy
    would break the original."""
    cls = module.__class__
    namespace = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
    module.__class__ = type(cls.__name__, cls.__bases__, namespace)


def dequantize_model(model: nn.Module) -> nn.Module:
    """Remove the weight and activation quantisers of :func:`quantize_model`; the float
    weights come back exactly. Returns ``model``."""
    for module, _ in quantized_layers(model).values():
        _own_class(module)
        parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
    for name, quantizer in activation_quantizers(model).items():
        quantizer.detach(model.get_submodule(name))
    return model
