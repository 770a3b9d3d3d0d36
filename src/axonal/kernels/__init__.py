"""Multi-step neuron scans over ``[T, B, ...]`` with the contract of :mod:`axonal.functional`.

``scan(step, x, state, params)`` runs one-step function ``step`` over time. Today it is the
reference loop (:mod:`axonal.kernels.reference`); fused kernels plug in behind the same call.
"""

from axonal.kernels.reference import scan

__all__ = ["scan"]
