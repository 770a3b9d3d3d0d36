"""Event-driven Linear and Conv2d: the work follows the nonzero inputs, not the layer's size.

A dense layer multiplies every input by its weights; a spike tensor is mostly zeros. These
kernels visit the nonzero inputs ("events") only and add their weight column, scaled by the
input value (1 for a spike), to the outputs they reach:

- :func:`spike_linear`: for a row of active inputs ``i``, ``out = bias + sum_i x_i W[:, i]``;
  the weight is kept transposed (:func:`linear_layout`) so that each event adds one contiguous
  row.
- :func:`spike_conv2d`: an input event at ``(c, y, x)`` adds ``W[:, c, ky, kx]`` to every
  output position its receptive field reaches; each sample accumulates channels-last in a
  buffer that fits the cache, then is written out as ``[O, OH, OW]`` with the bias.

The results equal ``F.linear`` / ``F.conv2d`` up to float rounding (the sums run in another
order). The cost is one pass over the input plus work proportional to the number of events,
so they win only below a crossover density (measured in ``benchmarks/sparse.py``; the
:mod:`axonal.nn.event` modules choose). There is no backward: call them without gradients.

Parallelism: samples are split over ``torch.get_num_threads()`` threads (the loops are numba,
compiled on first use, cached on disk, and release the GIL), as in the CPU neuron kernels.
CPU float32/float64 only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numba import njit
from torch import Tensor

from axonal.kernels._threads import PARALLEL_MIN, worker_pool

__all__ = ["census", "conv2d_layout", "linear_layout", "spike_conv2d", "spike_linear"]

_DTYPES = (torch.float32, torch.float64)

_jit = njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
Array = np.ndarray


# ---- numba loops; each handles rows [r0, r1) so that threads can split the work ----


@_jit
def _census(x: Array, r0: int, r1: int) -> tuple[int, int]:
    """Nonzero elements of ``x[r0:r1]`` and how many of them are not 1."""
    nonzero, other = 0, 0
    for i in range(r0, r1):
        v = x[i]
        nonzero += v != 0
        other += (v != 0) & (v != 1)
    return nonzero, other


@_jit
def _add(acc: Array, w: Array, s: float) -> None:
    """``acc += s * w`` over contiguous 1-d rows (vectorised)."""
    for o in range(acc.shape[0]):
        acc[o] += s * w[o]


@_jit
def _linear_rows(x: Array, wt: Array, bias: Array, out: Array, r0: int, r1: int) -> None:
    """``out[n] = bias + sum over nonzero x[n, i] of x[n, i] * wt[i]`` for rows ``r0:r1``;
    ``x [N, I]``, ``wt [I, O]``, ``bias [O]``, ``out [N, O]``."""
    active = np.empty(x.shape[1], np.int64)
    for n in range(r0, r1):
        xn, acc = x[n], out[n]
        acc[:] = bias
        k = 0
        for i in range(xn.shape[0]):  # the row's events, without a branch per input
            active[k] = i
            k += xn[i] != 0
        for j in range(k):
            i = active[j]
            _add(acc, wt[i], xn[i])


@_jit
def _store(acc: Array, bias: Array, out: Array) -> None:
    """``out [O, OH, OW] = acc [OH, OW, O]`` transposed, plus the bias."""
    oh, ow, channels = acc.shape
    for y in range(oh):  # one output row of acc (a few KB) stays in L1 while it is spread
        for o in range(channels):
            b = bias[o]
            row = out[o, y]
            for x in range(ow):
                row[x] = acc[y, x, o] + b


@_jit
def _conv_rows(
    x: Array,
    wf: Array,
    bias: Array,
    out: Array,
    rows: Array,
    cols: Array,
    spans: Array,
    r0: int,
    r1: int,
) -> None:
    """Samples ``r0:r1`` of the convolution ``x [N, C, H, W] -> out [N, O, OH, OW]``.

    ``wf [C, KH, KW * og]``: per input channel and kernel row, the weights of the channel's
    group's ``og`` outputs for each tap, taps reversed in kx (:func:`conv2d_layout`).
    ``rows [H, KH]`` / ``cols [W, KW]``: the output row / column that each kernel row / column
    of each input row / column reaches, -1 for none (stride, padding and dilation as tables:
    no division in the event loop). ``spans [W, 3]``, when stride and dilation are 1 in x and
    there is one group (else ``[0, 3]``): the reached output columns of input column ``ix`` are
    adjacent, so are their taps in ``wf``, and one add covers them: ``acc[oy, a : a + m] +=
    wf[c, ky, w0 : w0 + m]`` for ``(a, w0, m) = spans[ix]``.
    """
    _, channels, height, width = x.shape
    _, out_channels, oh, ow = out.shape
    kh, kw = rows.shape[1], cols.shape[1]
    og = wf.shape[2] // kw
    cg = channels * og // out_channels  # input channels per group
    contiguous = spans.shape[0] > 0
    acc = np.empty((oh, ow * out_channels), x.dtype)  # one sample, channels-last
    active = np.empty(width, np.int64)
    for n in range(r0, r1):
        acc[:] = 0
        for c in range(channels):
            o0 = (c // cg) * og
            for y in range(height):
                xrow = x[n, c, y]
                k = 0
                for ix in range(width):  # the row's events, without a branch per input
                    active[k] = ix
                    k += xrow[ix] != 0
                for e in range(k):
                    ix = active[e]
                    s = xrow[ix]
                    for ky in range(kh):
                        oy = rows[y, ky]
                        if oy < 0:
                            continue
                        if contiguous:
                            a, w0, m = spans[ix, 0], spans[ix, 1], spans[ix, 2]
                            _add(acc[oy, a : a + m], wf[c, ky, w0 : w0 + m], s)
                            continue
                        for kx in range(kw):
                            if cols[ix, kx] >= 0:
                                a, w0 = cols[ix, kx] * out_channels + o0, (kw - 1 - kx) * og
                                _add(acc[oy, a : a + og], wf[c, ky, w0 : w0 + og], s)
        _store(acc.reshape(oh, ow, out_channels), bias, out[n])


# ---- threads ----


def _parallel(loop: Callable[..., Any], rows: int, work: int, *args: Any) -> list[Any]:
    """Run ``loop(*args, r0, r1)`` over ``[0, rows)`` split over torch's thread count (one
    thread when ``work``, the input's size, is small); returns the calls' results."""
    workers = min(torch.get_num_threads(), rows)
    if workers <= 1 or work < PARALLEL_MIN:
        return [loop(*args, 0, rows)]
    edges = [rows * i // workers for i in range(workers + 1)]
    pool = worker_pool()
    futures = [pool.submit(loop, *args, lo, hi) for lo, hi in itertools.pairwise(edges[1:])]
    first = loop(*args, edges[0], edges[1])
    return [first, *(f.result() for f in futures)]


def _np(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


# ---- checks ----


def _check_tensor(t: object, name: str, who: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{who}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(f"{who}: {name} must be on the CPU, got device {t.device}")
    if t.dtype not in _DTYPES:
        raise TypeError(f"{who}: {name} must be float32 or float64, got {t.dtype}")
    return t


def _check_operands(
    who: str, spikes: Tensor, weight: Tensor, bias: Tensor | None, out_features: int
) -> None:
    _check_tensor(spikes, "spikes", who)
    _check_tensor(weight, "weight", who)
    if weight.dtype != spikes.dtype:
        raise TypeError(f"{who}: weight is {weight.dtype} but spikes are {spikes.dtype}")
    if bias is not None:
        _check_tensor(bias, "bias", who)
        if bias.shape != (out_features,) or bias.dtype != spikes.dtype:
            raise ValueError(
                f"{who}: bias must be [{out_features}] of {spikes.dtype}, got "
                f"{list(bias.shape)} of {bias.dtype}"
            )
    if torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (spikes, weight, bias)
    ):
        raise ValueError(
            f"{who} has no backward: call it under torch.no_grad() (or use the dense op)"
        )


def _bias(bias: Tensor | None, n: int, like: Tensor) -> np.ndarray:
    return _np(bias.contiguous()) if bias is not None else np.zeros(n, _np(like).dtype)


def _pair(value: int | tuple[int, ...], name: str, low: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= low for v in pair):
        raise ValueError(f"spike_conv2d: {name} must be an int >= {low} or two of them, got "
                         f"{value!r}")  # fmt: skip
    return pair  # type: ignore[return-value]


# ---- public ----


def census(x: Tensor) -> tuple[float, bool]:
    """One pass over ``x`` (any shape, CPU float32/float64): the fraction of its elements that
    are nonzero (0 for an empty tensor), and whether every element is 0 or 1."""
    _check_tensor(x, "x", "census")
    flat = _np(x.detach().reshape(-1).contiguous())
    counts = _parallel(_census, flat.shape[0], flat.shape[0], flat)
    nonzero = sum(c[0] for c in counts)
    other = sum(c[1] for c in counts)
    return nonzero / max(flat.shape[0], 1), other == 0


def linear_layout(weight: Tensor) -> Tensor:
    """The layout :func:`spike_linear` reads: ``weight [O, I]`` transposed to contiguous
    ``[I, O]`` (one contiguous row per input). Keep it to reuse across calls."""
    return weight.detach().t().contiguous()


def spike_linear(
    spikes: Tensor, weight: Tensor, bias: Tensor | None = None, *, layout: Tensor | None = None
) -> Tensor:
    """``F.linear(spikes, weight, bias)`` computed from the nonzero inputs only.

    ``spikes [..., I]`` (e.g. ``[N, I]`` or ``[T, B, I]``; any values, the work grows with the
    number of nonzero ones), ``weight [O, I]``, ``bias [O]`` or None; returns ``[..., O]``.
    ``layout``: :func:`linear_layout` of ``weight``, when the caller keeps it. No gradients.
    """
    who = "spike_linear"
    _check_tensor(weight, "weight", who)
    if weight.dim() != 2:
        raise ValueError(f"{who}: weight must be [out, in], got shape {list(weight.shape)}")
    out_features, in_features = weight.shape
    _check_operands(who, spikes, weight, bias, out_features)
    if spikes.dim() < 1 or spikes.shape[-1] != in_features:
        raise ValueError(
            f"{who}: spikes must be [..., {in_features}] for a weight [{out_features}, "
            f"{in_features}], got shape {list(spikes.shape)}"
        )
    if layout is None:
        layout = linear_layout(weight)
    elif layout.shape != (in_features, out_features) or not layout.is_contiguous():
        raise ValueError(f"{who}: layout must be the contiguous [{in_features}, {out_features}] "
                         f"of linear_layout(weight), got {list(layout.shape)}")  # fmt: skip
    x = spikes.detach().reshape(-1, in_features).contiguous()
    out = x.new_empty(x.shape[0], out_features)
    _parallel(_linear_rows, x.shape[0], x.numel(), _np(x), _np(layout),
              _bias(bias, out_features, x), _np(out))  # fmt: skip
    return out.reshape(*spikes.shape[:-1], out_features)


def conv2d_layout(weight: Tensor, groups: int = 1) -> Tensor:
    """The layout :func:`spike_conv2d` reads: ``weight [O, C / groups, KH, KW]`` as
    ``[C, KH, KW * O / groups]``, per input channel and kernel row the taps reversed in kx,
    each the group's output channels. Keep it to reuse across calls."""
    o, cg, kh, kw = weight.shape
    og = o // groups
    grouped = weight.detach().reshape(groups, og, cg, kh, kw).permute(0, 2, 3, 4, 1)
    return grouped.flip(3).reshape(groups * cg, kh, kw * og).contiguous()


