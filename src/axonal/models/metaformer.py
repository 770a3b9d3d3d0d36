"""Spiking MetaFormer: conv stages, then spike-driven attention stages (the SDTrack backbone).

``SpikingMetaFormer`` maps frames ``[T, B, C, H, W] -> logits [T, B, classes]``. Its shape
follows the Spiking MetaFormer behind SDTrack (E-SpikeFormer / Spike-driven Transformer v2-v3
family), with membrane shortcuts throughout (every convolution sees spikes, the shortcuts add
to the membrane input of the next block's neurons):

- stem: ``conv7x7 -> BN`` to ``dims[0] // 2`` channels (stride ``strides[0]``), one conv
  block at that width, then a downsampling ``SN -> conv3x3 -> BN`` to ``dims[0]``
  (stride ``strides[1]``);
- stage 1: ``depths[0]`` conv blocks at ``dims[0]``;
- stage 2: downsample to ``dims[1]`` (stride ``strides[2]``), ``depths[1]`` conv blocks;
- stage 3: downsample to ``dims[2]`` (stride ``strides[3]``), ``depths[2]`` attention blocks;
- stage 4: downsample to ``dims[3]`` (stride 1), ``depths[3]`` attention blocks;
- head: ``SN -> global average -> Linear``.

A conv block (:func:`conv_block`) is a token mixer ``u = u + SepConv(u)`` with
``SepConv = SN -> pw -> BN -> SN -> dw(kxk) -> BN -> SN -> pw -> BN`` (pointwise expand by
``sep_ratio``, depthwise, pointwise back), then a channel MLP
``u = u + BN(conv3x3(SN(BN(conv3x3(SN(u))))))`` with hidden width ``conv_ratio * dim``.
Unlike the reference SepConv, a neuron also sits between the depthwise and the second
pointwise convolution, so that this convolution, too, sees spikes (event-driven, counted as
synaptic operations rather than MACs). An attention block (:func:`attention_block`) is
``u = u + SDSA(u)`` (:class:`~axonal.models.transformer.SpikeDrivenAttention`), then
``u = u + BN(W2 SN(BN(W1 SN(u))))`` with 1x1 convolutions and hidden width ``mlp_ratio * dim``.

Neurons are integer-valued I-LIF by default (``neuron="ilif"``, emitting ``k / D`` with
``D = max_spikes``, SDTrack's ``T x D = 1 x 4`` neuron); ``neuron="lif"`` gives binary LIF.
``sma=True`` inserts a :class:`~axonal.models.sma.SMA` (with Attention ZoneOut in training,
paper defaults) into every conv block, after the channel MLP's last convolution and before
its BN: the same "conv -> SMA -> BN" position as in the ResNets, at the block's own width
(after the first, expanding convolution SMA's four branches would cost ``conv_ratio**2``
times more).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from axonal.models.registry import register_model
from axonal.models.resnet import make_neuron
from axonal.models.sma import AttentionFactory, sma_factory
from axonal.models.transformer import Residual, SpikeDrivenAttention
from axonal.nn import Neuron, Sequential

__all__ = ["SpikingMetaFormer", "attention_block", "conv_block", "downsample"]

NEURON_DEFAULT = "ilif"


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> list:
    conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(c_out)]


def downsample(
    c_in: int, c_out: int, kernel: int, stride: int, *, first: bool, neuron: str, max_spikes: int
) -> Sequential:
    """``[SN ->] conv(kernel, stride) -> BN``: ``[T, B, c_in, H, W] -> [T, B, c_out, H', W']``
    with ``H' = ceil(H / stride)`` (odd kernels); ``first`` drops the neuron (analog input)."""
    head = [] if first else [make_neuron(neuron, max_spikes)]
    return Sequential(*head, *_conv_bn(c_in, c_out, kernel, stride))


