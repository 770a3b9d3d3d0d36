"""Spike monitors: per-layer spike counts and firing rates, collected with forward hooks.

A :class:`SpikeMonitor` attaches a forward hook to every spiking layer of a model (see
:func:`spiking_layers`) and counts what each layer emits while the model runs::

    with SpikeMonitor(net) as monitor:
        net(x)                                  # x: [T, B, ...]
    monitor.firing_rates()                      # {"1": 0.12, "3": 0.05, ...}
    print(monitor.table())

Counting conventions:

- A layer with a ``max_spikes`` attribute (:class:`axonal.nn.ILIF`) emits ``k / max_spikes``
  with an integer ``k``; it is counted as ``k`` spikes (its *quantum* is ``max_spikes``).
  Binary neurons have quantum 1.
- ``firing_rate`` is spikes per neuron per time step (for I-LIF it lies in ``[0, D]``);
  ``binary_rate`` divides it by the quantum, i.e. ``sum(k) / (numel * D)``, the rate of the
  equivalent binary neuron over ``D`` virtual sub-steps (SDTrack's convention, in ``[0, 1]``).
- A multi-step call ``[T, B, ...]`` adds ``B`` samples of ``T`` steps. One-step cells
  (``LIFCell`` ...) called on ``[B, ...]`` are taken as successive steps of the same ``B``
  streams: each call adds one step, and ``samples`` is the largest ``B`` seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from axonal.nn.base import CellMode, Neuron
from axonal.nn.neurons import LI
from axonal.nn.recurrent import RLIF

__all__ = [
    "LayerActivity",
    "SpikeMonitor",
    "format_si",
    "format_table",
    "quantum_of",
    "spike_output",
    "spiking_layers",
]


def spiking_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The spike-emitting layers of ``model`` by qualified name, in module order.

    These are the :class:`axonal.nn.Neuron` layers except the non-spiking ``LI`` readout,
    and :class:`axonal.nn.RLIF` layers; an RLIF is one layer (its inner ``.neuron`` runs via
    ``.step`` and is not listed). The model itself, if spiking, is named by its class name.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    layers: dict[str, nn.Module] = {}
    inside_recurrent: list[str] = []
    for name, module in model.named_modules():
        if any(name.startswith(prefix) for prefix in inside_recurrent):
            continue
        spiking = isinstance(module, RLIF) or (
            isinstance(module, Neuron) and not isinstance(module, LI)
        )
        if spiking:
            layers[name or type(module).__name__] = module
        if isinstance(module, RLIF):
            inside_recurrent.append(f"{name}." if name else "")
    return layers


def quantum_of(layer: nn.Module) -> int:
    """Spikes per unit of output: ``max_spikes`` for integer neurons (I-LIF), else 1."""
    return int(getattr(layer, "max_spikes", 1))


def spike_output(output: Any) -> Tensor:
    """The spike tensor of a layer's forward output (``out`` or ``(out, state)``)."""
    out = output[0] if isinstance(output, (tuple, list)) else output
    if not isinstance(out, Tensor):
        raise TypeError(f"a spiking layer returned {type(out).__name__}, expected a Tensor")
    return out


@dataclass(frozen=True)
class LayerActivity:
    """What one spiking layer emitted while monitored.

    ``neurons``: per-sample feature size (of the latest call); ``samples``: samples seen;
    ``time_steps``: time steps per sample (average over samples); ``spikes``: total spike
    count (integer neurons counted by value ``k``); ``firing_rate``: spikes per neuron per
    time step; ``binary_rate``: ``firing_rate / quantum`` (the binary-equivalent rate of an
    I-LIF layer).
    """

    name: str
    layer: str
    quantum: int
    neurons: int
    samples: int
    time_steps: float
    spikes: float
    firing_rate: float
    binary_rate: float

    @property
    def spikes_per_sample(self) -> float:
        """Spikes emitted per sample (all neurons, all time steps)."""
        return self.spikes / self.samples


@dataclass
class _Counter:
    """Running totals of one layer; ``spikes`` stays on the layer's device until read."""

    layer: str
    quantum: int
    cell: bool
    spikes: Tensor | None = None
    elements: int = 0
    neurons: int = 0
    samples: int = 0
    records: list[Tensor] = field(default_factory=list)

    def add(self, out: Tensor, record: bool) -> None:
        if self.cell:
            batch, features = out.shape[0], out.shape[1:]
            self.samples = max(self.samples, batch)
        else:
            if out.dim() < 2:
                raise ValueError(f"expected spikes [T, B, ...], got shape {tuple(out.shape)}")
            batch, features = out.shape[1], out.shape[2:]
            self.samples += batch
        self.neurons = math.prod(features)
        self.elements += out.numel()
        k = torch.round(out.detach() * self.quantum).sum(dtype=torch.float64)
        self.spikes = k if self.spikes is None else self.spikes + k
        if record:
            self.records.append(out.detach().to("cpu", copy=True))

    def activity(self, name: str) -> LayerActivity:
        spikes = float(self.spikes) if self.spikes is not None else 0.0
        rate = spikes / self.elements
        return LayerActivity(
            name=name,
            layer=self.layer,
            quantum=self.quantum,
            neurons=self.neurons,
            samples=self.samples,
            time_steps=self.elements / (self.neurons * self.samples),
            spikes=spikes,
            firing_rate=rate,
            binary_rate=rate / self.quantum,
        )


