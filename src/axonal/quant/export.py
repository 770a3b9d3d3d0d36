"""Integer export of a quantised model and a model size report.

:func:`export_integer` gives, for every layer quantised by
:func:`axonal.quant.quantize_model`, its integer weight codes and scales
(``codes * scale`` is exactly the fake-quantised weight the model computes with), and for every
neuron with a :class:`StateQuantizer`, its state levels and threshold. The tensors can be saved
with ``safetensors`` as they are. :func:`model_size_report` counts the bytes of the weights at
each precision.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from axonal.quant.calibrate import spiking_neurons
from axonal.quant.state import StateQuantizer
from axonal.quant.transform import QUANTIZABLE, quantized_layers

__all__ = ["PRECISIONS", "export_integer", "model_size_report"]

# bits per weight and whether the scale is per output channel (True) or per tensor
PRECISIONS: dict[str, tuple[int, bool]] = {
    "float32": (32, False),
    "float16": (16, False),
    "int8": (8, True),
    "int4": (4, True),
    "ternary": (2, False),
}
_SCALE_BYTES = 4  # float32 scales


def _code_dtype(bits: int) -> torch.dtype:
    return torch.int8 if bits <= 8 else torch.int16


def export_integer(model: nn.Module) -> dict[str, Tensor]:
    """Integer tensors of a quantised model, keyed ``"<layer>.weight_codes"`` (int8, or int16
    above 8 bits; same shape as the weight), ``"<layer>.weight_scale"`` (float32, broadcasting
    against the codes), ``"<neuron>.state_levels"`` and ``"<neuron>.threshold"`` (float32).
    Biases and other float parameters are not included (see ``model.state_dict()``)."""
    layers = quantized_layers(model)
    if not layers:
        raise ValueError("model has no quantised layer; call quantize_model(model) first")
    out: dict[str, Tensor] = {}
    for name, (module, quantizer) in layers.items():
        codes, scale = quantizer.codes(module.parametrizations["weight"].original)
        out[f"{name}.weight_codes"] = codes.to(_code_dtype(quantizer.bits))
        out[f"{name}.weight_scale"] = scale.to(torch.float32)
    for name, neuron in spiking_neurons(model).items():
        if isinstance(neuron.state_quant, StateQuantizer):
            out[f"{name}.state_levels"] = neuron.state_quant.levels.to(torch.float32)
            out[f"{name}.threshold"] = neuron.threshold.detach().to(torch.float32)
    return out


def _weight_bytes(weight: Tensor, bits: int, per_channel: bool) -> int:
    """Bytes of ``weight`` packed at ``bits`` per value, plus its float32 scales below 16 bits."""
    packed = math.ceil(weight.numel() * bits / 8)
    if bits >= 16:
        return packed
    scales = weight.shape[0] if per_channel and weight.dim() > 0 else 1
    return packed + scales * _SCALE_BYTES


def model_size_report(
    model: nn.Module, layer_types: tuple[type[nn.Module], ...] = QUANTIZABLE
) -> dict[str, int]:
    """Model size in bytes with the weights of ``layer_types`` stored at each precision of
    :data:`PRECISIONS` (codes packed densely, plus float32 scales: per output channel for int8
    and int4, per tensor for ternary, as 2-bit codes); every other parameter and buffer counts
    at its own dtype. Also ``"parameters"``, the number of parameters."""
    weights = [
        m.parametrizations["weight"].original if hasattr(m, "parametrizations") else m.weight
        for m in model.modules()
        if isinstance(m, layer_types)
    ]
    weight_ids = {id(w) for w in weights}
    tensors = [*model.parameters(), *model.buffers()]
    other = sum(t.numel() * t.element_size() for t in tensors if id(t) not in weight_ids)
    report = {"parameters": sum(p.numel() for p in model.parameters())}
    for precision, (bits, per_channel) in PRECISIONS.items():
        report[precision] = other + sum(_weight_bytes(w, bits, per_channel) for w in weights)
    return report