def conv_block(
    dim: int,
    *,
    sep_ratio: int = 2,
    conv_ratio: int = 4,
    kernel: int = 7,
    neuron: str = NEURON_DEFAULT,
    max_spikes: int = 4,
    attention: AttentionFactory | None = None,
) -> Sequential:
    """A MetaFormer conv block ``[T, B, dim, H, W] -> same``: separable-conv token mixer and
    3x3 channel MLP, each with a membrane shortcut (see the module docstring).

    ``attention``: optional factory ``channels -> module`` (e.g. SMA) put after the MLP's last
    convolution, before its BN.
    """

    def sn() -> Neuron:
        return make_neuron(neuron, max_spikes)

    wide = dim * sep_ratio
    sep = Sequential(
        sn(), *_conv_bn(dim, wide, 1),
        sn(), *_conv_bn(wide, wide, kernel, groups=wide),
        sn(), *_conv_bn(wide, dim, 1),
    )  # fmt: skip
    hidden = dim * conv_ratio
    last_conv, last_bn = _conv_bn(hidden, dim, 3)
    mixer = [last_conv] + ([attention(dim)] if attention is not None else []) + [last_bn]
    mlp = Sequential(sn(), *_conv_bn(dim, hidden, 3), sn(), *mixer)
    return Sequential(Residual(sep), Residual(mlp))


def attention_block(
    dim: int, *, mlp_ratio: int = 4, neuron: str = NEURON_DEFAULT, max_spikes: int = 4
) -> Sequential:
    """A MetaFormer attention block ``[T, B, dim, H, W] -> same``: spike-driven
    self-attention and a 1x1 MLP, each with a membrane shortcut."""

    def sn() -> Neuron:
        return make_neuron(neuron, max_spikes)

    hidden = dim * mlp_ratio
    mlp = Sequential(sn(), *_conv_bn(dim, hidden, 1), sn(), *_conv_bn(hidden, dim, 1))
    sdsa = SpikeDrivenAttention(dim, neuron=neuron, max_spikes=max_spikes)
    return Sequential(Residual(sdsa), Residual(mlp))


def _positive_ints(name: str, values: Any, length: int, minimum: int) -> tuple[int, ...]:
    if (
        not isinstance(values, (tuple, list))
        or len(values) != length
        or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in values)
    ):
        raise ValueError(f"{name} must be {length} ints >= {minimum}, got {values!r}")
    return tuple(values)


class SpikingMetaFormer(Sequential):
    """A Spiking MetaFormer ``[T, B, in_channels, H, W] -> logits [T, B, num_classes]``.

    Args:
        dims: channels of the four stages, e.g. ``(64, 128, 256, 360)`` (SDTrack-Tiny);
            ``dims[0]`` must be even (the stem works at ``dims[0] // 2``).
        depths: blocks per stage: conv, conv, attention, attention (SDTrack: ``(1, 2, 6, 2)``).
        strides: strides of the stem, the stem's second downsampling and the downsamplings
            into stages 2 and 3 (stage 4 keeps the resolution); ``(2, 2, 2, 2)`` gives the
            backbone's total stride 16.
        sep_ratio / conv_ratio / mlp_ratio: expansion of the separable conv, of the conv
            blocks' 3x3 MLP and of the attention blocks' 1x1 MLP.
        kernel: depthwise kernel size of the separable conv (odd).
        neuron / max_spikes: ``"ilif"`` (default, ``D = max_spikes``) or ``"lif"``; see
            :func:`~axonal.models.resnet.make_neuron`.
        sma / time_steps / sma_options: insert SMA (+ AZO) into every conv block, as in
            :class:`~axonal.models.resnet.SpikingResNet`; ``time_steps`` is the ``T`` of every
            input.

    The state is one entry per layer, as for :class:`axonal.nn.Sequential` (``step`` works
    without SMA).
    """

    def __init__(
        self,
        dims: tuple[int, int, int, int] = (64, 128, 256, 360),
        depths: tuple[int, int, int, int] = (1, 2, 6, 2),
        *,
        in_channels: int = 2,
        num_classes: int = 10,
        strides: tuple[int, int, int, int] = (2, 2, 2, 2),
        sep_ratio: int = 2,
        conv_ratio: int = 4,
        mlp_ratio: int = 4,
        kernel: int = 7,
        neuron: str = NEURON_DEFAULT,
        max_spikes: int = 4,
        sma: bool = False,
        time_steps: int | None = None,
        sma_options: dict[str, Any] | None = None,
    ) -> None:
        dims = _positive_ints("dims", dims, 4, 2)
        depths = _positive_ints("depths", depths, 4, 1)
        strides = _positive_ints("strides", strides, 4, 1)
        _positive_ints("ratios (sep, conv, mlp)", (sep_ratio, conv_ratio, mlp_ratio), 3, 1)
        if dims[0] % 2 or kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"need an even dims[0] and an odd kernel, got {dims}, {kernel}")
        make_neuron(neuron, max_spikes)  # validates the neuron kind early
        attention = sma_factory(time_steps, sma_options) if sma else None
        spiking = {"neuron": neuron, "max_spikes": max_spikes}
        conv = {"sep_ratio": sep_ratio, "conv_ratio": conv_ratio, "kernel": kernel, **spiking}

        def down(c_in: int, c_out: int, stride: int, k: int = 3, first: bool = False):
            return downsample(c_in, c_out, k, stride, first=first, **spiking)

        half = dims[0] // 2
        layers: list[nn.Module] = [
            down(in_channels, half, strides[0], k=7, first=True),
            conv_block(half, attention=attention, **conv),
            down(half, dims[0], strides[1]),
        ]
        layers += [conv_block(dims[0], attention=attention, **conv) for _ in range(depths[0])]
        layers.append(down(dims[0], dims[1], strides[2]))
        layers += [conv_block(dims[1], attention=attention, **conv) for _ in range(depths[1])]
        layers.append(down(dims[1], dims[2], strides[3]))
        block = {"mlp_ratio": mlp_ratio, **spiking}
        layers += [attention_block(dims[2], **block) for _ in range(depths[2])]
        layers.append(down(dims[2], dims[3], 1))
        layers += [attention_block(dims[3], **block) for _ in range(depths[3])]
        layers += [
            make_neuron(neuron, max_spikes),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(dims[3], num_classes),
        ]
        super().__init__(*layers)
        self.in_channels = in_channels

    def run(self, x: Tensor, state: list[Any] | None = None) -> tuple[Tensor, list[Any]]:
        if x.dim() != 5 or x.shape[2] != self.in_channels:
            raise ValueError(
                f"SpikingMetaFormer expects [T, B, {self.in_channels}, H, W], "
                f"got {tuple(x.shape)}"
            )
        return super().run(x, state)