class SpikeMonitor:
    """Count the spikes of every spiking layer of ``model`` through forward hooks.

    The hooks are registered on construction and removed by :meth:`remove` or on leaving a
    ``with`` block. Only forward calls are seen: a layer run through ``.step`` by its parent
    (e.g. inside ``Sequential.step`` or ``Streaming``) is not counted. Layers that have not
    run yet are left out of every result. With ``record=True`` the emitted tensors are kept
    (detached CPU copies, values as emitted) for :meth:`records`.
    """

    def __init__(self, model: nn.Module, *, record: bool = False) -> None:
        self.record = record
        self._counters: dict[str, _Counter] = {}
        self._handles: list[RemovableHandle] = []
        for name, layer in spiking_layers(model).items():
            self._counters[name] = _Counter(
                type(layer).__name__, quantum_of(layer), isinstance(layer, CellMode)
            )
            self._handles.append(layer.register_forward_hook(partial(self._hook, name)))

    def _hook(self, name: str, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        self._counters[name].add(spike_output(output), self.record)

    def __enter__(self) -> SpikeMonitor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()

    def remove(self) -> None:
        """Detach the hooks; counts and records stay readable."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def reset(self) -> None:
        """Forget all counts and records (hooks stay attached)."""
        for counter in self._counters.values():
            counter.spikes = None
            counter.elements = counter.neurons = counter.samples = 0
            counter.records.clear()

    @property
    def layer_names(self) -> list[str]:
        """Qualified names of all monitored layers (run or not), in module order."""
        return list(self._counters)

    def summary(self) -> list[LayerActivity]:
        """One :class:`LayerActivity` per layer that has run, in module order."""
        return [c.activity(name) for name, c in self._counters.items() if c.elements]

    def firing_rates(self, *, binary_equivalent: bool = False) -> dict[str, float]:
        """Spikes per neuron per time step of each layer that has run.

        ``binary_equivalent=True`` divides integer (I-LIF) layers by ``max_spikes``:
        ``sum(k) / (numel * D)``; binary layers are unchanged.
        """
        return {
            row.name: row.binary_rate if binary_equivalent else row.firing_rate
            for row in self.summary()
        }

    def total_spikes(self) -> float:
        """All spikes of all layers (integer neurons counted by value)."""
        return sum(row.spikes for row in self.summary())

    def spikes_per_sample(self) -> float:
        """Spikes of all layers per sample: the sum of each layer's spikes / samples."""
        return sum(row.spikes_per_sample for row in self.summary())

    def records(self, name: str) -> Tensor:
        """The recorded output of layer ``name``: calls concatenated along the batch axis
        (``[T, sum B, ...]``) for sequence layers, stacked along time (``[calls, B, ...]``)
        for one-step cells. Needs ``record=True``."""
        if not self.record:
            raise ValueError("records need SpikeMonitor(model, record=True)")
        if name not in self._counters:
            raise ValueError(f"no spiking layer named {name!r}; layers: {self.layer_names}")
        counter = self._counters[name]
        if not counter.records:
            raise ValueError(f"layer {name!r} has not run while monitored")
        if counter.cell:
            return torch.stack(counter.records)
        shapes = {(r.shape[0], *r.shape[2:]) for r in counter.records}
        if len(shapes) > 1:
            raise ValueError(
                f"layer {name!r} ran on sequences of different shapes {sorted(shapes)}; "
                "they cannot be joined along the batch axis"
            )
        return torch.cat(counter.records, dim=1)

    def table(self) -> str:
        """The summary as a plain-text table."""
        headers = [
            "layer",
            "type",
            "neurons",
            "samples",
            "steps",
            "spikes/sample",
            "rate",
            "binary rate",
        ]
        rows = [
            [
                r.name,
                r.layer,
                str(r.neurons),
                str(r.samples),
                f"{r.time_steps:g}",
                format_si(r.spikes_per_sample),
                f"{r.firing_rate:.4f}",
                f"{r.binary_rate:.4f}",
            ]
            for r in self.summary()
        ]
        return format_table(headers, rows)


_PREFIXES = [
    (1e12, "T"),
    (1e9, "G"),
    (1e6, "M"),
    (1e3, "k"),
    (1.0, ""),
    (1e-3, "m"),
    (1e-6, "u"),
    (1e-9, "n"),
    (1e-12, "p"),
]


def format_si(value: float, unit: str = "") -> str:
    """``value`` with three significant digits and an SI prefix, e.g. ``1.23M``, ``4.6 pJ``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}{' ' + unit if unit else ''}"
    scale, prefix = next(((s, p) for s, p in _PREFIXES if abs(value) >= s), _PREFIXES[-1])
    sep = " " if unit else ""
    return f"{value / scale:.3g}{sep}{prefix}{unit}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = (str(c) for c in cells)
        parts = [first.ljust(widths[0])]
        parts += [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])
