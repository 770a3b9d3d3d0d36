"""Spiking ResNets over event frames ``[T, B, C, H, W] -> logits [T, B, classes]``.

Two residual styles (``variant``):

- ``"sew"`` (spike-element-wise, Fang et al. 2021): ``out = SN(BN(conv(SN(BN(conv(x)))))) + s``
  where the shortcut ``s`` is the input spikes (or ``SN(BN(conv1x1(x)))`` when the shape
  changes); the connect function is ADD, so outputs are spike counts.
- ``"ms"`` (membrane shortcut, Hu et al.): neurons come before convolutions,
  ``out = BN(conv(SN(BN(conv(SN(x)))))) + x``, so the shortcut adds to the membrane input of
  the next block's neurons and every convolution sees spikes. A shape-changing shortcut is
  ``BN(conv1x1(SN(x)))``.

Convolutions and BatchNorm run per time step with time folded into batch (via
:class:`axonal.nn.Sequential`); neurons carry their state over time. The logits are per step
(time-major); average them over ``T`` for a decision. The stem is a stride-1 3x3 conv (no
max-pool, suited to small event frames); stage ``i`` has ``width * 2**i`` channels and halves
the resolution for ``i > 0``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import Tensor, nn

from axonal.models.registry import register_model
from axonal.models.sma import AttentionFactory, sma_factory
from axonal.nn import ILIF, LIF, Neuron, Sequential, SpikingModule

__all__ = ["NEURONS", "VARIANTS", "SpikingBasicBlock", "SpikingResNet", "make_neuron"]

NEURONS = ("lif", "ilif")
VARIANTS = ("sew", "ms")



def make_neuron(kind: str, max_spikes: int = 4, threshold: float = 1.0) -> Neuron:
    """A neuron layer by name: ``"lif"`` (``beta=0.5``, i.e. ``tau = 2`` steps, hard reset to 0,
    ATan surrogate) or ``"ilif"`` (integer-valued, emits ``k / max_spikes``, SDTrack defaults)."""
    if kind == "lif":
        return LIF(beta=0.5, threshold=threshold, reset="zero")
    if kind == "ilif":
        return ILIF(threshold=threshold, max_spikes=max_spikes)
    raise ValueError(f"neuron must be one of {NEURONS}, got {kind!r}")


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=False)


class SpikingBasicBlock(SpikingModule):
    """Two 3x3 convolutions with a residual connection: ``[T, B, C_in, H, W] ->
    [T, B, C_out, H / stride, W / stride]``.

    ``variant``: ``"sew"`` or ``"ms"`` (see the module docstring); ``neuron``/``max_spikes``: see
    :func:`make_neuron`; ``attention``: an optional factory ``channels -> module`` (e.g. an
    :class:`~axonal.models.sma.SMA`) inserted after the first convolution, before its BN. The
    state is ``(residual_state, shortcut_state)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        variant: str = "sew",
        neuron: str = "lif",
        max_spikes: int = 4,
        attention: AttentionFactory | None = None,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.variant = variant

        def sn() -> Neuron:
            return make_neuron(neuron, max_spikes)

        first = [_conv(in_channels, out_channels, 3, stride)]
        if attention is not None:
            first.append(attention(out_channels))
        first.append(nn.BatchNorm2d(out_channels))
        second = [_conv(out_channels, out_channels, 3, 1), nn.BatchNorm2d(out_channels)]
        project = [_conv(in_channels, out_channels, 1, stride), nn.BatchNorm2d(out_channels)]
        needs_projection = stride != 1 or in_channels != out_channels
        if variant == "sew":
            self.residual = Sequential(*first, sn(), *second, sn())
            self.shortcut = Sequential(*project, sn()) if needs_projection else Sequential()
        else:
            self.residual = Sequential(sn(), *first, sn(), *second)
            self.shortcut = Sequential(sn(), *project) if needs_projection else Sequential()

    def run(self, x: Tensor, state: Any = None) -> tuple[Tensor, tuple[Any, Any]]:
        residual_state, shortcut_state = (None, None) if state is None else state
        out, residual_state = self.residual(x, residual_state, return_state=True)
        skip, shortcut_state = self.shortcut(x, shortcut_state, return_state=True)
        return out + skip, (residual_state, shortcut_state)

    def step(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, tuple[Any, Any]]:
        residual_state, shortcut_state = (None, None) if state is None else state
        out, residual_state = self.residual.step(x_t, residual_state)
        skip, shortcut_state = self.shortcut.step(x_t, shortcut_state)
        return out + skip, (residual_state, shortcut_state)

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}"


class SpikingResNet(Sequential):
    """A spiking ResNet ``[T, B, in_channels, H, W] -> logits [T, B, num_classes]``.

    ``layers``: blocks per stage, e.g. ``(2, 2, 2, 2)`` for ResNet-18 or ``(1, 1)``;
    ``width``: channels of the first stage; ``variant``/``neuron``/``max_spikes``: see
    :class:`SpikingBasicBlock`. ``sma=True`` inserts an :class:`~axonal.models.sma.SMA` after the
    first convolution of every block; it needs ``time_steps`` (the ``T`` of every input) and
    takes further options from ``sma_options`` (e.g. ``{"azo": False, "rcr": 10}``).
    The state is a list with one entry per layer, as for :class:`axonal.nn.Sequential`.
    """

    def __init__(
        self,
        layers: tuple[int, ...] = (2, 2, 2, 2),
        *,
        variant: str = "sew",
        in_channels: int = 2,
        num_classes: int = 10,
        width: int = 64,
        neuron: str = "lif",
        max_spikes: int = 4,
        sma: bool = False,
        time_steps: int | None = None,
        sma_options: dict[str, Any] | None = None,
    ) -> None:
        if not layers or any(not isinstance(n, int) or n < 1 for n in layers):
            raise ValueError(f"layers must be a non-empty tuple of ints >= 1, got {layers!r}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        attention = sma_factory(time_steps, sma_options) if sma else None
        block = partial(
            SpikingBasicBlock, variant=variant, neuron=neuron, max_spikes=max_spikes,
            attention=attention,
        )  # fmt: skip
        stem: list[nn.Module] = [_conv(in_channels, width, 3, 1), nn.BatchNorm2d(width)]
        if variant == "sew":
            stem.append(make_neuron(neuron, max_spikes))
        blocks: list[nn.Module] = []
        channels = width
        for stage, count in enumerate(layers):
            out_channels = width * 2**stage
            for index in range(count):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(block(channels, out_channels, stride))
                channels = out_channels
        head: list[nn.Module] = [make_neuron(neuron, max_spikes)] if variant == "ms" else []
        head += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
        super().__init__(*stem, *blocks, *head)
        self.in_channels = in_channels

    def run(self, x: Tensor, state: list[Any] | None = None) -> tuple[Tensor, list[Any]]:
        if x.dim() != 5 or x.shape[2] != self.in_channels:
            raise ValueError(
                f"SpikingResNet expects [T, B, {self.in_channels}, H, W], got {tuple(x.shape)}"
            )
        return super().run(x, state)


_SHAPES = {"18": ((2, 2, 2, 2), 64), "_tiny": ((1, 1), 16)}

for _variant in VARIANTS:
    for _suffix, (_layers, _width) in _SHAPES.items():
        register_model(f"{_variant}_resnet{_suffix}")(
            partial(SpikingResNet, _layers, variant=_variant, width=_width)
        )
