"""Multi-step neuron scans over ``[T, B, ...]`` with the contract of :mod:`axonal.functional`.

``scan(step, x, state, params)`` runs the one-step function ``step`` over time and returns the
stacked outputs and the final state. It uses a fused kernel registered for ``step`` when the
backend allows one and the kernel supports the arguments, else the reference loop
(:mod:`axonal.kernels.reference`), which every kernel is tested against.

Backends: ``"auto"`` (default: the fastest kernel available for the device and dtype: the
Triton kernels for CUDA float32/float64, the CPU kernels for CPU float32/float64),
``"triton"`` (:mod:`axonal.kernels.gpu` only), ``"cpu"`` (:mod:`axonal.kernels.cpu` only) and
``"reference"``. Choose with :func:`set_backend` or the environment variable
``AXONAL_BACKEND`` (read when this module is imported). A kernel module that cannot be
imported (numba or triton missing) is skipped with one warning. :func:`last_backend` tells
which one ran the latest scan.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

from torch import Tensor

from axonal.kernels import reference

__all__ = ["BACKENDS", "get_backend", "last_backend", "scan", "set_backend"]

BACKENDS = ("auto", "triton", "cpu", "reference")
_MODULES = {"triton": "gpu", "cpu": "cpu"}  # backend -> module axonal.kernels.<module>


def _check(name: object, source: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"{source} must be one of {BACKENDS}, got {name!r}")
    return name  # type: ignore[return-value]


_backend = _check(os.environ.get("AXONAL_BACKEND", "auto"), "AXONAL_BACKEND")
_last: str | None = None
_modules: dict[str, ModuleType | None] = {}


def set_backend(name: str) -> None:
    """Use backend ``name`` (one of :data:`BACKENDS`) for every later :func:`scan`."""
    global _backend
    _backend = _check(name, "backend")


def get_backend() -> str:
    """The backend :func:`scan` uses: one of :data:`BACKENDS`."""
    return _backend


def last_backend() -> str | None:
    """Which implementation ran the latest :func:`scan` (``"triton"``, ``"cpu"`` or
    ``"reference"``), or ``None`` before the first."""
    return _last


def _kernel_module(name: str) -> ModuleType | None:
    """Import the kernels of backend ``name`` once; warn once and return None if they cannot
    load."""
    if name not in _modules:
        try:
            _modules[name] = importlib.import_module(f"axonal.kernels.{_MODULES[name]}")
        except ImportError as error:
            warnings.warn(
                f"axonal: the {name} kernels are unavailable ({error}); using the reference scan",
                RuntimeWarning,
                stacklevel=4,
            )
            _modules[name] = None
    return _modules[name]


def _candidates(x: Tensor) -> tuple[str, ...]:
    """The kernel backends to try in order (Triton is imported only for CUDA tensors under
    ``"auto"``)."""
    if _backend == "auto":
        return ("triton", "cpu") if isinstance(x, Tensor) and x.is_cuda else ("cpu",)
    return () if _backend == "reference" else (_backend,)


def _fused(step: Callable, x: Tensor, state: Any, params: Any) -> tuple[str, Callable] | None:
    for name in _candidates(x):
        module = _kernel_module(name)
        fused = module.lookup(step, x, state, params) if module is not None else None
        if fused is not None:
            return name, fused
    return None


def scan(step: Callable, x: Tensor, state: Any, params: Any) -> tuple[Tensor, Any]:
    """Run ``step(x_t, state, params) -> (out_t, state)`` over the leading axis of ``x``
    ``[T, B, ...]``; returns the outputs ``[T, B, ...]`` and the final state."""
    global _last
    found = _fused(step, x, state, params)
    if found is None:
        _last = "reference"
        return reference.scan(step, x, state, params)
    _last, fused = found
    return fused(x, state, params)
