"""axonal: spiking neural networks in PyTorch, trained, made small, measured and moved.

Subpackages (imported on demand): ``functional`` (pure neuron steps, surrogates), ``kernels``
(multi-step scans), ``nn`` (modules), ``encoding``, ``data``, ``learning``, ``analysis``,
``tasks``. Tensors are time-major ``[T, B, ...]``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("axonal")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
