"""Neuron-state quantisers for a whole model: fixed (SQUAT) or calibrated from a few batches.

:func:`quantize_states` attaches SQUAT's quantiser (levels over ``[-theta (1 + lower),
theta (1 + upper)]``) to every spiking neuron; :func:`observe_membranes` runs the model with a
recorder as each spiking neuron's ``state_quant`` and returns the smallest and largest membrane
each neuron reached; :func:`calibrate_states` turns those ranges into
:class:`StateQuantizer`\\ s and attaches them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from axonal.nn.base import Neuron
from axonal.quant.state import StateQuantizer

__all__ = [
    "MembraneRange",
    "calibrate_states",
    "observe_membranes",
    "quantize_states",
    "spiking_neurons",
]

DEFAULT_UPPER = 0.2  # snnTorch's upper_limit, used when a neuron never crossed its threshold


class MembraneRange(NamedTuple):
    """Smallest and largest membrane value seen (after the update, before the reset)."""

    low: float
    high: float


class _Recorder(nn.Module):
    """Identity ``state_quant`` that keeps the running min and max of the membranes it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.low = float("inf")
        self.high = float("-inf")

    def forward(self, v: Tensor) -> Tensor:
        if v.numel():
            self.low = min(self.low, float(v.detach().min()))
            self.high = max(self.high, float(v.detach().max()))
        return v


def spiking_neurons(model: nn.Module) -> dict[str, Neuron]:
    """The neurons of ``model`` that have a threshold and a ``state_quant`` hook, by name."""
    return {
        name: m
        for name, m in model.named_modules()
        if isinstance(m, Neuron) and hasattr(m, "threshold") and hasattr(m, "state_quant")
    }


def _set_state_quant(neuron: Neuron, value: object) -> None:
    """Replace ``neuron.state_quant`` whether the old or new value is a module or a function."""
    delattr(neuron, "state_quant")
    neuron.state_quant = value


def _inputs(batch: object) -> Tensor:
    return batch[0] if isinstance(batch, (tuple, list)) else batch  # type: ignore[return-value]


def observe_membranes(model: nn.Module, batches: Iterable[object]) -> dict[str, MembraneRange]:
    """Run ``model`` (without gradients) on each batch (a tensor, or a tuple whose first item is
    the input) and return each spiking neuron's membrane range. The neurons' own
    ``state_quant`` are put back afterwards."""
    neurons = spiking_neurons(model)
    if not neurons:
        raise ValueError("model has no spiking neuron with a state_quant hook to observe")
    saved = {name: n.state_quant for name, n in neurons.items()}
    recorders = {name: _Recorder() for name in neurons}
    try:
        for name, neuron in neurons.items():
            _set_state_quant(neuron, recorders[name])
        with torch.no_grad():
            for batch in batches:
                model(_inputs(batch))
    finally:
        for name, neuron in neurons.items():
            _set_state_quant(neuron, saved[name])
    silent = [name for name, r in recorders.items() if r.low > r.high]
    if silent:
        raise ValueError(f"no membrane reached neurons {silent} during calibration (no batches?)")
    return {name: MembraneRange(r.low, r.high) for name, r in recorders.items()}


def _scalar_threshold(name: str, neuron: Neuron) -> float:
    threshold = neuron.threshold
    if threshold.numel() != 1:
        raise ValueError(
            f"state calibration needs one threshold per layer; {name} has shape "
            f"{tuple(threshold.shape)}"
        )
    return float(threshold)


def quantize_states(
    model: nn.Module,
    bits: int,
    mode: str = "uniform",
    *,
    lower: float = 0.0,
    upper: float = 0.2,
    multiplier: float | None = None,
) -> dict[str, StateQuantizer]:
    """Attach ``StateQuantizer.from_bits(bits, mode, threshold=theta, lower=lower,
    upper=upper)`` to every spiking neuron of ``model``, ``theta`` being that neuron's (scalar)
    threshold: SQUAT's fixed levels, for stateful QAT. Returns the quantisers by neuron name.
    Replaces any ``state_quant`` the neurons had; ``neuron.state_quant = None`` removes one."""
    neurons = spiking_neurons(model)
    if not neurons:
        raise ValueError("model has no spiking neuron with a state_quant hook to quantise")
    quantizers = {}
    for name, neuron in neurons.items():
        quantizers[name] = StateQuantizer.from_bits(
            bits, mode, threshold=_scalar_threshold(name, neuron), lower=lower, upper=upper,
            multiplier=multiplier,
        )  # fmt: skip
        _set_state_quant(neuron, quantizers[name])
    return quantizers


def calibrate_states(
    model: nn.Module, batches: Iterable[object], bits: int, mode: str = "threshold"
) -> dict[str, StateQuantizer]:
    """Attach a ``bits``-bit :class:`StateQuantizer` to every spiking neuron, its range fitted
    to the membranes observed on ``batches``; returns the quantisers by neuron name.

    With ``theta`` the threshold and ``[low, high]`` the observed range:
    ``lower = max(-low / theta - 1, 0)`` and ``upper = high / theta - 1`` (or 0.2 when the
    neuron never crossed its threshold), so the levels span the observed membranes.
    """
    neurons = spiking_neurons(model)
    thresholds = {name: _scalar_threshold(name, n) for name, n in neurons.items()}
    ranges = observe_membranes(model, batches)
    quantizers = {}
    for name, (low, high) in ranges.items():
        theta = thresholds[name]
        lower = max(-low / theta - 1, 0.0)
        upper = high / theta - 1 if high > theta else DEFAULT_UPPER
        quantizers[name] = StateQuantizer.from_bits(
            bits, mode, threshold=theta, lower=lower, upper=upper
        )
        _set_state_quant(neurons[name], quantizers[name])
    return quantizers
