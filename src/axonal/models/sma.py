"""Spiking Multiscale Attention (SMA) with Attention ZoneOut (AZO), arXiv:2405.13672.

``SMA`` maps ``[T, B, C, H, W] -> [T, B, C, H, W]`` (real-valued, to be followed by BN and a
neuron). For each kernel size ``k`` a branch ``U_k = LIF(BN(conv_kxk(x)))`` sees the input; the
branches are summed and averaged over space into ``s [T, B, C]``. Channel attention
``Wc_k = softmax_k(W_k ReLU(W_down s))`` and temporal attention
``Wt_k = softmax_k(V_k ReLU(V_down mean_C(s)))`` (the latter mixes the ``T`` steps, so SMA needs
the whole sequence and a fixed ``time_steps``) weigh the output ``sum_k Wt_k Wc_k U_k``.

AZO (training only) replaces, per scale, the attended feature at the least attended
``(t, c)`` positions by its value at ``t - 1``: see :func:`attention_zoneout`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from axonal.nn import LIF, Sequential, SpikingModule

__all__ = [
    "SMA",
    "AttentionFactory",
    "SMAAttention",
    "attention_zoneout",
    "sma_factory",
    "weigh",
    "zoneout_mask",
]


class SMAAttention(NamedTuple):
    """The pieces of one SMA pass, scale-major (``K`` = number of kernel sizes).

    ``features``: branch spikes ``U_k`` ``[K, T, B, C, H, W]``; ``temporal``: ``Wt_k``
    ``[K, T, B]``; ``channel``: ``Wc_k`` ``[K, T, B, C]``. Both weights sum to 1 over ``K``.
    """

    features: Tensor
    temporal: Tensor
    channel: Tensor


def weigh(attention: SMAAttention) -> Tensor:
    """The attended features ``Wt_k * Wc_k * U_k``: ``[K, T, B, C, H, W]``."""
    temporal = attention.temporal[..., None, None, None]
    channel = attention.channel[..., None, None]
    return temporal * channel * attention.features


def _smallest(scores: Tensor, count: int) -> Tensor:
    """Boolean mask ``[K, N]`` of the ``count`` smallest entries of each row of ``scores``."""
    index = scores.topk(count, dim=1, largest=False).indices
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, index, True)


def zoneout_mask(temporal: Tensor, channel: Tensor, rtr: int, rcr: int) -> Tensor:
    """The ``(t, c)`` positions AZO zones out, per scale: a boolean ``[K, T, C]``.

    For each scale, the ``T // rtr`` steps with the smallest batch-summed temporal attention,
    then the ``C // rcr`` channels whose channel attention, summed over the batch and those
    steps, is smallest; the mask is their product, with ``t = 0`` cleared (it has no
    predecessor; as in the authors' code, a picked ``t = 0`` is skipped, not replaced by another
    step). ``temporal`` is ``[K, T, B]``, ``channel`` ``[K, T, B, C]``.
    """
    time, channels = channel.shape[1], channel.shape[3]
    n_time, n_channels = time // rtr, channels // rcr
    mask = torch.zeros(channel.shape[0], time, channels, dtype=torch.bool, device=channel.device)
    if n_time == 0 or n_channels == 0:
        return mask
    steps = _smallest(temporal.detach().sum(2), n_time)
    channel_scores = (channel.detach().sum(2) * steps[..., None]).sum(1)
    mask = steps[:, :, None] & _smallest(channel_scores, n_channels)[:, None, :]
    mask[:, 0] = False
    return mask


def attention_zoneout(attended: Tensor, temporal: Tensor, channel: Tensor, rtr: int, rcr: int):
    """Attention ZoneOut: ``attended[k, t, :, c]`` becomes ``attended[k, t - 1, :, c]`` at the
    positions of :func:`zoneout_mask`, always copying the value before any replacement (the
    authors' loop writes in place, so there a zoned-out ``t - 1`` could be copied on).

    ``attended``: ``[K, T, B, C, ...]``; returns a new tensor of the same shape (gradients flow
    to the kept values and to the copied ``t - 1`` values).
    """
    mask = zoneout_mask(temporal, channel, rtr, rcr)
    mask = mask[:, :, None, :]
    mask = mask.reshape(mask.shape + (1,) * (attended.dim() - 4))
    previous = torch.cat([attended[:, :1], attended[:, :-1]], dim=1)
    return torch.where(mask, previous, attended)


def _positive_int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


class SMA(SpikingModule):
    """Spiking Multiscale Attention ``[T, B, C, H, W] -> [T, B, C, H, W]`` (real-valued).

    ``channels``: ``C``; ``time_steps``: the ``T`` every input must have; ``kernel_sizes``: one
    branch per odd kernel size; ``c_reduction``/``t_reduction``: bottleneck ratios of the channel
    and temporal attention (hidden sizes ``max(1, C // c_reduction)`` and
    ``max(1, int(T / t_reduction))``); ``azo``: apply Attention ZoneOut in training mode with
    ratios ``rcr`` (channels) and ``rtr`` (time steps). Branch neurons: LIF, ``beta=0.5``
    (``tau = 2`` steps), hard reset to 0. Defaults follow the paper's VGG8 setting.

    The module is stateless (its temporal attention needs the whole sequence): ``state`` must be
    ``None``, and :meth:`step` is not available.
    """

    time_local = False  # its attention mixes the T steps (see SpikingModule)

    def __init__(
        self,
        channels: int,
        time_steps: int,
        kernel_sizes: tuple[int, ...] = (1, 3, 5, 7),
        c_reduction: int = 4,
        t_reduction: float = 4,
        *,
        azo: bool = True,
        rcr: int = 10,
        rtr: int = 4,
    ) -> None:
        super().__init__()
        self.channels = _positive_int("channels", channels)
        self.time_steps = _positive_int("time_steps", time_steps)
        if not kernel_sizes or any(_positive_int("kernel size", k) % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"kernel_sizes must be odd ints >= 1, got {kernel_sizes!r}")
        if not t_reduction > 0:
            raise ValueError(f"t_reduction must be > 0, got {t_reduction!r}")
        self.kernel_sizes = tuple(kernel_sizes)
        self.azo = azo
        self.rcr = _positive_int("rcr", rcr)
        self.rtr = _positive_int("rtr", rtr)
        self.branches = nn.ModuleList(self._branch(k) for k in self.kernel_sizes)
        c_hidden = max(1, channels // _positive_int("c_reduction", c_reduction))
        t_hidden = max(1, int(time_steps / t_reduction))
        self.channel_down = nn.Linear(channels, c_hidden)
        self.channel_up = nn.ModuleList(nn.Linear(c_hidden, channels) for _ in kernel_sizes)
        self.time_down = nn.Linear(time_steps, t_hidden)
        self.time_up = nn.ModuleList(nn.Linear(t_hidden, time_steps) for _ in kernel_sizes)

    def _branch(self, k: int) -> Sequential:
        conv = nn.Conv2d(self.channels, self.channels, k, padding=k // 2, bias=False)
        return Sequential(conv, nn.BatchNorm2d(self.channels), LIF(beta=0.5, reset="zero"))

    def _check(self, x: Tensor) -> None:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"SMA expects a floating-point tensor, got {type(x).__name__}")
        if x.dim() != 5 or x.shape[0] != self.time_steps or x.shape[2] != self.channels:
            raise ValueError(
                f"SMA expects [T={self.time_steps}, B, C={self.channels}, H, W], "
                f"got shape {tuple(x.shape)}"
            )

    def attend(self, x: Tensor) -> SMAAttention:
        """Branch spikes and the two attention weights for ``x`` ``[T, B, C, H, W]``."""
        self._check(x)
        features = torch.stack([branch(x) for branch in self.branches])
        pooled = features.sum(0).mean((3, 4))
        hidden = torch.relu(self.channel_down(pooled))
        channel = torch.stack([up(hidden) for up in self.channel_up]).softmax(0)
        per_step = torch.relu(self.time_down(pooled.mean(2).transpose(0, 1)))
        temporal = torch.stack([up(per_step).transpose(0, 1) for up in self.time_up]).softmax(0)
        return SMAAttention(features, temporal, channel)

    def run(self, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        if state is not None:
            raise ValueError("SMA is stateless over a whole sequence; pass state=None")
        attention = self.attend(x)
        attended = weigh(attention)
        if self.training and self.azo:
            attended = attention_zoneout(
                attended, attention.temporal, attention.channel, self.rtr, self.rcr
            )
        return attended.sum(0), None

    def step(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        raise NotImplementedError("SMA's temporal attention needs the whole sequence; use run")

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, time_steps={self.time_steps}, "
            f"kernel_sizes={self.kernel_sizes}, azo={self.azo}, rcr={self.rcr}, rtr={self.rtr}"
        )


AttentionFactory = Callable[[int], nn.Module]
"""Builds the attention module of a conv stage from its channel count."""


def sma_factory(time_steps: int | None, options: dict[str, Any] | None = None) -> AttentionFactory:
    """``channels -> SMA(channels, time_steps=..., **options)``, as the model zoo's ``sma=True``
    plugs SMA into every conv stage; ``time_steps`` (the T of every input) is required."""
    if time_steps is None:
        raise ValueError("sma=True needs time_steps (the T of every input), got None")
    return partial(SMA, time_steps=time_steps, **(options or {}))
