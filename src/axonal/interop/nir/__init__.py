"""NIR (Neuromorphic Intermediate Representation) export and import.

    graph = to_nir(model, sample_input, dt=1e-4, method="euler")   # -> nir.NIRGraph
    nir.write("model.nir", graph)
    net = from_nir("model.nir", dt=1e-4, method="euler")          # [T, B, ...] -> [T, B, ...]

The parameter mapping is in :mod:`axonal.interop.nir.params`, the execution of imported graphs
in :mod:`axonal.interop.nir.graph`; ``docs/nir.md`` lists every primitive and what was
verified against other libraries.
"""

from axonal.interop.nir.errors import NIRConversionError, NIRSemanticsWarning
from axonal.interop.nir.exporter import to_nir
from axonal.interop.nir.graph import GraphState, NIRGraphModule
from axonal.interop.nir.importer import from_nir

__all__ = [
    "GraphState",
    "NIRConversionError",
    "NIRGraphModule",
    "NIRSemanticsWarning",
    "from_nir",
    "to_nir",
]
