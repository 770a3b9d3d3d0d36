"""Quantisation: weight and activation quantisers, neuron-state quantisation (SQUAT),
calibration, reversible model transforms and integer export. See ``docs/quantization.md``."""

from axonal.quant.calibrate import (
    MembraneRange,
    calibrate_states,
    observe_membranes,
    quantize_states,
    spiking_neurons,
)
from axonal.quant.export import PRECISIONS, export_integer, model_size_report
from axonal.quant.integer import (
    IntegerFlatten,
    IntegerLIFLayer,
    IntegerLIFNetwork,
    IntegerPool,
    prepare_for_integer,
)
from axonal.quant.state import MODES, MULTIPLIERS, StateQuantizer, state_levels
from axonal.quant.ste import straight_through
from axonal.quant.transform import (
    QUANTIZABLE,
    ActivationQuantizer,
    WeightQuantizer,
    activation_quantizers,
    dequantize_model,
    quantize_model,
    quantized_layers,
)
from axonal.quant.weights import (
    SCHEMES,
    quantize_activation_int8,
    quantize_ternary,
    quantize_uniform,
    ternary_codes,
    uniform_codes,
)

__all__ = [
    "MODES",
    "MULTIPLIERS",
    "PRECISIONS",
    "QUANTIZABLE",
    "SCHEMES",
    "ActivationQuantizer",
    "IntegerFlatten",
    "IntegerLIFLayer",
    "IntegerLIFNetwork",
    "IntegerPool",
    "MembraneRange",
    "StateQuantizer",
    "WeightQuantizer",
    "activation_quantizers",
    "calibrate_states",
    "dequantize_model",
    "export_integer",
    "model_size_report",
    "observe_membranes",
    "prepare_for_integer",
    "quantize_activation_int8",
    "quantize_model",
    "quantize_states",
    "quantize_ternary",
    "quantize_uniform",
    "quantized_layers",
    "spiking_neurons",
    "state_levels",
    "straight_through",
    "ternary_codes",
    "uniform_codes",
]
