"""Integer-only inference for feed-forward LIF networks, spike for spike equal to fake-quant.

The supported model is an :class:`axonal.nn.Sequential` of ``nn.Linear`` / :class:`axonal.nn.LIF`
pairs: the Linear weights quantised by :func:`quantize_model` (uniform scheme, per tensor or per
output channel), each LIF with a scalar ``beta`` and ``threshold``, a ``"subtract"`` or
``"zero"`` reset (``v_reset = v_leak = 0``, no ``input_scale``) and a uniform
:class:`StateQuantizer` whose level spacing is a power of two.

Fixed point, per layer (``e``, ``s``, ``f`` integers, ``q = 2**-e`` the membrane quantum):

- membrane ``v = V q`` with the integer ``V`` in ``[V_min, V_max]`` (the state levels);
- ``beta = M / 2**s``; ``threshold = Theta q``;
- input current ``y_j = (A_j sum_i c_ji x_i + B_j) 2**-f``: ``c`` the weight codes, ``A_j`` the
  channel's scale and ``B_j`` its bias in units of ``2**-f`` (``f >= e + s`` and fine enough
  that every scale and bias is an integer there);
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

from axonal.nn.container import Sequential
from axonal.nn.neurons import LIF
from axonal.quant._checks import check_bits, check_non_negative, check_positive
from axonal.quant.state import StateQuantizer
from axonal.quant.transform import WeightQuantizer, quantize_model, quantized_layers

__all__ = ["FLOAT32_BITS", "IntegerLIFLayer", "IntegerLIFNetwork", "prepare_for_integer"]

INTEGER_RESETS = ("subtract", "zero")
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


def _layer_error(index: int, layer: nn.Module, expected: str) -> ValueError:
    return ValueError(
        f"integer inference: layer {index} ({type(layer).__name__}) is not supported; "
        f"expected {expected}. The engine runs an axonal.nn.Sequential of nn.Linear / "
        f"axonal.nn.LIF pairs"
    )


def _check_structure(model: nn.Module) -> list[tuple[nn.Linear, LIF]]:
    """The ``(Linear, LIF)`` pairs of ``model``, or a ValueError naming the first bad layer."""
    if not isinstance(model, Sequential):
        raise TypeError(f"expected an axonal.nn.Sequential, got {type(model).__name__}")
    layers = list(model)
    if not layers:
        raise ValueError("integer inference: the Sequential is empty")
    for index, layer in enumerate(layers):
        linear_slot = index % 2 == 0
        # the parametrised Linear of quantize_model is a subclass; LIF cells are not sequences
        fits = isinstance(layer, nn.Linear) if linear_slot else type(layer) is LIF
        if not fits:
            raise _layer_error(index, layer, "nn.Linear" if linear_slot else "axonal.nn.LIF")
    if len(layers) % 2:
        raise ValueError(f"integer inference: layer {len(layers) - 1} (Linear) has no LIF after it")
    for index, neuron in enumerate(layers[1::2]):
        _check_neuron(2 * index + 1, neuron)
    return list(zip(layers[0::2], layers[1::2], strict=True))


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


@dataclass(frozen=True, eq=False)
class IntegerLIFLayer:
    """One ``Linear -> LIF`` pair in integer form (see the module docstring for the maths).

    ``codes`` ``[N_out, N_in]`` (int8/int16 weight codes), ``scale`` ``[N_out]`` (int64, ``A``),
    ``bias`` ``[N_out]`` (int64, ``B``); the rest are Python ints. ``quantum_bits`` is ``e``
    (membrane quantum ``2**-e``), ``shift`` is ``f - e``, ``leak`` is ``M 2**(f-e-s)``;
    ``mantissa_bits`` is the bit length of the largest ``|U|`` any input can produce.
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

    def current(self, spikes: Tensor) -> Tensor:
        """Input current ``[T, B, N_out]`` (int64, units ``2**-f``) of spikes ``[T, B, N_in]``."""
        counts = spikes.flatten(0, 1) @ self.codes.to(torch.int64).T
        return (counts * self.scale + self.bias).unflatten(0, spikes.shape[:2])

    def requantize(self, u: Tensor) -> Tensor:
        """``clamp(round(u / 2**shift), V_min, V_max)``, half-way values rounded down."""
        if self.shift > 0:
            u = (u + ((1 << (self.shift - 1)) - 1)) >> self.shift
        return u.clamp(self.v_min, self.v_max)

    def step(self, current: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """One time step: current ``[B, N]`` and membrane after reset ``[B, N]`` (int64) ->
        spikes ``{0, 1}`` and the new membrane after reset (int64, units of the quantum)."""
        v = self.requantize(v * self.leak + current)
        spikes = (v > self.threshold).to(torch.int64)
        if self.reset == "subtract":
            return spikes, v - spikes * self.threshold
        return spikes, v * (1 - spikes)

    def run(self, spikes: Tensor) -> tuple[Tensor, Tensor]:
        """Spikes ``[T, B, N_in]`` (int64) -> spikes ``[T, B, N_out]`` and final membrane."""
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


def _linear_integers(
    linear: nn.Linear, quantizer: WeightQuantizer, grid_bits: int
) -> tuple[Tensor, list[float], list[float], int]:
    """``(codes, scales, biases, f)`` of a quantised Linear, ``f`` at least ``grid_bits``."""
    codes, scale = quantizer.codes(linear.parametrizations["weight"].original)
    codes = codes.to(torch.int16 if quantizer.bits > 8 else torch.int8)
    rows = scale.expand(codes.shape[0], 1).reshape(-1).double().tolist()
    scales = [s if bool(codes[j].any()) else 0.0 for j, s in enumerate(rows)]
    biases = [] if linear.bias is None else linear.bias.detach().double().tolist()
    fine = max(grid_bits, _dyadic_exponent(scales + biases, "a weight scale or bias"))
    return codes, scales, biases or [0.0] * len(scales), fine


def _integer_layer(
    index: int, linear: nn.Linear, neuron: LIF, quantizer: object, budget: int
) -> IntegerLIFLayer:
    if not isinstance(quantizer, WeightQuantizer) or quantizer.scheme != "uniform":
        raise ValueError(
            f"integer inference: layer {index} (Linear) must be quantised by "
            f"quantize_model(model, scheme='uniform'); call prepare_for_integer(model) first"
        )
    e, v_min, v_max = _state_grid(index + 1, neuron)
    beta = float(neuron.beta.detach().clamp(0, 1))
    s = max(0, _dyadic_exponent([beta], f"layer {index + 1} (LIF) beta"))
    theta = math.ldexp(float(neuron.threshold), e)
    if not theta.is_integer():
        raise ValueError(f"integer inference: layer {index + 1} (LIF) threshold is off the grid")
    codes, scales, biases, f = _linear_integers(linear, quantizer, e + s)
    scale = [int(math.ldexp(x, f)) for x in scales]
    bias = [int(math.ldexp(x, f)) for x in biases]
    leak = int(math.ldexp(beta, s)) << (f - e - s)
    rows = codes.to(torch.int64).abs().sum(1).tolist()
    drive = max(n * abs(a) + abs(b) for n, a, b in zip(rows, scale, bias, strict=True))
    bits = (drive + max(abs(v_min), abs(v_max)) * leak).bit_length()
    if bits > budget:
        raise ValueError(
            f"integer inference: layer {index} (Linear) and {index + 1} (LIF) need {bits}-bit "
            f"exact membranes (beta = k / 2**{s}, grid 2**-{f}), above the {budget}-bit budget; "
            f"snap beta, scales and biases with prepare_for_integer(model)"
        )
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
    )


