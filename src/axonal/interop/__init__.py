"""Exchange with other tools: :mod:`axonal.interop.nir` (the Neuromorphic Intermediate
Representation, read and written with the ``nir`` package)."""
