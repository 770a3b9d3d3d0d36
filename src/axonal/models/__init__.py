"""Spiking architectures built from :mod:`axonal.nn`, with a name registry.

``create_model("sew_resnet_tiny", in_channels=2, num_classes=10)``; ``list_models()``.
Spiking ResNets (SEW / MS), a spike-driven Transformer, a Spiking MetaFormer (SDTrack
backbone shape, I-LIF) and SMA with Attention ZoneOut.
"""

from axonal.models.metaformer import SpikingMetaFormer, attention_block, conv_block
from axonal.models.registry import create_model, list_models, register_model
from axonal.models.resnet import SpikingBasicBlock, SpikingResNet, make_neuron
from axonal.models.sma import (
    SMA,
    AttentionFactory,
    SMAAttention,
    attention_zoneout,
    sma_factory,
    weigh,
    zoneout_mask,
)
from axonal.models.transformer import Residual, SpikeDrivenAttention, SpikeDrivenTransformer

__all__ = [
    "SMA",
    "AttentionFactory",
    "Residual",
    "SMAAttention",
    "SpikeDrivenAttention",
    "SpikeDrivenTransformer",
    "SpikingBasicBlock",
    "SpikingMetaFormer",
    "SpikingResNet",
    "attention_block",
    "attention_zoneout",
    "conv_block",
    "create_model",
    "list_models",
    "make_neuron",
    "register_model",
    "sma_factory",
    "weigh",
    "zoneout_mask",
]
