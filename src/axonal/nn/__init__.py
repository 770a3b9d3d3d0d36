"""Spiking layers (``nn.Module``): neurons, recurrent layers, containers.

Sequence modules take time-major ``[T, B, ...]``; ``...Cell`` modules take one step.
"""

from axonal.nn.base import Neuron, SpikingModule
from axonal.nn.container import Sequential, Streaming, TimeChunked
from axonal.nn.event import EventConv2d, EventLinear, event_driven
from axonal.nn.layers import CubaLI, Delay, Scale, SumPool2d, Threshold
from axonal.nn.neurons import (
    ALIF,
    IF,
    ILIF,
    LI,
    LIF,
    ALIFCell,
    CubaLIF,
    CubaLIFCell,
    IFCell,
    ILIFCell,
    LICell,
    LIFCell,
)
from axonal.nn.recurrent import RLIF, RLIFCell, RLIFState

__all__ = [
    "ALIF",
    "IF",
    "ILIF",
    "LI",
    "LIF",
    "RLIF",
    "ALIFCell",
    "CubaLI",
    "CubaLIF",
    "CubaLIFCell",
    "Delay",
    "EventConv2d",
    "EventLinear",
    "IFCell",
    "ILIFCell",
    "LICell",
    "LIFCell",
    "Neuron",
    "RLIFCell",
    "RLIFState",
    "Scale",
    "Sequential",
    "SpikingModule",
    "Streaming",
    "SumPool2d",
    "Threshold",
    "TimeChunked",
    "event_driven",
]