def _reach(size: int, kernel: int, stride: int, pad: int, dilation: int, out: int) -> np.ndarray:
    """``[size, kernel]``: the output index that kernel tap ``k`` of input index ``i`` reaches
    (``i + pad - k * dilation = o * stride``), -1 where it reaches none."""
    t = np.arange(size)[:, None] + pad - np.arange(kernel)[None, :] * dilation
    hit = (t >= 0) & (t % stride == 0) & (t // stride < out)
    return np.where(hit, t // stride, -1).astype(np.int64)


def _spans(cols: np.ndarray, channels: int) -> np.ndarray:
    """``[W, 3]``: for each input column, the reached output columns as one span of the
    channels-last row (start, start in the reversed taps, length), for stride and dilation 1
    and one group (``cols[ix, kx] = ix + pad - kx``, the reached taps are adjacent)."""
    kw = cols.shape[1]
    hit = cols[:, ::-1] >= 0  # by reversed tap j = kw - 1 - kx
    j0 = np.argmax(hit, axis=1)
    count = hit.sum(axis=1)
    first = np.where(count > 0, cols[np.arange(cols.shape[0]), kw - 1 - j0], 0)
    return np.stack([first * channels, j0 * channels, count * channels], axis=1).astype(np.int64)


def _conv_padding(
    padding: int | tuple[int, int] | str, kernel: tuple[int, int], dilation: tuple[int, int],
    stride: tuple[int, int],
) -> tuple[tuple[int, int], tuple[int, int]]:  # fmt: skip
    """Top/left padding and the total padding per axis, as ``F.conv2d`` applies them
    (``"same"``: the odd one extra at the bottom/right)."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        if stride != (1, 1):
            raise ValueError("spike_conv2d: padding='same' needs stride 1, as in F.conv2d")
        total = tuple(d * (k - 1) for d, k in zip(dilation, kernel, strict=True))
        return (total[0] // 2, total[1] // 2), total  # type: ignore[return-value]
    if isinstance(padding, str):
        raise ValueError(f"spike_conv2d: padding must be 'valid', 'same' or ints, got {padding!r}")
    pair = _pair(padding, "padding", 0)
    return pair, (2 * pair[0], 2 * pair[1])


def spike_conv2d(
    spikes: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    *,
    layout: Tensor | None = None,
) -> Tensor:
    """``F.conv2d(spikes, weight, bias, stride, padding, dilation, groups)`` (zero padding)
    computed from the nonzero inputs only.

    ``spikes [N, C, H, W]`` or time-major ``[T, B, C, H, W]`` (any values; the work grows with
    the number of nonzero ones), ``weight [O, C / groups, KH, KW]``, ``bias [O]`` or None;
    returns ``[N, O, OH, OW]`` (``[T, B, O, OH, OW]``), contiguous. ``layout``:
    :func:`conv2d_layout` of ``weight``, when the caller keeps it. No gradients.
    """
    who = "spike_conv2d"
    _check_tensor(weight, "weight", who)
    if weight.dim() != 4:
        raise ValueError(f"{who}: weight must be [out, in / groups, kh, kw], got shape "
                         f"{list(weight.shape)}")  # fmt: skip
    out_channels, cg, kh, kw = weight.shape
    _check_operands(who, spikes, weight, bias, out_channels)
    if not isinstance(groups, int) or groups < 1 or out_channels % groups:
        raise ValueError(f"{who}: groups must be a positive divisor of the {out_channels} "
                         f"output channels, got {groups!r}")  # fmt: skip
    channels = cg * groups
    if spikes.dim() not in (4, 5) or spikes.shape[-3] != channels:
        raise ValueError(f"{who}: spikes must be [N, {channels}, H, W] or [T, B, {channels}, "
                         f"H, W], got shape {list(spikes.shape)}")  # fmt: skip
    sy, sx = _pair(stride, "stride", 1)
    dy, dx = _pair(dilation, "dilation", 1)
    (py, px), (ty, tx) = _conv_padding(padding, (kh, kw), (dy, dx), (sy, sx))
    height, width = spikes.shape[-2:]
    oh = (height + ty - dy * (kh - 1) - 1) // sy + 1
    ow = (width + tx - dx * (kw - 1) - 1) // sx + 1
    if oh < 1 or ow < 1:
        span = f"{dy * (kh - 1) + 1}x{dx * (kw - 1) + 1}"
        raise ValueError(
            f"{who}: the input {height}x{width} (padded by {ty}, {tx}) is smaller than the "
            f"dilated kernel {span}"
        )
    if layout is None:
        layout = conv2d_layout(weight, groups)
    elif layout.shape != (channels, kh, kw * out_channels // groups) or not layout.is_contiguous():
        raise ValueError(f"{who}: layout must be the contiguous conv2d_layout(weight, groups), "
                         f"got shape {list(layout.shape)}")  # fmt: skip
    x = spikes.detach().reshape(-1, channels, height, width).contiguous()
    out = x.new_empty(x.shape[0], out_channels, oh, ow)
    rows = _reach(height, kh, sy, py, dy, oh)
    cols = _reach(width, kw, sx, px, dx, ow)
    spans = _spans(cols, out_channels) if sx == dx == groups == 1 else np.zeros((0, 3), np.int64)
    _parallel(_conv_rows, x.shape[0], x.numel(), _np(x), _np(layout),
              _bias(bias, out_channels, x), _np(out), rows, cols, spans)  # fmt: skip
    return out.reshape(*spikes.shape[:-3], out_channels, oh, ow)
