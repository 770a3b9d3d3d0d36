"""Synaptic operations (SOPs), multiply-accumulates (MACs) and an energy estimate.

:func:`count_operations` runs a model once and counts, for every ``nn.Linear`` and
``nn.Conv1d/2d/3d`` call (including an RLIF's recurrent weight, called once per step):

- **Input kind.** A call's input is *event* input when every value is a non-negative integer
  multiple of ``1/q`` for a spike quantum ``q`` (to within ``1e-4`` of an integer after
  multiplying by ``q``): then the value ``x`` stands for ``k = q x`` spikes. ``q`` is taken
  from the layer that produced the tensor when the input shares memory with a spiking
  layer's output (as between layers of :class:`axonal.nn.Sequential`; I-LIF gives
  ``q = max_spikes``), otherwise the smallest that fits out of 1 and the quanta of the
  model's integer neurons. Any other input is *dense* (real-valued). An all-zero input is
  event input with no events. A layer with both kinds over its calls is reported ``mixed``.
- **MACs** (dense input): output elements x fan-in, the standard ANN count (bias additions
  and padding are not treated specially); fan-in is ``in_features`` or
  ``in_channels / groups * prod(kernel_size)``.
- **SOPs** (event input): the synaptic events, i.e. the sum over input spikes of the number
  of outputs each one reaches (spikes x fan-out), with integer spikes counted by value
  ``k``. For ``Linear``: ``sum(k) * out_features``. For convolutions it is exact: ``k`` is
  convolved with an all-ones kernel of the layer's geometry (stride, padding and padding
  mode, dilation, groups) and the result, summed over output channels, counts every
  (spike, output) pair, so borders and strides are handled.
- **ANN MACs**: the dense count of every call whatever its input, for comparison.
- **Energy**: ``e_mac * MACs + e_ac * SOPs`` in joules; the defaults are the 45 nm CMOS
  figures used throughout the SNN literature (Horowitz 2014): 4.6 pJ per 32-bit float MAC
  and 0.9 pJ per accumulate. Memory access and neuron updates are not included.

Counts are totals over the whole run of ``[T, B, ...]``; :meth:`OperationReport.per_sample`
divides them by ``B``. Operations outside these module types (matmuls in attention,
normalisation, pooling, neuron updates) are not counted, nor are layers that did not run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from axonal.analysis.monitor import (
    LayerActivity,
    SpikeMonitor,
    format_si,
    format_table,
    quantum_of,
    spike_output,
    spiking_layers,
)
from axonal.nn.base import check_sequence

__all__ = [
    "E_AC_45NM",
    "E_MAC_45NM",
    "LayerOperations",
    "OperationReport",
    "count_operations",
    "event_quantum",
    "synaptic_operations",
]

E_MAC_45NM = 4.6e-12
"""Joules per 32-bit floating-point multiply-accumulate, 45 nm CMOS (Horowitz 2014)."""
E_AC_45NM = 0.9e-12
"""Joules per 32-bit floating-point accumulate, 45 nm CMOS (Horowitz 2014)."""

COUNTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
"""Module types whose operations are counted."""

_LATTICE_TOLERANCE = 1e-4


def event_quantum(x: Tensor, candidates: Sequence[int]) -> int | None:
    """The first ``q`` in ``candidates`` for which ``x`` is event input, else ``None``.

    ``x`` is event input for ``q`` when every ``q * x`` is a non-negative integer (within
    ``1e-4``), so that ``x`` reads as ``k / q`` spikes.
    """
    for q in candidates:
        k = x.detach() * q
        if bool((k >= 0).all()) and bool(((k - k.round()).abs() <= _LATTICE_TOLERANCE).all()):
            return q
    return None


def _fan_in(layer: nn.Module) -> int:
    if isinstance(layer, nn.Linear):
        return layer.in_features
    return layer.in_channels // layer.groups * math.prod(layer.kernel_size)


def synaptic_operations(layer: nn.Module, k: Tensor) -> float:
    """Synaptic events caused by spike counts ``k`` (the layer's input shape) in ``layer``.

    Each spike is counted once per output it reaches (``Linear``: ``out_features``; conv:
    the outputs whose receptive field holds it, found by an all-ones convolution).
    """
    k = k.detach().to(torch.float64)
    if isinstance(layer, nn.Linear):
        return float(k.sum()) * layer.out_features
    if not isinstance(layer, COUNTED):
        raise TypeError(f"cannot count operations of {type(layer).__name__}")
    ones = torch.ones(
        layer.groups,
        layer.in_channels // layer.groups,
        *layer.kernel_size,
        dtype=torch.float64,
        device=k.device,
    )
    reach = layer._conv_forward(k, ones, None)  # one output channel per group
    return float(reach.sum()) * (layer.out_channels // layer.groups)


@dataclass(frozen=True)
class LayerOperations:
    """Operations of one counted layer over the run (or per sample).

    ``input_kind``: ``"event"``, ``"dense"`` or ``"mixed"`` over the layer's calls;
    ``quantum``: spikes per unit input value of its event calls (``None`` if none);
    ``macs``/``sops``: multiply-accumulates on dense input / synaptic events on event input;
    ``ann_macs``: the dense count of all calls; ``energy_joules = e_mac*macs + e_ac*sops``;
    ``params``/``param_bytes``: the layer's own parameters and their memory.
    """

    name: str
    layer: str
    input_kind: str
    quantum: int | None
    macs: float
    sops: float
    ann_macs: float
    energy_joules: float
    params: int
    param_bytes: int


@dataclass
class _Tally:
    """Running totals of one counted layer."""

    macs: float = 0.0
    sops: float = 0.0
    ann_macs: float = 0.0
    event_calls: int = 0
    dense_calls: int = 0
    quantum: int | None = None

    def kind(self) -> str:
        if self.event_calls and self.dense_calls:
            return "mixed"
        return "event" if self.event_calls else "dense"


class _OperationCounter:
    """Forward hooks that tally MACs/SOPs of counted layers and tag spiking outputs.

    A spiking layer's output is kept (referenced, so its memory cannot be reused) with its
    quantum until :meth:`remove`, so that a later layer can tell which quantum its input has.
    """

    def __init__(self, model: nn.Module) -> None:
        producers = spiking_layers(model)
        self.quanta = sorted({1, *(quantum_of(layer) for layer in producers.values())})
        self.layers = {
            name or type(module).__name__: module
            for name, module in model.named_modules()
            if isinstance(module, COUNTED)
        }
        self.tallies = {name: _Tally() for name in self.layers}
        self._produced: dict[int, tuple[Tensor, int]] = {}
        self._handles = [
            layer.register_forward_hook(partial(self._tag, quantum_of(layer)))
            for layer in producers.values()
        ]
        self._handles += [
            layer.register_forward_hook(partial(self._count, name))
            for name, layer in self.layers.items()
        ]

    def _tag(self, quantum: int, module: nn.Module, args: Any, output: Any) -> None:
        out = spike_output(output)
        self._produced[out.untyped_storage().data_ptr()] = (out, quantum)

    def _quantum(self, x: Tensor) -> int | None:
        producer = self._produced.get(x.untyped_storage().data_ptr())
        first = [] if producer is None else [producer[1]]
        return event_quantum(x, first + self.quanta)

    def _count(self, name: str, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        x, tally = args[0], self.tallies[name]
        dense_macs = float(output.numel() * _fan_in(module))
        tally.ann_macs += dense_macs
        quantum = self._quantum(x)
        if quantum is None:
            tally.dense_calls += 1
            tally.macs += dense_macs
        else:
            tally.event_calls += 1
            tally.quantum = quantum
            tally.sops += synaptic_operations(module, (x * quantum).round())

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._produced.clear()


def _memory(module: nn.Module) -> tuple[int, int]:
    """Number of parameters of ``module`` (shared ones once) and their bytes."""
    params = list(module.parameters())
    return sum(p.numel() for p in params), sum(p.numel() * p.element_size() for p in params)


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode for the block, then restore each one's flag."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.train(training)


@dataclass(frozen=True)
class OperationReport:
    """Operations, energy and spiking activity of one run (see :mod:`.operations`).

    ``rows``: the counted layers; ``neurons``: the spiking layers' activity;
    ``samples``/``time_steps``: ``B`` and ``T`` of the run (``samples == 1`` after
    :meth:`per_sample`); ``e_mac``/``e_ac``: joules per MAC / per accumulate;
    ``params``/``param_bytes``: the whole model's parameters (not only counted layers).
    """

    rows: list[LayerOperations]
    neurons: list[LayerActivity]
    samples: int
    time_steps: int
    e_mac: float
    e_ac: float
    params: int
    param_bytes: int

    @property
    def total_macs(self) -> float:
        return sum(row.macs for row in self.rows)

    @property
    def total_sops(self) -> float:
        return sum(row.sops for row in self.rows)

    @property
    def total_ann_macs(self) -> float:
        return sum(row.ann_macs for row in self.rows)

    @property
    def energy_joules(self) -> float:
        """Estimated energy of the counted layers: ``e_mac * MACs + e_ac * SOPs``."""
        return sum(row.energy_joules for row in self.rows)

    @property
    def ann_energy_joules(self) -> float:
        """Energy of the same layers run as an ANN: ``e_mac * ANN MACs``."""
        return self.e_mac * self.total_ann_macs

    @property
    def firing_rates(self) -> dict[str, float]:
        """Spikes per neuron per time step of each spiking layer."""
        return {row.name: row.firing_rate for row in self.neurons}

    def per_sample(self) -> OperationReport:
        """The same report with operations, energy and spikes divided by the batch size."""
        n = self.samples
        rows = [
            replace(
                r,
                macs=r.macs / n,
                sops=r.sops / n,
                ann_macs=r.ann_macs / n,
                energy_joules=r.energy_joules / n,
            )
            for r in self.rows
        ]
        neurons = [replace(a, spikes=a.spikes / a.samples, samples=1) for a in self.neurons]
        return replace(self, rows=rows, neurons=neurons, samples=1)

    def table(self) -> str:
        """A plain-text table of the layers, totals and firing rates."""
        headers = ["layer", "type", "input", "params", "MACs", "SOPs", "ANN MACs", "energy"]
        rows = [
            [
                r.name,
                r.layer,
                r.input_kind + (f"/{r.quantum}" if r.quantum else ""),
                format_si(r.params),
                format_si(r.macs),
                format_si(r.sops),
                format_si(r.ann_macs),
                format_si(r.energy_joules, "J"),
            ]
            for r in self.rows
        ]
        rows.append(
            [
                "total",
                "",
                "",
                format_si(self.params),
                format_si(self.total_macs),
                format_si(self.total_sops),
                format_si(self.total_ann_macs),
                format_si(self.energy_joules, "J"),
            ]
        )
        scope = "per sample" if self.samples == 1 else f"per run of {self.samples} samples"
        lines = [
            f"Operations {scope}, {self.time_steps} time steps "
            f"(e_mac={format_si(self.e_mac, 'J')}, e_ac={format_si(self.e_ac, 'J')}; "
            f"input 'event/q' = spikes of quantum q)",
            format_table(headers, rows),
            f"parameters: {self.params} ({format_si(self.param_bytes, 'B')}); "
            f"ANN energy: {format_si(self.ann_energy_joules, 'J')}",
        ]
        if self.neurons:
            spikes = [
                [
                    a.name,
                    a.layer,
                    str(a.neurons),
                    format_si(a.spikes),
                    f"{a.firing_rate:.4f}",
                    f"{a.binary_rate:.4f}",
                ]
                for a in self.neurons
            ]
            headers = ["neurons", "type", "size", "spikes", "rate", "binary rate"]
            lines += ["", format_table(headers, spikes)]
        return "\n".join(lines)


def _check_energy(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (joules), got {value!r}")


def count_operations(
    model: nn.Module, x: Tensor, *, e_mac: float = E_MAC_45NM, e_ac: float = E_AC_45NM
) -> OperationReport:
    """Run ``model`` once on ``x`` ``[T, B, ...]`` and count its operations and spikes.

    The run is under ``torch.no_grad`` with every submodule temporarily in eval mode (so
    dropout is off and normalisation statistics are not updated). ``e_mac``/``e_ac``:
    joules per multiply-accumulate / per accumulate (synaptic operation). The spiking
    layers' outputs are held until the run ends (to tell each input's quantum), so peak
    memory can exceed a plain inference run. See the module docstring for the rules.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    check_sequence(x, "count_operations")
    _check_energy("e_mac", e_mac)
    _check_energy("e_ac", e_ac)
    counter = _OperationCounter(model)
    try:
        with torch.no_grad(), _eval_mode(model), SpikeMonitor(model) as monitor:
            model(x)
    finally:
        counter.remove()
    rows = []
    for name, layer in counter.layers.items():
        tally = counter.tallies[name]
        if not tally.event_calls + tally.dense_calls:
            continue
        params, param_bytes = _memory(layer)
        rows.append(
            LayerOperations(
                name=name,
                layer=type(layer).__name__,
                input_kind=tally.kind(),
                quantum=tally.quantum,
                macs=tally.macs,
                sops=tally.sops,
                ann_macs=tally.ann_macs,
                energy_joules=e_mac * tally.macs + e_ac * tally.sops,
                params=params,
                param_bytes=param_bytes,
            )
        )
    params, param_bytes = _memory(model)
    return OperationReport(
        rows=rows,
        neurons=monitor.summary(),
        samples=x.shape[1],
        time_steps=x.shape[0],
        e_mac=e_mac,
        e_ac=e_ac,
        params=params,
        param_bytes=param_bytes,
    )
