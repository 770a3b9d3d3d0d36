"""Weight and activation quantisers with straight-through gradients.

A quantised weight is ``codes * scale``: integer ``codes`` and a float ``scale`` per tensor
(shape ``[1, 1, ...]``) or per output channel (axis 0, shape ``[C_out, 1, ...]``).

- Uniform symmetric ``bits``: ``scale = max|W| / (2**(bits-1) - 1)`` (clamped at 1e-8),
  ``codes = round(W / scale)`` clamped to ``[-(2**(bits-1) - 1), 2**(bits-1) - 1]``.
- Ternary absmean (BitNet b1.58, MatMul-free LM): ``scale = mean|W|`` clamped at 1e-5,
  ``codes = round(W / scale)`` clamped to ``{-1, 0, 1}``; the reference writes the same thing as
  ``s = 1 / scale``, ``round(W s).clamp(-1, 1) / s``.
- Activations, absmax int8 per token (MatMul-free LM): ``s = 127 / max|x|`` over the
  features of each token (the last dim by default; ``max|x|`` clamped at 1e-5),
  ``round(x s).clamp(-128, 127) / s``.

``round`` is ``torch.round`` (half to even). Every ``quantize_*`` returns the de-quantised
values forward and passes the gradient through unchanged (:func:`straight_through`).
"""

from __future__ import annotations

from torch import Tensor

from axonal.quant._checks import check_bits
from axonal.quant.ste import straight_through

__all__ = [
    "SCHEMES",
    "quantize_activation_int8",
    "quantize_ternary",
    "quantize_uniform",
    "ternary_codes",
    "uniform_codes",
]

SCHEMES = ("uniform", "ternary")
_UNIFORM_EPS = 1e-8
_ABSMEAN_EPS = 1e-5
_ABSMAX_EPS = 1e-5


def _check_weight(w: object, per_channel: bool) -> Tensor:
    if not isinstance(w, Tensor) or not w.is_floating_point():
        raise TypeError(f"expected a floating-point tensor, got {getattr(w, 'dtype', type(w))}")
    if per_channel and w.dim() < 1:
        raise ValueError("per-channel quantisation needs at least 1 dim (channels on axis 0)")
    return w


def _abs_reduce(w: Tensor, per_channel: bool, how: str) -> Tensor:
    """``max`` or ``mean`` of ``|w|`` over the whole tensor or over all axes but 0, kept as
    a tensor that broadcasts against ``w``."""
    dims = tuple(range(1, w.dim())) if per_channel else tuple(range(w.dim()))
    a = w.detach().abs()
    if not dims:
        return a
    return a.amax(dim=dims, keepdim=True) if how == "max" else a.mean(dim=dims, keepdim=True)


def uniform_codes(w: Tensor, bits: int, per_channel: bool = False) -> tuple[Tensor, Tensor]:
    """Symmetric ``bits``-bit codes (a float tensor of integers, like ``w``) and the scale
    (broadcasting against ``w``); ``codes * scale`` is the quantised weight. ``bits >= 2``."""
    w = _check_weight(w, per_channel)
    q_max = 2 ** (check_bits(bits, low=2) - 1) - 1
    scale = (_abs_reduce(w, per_channel, "max") / q_max).clamp(min=_UNIFORM_EPS)
    return (w.detach() / scale).round().clamp(-q_max, q_max), scale


def ternary_codes(w: Tensor, per_channel: bool = False) -> tuple[Tensor, Tensor]:
    """Ternary codes in ``{-1, 0, 1}`` (float tensor like ``w``) and the absmean scale."""
    w = _check_weight(w, per_channel)
    scale = _abs_reduce(w, per_channel, "mean").clamp(min=_ABSMEAN_EPS)
    return (w.detach() / scale).round().clamp(-1, 1), scale


def quantize_uniform(w: Tensor, bits: int, per_channel: bool = False) -> Tensor:
    """Fake-quantised ``w`` (same shape and dtype) on a symmetric ``bits``-bit grid, STE."""

    def fake(t: Tensor) -> Tensor:
        codes, scale = uniform_codes(t, bits, per_channel)
        return codes * scale

    return straight_through(_check_weight(w, per_channel), fake)


def quantize_ternary(w: Tensor, per_channel: bool = False) -> Tensor:
    """Fake-quantised ``w`` with values in ``{-scale, 0, scale}``, scale = mean|W|, STE."""

    def fake(t: Tensor) -> Tensor:
        codes, scale = ternary_codes(t, per_channel)
        return codes * scale

    return straight_through(_check_weight(w, per_channel), fake)


def quantize_activation_int8(x: Tensor, dim: int = -1) -> Tensor:
    """Fake-quantised activations, 8-bit absmax per token, STE. A token is one slice along
    ``dim`` (its features): ``dim=-1`` for ``[..., D]`` inputs of a Linear layer, ``dim=1``
    for ``[N, C, ...]`` inputs of a convolution (one token per position, over the channels)."""
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() < 1:
        raise TypeError(f"expected a floating-point tensor [..., D], got {getattr(x, 'shape', x)}")
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim {dim} is out of range for a {x.dim()}-D tensor {tuple(x.shape)}")

    def fake(t: Tensor) -> Tensor:
        s = 127 / t.abs().amax(dim=dim, keepdim=True).clamp(min=_ABSMAX_EPS)
        return (t * s).round().clamp(-128, 127) / s

    return straight_through(x, fake)
