"""Integer-only LIF inference equals the fake-quant float model spike for spike."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from axonal.nn import ALIF, LIF, Sequential, SumPool2d
from axonal.quant import ActivationQuantizer, StateQuantizer, quantize_model
from axonal.quant.integer import IntegerLIFNetwork, IntegerPool, prepare_for_integer

SIZES = (24, 32, 10)


def _linear(n_in: int, n_out: int, gen: torch.Generator, gain: float) -> nn.Linear:
    """A Linear with seeded weights, built without touching the global RNG."""
    layer = nn.Linear(n_in, n_out, device="meta").to_empty(device="cpu")
    with torch.no_grad():
        layer.weight.copy_(torch.randn(n_out, n_in, generator=gen) * gain / n_in**0.5)
        layer.bias.copy_(torch.randn(n_out, generator=gen) * 0.1)
    return layer


def _network(seed: int, reset: str, per_channel: bool, state_bits: int = 8) -> Sequential:
    gen = torch.Generator().manual_seed(seed)
    model = Sequential(
        _linear(SIZES[0], SIZES[1], gen, 3.0),
        LIF(beta=0.9, threshold=1.0, reset=reset),
        _linear(SIZES[1], SIZES[2], gen, 4.0),
        LIF(beta=0.8, threshold=0.7, reset=reset),
    )
    return prepare_for_integer(model, 8, state_bits, per_channel=per_channel)


def _conv(c_in: int, c_out: int, gen: torch.Generator, gain: float, **kwargs) -> nn.Conv2d:
    """A 3 x 3 Conv2d with seeded weights, built without touching the global RNG."""
    layer = nn.Conv2d(c_in, c_out, 3, device="meta", **kwargs).to_empty(device="cpu")
    with torch.no_grad():
        weight = torch.randn(layer.weight.shape, generator=gen)
        layer.weight.copy_(weight * gain / (9 * c_in) ** 0.5)
        layer.bias.copy_(torch.randn(c_out, generator=gen) * 0.1)
    return layer


POOLS = {
    "sum": lambda: SumPool2d(2),
    "avg": lambda: nn.AvgPool2d(2),
    "max": lambda: nn.MaxPool2d(2),
    "sum-padded": lambda: SumPool2d(3, stride=2, padding=1),
}


def _conv_network(seed: int, pools: tuple[str, str], per_channel: bool = True) -> Sequential:
    """``[T, B, 2, 12, 12]``: conv, LIF, pool, conv, LIF, pool, flatten, Linear, LIF."""
    gen = torch.Generator().manual_seed(seed)
    first, second = (POOLS[p]() for p in pools)
    model = Sequential(
        _conv(2, 4, gen, 4.0, padding=1), LIF(beta=0.9),               # 4 x 12 x 12
        first,                                                          # 4 x 6 x 6
        _conv(4, 6, gen, 2.0, padding=1), LIF(beta=0.8, threshold=0.7),  # 6 x 6 x 6
        second, nn.Flatten(),                                           # 6 x 3 x 3
        _linear(54, 10, gen, 3.0), LIF(beta=0.9, reset="zero"),
    )  # fmt: skip
    return prepare_for_integer(model, 8, 8, per_channel=per_channel)


def _spikes(seed: int, steps: int = 25, batch: int = 6) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1000 + seed)
    return (torch.rand(steps, batch, SIZES[0], generator=gen) < 0.3).float()


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_integer_spikes_and_membranes_equal_float_model(
    seed: int, reset: str, per_channel: bool
) -> None:
    model = _network(seed, reset, per_channel)
    x = _spikes(seed)
    with torch.no_grad():
        expected, float_states = model(x, return_state=True)
    engine = IntegerLIFNetwork.from_model(model)
    assert engine.mantissa_bits <= 24  # the float32 model is exact by construction
    spikes, states = engine.run(x)
    assert 0 < int(expected.sum()) < expected.numel()  # the comparison is not trivial
    assert torch.equal(spikes, expected.to(torch.int64))
    for layer, v_int, v_float in zip(engine.layers, states, float_states[1::2], strict=True):
        assert torch.equal(v_int.double() * 2.0**-layer.quantum_bits, v_float.v.double())


@pytest.mark.parametrize(
    ("pools", "per_channel"),
    [(("sum", "max"), True), (("avg", "sum"), True), (("max", "sum-padded"), False)],
)
def test_conv_network_integer_spikes_equal_float_model(
    pools: tuple[str, str], per_channel: bool
) -> None:
    model = _conv_network(3, pools, per_channel)
    gen = torch.Generator().manual_seed(7)
    x = (torch.rand(20, 3, 2, 12, 12, generator=gen) < 0.3).float()
    with torch.no_grad():
        expected, float_states = model(x, return_state=True)
        for end in (2, 5, 9):  # every LIF layer fires, but not everywhere
            spikes = model[:end](x)
            assert 0 < int(spikes.sum()) < spikes.numel()
    engine = IntegerLIFNetwork.from_model(model)
    assert engine.mantissa_bits <= 24
    assert [layer.is_conv for layer in engine.layers] == [True, True, False]
    spikes, states = engine.run(x)
    assert spikes.shape == (20, 3, 10)
    assert torch.equal(spikes, expected.to(torch.int64))
    lif_states = [float_states[i] for i in (1, 4, 8)]
    for layer, v_int, v_float in zip(engine.layers, states, lif_states, strict=True):
        assert torch.equal(v_int.double() * 2.0**-layer.quantum_bits, v_float.v.double())


def test_activation_quantisers_pass_spikes_and_are_refused_after_sum_pools() -> None:
    model = _conv_network(4, ("sum", "max"))
    x = (torch.rand(10, 2, 2, 12, 12, generator=torch.Generator().manual_seed(5)) < 0.3).float()
    ActivationQuantizer.for_layer(model[0]).attach(model[0])  # spikes in: unchanged
    ActivationQuantizer.for_layer(model[7]).attach(model[7])  # max-pooled spikes: unchanged
    with torch.no_grad():
        expected = model(x)
    assert torch.equal(IntegerLIFNetwork.from_model(model)(x), expected.to(torch.int64))
    ActivationQuantizer.for_layer(model[3]).attach(model[3])  # window sums of 4 spikes
    with pytest.raises(ValueError, match=r"layer 3 \(Conv2d\) quantises its input"):
        IntegerLIFNetwork.from_model(model)


def test_integer_pooling_and_convolution_equal_torch() -> None:
    x = torch.randint(0, 4, (2, 3, 7, 7), generator=torch.Generator().manual_seed(8))
    cases = [
        (IntegerPool("sum", (2, 2), (2, 2), (0, 0)), SumPool2d(2)),
        (IntegerPool("sum", (3, 3), (2, 2), (1, 1)), SumPool2d(3, stride=2, padding=1)),
        (IntegerPool("max", (2, 2), (2, 2), (1, 1)), nn.MaxPool2d(2, padding=1)),
        (IntegerPool("max", (3, 2), (1, 2), (0, 0)), nn.MaxPool2d((3, 2), stride=(1, 2))),
    ]
    for integer_op, layer in cases:
        out = integer_op(x)
        assert out.dtype == torch.int64
        assert torch.equal(out.double(), layer(x.double()))
    conv = _conv(3, 5, torch.Generator().manual_seed(9), 1.0, stride=2, padding=1)
    layer = IntegerLIFNetwork.from_model(
        prepare_for_integer(Sequential(conv, LIF()), weight_bits=4)
    ).layers[0]
    grid = 2.0 ** -(layer.quantum_bits + layer.shift)
    expected = nn.functional.conv2d(
        x.double(), conv.weight.double(), conv.bias.double(), stride=2, padding=1
    )
    assert torch.equal(layer.current(x[None]).double()[0] * grid, expected)


def test_low_state_bits_clamp_and_still_match() -> None:
    model = _network(5, "subtract", True, state_bits=3)
    x = _spikes(5, steps=40)
    with torch.no_grad():
        expected = model(x)
    assert torch.equal(IntegerLIFNetwork.from_model(model)(x), expected.to(torch.int64))


def test_engine_holds_and_computes_only_integers() -> None:
    engine = IntegerLIFNetwork.from_model(_network(0, "subtract", True))
    for layer in engine.layers:
        for tensor in (layer.codes, layer.scale, layer.bias):
            assert not tensor.is_floating_point()
        for value in (layer.leak, layer.shift, layer.threshold, layer.v_min, layer.v_max):
            assert type(value) is int
    spikes, states = engine.run(_spikes(0).bool())
    assert spikes.dtype == torch.int64
    assert all(v.dtype == torch.int64 for v in states)
    layer = engine.layers[0]
    current = layer.current(_spikes(0).to(torch.int64))
    out, v = layer.step(current[0], torch.zeros_like(current[0]))
    assert current.dtype == out.dtype == v.dtype == torch.int64


def test_requantize_matches_state_quantizer_on_ties() -> None:
    engine = IntegerLIFNetwork.from_model(_network(0, "subtract", True))
    layer = engine.layers[0]
    fine = 2.0 ** -(layer.quantum_bits + layer.shift)
    u = torch.arange(-(300 << layer.shift), 300 << layer.shift, dtype=torch.int64)
    quantizer = StateQuantizer(
        torch.arange(layer.v_min, layer.v_max + 1, dtype=torch.float64) * 2.0**-layer.quantum_bits
    )
    expected = quantizer(u.double() * fine) * 2.0**layer.quantum_bits
    assert layer.shift > 0  # half-way values exist on this grid
    assert torch.equal(layer.requantize(u), expected.to(torch.int64))


def test_prepare_snaps_beta_threshold_levels_and_bias_by_hand() -> None:
    gen = torch.Generator().manual_seed(0)
    linear = _linear(4, 3, gen, 1.0)
    model = Sequential(linear, LIF(beta=0.9, threshold=1.0))
    prepare_for_integer(model, weight_bits=4, state_bits=4, beta_bits=4, scale_bits=3)
    neuron = model[1]
    assert float(neuron.beta) == 0.875  # round(0.9 * 16) / 16 = 14 / 16
    # span 2.2 over 15 steps = 0.147 -> quantum 0.25; top level max(ceil(1.2 / 0.25), 4 + 1) = 5
    expected_levels = torch.arange(-10, 6, dtype=torch.float32) * 0.25
    assert torch.equal(neuron.state_quant.levels, expected_levels)
    assert float(neuron.threshold) == 1.0
    assert torch.equal(linear.bias * 4, (linear.bias * 4).round())
    scales = linear.parametrizations.weight[0].codes(linear.parametrizations.weight.original)[1]
    for scale in scales.flatten().tolist():  # 3 significant bits: mantissa in {4..7} / 8
        mantissa, _ = torch.frexp(torch.tensor(scale))
        assert float(mantissa * 8) in (4.0, 5.0, 6.0, 7.0)


def test_size_report_counts_bytes_by_hand() -> None:
    gen = torch.Generator().manual_seed(0)
    model = Sequential(_linear(4, 3, gen, 1.0), LIF(), _linear(3, 2, gen, 1.0), LIF())
    engine = IntegerLIFNetwork.from_model(prepare_for_integer(model, weight_bits=4))
    report = engine.size_bytes()
    assert report["weights"] == 6 + 3  # 12 and 6 four-bit codes
    assert report["scales"] == report["biases"] == (3 + 2) * 8  # int64 per channel
    assert report["constants"] == 2 * 7 * 8
    assert report["total"] == 9 + 40 + 40 + 112


def test_unsupported_layers_are_named() -> None:
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"layer 1 \(ALIF\)"):
        prepare_for_integer(Sequential(_linear(4, 3, gen, 1.0), ALIF()))
    conv = nn.Conv1d(2, 2, 3, device="meta")
    with pytest.raises(ValueError, match=r"layer 0 \(Conv1d\)"):
        IntegerLIFNetwork.from_model(Sequential(conv, LIF()))
    with pytest.raises(TypeError, match="Sequential"):
        IntegerLIFNetwork.from_model(nn.Sequential(_linear(4, 3, gen, 1.0), LIF()))
    with pytest.raises(ValueError, match=r"layer 1 \(LIF\).*reset"):
        prepare_for_integer(Sequential(_linear(4, 3, gen, 1.0), LIF(reset="none")))


def test_unsupported_conv_options_are_named() -> None:
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"layer 0 \(Conv2d\).*groups"):
        prepare_for_integer(Sequential(_conv(2, 2, gen, 1.0, groups=2), LIF()))
    with pytest.raises(ValueError, match=r"layer 0 \(Conv2d\).*padding"):
        prepare_for_integer(Sequential(_conv(2, 2, gen, 1.0, padding="same"), LIF()))
    with pytest.raises(ValueError, match=r"layer 2 \(AvgPool2d\).*power of two"):
        prepare_for_integer(Sequential(_conv(2, 2, gen, 1.0), LIF(), nn.AvgPool2d(3),
                                       nn.Flatten(), _linear(2, 2, gen, 1.0), LIF()))  # fmt: skip
    with pytest.raises(ValueError, match=r"layer 2 \(SumPool2d\) follows the last LIF"):
        prepare_for_integer(Sequential(_conv(2, 2, gen, 1.0), LIF(), SumPool2d(2)))
    with pytest.raises(ValueError, match=r"layer 0 \(Flatten\)"):
        prepare_for_integer(Sequential(nn.Flatten(0), _linear(4, 2, gen, 1.0), LIF()))
    with pytest.raises(ValueError, match=r"layer 1 \(ReLU\)"):
        prepare_for_integer(Sequential(nn.Flatten(), nn.ReLU(), _linear(4, 2, gen, 1.0), LIF()))
    engine = IntegerLIFNetwork.from_model(_conv_network(0, ("sum", "max")))
    with pytest.raises(ValueError, match=r"\[T, B, 2, H, W\]"):
        engine(torch.zeros(3, 1, 3, 12, 12))
    with pytest.raises(ValueError, match=r"\[T, B, 2, H, W\]"):
        engine(torch.zeros(3, 12))


def test_models_not_prepared_are_refused() -> None:
    gen = torch.Generator().manual_seed(0)
    plain = Sequential(_linear(4, 3, gen, 1.0), LIF())
    with pytest.raises(ValueError, match=r"layer 0 \(Linear\).*quantize_model"):
        IntegerLIFNetwork.from_model(plain)
    quantize_model(plain)
    with pytest.raises(ValueError, match=r"layer 1 \(LIF\) has no StateQuantizer"):
        IntegerLIFNetwork.from_model(plain)
    plain[1].state_quant = StateQuantizer.from_bits(4, "threshold")
    with pytest.raises(ValueError, match="power-of-two spacing"):
        IntegerLIFNetwork.from_model(plain)
    plain[1].state_quant = StateQuantizer(torch.arange(-8.0, 8.0) / 4)
    with pytest.raises(ValueError, match=r"layer 0 .*-bit .*prepare_for_integer"):
        IntegerLIFNetwork.from_model(plain)  # beta 0.9 and float scales need too many bits
    with pytest.raises(ValueError, match="already quantised"):
        prepare_for_integer(plain)


def test_bad_inputs_give_clear_errors() -> None:
    engine = IntegerLIFNetwork.from_model(_network(0, "zero", False))
    with pytest.raises(ValueError, match=r"\[T, B, 24\]"):
        engine(torch.zeros(3, 24))
    with pytest.raises(ValueError, match="0 or 1"):
        engine(torch.full((2, 1, 24), 0.5))
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="state_bits"):
        prepare_for_integer(Sequential(_linear(4, 3, gen, 1.0), LIF()), state_bits=0)
