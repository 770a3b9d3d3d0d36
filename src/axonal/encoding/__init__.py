"""Spike encoders: turn intensities or continuous signals into time-major spike tensors.

* :func:`rate` - Bernoulli rate code, ``[...]`` -> ``[T, ...]``.
* :func:`latency` - time-to-first-spike code, ``[...]`` -> ``[T, ...]``;
  :func:`spike_times` inverts it.
* :func:`delta` - send-on-delta / level-crossing code, ``[T, ...]`` -> ``[T, ..., 2]``;
  :func:`delta_reconstruct` rebuilds the staircase signal.
"""

from axonal.encoding.delta import delta, delta_reconstruct
from axonal.encoding.latency import latency, spike_times
from axonal.encoding.rate import rate

__all__ = ["delta", "delta_reconstruct", "latency", "rate", "spike_times"]
