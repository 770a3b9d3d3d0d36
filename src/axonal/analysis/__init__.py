"""Measures of a spiking network: spike monitors, synaptic operations and energy, plots.

- :class:`SpikeMonitor`: per-layer spike counts and firing rates through forward hooks.
- :func:`count_operations`: MACs (dense input), SOPs (spike input, spikes x fan-out) and
  an energy estimate (45 nm defaults: 4.6 pJ per MAC, 0.9 pJ per accumulate).
- :func:`plot_raster`, :func:`plot_curves`: figures, saved as PNG atomically.
- Synchrony: :func:`cofiring_fraction`, :func:`kuramoto_order`, :func:`spike_synchronization`,
  :func:`population_spike_synchronization`; training stability: :class:`TrainingDynamics`,
  :func:`detect_stabilization`.
"""

from axonal.analysis.monitor import LayerActivity, SpikeMonitor, spiking_layers
from axonal.analysis.operations import (
    E_AC_45NM,
    E_MAC_45NM,
    LayerOperations,
    OperationReport,
    count_operations,
    synaptic_operations,
)
from axonal.analysis.plots import plot_curves, plot_raster, save_png
from axonal.analysis.synchrony import (
    KuramotoOrder,
    TrainingDynamics,
    cofiring_fraction,
    detect_stabilization,
    kuramoto_order,
    population_spike_synchronization,
    spike_synchronization,
)

__all__ = [
    "E_AC_45NM",
    "E_MAC_45NM",
    "KuramotoOrder",
    "LayerActivity",
    "LayerOperations",
    "OperationReport",
    "SpikeMonitor",
    "TrainingDynamics",
    "cofiring_fraction",
    "count_operations",
    "detect_stabilization",
    "kuramoto_order",
    "plot_curves",
    "plot_raster",
    "population_spike_synchronization",
    "save_png",
    "spike_synchronization",
    "spiking_layers",
    "synaptic_operations",
]
