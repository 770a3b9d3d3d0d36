"""A spiking ResNet and a spike-driven transformer for NeuroMorse, time-major over words.

Both map input spikes ``[T, B, 2]`` (dot and dash channels) to readout membranes
``[T, B, classes]``, like the task's two-layer network (:func:`axonal.tasks.morse.build_model`,
``architecture="mlp"``), so a word is classified by the readout at its end time and the
task's classification, keyword spotting, cost and plasticity code runs on them unchanged.
Both are :class:`axonal.nn.Sequential` models: they run a whole sequence or one step at a
time (:class:`axonal.nn.Streaming`) with the same result, and every neuron layer is an
:class:`axonal.nn.Neuron` that :class:`axonal.analysis.SpikeMonitor` and
:func:`axonal.analysis.count_operations` see.

- :class:`MorseResNet`: the SEW residual idea (Fang et al. 2021) on a spiking MLP. A stem
  ``Linear(2, H) -> LIF``, then ``blocks`` residual blocks ``s + LIF(W2 LIF(W1 s))`` whose
  shortcut adds the block's input spikes to its output spikes (so the blocks pass spike
  counts on), then ``Linear(H, classes) -> LI``. Every LIF layer has the fixed leaks of the
  two-layer network, spread over ``[0.8, 0.995]`` (time constants of 5 to 200 steps), which
  is what holds a word of up to 132 steps in memory.
- :class:`MorseTransformer`: spike-driven self-attention (:class:`~axonal.models.transformer.
  SpikeDrivenAttention`, reused as it is) over tokens that are a *delay line*: at step ``t``,
  token ``k`` holds the input of step ``t - k`` (``k < tokens``), embedded by a 1x1
  convolution ``2 -> dim`` plus a learned embedding per delay. The token map ``[T, B, dim,
  tokens, 1]`` goes through ``u + SDSA(u)`` and ``u + MLP(u)`` (membrane shortcuts, as in
  :class:`~axonal.models.transformer.SpikeDrivenTransformer`), is averaged over tokens, and
  drives one LIF layer with the spread leaks before the ``Linear -> LI`` readout.

Why these choices. The attention's neurons (:func:`~axonal.models.resnet.make_neuron`:
``tau = 2`` steps, hard reset) and its token window of ``tokens`` steps see only a few dots
and dashes (symbols are 6 steps apart, letters 11), while a keyword lasts up to 132 steps:
the slow LIF layer after the pooling is the transformer's memory of the word, as the slow
LIF layers are the ResNet's and the MLP's. The delay line is :class:`axonal.nn.Delay` on
``tokens`` copies of the input (:class:`DelayTaps`), so it only looks backward in time and
carries the last ``tokens - 1`` input steps as state when stepped. Attention mixes tokens
of the same step only (the gate sums ``K * V`` over tokens, not over time), so the network
is causal.

BatchNorm (inside the attention and MLP blocks) uses batch statistics in training mode,
taken over every step and sample of the batch (padding included); the output at ``t`` is
causal and independent of the other samples only in eval mode (running statistics), which
is how words are classified and streams spotted.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from axonal import nn as snn
from axonal.functional import FastSigmoid
from axonal.models.resnet import make_neuron
from axonal.models.transformer import Residual, SpikeDrivenAttention

__all__ = [
    "INPUT_GAIN",
    "DelayTaps",
    "MorseResNet",
    "MorseTransformer",
    "PositionEmbedding",
    "Synapse",
    "spread_lif",
]

INPUT_GAIN = 3.0
"""Factor on the initial weights of the first layer: the input spikes are sparse (2 channels,
one spike every 6 steps at most), and a stronger first layer gets neurons firing."""


def spread_lif(size: int) -> snn.LIF:
    """``size`` LIF neurons with fixed leaks ``beta`` spread linearly over ``[0.8, 0.995]``
    (time constants of 5 to 200 steps) and a fast-sigmoid surrogate (slope 5)."""
    return snn.LIF(beta=torch.linspace(0.8, 0.995, size), surrogate=FastSigmoid(slope=5.0))


class Synapse(NamedTuple):
    """A weight a local rule can bind to and the modules whose trains it observes.

    ``target``: the ``nn.Linear`` or 1x1 ``nn.Conv2d``; ``pre``: the module whose output
    (``pre_from="output"``) or first input (``"input"``) is the presynaptic train; ``post``:
    the module whose output is the postsynaptic train (a value ``> 0`` is a spike). See
    :meth:`axonal.learning.PlasticityRule.watch`.
    """

    target: nn.Module
    pre: nn.Module
    post: nn.Module
    pre_from: str = "output"


class MorseResNet(snn.Sequential):
    """SEW-style residual spiking MLP: ``[T, B, 2]`` spikes -> ``[T, B, classes]`` membranes.

    ``hidden``: neurons per LIF layer; ``blocks``: residual blocks (each two ``Linear -> LIF``
    layers and a spike-add shortcut). Layers: ``0`` stem Linear, ``1`` stem LIF,
    ``2 .. blocks + 1`` the blocks (:class:`~axonal.models.transformer.Residual` around
    ``Sequential(Linear, LIF, Linear, LIF)``), then the readout ``Linear`` and ``LI``
    (``beta = 0.99``). The state is one entry per layer.
    """

    def __init__(self, hidden: int = 128, classes: int = 51, blocks: int = 2) -> None:
        if hidden < 1 or classes < 1 or blocks < 1:
            raise ValueError(
                f"need hidden, classes and blocks >= 1, got {hidden}, {classes}, {blocks}"
            )
        residual = [
            Residual(snn.Sequential(
                nn.Linear(hidden, hidden), spread_lif(hidden),
                nn.Linear(hidden, hidden), spread_lif(hidden),
            ))
            for _ in range(blocks)
        ]  # fmt: skip
        super().__init__(
            nn.Linear(2, hidden), spread_lif(hidden), *residual,
            nn.Linear(hidden, classes), snn.LI(beta=0.99),
        )  # fmt: skip
        with torch.no_grad():
            self[0].weight.mul_(INPUT_GAIN)

    def hidden_synapse(self) -> Synapse:
        """The second Linear of the last block, between its two LIF layers."""
        block = self[-3].inner
        return Synapse(block[2], block[1], block[3])

    def readout_synapse(self) -> Synapse:
        """The readout Linear: pre = the last block's output spikes (counts, since the
        shortcut adds spikes), post = the readout membrane."""
        return Synapse(self[-2], self[-3], self[-1])


class DelayTaps(nn.Module):
    """``[N, C] -> [N, C, taps, 1]``: ``taps`` copies of every feature, laid out as a
    ``taps x 1`` token map (the taps of a delay line, before :class:`axonal.nn.Delay` shifts
    tap ``k`` by ``k`` steps)."""

    def __init__(self, taps: int) -> None:
        super().__init__()
        if taps < 1:
            raise ValueError(f"taps must be >= 1, got {taps}")
        self.taps = taps

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2:
            raise ValueError(f"DelayTaps expects [N, C] per step, got {tuple(x.shape)}")
        return x[:, :, None, None].expand(-1, -1, self.taps, 1)

    def extra_repr(self) -> str:
        return f"taps={self.taps}"


class PositionEmbedding(nn.Module):
    """A learned offset per channel and token: ``[N, dim, tokens, 1] -> [N, dim, tokens, 1]``,
    ``x + p`` with ``p [dim, tokens, 1]`` drawn from ``N(0, 0.1^2)``."""

    def __init__(self, dim: int, tokens: int) -> None:
        super().__init__()
        self.position = nn.Parameter(0.1 * torch.randn(dim, tokens, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1:] != self.position.shape:
            raise ValueError(
                f"PositionEmbedding expects [N, {', '.join(map(str, self.position.shape))}], "
                f"got {tuple(x.shape)}"
            )
        return x + self.position


class MorseTransformer(snn.Sequential):
    """Spike-driven transformer over a delay line: ``[T, B, 2]`` spikes -> ``[T, B, classes]``
    membranes (see the module docstring).

    ``dim``: token channels; ``tokens``: delay-line length in steps; ``mlp_ratio``: MLP hidden
    channels over ``dim``. Layers: ``0`` :class:`DelayTaps`, ``1`` :class:`axonal.nn.Delay`,
    ``2`` embedding (1x1 conv ``2 -> dim``), ``3`` :class:`PositionEmbedding`, ``4``
    ``Residual(SpikeDrivenAttention)``, ``5`` ``Residual(MLP)``, ``6-7`` mean over tokens,
    ``8`` LIF with spread leaks, ``9-10`` readout ``Linear`` and ``LI`` (``beta = 0.99``).
    The state is one entry per layer (the delay line's is its last ``tokens - 1`` inputs).
    """

    def __init__(
        self, dim: int = 32, classes: int = 51, tokens: int = 8, mlp_ratio: int = 2
    ) -> None:
        if dim < 1 or classes < 1 or tokens < 1 or mlp_ratio < 1:
            raise ValueError(
                "need dim, classes, tokens and mlp_ratio >= 1, got "
                f"{dim}, {classes}, {tokens}, {mlp_ratio}"
            )
        width = dim * mlp_ratio
        mlp = snn.Sequential(
            make_neuron("lif"), nn.Conv2d(dim, width, 1, bias=False), nn.BatchNorm2d(width),
            make_neuron("lif"), nn.Conv2d(width, dim, 1, bias=False), nn.BatchNorm2d(dim),
        )  # fmt: skip
        super().__init__(
            DelayTaps(tokens), snn.Delay(torch.arange(tokens).view(tokens, 1)),
            nn.Conv2d(2, dim, 1), PositionEmbedding(dim, tokens),
            Residual(SpikeDrivenAttention(dim)), Residual(mlp),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), spread_lif(dim),
            nn.Linear(dim, classes), snn.LI(beta=0.99),
        )  # fmt: skip
        self.tokens = tokens
        with torch.no_grad():
            self[2].weight.mul_(INPUT_GAIN)

    @property
    def attention(self) -> Residual:
        """The residual attention block (``.inner`` is the :class:`SpikeDrivenAttention`)."""
        return self[4]

    def hidden_synapse(self) -> Synapse:
        """``W_o`` of the attention (``attention.inner.out[0]``, 1x1 conv): pre = the block's
        input membrane, post = its output membrane (``> 0`` is a spike; any token), as the
        SSD-ViT code binds it."""
        block = self.attention
        return Synapse(block.inner.out[0], block, block, pre_from="input")

    def mlp_synapse(self) -> Synapse:
        """The first 1x1 conv of the MLP block, between its two LIF layers."""
        mlp = self[5].inner
        return Synapse(mlp[1], mlp[0], mlp[3])

    def readout_synapse(self) -> Synapse:
        """The readout Linear: pre = the spread-leak LIF layer, post = the readout membrane."""
        return Synapse(self[-2], self[-3], self[-1])
