"""Integer-only LIF inference equals the fake-quant float model spike for spike."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from axonal.nn import ALIF, LIF, Sequential
from axonal.quant import StateQuantizer, quantize_model
from axonal.quant.integer import IntegerLIFNetwork, prepare_for_integer

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
