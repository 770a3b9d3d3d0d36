"""Integer-only inference for feed-forward LIF networks, spike for spike equal to fake-quant.

The supported model is an :class:`axonal.nn.Sequential` of blocks ``[op ...] synapse LIF``:

- ``synapse``: an ``nn.Linear`` or ``nn.Conv2d`` (``groups = 1``, ``dilation = 1``, zero
  padding given as numbers) whose weights :func:`quantize_model` quantised (uniform scheme, per
  tensor or per output channel);
- ``LIF``: :class:`axonal.nn.LIF` with a scalar ``beta`` and ``threshold``, a ``"subtract"``
  or ``"zero"`` reset (``v_reset = v_leak = 0``, no ``input_scale``) and a uniform
  :class:`StateQuantizer` whose level spacing is a power of two;
- ``op``: stateless layers between a LIF (or the input) and the next synapse:
  ``nn.Flatten()``, :class:`axonal.nn.SumPool2d`, ``nn.MaxPool2d`` and ``nn.AvgPool2d`` whose
  divisor is a power of two ``2**d`` (run as an integer sum, the ``2**-d`` folded into the
  next synapse's scales).

Input activation quantisers (``quantize_model(..., activations=True)``) leave binary spikes
unchanged, so they are accepted on a synapse whose input is spikes and refused after a sum or
average pool.

Fixed point, per block (``e``, ``s``, ``f`` integers, ``q = 2**-e`` the membrane quantum):

- membrane ``v = V q`` with the integer ``V`` in ``[V_min, V_max]`` (the state levels);
- ``beta = M / 2**s``; ``threshold = Theta q``;
- input current of output channel ``j``: ``y_j = (A_j sum_i c_ji x_i + B_j) 2**-f``: ``c``
  the weight codes, ``x`` the integer inputs (spikes, or window sums of spikes after the ops),
  ``A_j`` the channel's scale (times ``2**-d`` after an average pool) and ``B_j`` its bias in
  units of ``2**-f`` (``f >= e + s`` and fine enough that every scale and bias is an integer
  there);
- one step: ``U = V' M 2**(f-e-s) + Y`` (the exact membrane in units of ``2**-f``), then
  ``V = clamp(round(U / 2**(f-e)), V_min, V_max)`` rounding half-way values down (as
  :class:`StateQuantizer` does), spike ``S = V > Theta``, reset ``V' = V - S Theta`` or
  ``V (1 - S)``.

Every value of the float model is then a float on the grid ``2**-f`` and every float operation
of it exact, as long as the magnitudes stay below ``2**24`` grid units in float32 (``2**53`` in
float64): :meth:`IntegerLIFNetwork.from_model` checks the worst case (``mantissa_bits``).
:func:`prepare_for_integer` makes an ordinary float model satisfy these conditions (see
``docs/quantization.md`` for what it snaps).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from axonal.nn.container import Sequential
from axonal.nn.layers import SumPool2d
from axonal.nn.neurons import LIF
from axonal.quant._checks import check_bits, check_non_negative, check_positive
from axonal.quant.state import StateQuantizer
from axonal.quant.transform import (
    ActivationQuantizer,
    WeightQuantizer,
    quantize_model,
    quantized_layers,
)

__all__ = [
    "FLOAT32_BITS",
    "IntegerFlatten",
    "IntegerLIFLayer",
    "IntegerLIFNetwork",
    "IntegerPool",
    "prepare_for_integer",
]

INTEGER_RESETS = ("subtract", "zero")
SYNAPSES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d)
SHAPE_OPS: tuple[type[nn.Module], ...] = (nn.Flatten, SumPool2d, nn.AvgPool2d, nn.MaxPool2d)
_EXPECTED = "nn.Linear, nn.Conv2d, nn.Flatten, SumPool2d, nn.AvgPool2d or nn.MaxPool2d"
_MAX_EXPONENT = 126  # search range for the power-of-two exponent of a dyadic value
_INT64_BITS = 62  # headroom kept below int64's 63 magnitude bits
FLOAT32_BITS = 24  # significand bits of float32: integers below 2**24 are exact


def _dyadic_exponent(values: list[float], what: str) -> int:
    """Smallest ``k`` (may be negative) with every ``value * 2**k`` an integer."""
    for k in range(-_MAX_EXPONENT, _MAX_EXPONENT + 1):
        if all(math.ldexp(v, k).is_integer() for v in values):
            return k
    raise ValueError(f"{what} is not a dyadic value k / 2**s (got {values[:4]}...)")


def _round_up_significant(x: float, bits: int) -> float:
    """``x >= 0`` rounded up to ``bits`` significant binary digits (0 stays 0)."""
    mantissa, exponent = math.frexp(x)
    return math.ldexp(math.ceil(math.ldexp(mantissa, bits)), exponent - bits)


def _name(layer: nn.Module) -> str:
    """The class name of ``layer`` as the user built it (not quantize_model's subclass)."""
    return parametrize.type_before_parametrizations(layer).__name__


def _layer_error(index: int, layer: nn.Module, expected: str) -> ValueError:
    return ValueError(
        f"integer inference: layer {index} ({_name(layer)}) is not supported; "
        f"expected {expected}. The engine runs an axonal.nn.Sequential of blocks "
        f"[pooling / flatten ...] nn.Linear or nn.Conv2d, then axonal.nn.LIF"
    )


def _pair(value: object) -> tuple[int, int]:
    """``(a, b)`` from an int or a pair of ints (anything else raises TypeError)."""
    pair = (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[arg-type]
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise TypeError(f"expected an int or a pair of ints, got {value!r}")
    return pair  # type: ignore[return-value]


@dataclass(frozen=True)
class _Block:
    """``ops`` (index, layer) before a synapse, the synapse and its LIF, with their indices."""

    ops: tuple[tuple[int, nn.Module], ...]
    index: int
    synapse: nn.Module
    neuron: LIF


def _check_structure(model: nn.Module) -> list[_Block]:
    """The blocks of ``model``, or a ValueError naming the first layer that does not fit."""
    if not isinstance(model, Sequential):
        raise TypeError(f"expected an axonal.nn.Sequential, got {type(model).__name__}")
    layers = list(model)
    if not layers:
        raise ValueError("integer inference: the Sequential is empty")
    blocks: list[_Block] = []
    ops: list[tuple[int, nn.Module]] = []
    index = 0
    while index < len(layers):
        layer = layers[index]
        if isinstance(layer, SHAPE_OPS):
            _check_op(index, layer)
            ops.append((index, layer))
            index += 1
            continue
        # a parametrised layer of quantize_model is a subclass; LIF cells are not sequences
        if not isinstance(layer, SYNAPSES):
            raise _layer_error(index, layer, _EXPECTED)
        _check_synapse(index, layer)
        if index + 1 == len(layers):
            name = _name(layer)
            raise ValueError(f"integer inference: layer {index} ({name}) has no LIF after it")
        neuron = layers[index + 1]
        if type(neuron) is not LIF:
            raise _layer_error(index + 1, neuron, "axonal.nn.LIF")
        _check_neuron(index + 1, neuron)
        blocks.append(_Block(tuple(ops), index, layer, neuron))
        ops = []
        index += 2
    if ops:
        first, layer = ops[0]
        raise ValueError(
            f"integer inference: layer {first} ({_name(layer)}) follows the last LIF; "
            f"the network must end with a LIF layer"
        )
    return blocks


def _check_synapse(index: int, layer: nn.Module) -> None:
    """Raise unless a Conv2d has the options the integer engine implements."""
    if not isinstance(layer, nn.Conv2d):
        return
    where = f"integer inference: layer {index} (Conv2d)"
    if layer.groups != 1 or tuple(layer.dilation) != (1, 1):
        raise ValueError(f"{where} needs groups = 1 and dilation = 1")
    if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
        raise ValueError(f"{where} needs zero padding given as numbers, not {layer.padding!r}")


def _pool_divisor(index: int, layer: nn.AvgPool2d) -> int:
    """``d`` of an average pool dividing by ``2**d``, or a ValueError."""
    kh, kw = _pair(layer.kernel_size)
    divisor = layer.divisor_override or kh * kw
    padded = _pair(layer.padding) != (0, 0)
    if padded and not layer.count_include_pad and not layer.divisor_override:
        raise ValueError(
            f"integer inference: layer {index} (AvgPool2d) with padding needs "
            f"count_include_pad=True (a constant divisor)"
        )
    if divisor & (divisor - 1):
        raise ValueError(
            f"integer inference: layer {index} (AvgPool2d) divides by {divisor}, not a power "
            f"of two; use SumPool2d or a 2 x 2 / 4 x 4 window"
        )
    return divisor.bit_length() - 1


def _check_op(index: int, layer: nn.Module) -> None:
    """Raise unless a flatten / pooling layer has the options the integer engine implements."""
    where = f"integer inference: layer {index} ({_name(layer)})"
    if isinstance(layer, nn.Flatten):
        if layer.start_dim != 1 or layer.end_dim != -1:
            raise ValueError(f"{where} must flatten from dim 1 to the last (nn.Flatten())")
        return
    if getattr(layer, "ceil_mode", False):
        raise ValueError(f"{where} needs ceil_mode=False")
    if isinstance(layer, nn.MaxPool2d) and (
        _pair(layer.dilation) != (1, 1) or layer.return_indices
    ):
        raise ValueError(f"{where} needs dilation = 1 and return_indices=False")
    if isinstance(layer, nn.AvgPool2d):
        _pool_divisor(index, layer)


def _check_neuron(index: int, neuron: LIF) -> None:
    """Raise unless ``neuron`` has the LIF options the integer engine implements."""
    where = f"layer {index} (LIF)"
    if neuron.beta.numel() != 1 or neuron.threshold.numel() != 1:
        raise ValueError(f"integer inference: {where} needs a scalar beta and threshold")
    if neuron.reset_mode not in INTEGER_RESETS:
        raise ValueError(f"integer inference: {where} reset must be one of {INTEGER_RESETS}")
    if neuron.v_reset != 0 or neuron.v_leak != 0 or neuron.input_scale is not None:
        raise ValueError(f"integer inference: {where} needs v_reset = v_leak = 0, no input_scale")


def _state_grid(index: int, neuron: LIF) -> tuple[int, int, int]:
    """``(e, V_min, V_max)`` of a uniform state quantiser with spacing ``2**-e``."""
    quantizer = neuron.state_quant
    hint = "call prepare_for_integer(model) first"
    if not isinstance(quantizer, StateQuantizer):
        raise ValueError(f"integer inference: layer {index} (LIF) has no StateQuantizer; {hint}")
    levels = quantizer.levels.double().tolist()
    spacing = {b - a for a, b in itertools.pairwise(levels)}
    exponent = -math.frexp(levels[1] - levels[0])[1] + 1
    if len(spacing) != 1 or math.ldexp(1.0, -exponent) not in spacing:
        raise ValueError(
            f"integer inference: layer {index} (LIF) state levels are not uniform with a "
            f"power-of-two spacing; {hint}"
        )
    codes = [math.ldexp(level, exponent) for level in levels]
    if not all(c.is_integer() for c in codes):
        raise ValueError(f"integer inference: layer {index} (LIF) levels are off their grid")
    return exponent, int(codes[0]), int(codes[-1])


def _windows(
    x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> Tensor:
    """The ``kh x kw`` windows of ``x`` ``[N, C, H, W]`` (zero padded), as
    ``[N, C, H_out, W_out, kh * kw]`` (a view where no padding is needed)."""
    if any(padding):
        x = nn.functional.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    windows = x.unfold(2, kernel[0], stride[0]).unfold(3, kernel[1], stride[1])
    return windows.flatten(-2)


@dataclass(frozen=True)
class IntegerPool:
    """Sum (``kind="sum"``) or maximum (``"max"``) over the windows of ``[N, C, H, W]`` integer
    inputs, zero padded (the maximum of non-negative inputs is unchanged by it)."""

    kind: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]

    def __post_init__(self) -> None:
        if self.kind not in ("sum", "max"):
            raise ValueError(f"kind must be 'sum' or 'max', got {self.kind!r}")

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"pooling expects [N, C, H, W] inputs, got {tuple(x.shape)}")
        windows = _windows(x, self.kernel, self.stride, self.padding)
        return windows.sum(-1) if self.kind == "sum" else windows.amax(-1)


@dataclass(frozen=True)
class IntegerFlatten:
    """``[N, ...] -> [N, prod(...)]``, as ``nn.Flatten()``."""

    def __call__(self, x: Tensor) -> Tensor:
        return x.flatten(1)


IntegerOp = IntegerPool | IntegerFlatten


def _integer_op(index: int, layer: nn.Module) -> tuple[IntegerOp, int, int]:
    """The integer op of a checked flatten / pooling layer, the factor by which it can raise
    the largest input value, and ``d`` of its ``2**-d`` (average pools) for the next synapse."""
    if isinstance(layer, nn.Flatten):
        return IntegerFlatten(), 1, 0
    kernel = _pair(layer.kernel_size)
    stride = _pair(layer.stride if layer.stride is not None else layer.kernel_size)
    padding = _pair(layer.padding)
    if isinstance(layer, nn.MaxPool2d):
        return IntegerPool("max", kernel, stride, padding), 1, 0
    divisor_bits = _pool_divisor(index, layer) if isinstance(layer, nn.AvgPool2d) else 0
    return IntegerPool("sum", kernel, stride, padding), kernel[0] * kernel[1], divisor_bits


@dataclass(frozen=True, eq=False)
class IntegerLIFLayer:
    """One block ``[ops] Linear/Conv2d -> LIF`` in integer form (see the module docstring for
    the maths).

    ``codes`` ``[C_out, C_in]`` (Linear) or ``[C_out, C_in, kh, kw]`` (Conv2d, with
    ``stride`` and zero ``padding``), int8/int16 weight codes; ``scale`` ``[C_out]`` (int64,
    ``A``), ``bias`` ``[C_out]`` (int64, ``B``); ``pre``: the integer ops applied to the input
    first; the rest are Python ints. ``quantum_bits`` is ``e`` (membrane quantum ``2**-e``),
    ``shift`` is ``f - e``, ``leak`` is ``M 2**(f-e-s)``; ``mantissa_bits`` is the bit length of
    the largest ``|U|`` any input can produce.
    """

    codes: Tensor
    scale: Tensor
    bias: Tensor
    leak: int
    shift: int
    threshold: int
    v_min: int
    v_max: int
    reset: str
    quantum_bits: int
    weight_bits: int
    mantissa_bits: int
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    pre: tuple[IntegerOp, ...] = ()

    @property
    def is_conv(self) -> bool:
        return self.codes.dim() == 4

    def input_description(self) -> str:
        """The shape of the spikes this layer takes, as ``[T, B, ...]`` text."""
        if self.pre:
            return "[T, B, ...]"
        return f"[T, B, {self.codes.shape[1]}{', H, W' if self.is_conv else ''}]"

    def _synapse(self, x: Tensor) -> Tensor:
        """Integer ``sum_i c_ji x_i``: ``[N, C_in] -> [N, C_out]`` or
        ``[N, C_in, H, W] -> [N, C_out, H_out, W_out]`` (int64)."""
        codes = self.codes.to(torch.int64)
        if not self.is_conv:
            return x @ codes.T
        kh, kw = codes.shape[2:]
        windows = _windows(x, (kh, kw), self.stride, self.padding)  # [N, C_in, H', W', kh kw]
        n, _, height, width, _ = windows.shape
        columns = windows.permute(0, 2, 3, 1, 4).reshape(n * height * width, -1)
        out = columns @ codes.flatten(1).T
        return out.reshape(n, height, width, -1).permute(0, 3, 1, 2)

    def current(self, spikes: Tensor) -> Tensor:
        """Input current ``[T, B, C_out, ...]`` (int64, units ``2**-f``) of integer inputs
        ``[T, B, ...]`` (spikes, or the previous layer's spikes)."""
        x = spikes.flatten(0, 1)
        for op in self.pre:
            x = op(x)
        wanted = 4 if self.is_conv else 2
        if x.dim() != wanted or x.shape[1] != self.codes.shape[1]:
            raise ValueError(
                f"expected spikes {self.input_description()}, got {tuple(spikes.shape)}"
            )
        counts = self._synapse(x)
        shape = (-1,) + (1,) * (counts.dim() - 2)
        out = counts * self.scale.view(shape) + self.bias.view(shape)
        return out.unflatten(0, spikes.shape[:2])

    def requantize(self, u: Tensor) -> Tensor:
        """``clamp(round(u / 2**shift), V_min, V_max)``, half-way values rounded down."""
        if self.shift > 0:
            u = (u + ((1 << (self.shift - 1)) - 1)) >> self.shift
        return u.clamp(self.v_min, self.v_max)

    def step(self, current: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """One time step: current ``[B, ...]`` and membrane after reset ``[B, ...]`` (int64) ->
        spikes ``{0, 1}`` and the new membrane after reset (int64, units of the quantum)."""
        v = self.requantize(v * self.leak + current)
        spikes = (v > self.threshold).to(torch.int64)
        if self.reset == "subtract":
            return spikes, v - spikes * self.threshold
        return spikes, v * (1 - spikes)

    def run(self, spikes: Tensor) -> tuple[Tensor, Tensor]:
        """Spikes ``[T, B, ...]`` (int64) -> spikes ``[T, B, C_out, ...]`` and final membrane."""
        current = self.current(spikes)
        v = torch.zeros(current.shape[1:], dtype=torch.int64)
        out = torch.empty_like(current)
        for t in range(current.shape[0]):
            out[t], v = self.step(current[t], v)
        return out, v

    def size_bytes(self) -> dict[str, int]:
        """Storage: weight codes packed at ``weight_bits``, the rest at their dtype."""
        return {
            "weights": math.ceil(self.codes.numel() * self.weight_bits / 8),
            "scales": self.scale.numel() * self.scale.element_size(),
            "biases": self.bias.numel() * self.bias.element_size(),
            "constants": 7 * 8,  # leak, shift, threshold, v_min, v_max, reset, quantum_bits
        }


def _synapse_integers(
    layer: nn.Module, quantizer: WeightQuantizer, grid_bits: int, divisor_bits: int
) -> tuple[Tensor, list[float], list[float], int]:
    """``(codes, scales, biases, f)`` of a quantised Linear or Conv2d, the scales divided by
    ``2**divisor_bits``, ``f`` at least ``grid_bits``."""
    codes, scale = quantizer.codes(layer.parametrizations["weight"].original)
    codes = codes.to(torch.int16 if quantizer.bits > 8 else torch.int8)
    rows = scale.detach().double().flatten().expand(codes.shape[0]).tolist()
    scales = [
        math.ldexp(s, -divisor_bits) if bool(codes[j].any()) else 0.0
        for j, s in enumerate(rows)
    ]
    biases = [] if layer.bias is None else layer.bias.detach().double().tolist()
    fine = max(grid_bits, _dyadic_exponent(scales + biases, "a weight scale or bias"))
    return codes, scales, biases or [0.0] * len(scales), fine


def _integer_layer(block: _Block, quantizer: object, budget: int) -> IntegerLIFLayer:
    index, neuron, name = block.index, block.neuron, _name(block.synapse)
    if not isinstance(quantizer, WeightQuantizer) or quantizer.scheme != "uniform":
        raise ValueError(
            f"integer inference: layer {index} ({name}) must be quantised by "
            f"quantize_model(model, scheme='uniform'); call prepare_for_integer(model) first"
        )
    pre, input_max, divisor_bits = [], 1, 0
    for op_index, layer in block.ops:
        op, gain, bits = _integer_op(op_index, layer)
        pre.append(op)
        input_max, divisor_bits = input_max * gain, divisor_bits + bits
    quantizes_inputs = isinstance(
        getattr(block.synapse, "activation_quantizer", None), ActivationQuantizer
    )
    if quantizes_inputs and (input_max > 1 or divisor_bits):
        raise ValueError(
            f"integer inference: layer {index} ({name}) quantises its input activations, "
            f"which are window sums here, not spikes; the engine does not model that"
        )
    e, v_min, v_max = _state_grid(index + 1, neuron)
    beta = float(neuron.beta.detach().clamp(0, 1))
    s = max(0, _dyadic_exponent([beta], f"layer {index + 1} (LIF) beta"))
    theta = math.ldexp(float(neuron.threshold), e)
    if not theta.is_integer():
        raise ValueError(f"integer inference: layer {index + 1} (LIF) threshold is off the grid")
    codes, scales, biases, f = _synapse_integers(block.synapse, quantizer, e + s, divisor_bits)
    scale = [int(math.ldexp(x, f)) for x in scales]
    bias = [int(math.ldexp(x, f)) for x in biases]
    leak = int(math.ldexp(beta, s)) << (f - e - s)
    rows = codes.to(torch.int64).abs().flatten(1).sum(1).tolist()
    drive = max(n * input_max * abs(a) + abs(b) for n, a, b in zip(rows, scale, bias, strict=True))
    bits = (drive + max(abs(v_min), abs(v_max)) * leak).bit_length()
    if bits > budget:
        raise ValueError(
            f"integer inference: layer {index} ({name}) and {index + 1} (LIF) need {bits}-bit "
            f"exact membranes (beta = k / 2**{s}, grid 2**-{f}), above the {budget}-bit budget; "
            f"snap beta, scales and biases with prepare_for_integer(model)"
        )
    conv = isinstance(block.synapse, nn.Conv2d)
    return IntegerLIFLayer(
        codes=codes,
        scale=torch.tensor(scale, dtype=torch.int64),
        bias=torch.tensor(bias, dtype=torch.int64),
        leak=leak,
        shift=f - e,
        threshold=int(theta),
        v_min=v_min,
        v_max=v_max,
        reset=neuron.reset_mode,
        quantum_bits=e,
        weight_bits=quantizer.bits,
        mantissa_bits=bits,
        stride=_pair(block.synapse.stride) if conv else (1, 1),
        padding=_pair(block.synapse.padding) if conv else (0, 0),
        pre=tuple(pre),
    )


class IntegerLIFNetwork:
    """Integer-only inference of a feed-forward LIF network (see the module docstring).

    ``net(spikes [T, B, ...]) -> spikes [T, B, ...]`` (int64 ``{0, 1}``; ``[T, B, N]`` for a
    Linear, ``[T, B, C, H, W]`` for a Conv2d); the input may be bool, integer or floating point
    but must hold only 0 and 1. The loop uses int64 tensors only. Build with :meth:`from_model`.
    """

    def __init__(self, layers: list[IntegerLIFLayer]) -> None:
        if not layers:
            raise ValueError("IntegerLIFNetwork needs at least one layer")
        self.layers = layers

    @property
    def mantissa_bits(self) -> int:
        """Worst-case bits of an exact membrane (units ``2**-f``) over all layers."""
        return max(layer.mantissa_bits for layer in self.layers)

    @classmethod
    def from_model(
        cls, model: nn.Module, *, mantissa_bits: int = FLOAT32_BITS
    ) -> IntegerLIFNetwork:
        """Convert a model that satisfies the module docstring's conditions (e.g. the output of
        :func:`prepare_for_integer`); raises a ValueError naming the first layer that does not.

        ``mantissa_bits`` bounds the worst-case membrane magnitude in grid units: 24 (default)
        guarantees the float32 model's arithmetic is exact, so the spikes match; 53 does the
        same for a float64 model; at most 62 (int64 headroom)."""
        if type(mantissa_bits) is not int or not 1 <= mantissa_bits <= _INT64_BITS:
            raise ValueError(
                f"mantissa_bits must be an int in [1, {_INT64_BITS}], got {mantissa_bits!r}"
            )
        blocks = _check_structure(model)
        quantizers = {name: q for name, (_, q) in quantized_layers(model).items()}
        return cls(
            [
                _integer_layer(block, quantizers.get(str(block.index)), mantissa_bits)
                for block in blocks
            ]
        )

    def _spikes(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() < 3:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            expected = self.layers[0].input_description()
            raise ValueError(f"expected spikes {expected}, got {shape}")
        if not ((x == 0) | (x == 1)).all():
            raise ValueError("expected binary spikes: every input value must be 0 or 1")
        return x.to(torch.int64)

    def run(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Output spikes ``[T, B, ...]`` and every layer's final membrane ``[B, ...]`` (int64,
        units of that layer's quantum; ``v = V * 2**-quantum_bits`` in the float model)."""
        out = self._spikes(x)
        states = []
        for layer in self.layers:
            out, v = layer.run(out)
            states.append(v)
        return out, states

    def __call__(self, x: Tensor) -> Tensor:
        return self.run(x)[0]

    def size_bytes(self) -> dict[str, int]:
        """Bytes of the integer model by kind (``weights``, ``scales``, ``biases``,
        ``constants``) and their ``total``."""
        report: dict[str, int] = {}
        for layer in self.layers:
            for kind, size in layer.size_bytes().items():
                report[kind] = report.get(kind, 0) + size
        report["total"] = sum(report.values())
        return report


def _snap_weight_scales(layer: nn.Module, bits: int, per_channel: bool, scale_bits: int) -> None:
    """Raise the largest |weight| of each output channel (or of the tensor) so that the uniform
    scale ``max|W| / q_max`` has ``scale_bits`` significant bits (rounding up keeps it the
    largest); the other weights stay as they are."""
    q_max = 2 ** (bits - 1) - 1
    weight = layer.weight.detach()
    if not weight.is_contiguous():
        raise ValueError(f"{_name(layer)} weight must be contiguous to be snapped")
    groups = [row.view(-1) for row in weight] if per_channel else [weight.view(-1)]
    with torch.no_grad():
        for group in groups:
            top = int(group.abs().argmax())
            peak = float(group[top])
            scale = _round_up_significant(abs(peak) / q_max, scale_bits)
            group[top] = math.copysign(scale * q_max, peak)


def _uniform_grid(threshold: float, bits: int, lower: float, upper: float) -> tuple[int, int, int]:
    """``(e, Theta, V_min)`` for ``2**bits`` levels of spacing ``2**-e`` spanning
    ``[-threshold (1 + lower), threshold (1 + upper)]``; the threshold snaps to ``Theta 2**-e``."""
    threshold = check_positive(threshold, "threshold")
    lower = check_non_negative(lower, "lower")
    upper = check_positive(upper, "upper")
    n = 2**bits
    span = threshold * (2 + lower + upper)
    e = -math.ceil(math.log2(span / (n - 1)))
    theta = round(math.ldexp(threshold, e))
    if theta < 1:
        raise ValueError(f"threshold {threshold} is below the state quantum 2**{-e}")
    v_max = max(math.ceil(math.ldexp(threshold * (1 + upper), e)), theta + 1)
    return e, theta, v_max - (n - 1)


def prepare_for_integer(
    model: nn.Module,
    weight_bits: int = 8,
    state_bits: int = 8,
    *,
    per_channel: bool = True,
    beta_bits: int = 8,
    scale_bits: int = 8,
    lower: float = 0.0,
    upper: float = 0.2,
) -> Sequential:
    """Snap a float ``Sequential`` of blocks ``[pooling / flatten ...] Linear or Conv2d, LIF``
    (in place) so that its fake-quant forward pass is exact and
    :meth:`IntegerLIFNetwork.from_model` accepts it:

    1. each Linear / Conv2d weight scale is rounded to ``scale_bits`` significant bits (by
       moving the largest |weight| of the output channel/tensor), then :func:`quantize_model`
       quantises the weights (uniform, ``weight_bits``, ``per_channel``);
    2. each LIF's ``beta`` becomes ``round(beta 2**beta_bits) / 2**beta_bits``;
    3. each LIF gets a uniform :class:`StateQuantizer` of ``2**state_bits`` levels whose spacing
       ``q`` is the smallest power of two with which they span
       ``[-theta (1 + lower), theta (1 + upper)]``; the threshold is rounded to a multiple of
       ``q`` and the levels end at ``max(ceil(theta (1 + upper) / q), theta / q + 1) q``;
    4. each bias is rounded to a multiple of its LIF's ``q``.

    Returns ``model``. The model must not be quantised already.
    """
    for value, name in (
        (weight_bits, "weight_bits"),
        (state_bits, "state_bits"),
        (beta_bits, "beta_bits"),
        (scale_bits, "scale_bits"),
    ):
        check_bits(value, low=2 if name == "weight_bits" else 1, name=name)
    blocks = _check_structure(model)
    if quantized_layers(model):
        raise ValueError("model is already quantised; call dequantize_model(model) first")
    for block in blocks:
        synapse, neuron = block.synapse, block.neuron
        e, theta, v_min = _uniform_grid(float(neuron.threshold), state_bits, lower, upper)
        levels = torch.arange(v_min, v_min + 2**state_bits, dtype=torch.float64) * 2.0**-e
        with torch.no_grad():
            neuron.beta.copy_(torch.round(neuron.beta.clamp(0, 1) * 2**beta_bits) / 2**beta_bits)
            neuron.threshold.fill_(math.ldexp(theta, -e))
            if synapse.bias is not None:
                synapse.bias.copy_(torch.round(synapse.bias * 2.0**e) * 2.0**-e)
        delattr(neuron, "state_quant")
        neuron.state_quant = StateQuantizer(levels.to(neuron.threshold.dtype))
        _snap_weight_scales(synapse, weight_bits, per_channel, scale_bits)
    quantize_model(model, weight_bits, "uniform", per_channel=per_channel, layer_types=SYNAPSES)
    return model