class IntegerLIFNetwork:
    """Integer-only inference of a feed-forward LIF network (see the module docstring).

    ``net(spikes [T, B, N_in]) -> spikes [T, B, N_out]`` (int64 ``{0, 1}``); the input may be
    bool, integer or floating point but must hold only 0 and 1. The loop uses int64 tensors
    only. Build with :meth:`from_model`.
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
        pairs = _check_structure(model)
        quantizers = {name: q for name, (_, q) in quantized_layers(model).items()}
        return cls(
            [
                _integer_layer(2 * i, linear, neuron, quantizers.get(str(2 * i)), mantissa_bits)
                for i, (linear, neuron) in enumerate(pairs)
            ]
        )

    @property
    def in_features(self) -> int:
        return self.layers[0].codes.shape[1]

    def _spikes(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[2] != self.in_features:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"expected spikes [T, B, {self.in_features}], got {shape}")
        if not ((x == 0) | (x == 1)).all():
            raise ValueError("expected binary spikes: every input value must be 0 or 1")
        return x.to(torch.int64)

    def run(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Output spikes ``[T, B, N_out]`` and every layer's final membrane ``[B, N]`` (int64,
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


def _snap_weight_scales(linear: nn.Linear, bits: int, per_channel: bool, scale_bits: int) -> None:
    """Raise the largest |weight| of each row (or of the tensor) so that the uniform scale
    ``max|W| / q_max`` has ``scale_bits`` significant bits (rounding up keeps it the largest);
    the other weights stay as they are."""
    q_max = 2 ** (bits - 1) - 1
    weight = linear.weight.detach()
    groups = list(weight) if per_channel else [weight.reshape(-1)]
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
    """Snap a float ``Sequential`` of ``nn.Linear`` / ``LIF`` pairs (in place) so that its
    fake-quant forward pass is exact and :meth:`IntegerLIFNetwork.from_model` accepts it:

    1. each Linear's weight scale is rounded to ``scale_bits`` significant bits (by moving the
       largest |weight| of the row/tensor), then :func:`quantize_model` quantises the weights
       (uniform, ``weight_bits``, ``per_channel``);
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
    pairs = _check_structure(model)
    if quantized_layers(model):
        raise ValueError("model is already quantised; call dequantize_model(model) first")
    for linear, neuron in pairs:
        e, theta, v_min = _uniform_grid(float(neuron.threshold), state_bits, lower, upper)
        levels = torch.arange(v_min, v_min + 2**state_bits, dtype=torch.float64) * 2.0**-e
        with torch.no_grad():
            neuron.beta.copy_(torch.round(neuron.beta.clamp(0, 1) * 2**beta_bits) / 2**beta_bits)
            neuron.threshold.fill_(math.ldexp(theta, -e))
            if linear.bias is not None:
                linear.bias.copy_(torch.round(linear.bias * 2.0**e) * 2.0**-e)
        delattr(neuron, "state_quant")
        neuron.state_quant = StateQuantizer(levels.to(neuron.threshold.dtype))
        _snap_weight_scales(linear, weight_bits, per_channel, scale_bits)
    quantize_model(model, weight_bits, "uniform", per_channel=per_channel, layer_types=(nn.Linear,))
    return model
