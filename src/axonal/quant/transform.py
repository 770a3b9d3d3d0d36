"""One-call, reversible weight quantisation of a model (QAT and post-training quantisation).

:func:`quantize_model` registers a :class:`WeightQuantizer` parametrization
(:mod:`torch.nn.utils.parametrize`) on the ``weight`` of every ``nn.Linear``, ``nn.Conv1d`` and
``nn.Conv2d``: the layer then computes with fake-quantised weights, while the float weights stay
the trainable parameters (straight-through gradient), which is weight QAT when trained and PTQ
when not. :func:`dequantize_model` removes the parametrizations and leaves the original float
weights, bit for bit.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils import parametrize

from axonal.quant._checks import check_bits
from axonal.quant.weights import (
    SCHEMES,
    quantize_ternary,
    quantize_uniform,
    ternary_codes,
    uniform_codes,
)

__all__ = [
    "QUANTIZABLE",
    "WeightQuantizer",
    "dequantize_model",
    "quantize_model",
    "quantized_layers",
]

QUANTIZABLE: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d)


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
) -> nn.Module:
    """Fake-quantise the weights of every layer of ``layer_types`` in ``model`` (in place).

    Returns ``model``. Raises a ValueError if the model holds no such layer or is already
    quantised (call :func:`dequantize_model` first).
    """
    if quantized_layers(model):
        raise ValueError("model is already quantised; call dequantize_model(model) first")
    targets = [m for m in model.modules() if isinstance(m, layer_types)]
    if not targets:
        names = ", ".join(t.__name__ for t in layer_types)
        raise ValueError(f"model has no layer to quantise (looked for {names})")
    for module in targets:
        quantizer = WeightQuantizer(scheme, weight_bits, per_channel)
        parametrize.register_parametrization(module, "weight", quantizer)
    return model


def dequantize_model(model: nn.Module) -> nn.Module:
    """Remove the weight quantisers of :func:`quantize_model`; the float weights come back
    exactly. Returns ``model``."""
    for module, _ in quantized_layers(model).values():
        parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
    return model
