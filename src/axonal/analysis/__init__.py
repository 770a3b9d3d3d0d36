"""Measures of a spiking network: spike monitors, synaptic operations and energy, plots.

- :class:`SpikeMonitor`: per-layer spike counts and firing rates through forward hooks.
- :func:`count_operations`: MACs (dense input), SOPs (spike input, spikes x fan-out) and
  an energy estimate (45 nm defaults: 4.6 pJ per MAC, 0.9 pJ per accumulate).
- :func:`plot_raster`, :func:`plot_curves`: figures, saved as PNG atomically.
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

__all__ = [
    "E_AC_45NM",
    "E_MAC_45NM",
    "LayerActivity",
    "LayerOperations",
    "OperationReport",
    "SpikeMonitor",
    "count_operations",
    "plot_curves",
    "plot_raster",
    "save_png",
    "spiking_layers",
    "synaptic_operations",
]
