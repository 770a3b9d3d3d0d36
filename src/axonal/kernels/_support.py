"""What every fused backend checks before it takes over a scan from the reference.

A backend runs a scan only when it computes exactly what :func:`axonal.kernels.reference.scan`
would: :func:`supported` checks the input, the state and every parameter field, with the rules
common to all backends here; the fields a backend's kernels take (built-in surrogates, reset
modes, ``max_spikes`` up to its limit, state quantisers) are checked by :func:`field_rule`,
which also gives them the codes every backend's kernels use (:data:`SURROGATE_CODES`,
:data:`RESET_CODES`). State quantisers: a backend fuses exactly
:class:`axonal.quant.StateQuantizer` (:func:`fusable_quantizer`), whose levels it reads padded
(:func:`padded_levels`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from axonal.functional.surrogate import (
    ATan,
    FastSigmoid,
    Sigmoid,
    StraightThrough,
    Surrogate,
    Triangle,
)

DTYPES = (torch.float32, torch.float64)

SURROGATE_CODES: dict[type, int] = {
    ATan: 0, FastSigmoid: 1, Sigmoid: 2, Triangle: 3, StraightThrough: 4,
}  # fmt: skip
"""Built-in surrogate (exact type: a subclass may change the derivative) -> its code in the
kernels of every backend."""

RESET_CODES: dict[str, int] = {"subtract": 0, "zero": 1, "none": 2}
"""Reset mode -> its code in the kernels of every backend."""

_CONSTANTS: dict[type, Callable[[Any], tuple[float, float]]] = {
    ATan: lambda s: (s.alpha / 2, math.pi / 2 * s.alpha),
    FastSigmoid: lambda s: (s.slope, 0.0),
    Sigmoid: lambda s: (s.slope, 0.0),
    Triangle: lambda s: (s.width, 0.0),
    StraightThrough: lambda s: (s.window, 0.0),
}


def surrogate_constants(surrogate: object) -> tuple[float, float]:
    """The two constants a built-in surrogate's derivative needs in a kernel (exact types: a
    subclass may change the derivative); ``(0, 0)`` without one (``None``, e.g. for LI)."""
    return _CONSTANTS[type(surrogate)](surrogate) if surrogate is not None else (0.0, 0.0)


def has_leak(v_leak: Tensor | float) -> bool:
    """The functional code adds the leak term unless ``v_leak`` is the number 0."""
    return not (isinstance(v_leak, (int, float)) and v_leak == 0)


def _broadcasts_to(shape: torch.Size, target: torch.Size) -> bool:
    """Whether ``shape`` broadcasts to ``target`` without enlarging it."""
    if len(shape) > len(target):
        return False
    return all(a in (1, b) for a, b in zip(reversed(shape), reversed(target), strict=False))


def _same_kind(t: object, x: Tensor) -> bool:
    return isinstance(t, Tensor) and t.dtype == x.dtype and t.device == x.device


def _tensor_supported(name: str, value: Tensor, x: Tensor) -> bool:
    """A parameter tensor of ``x``'s dtype and device that broadcasts to one step; a learnable
    ``v_reset`` has no gradient in the kernels."""
    learnable_v_reset = name == "v_reset" and value.requires_grad
    fits = _same_kind(value, x) and _broadcasts_to(value.shape, x.shape[1:])
    return fits and not learnable_v_reset


def supported(
    x: Tensor,
    state: Any,
    params: Any,
    device_type: str,
    own_rule: Callable[[str, object], bool],
) -> bool:
    """Whether a backend on ``device_type`` computes exactly the reference scan here: ``x``
    ``[T, B, ...]`` float32/float64, a tuple of states shaped like one step, parameter tensors
    that broadcast to one step, and every other field accepted by ``own_rule(name, value)``."""
    if not isinstance(x, Tensor) or x.device.type != device_type or x.dtype not in DTYPES:
        return False
    if x.dim() < 2 or x.numel() == 0 or not isinstance(state, tuple):
        return False
    if not all(_same_kind(s, x) and s.shape == x.shape[1:] for s in state):
        return False
    fields = params._asdict().items() if hasattr(params, "_asdict") else None
    return fields is not None and all(
        _tensor_supported(k, v, x) if isinstance(v, Tensor) else own_rule(k, v) for k, v in fields
    )


def fusable_quantizer(value: object) -> bool:
    """Whether ``value`` is ``None`` or an :class:`axonal.quant.StateQuantizer` (exactly: a
    subclass may round differently) with levels ``[L]`` and midpoints ``[L - 1]``. Looked up in
    ``sys.modules``: an object of that class exists only once its module is imported, and
    importing it here would make the kernels import the layers built on them."""
    if value is None:
        return True
    module = sys.modules.get("axonal.quant.state")
    if module is None or type(value) is not module.StateQuantizer:
        return False
    levels, mids = value.levels, value.midpoints
    return levels.dim() == 1 and mids.shape == (levels.numel() - 1,)


def padded_levels(
    state_quant: Any, dtype: torch.dtype, device: torch.device | str = "cpu"
) -> tuple[Tensor, Tensor]:
    """A quantiser's levels and midpoints as the kernels read them: converted to ``dtype``
    as ``StateQuantizer`` converts them, then padded to ``P``, the next power of two >= ``L``:
    levels ``[P]`` (the top level repeated) and midpoints ``[P]`` (then ``+inf``). The level of
    a membrane ``u`` is ``levels[i]``, ``i`` the number of midpoints not ``>= u`` (a tie goes
    to the lower level, NaN to the top one, as ``searchsorted``). ``None``: two empty tensors.
    """
    if state_quant is None:
        empty = torch.empty(0, dtype=dtype, device=device)
        return empty, empty
    levels = state_quant.levels.to(device=device, dtype=dtype)
    mids = state_quant.midpoints.to(device=device, dtype=dtype)
    padding = (1 << (levels.numel() - 1).bit_length()) - levels.numel()
    levels = torch.cat([levels, levels[-1:].expand(padding)])
    return levels, torch.cat([mids, mids.new_full((padding + 1,), math.inf)])


def field_rule(max_spikes_below: int | None = None) -> Callable[[str, object], bool]:
    """The ``own_rule`` of :func:`supported` for kernels that take the built-in surrogates, the
    reset modes of :data:`RESET_CODES`, ``max_spikes >= 1`` (below ``max_spikes_below`` if
    given) and a :func:`fusable_quantizer`."""

    def rule(name: str, value: object) -> bool:
        if isinstance(value, Surrogate):
            return type(value) in SURROGATE_CODES
        if name == "reset":
            return value in RESET_CODES
        if name == "max_spikes":
            limit = math.inf if max_spikes_below is None else max_spikes_below
            return isinstance(value, int) and 1 <= value < limit
        if name == "state_quant":  # fused: a StateQuantizer; an arbitrary function is not
            return fusable_quantizer(value)
        return True

    return rule