def _scaled(dims: tuple[int, ...], width: int, base: int) -> tuple[int, ...]:
    """``dims`` scaled by ``width / base`` (at least 2 channels, the first kept even)."""
    scaled = [max(2, round(d * width / base)) for d in dims]
    scaled[0] += scaled[0] % 2
    return tuple(scaled)


@register_model("spiking_metaformer_tiny")
def spiking_metaformer_tiny(width: int = 16, **kwargs: Any) -> SpikingMetaFormer:
    """A CPU-sized Spiking MetaFormer for small event frames (e.g. 34 x 34 N-Digits):
    ``dims = (w, 2w, 4w, 6w)`` with ``w = width``, depths ``(1, 1, 1, 1)``, stem stride 1
    (strides ``(1, 2, 2, 2)``), separable-conv expansion 2, MLP ratios 2, 5x5 depthwise."""
    options = {
        "dims": _scaled((1, 2, 4, 6), width, 1), "depths": (1, 1, 1, 1),
        "strides": (1, 2, 2, 2), "conv_ratio": 2, "mlp_ratio": 2, "kernel": 5, **kwargs,
    }  # fmt: skip
    return SpikingMetaFormer(**options)


@register_model("spiking_metaformer_sdtrack_tiny")
def spiking_metaformer_sdtrack_tiny(width: int = 64, **kwargs: Any) -> SpikingMetaFormer:
    """The SDTrack-Tiny backbone shape: ``dims = (64, 128, 256, 360)`` (scaled by
    ``width / 64``), depths ``(1, 2, 6, 2)``, total stride 16, ratios 2 / 4 / 4, 7x7
    depthwise."""
    return SpikingMetaFormer(**{"dims": _scaled((64, 128, 256, 360), width, 64), **kwargs})


@register_model("spiking_metaformer_sdtrack_base")
def spiking_metaformer_sdtrack_base(width: int = 128, **kwargs: Any) -> SpikingMetaFormer:
    """The SDTrack-Base backbone shape: ``dims = (128, 256, 512, 768)`` (scaled by
    ``width / 128``), otherwise as :func:`spiking_metaformer_sdtrack_tiny`."""
    return SpikingMetaFormer(**{"dims": _scaled((128, 256, 512, 768), width, 128), **kwargs})
