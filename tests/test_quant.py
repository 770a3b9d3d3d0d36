"""Tests for axonal.quant: level tables, STE, quantised neuron states, weight quantisers,
the reversible model transform and state calibration."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

import axonal.nn as snn
from axonal.functional import neurons as F
from axonal.kernels import reference
from axonal.quant import (
    ActivationQuantizer,
    StateQuantizer,
    activation_quantizers,
    calibrate_states,
    dequantize_model,
    export_integer,
    model_size_report,
    observe_membranes,
    quantize_activation_int8,
    quantize_model,
    quantize_states,
    quantize_ternary,
    quantize_uniform,
    quantized_layers,
    state_levels,
    ternary_codes,
    uniform_codes,
)

# ---------------------------------------------------------------- level tables (papers.md)


def test_golden_two_bit_threshold_centred() -> None:
    expected = torch.tensor([-1.0, 0.8018, 0.982, 1.2])
    torch.testing.assert_close(state_levels(2, "threshold"), expected, atol=5e-5, rtol=0)


def test_golden_two_bit_uniform() -> None:
    expected = torch.tensor([-1.0, -0.2667, 0.4667, 1.2])
    torch.testing.assert_close(state_levels(2, "uniform"), expected, atol=5e-5, rtol=0)


def test_golden_four_bit_threshold_centred() -> None:
    expected = torch.tensor(
        [-1, 0.0001, 0.5001, 0.7501, 0.8751, 0.9376, 0.9689, 0.9845, 0.9923, 0.9962, 0.9982,
         0.9991, 0.9996, 0.9999, 1.0667, 1.2]
    )  # fmt: skip
    torch.testing.assert_close(state_levels(4, "threshold"), expected, atol=5e-5, rtol=0)


def test_zero_centred_two_bit_by_hand() -> None:
    # N = 4, range [-1, 1.2]: N_low = floor(4 * 1 / 2.2) = 1 -> [-1]; N_up = 3 with m = 0.1,
    # S = 1.11, steps above 0: 1.2 * 0.01 / 1.11, 1.2 * 0.1 / 1.11, 1.2 / 1.11.
    s = 1.11
    expected = [-1.0, 0.012 / s, 0.012 / s + 0.12 / s, 1.2]
    torch.testing.assert_close(
        state_levels(2, "zero", dtype=torch.float64), torch.tensor(expected, dtype=torch.float64)
    )


def test_zero_centred_one_bit_has_no_negative_level() -> None:
    # N = 2: N_low = floor(2 * 1 / 2.2) = 0, so both levels lie above 0 (m = 0.05, S = 1.05)
    levels = state_levels(1, "zero", dtype=torch.float64)
    torch.testing.assert_close(levels, torch.tensor([1.2 * 0.05 / 1.05, 1.2], dtype=torch.float64))


def test_levels_scale_with_threshold_and_limits() -> None:
    base = state_levels(3, "threshold", threshold=1.0, lower=0.5, upper=0.3, dtype=torch.float64)
    scaled = state_levels(3, "threshold", threshold=2.5, lower=0.5, upper=0.3, dtype=torch.float64)
    torch.testing.assert_close(scaled, 2.5 * base)
    assert base[0] == -1.5 and math.isclose(float(base[-1]), 1.3)
    assert (base.diff() > 0).all()


@pytest.mark.parametrize("bits", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("mode", ["uniform", "threshold", "zero"])
def test_level_count_and_range(bits: int, mode: str) -> None:
    levels = state_levels(bits, mode, threshold=1.0, lower=0.0, upper=0.2, dtype=torch.float64)
    assert levels.shape == (2**bits,)
    if (mode, bits) != ("zero", 1):  # see test_zero_centred_one_bit_has_no_negative_level
        assert levels[0] == -1.0
    assert math.isclose(float(levels[-1]), 1.2, rel_tol=1e-12)
    assert (levels.diff() > 0).all()


def test_multiplier_one_gives_even_steps_below_threshold() -> None:
    levels = state_levels(3, "threshold", multiplier=1.0, dtype=torch.float64)
    # N = 8, N_low = floor(8 * 2 / 2.2) = 7 levels from -1 in steps of 2/7; N_up = 1 -> 1.2
    expected = [-1 + 2 * j / 7 for j in range(7)] + [1.2]
    torch.testing.assert_close(levels, torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("bits", [0, -1, 17])
def test_bad_bit_width_value(bits: int) -> None:
    with pytest.raises(ValueError, match="bits"):
        state_levels(bits)


@pytest.mark.parametrize("bits", [2.0, "4", True, None])
def test_bad_bit_width_type(bits: object) -> None:
    with pytest.raises(TypeError, match="bits"):
        state_levels(bits)  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_threshold(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        state_levels(2, "threshold", threshold=threshold)


def test_bad_mode_and_limits() -> None:
    with pytest.raises(ValueError, match="mode"):
        state_levels(2, "log")
    with pytest.raises(ValueError, match="lower"):
        state_levels(2, lower=-0.1)
    with pytest.raises(ValueError, match="upper"):
        state_levels(2, upper=0.0)
    with pytest.raises(ValueError, match="multiplier"):
        state_levels(2, "threshold", multiplier=0.0)


# ---------------------------------------------------------------- StateQuantizer


def test_state_quantizer_nearest_level_by_hand() -> None:
    q = StateQuantizer(torch.tensor([-1.0, 0.0, 0.5, 2.0]))
    v = torch.tensor([-5.0, -0.6, -0.4, 0.2, 0.3, 1.2, 1.3, 9.0])
    expected = torch.tensor([-1.0, -1.0, 0.0, 0.0, 0.5, 0.5, 2.0, 2.0])
    assert torch.equal(q(v), expected)
    assert torch.equal(q(torch.tensor([-0.5, 0.25])), torch.tensor([-1.0, 0.0]))  # ties go down


def test_state_quantizer_matches_argmin_of_distance() -> None:
    levels = state_levels(4, "threshold")
    v = torch.randn(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    nearest = levels.double()[(v[:, None] - levels.double()).abs().argmin(dim=1)]
    assert torch.equal(StateQuantizer(levels)(v), nearest)


def test_state_quantizer_gradient_is_one_inside_range() -> None:
    q = StateQuantizer.from_bits(2, "threshold")
    v = torch.linspace(-0.99, 1.19, 50, dtype=torch.float64, requires_grad=True)
    (q(v) * torch.arange(50.0, dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(v.grad, torch.arange(50.0, dtype=torch.float64))


def test_state_quantizer_rejects_bad_levels() -> None:
    with pytest.raises(ValueError, match="1-D"):
        StateQuantizer(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="at least 2"):
        StateQuantizer(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="finite"):
        StateQuantizer(torch.tensor([0.0, float("nan")]))


# ---------------------------------------------------------------- neurons with state_quant


def _drive(seed: int, shape: tuple[int, ...] = (40, 8, 16)) -> torch.Tensor:
    return 0.6 * torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mode", ["uniform", "threshold"])
def test_lif_membrane_takes_only_level_values(mode: str) -> None:
    # reset="none": the state returned at each step is the quantised membrane before firing
    q = StateQuantizer.from_bits(2, mode)
    cell = snn.LIFCell(beta=0.9, reset="none", state_quant=q)
    state, fired = None, 0.0
    for x_t in _drive(1):
        s, state = cell(x_t, state)
        assert torch.isin(state.v, q.levels).all()
        fired += float(s.sum())
    assert fired > 0


def test_lif_fires_on_quantised_membrane_and_resets_it() -> None:
    # record the pre-reset membrane with a quantiser wrapper, then check spikes and reset
    q = StateQuantizer.from_bits(3, "threshold")
    seen: list[torch.Tensor] = []

    def recording(v: torch.Tensor) -> torch.Tensor:
        seen.append(q(v))
        return seen[-1]

    p = F.LIFParameters(beta=0.8, threshold=1.0, reset="subtract", state_quant=recording)
    spikes, _ = reference.scan(F.lif_step, _drive(2), F.LIFState(torch.zeros(8, 16)), p)
    membranes = torch.stack(seen)
    assert torch.isin(membranes, q.levels).all()
    assert torch.equal(spikes, (membranes > 1.0).float())


@pytest.mark.parametrize(
    "neuron",
    [
        lambda q: snn.IF(reset="none", state_quant=q),
        lambda q: snn.LI(beta=0.8, state_quant=q),
        lambda q: snn.CubaLIF(reset="none", state_quant=q),
        lambda q: snn.ALIF(reset="none", state_quant=q),
        lambda q: snn.ILIF(reset="none", state_quant=q),
    ],
)
def test_every_membrane_neuron_applies_state_quant(neuron) -> None:
    q = StateQuantizer.from_bits(2, "uniform")
    layer = neuron(q)
    _, state = layer.step(_drive(3)[0])
    v = state.v
    assert torch.isin(v, q.levels).all()


def test_multi_step_run_equals_stepping_with_state_quant() -> None:
    # the sequence path (kernels.scan) must honour state_quant like the single-step path
    q = StateQuantizer.from_bits(2, "threshold")
    layer = snn.LIF(beta=0.9, state_quant=q)
    x = _drive(4)
    out, final = layer(x, return_state=True)
    state, steps = None, []
    for x_t in x:
        s, state = layer.step(x_t, state)
        steps.append(s)
    assert torch.equal(out, torch.stack(steps))
    assert torch.equal(final.v, state.v)


def test_state_quant_trains_through_ste() -> None:
    q = StateQuantizer.from_bits(4, "threshold")
    w = torch.full((16,), 0.5, requires_grad=True)
    cell = snn.LIFCell(state_quant=q)
    state, total = None, 0.0
    for x_t in _drive(5):
        s, state = cell(x_t * w, state)
        total = total + s.sum()
    total.backward()
    assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_no_state_quant_is_unchanged() -> None:
    x = _drive(6)
    p = F.LIFParameters(beta=0.9)
    assert p.state_quant is None
    a, _ = reference.scan(F.lif_step, x, F.LIFState(torch.zeros(8, 16)), p)
    b, _ = reference.scan(
        F.lif_step, x, F.LIFState(torch.zeros(8, 16)), p._replace(state_quant=lambda v: v)
    )
    assert torch.equal(a, b)


# ---------------------------------------------------------------- weight / activation quantisers


def test_uniform_per_tensor_by_hand() -> None:
    w = torch.tensor([[0.7, -0.35], [0.1, 0.0]])
    # 3 bits: q_max = 3, scale = 0.7 / 3; codes = round(w / scale) = [3, -1.5 -> -2, 0.43 -> 0, 0]
    scale = 0.7 / 3
    codes, s = uniform_codes(w, 3)
    assert torch.equal(codes, torch.tensor([[3.0, -2.0], [0.0, 0.0]]))
    torch.testing.assert_close(quantize_uniform(w, 3), codes * scale)
    assert math.isclose(float(s), scale, rel_tol=1e-6)


def test_uniform_per_channel_scales_each_row() -> None:
    w = torch.tensor([[1.0, -0.5, 0.25], [0.02, 0.01, -0.04]])
    codes, scale = uniform_codes(w, 8, per_channel=True)
    torch.testing.assert_close(scale.flatten(), torch.tensor([1.0, 0.04]) / 127)
    assert codes.abs().amax(dim=1).tolist() == [127.0, 127.0]
    assert (quantize_uniform(w, 8, per_channel=True) - w).abs().max() <= 0.5 / 127 + 1e-7


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_uniform_codes_in_range_and_error_bounded(bits: int) -> None:
    w = torch.randn(32, 3, 5, generator=torch.Generator().manual_seed(bits))
    codes, scale = uniform_codes(w, bits, per_channel=True)
    q_max = 2 ** (bits - 1) - 1
    assert torch.equal(codes, codes.round()) and codes.abs().max() <= q_max
    assert ((codes * scale - w).abs() <= scale / 2 + 1e-6).all()


def test_ternary_matches_reference_formula() -> None:
    w = torch.randn(64, 48, generator=torch.Generator().manual_seed(7))
    s = 1 / w.abs().mean().clamp(min=1e-5)
    reference_q = (w * s).round().clamp(-1, 1) / s
    q = quantize_ternary(w)
    torch.testing.assert_close(q, reference_q)
    codes, scale = ternary_codes(w)
    assert set(codes.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert torch.equal(q, codes * scale)


def test_activation_int8_matches_reference_formula() -> None:
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(8))
    x[0, 0] = 0.0  # an all-zero token: the 1e-5 clamp keeps it finite
    s = 127 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    expected = (x * s).round().clamp(-128, 127) / s
    q = quantize_activation_int8(x)
    assert torch.equal(q, expected)
    assert torch.equal(q[0, 0], torch.zeros(16))
    assert ((q * s).round().abs() <= 127).all()


@pytest.mark.parametrize(
    "fn",
    [
        lambda w: quantize_uniform(w, 4, per_channel=True),
        quantize_ternary,
        quantize_activation_int8,
    ],
)
def test_quantisers_pass_gradient_straight_through(fn) -> None:
    w = torch.randn(6, 10, generator=torch.Generator().manual_seed(9), requires_grad=True)
    g = torch.randn(6, 10, generator=torch.Generator().manual_seed(10))
    fn(w).backward(g)
    assert torch.equal(w.grad, g)


def test_weight_quantiser_bad_bits() -> None:
    with pytest.raises(ValueError, match="bits"):
        uniform_codes(torch.ones(3), 1)
    with pytest.raises(TypeError, match="bits"):
        quantize_uniform(torch.ones(3), 4.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="floating-point"):
        quantize_uniform(torch.ones(3, dtype=torch.int64), 4)


# ---------------------------------------------------------------- model transform


class _Net(nn.Module):
    """Conv2d -> Conv1d -> Linear on ``[B, 2, 8, 8]`` images, weights from a seeded generator."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(2, 4, 3)
        self.conv1d = nn.Conv1d(4, 4, 1)
        self.fc = nn.Linear(4 * 36, 10)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv2d(x)).flatten(2)
        return self.fc(torch.relu(self.conv1d(h)).flatten(1))


def _images(seed: int) -> torch.Tensor:
    return torch.randn(5, 2, 8, 8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("bits", "scheme"), [(8, "uniform"), (4, "uniform"), (None, "ternary")])
def test_quantize_model_round_trip(bits: int | None, scheme: str) -> None:
    model, x = _Net(0), _images(1)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    before = model(x)
    quantize_model(model, weight_bits=bits, scheme=scheme)
    assert set(quantized_layers(model)) == {"conv2d", "conv1d", "fc"}
    quantised = model(x)
    assert not torch.equal(quantised, before)
    dequantize_model(model)
    assert quantized_layers(model) == {}
    after = model.state_dict()
    assert after.keys() == weights.keys()
    assert all(torch.equal(after[k], weights[k]) for k in weights)
    assert torch.equal(model(x), before)


def test_quantized_model_uses_quantised_weights() -> None:
    model, x = _Net(2), _images(3)
    reference_out = _Net(2)
    with torch.no_grad():
        for name in ("conv2d", "conv1d", "fc"):
            w = getattr(reference_out, name).weight
            w.copy_(quantize_uniform(w, 4, per_channel=True))
    quantize_model(model, weight_bits=4)
    assert torch.equal(model(x), reference_out(x))
    codes, _ = quantized_layers(model)["fc"][1].codes(model.fc.parametrizations.weight.original)
    assert codes.abs().max() <= 7


def test_quantized_model_trains_float_weights() -> None:
    model, x = quantize_model(_Net(4), weight_bits=4), _images(5)
    model(x).square().mean().backward()
    grad = model.fc.parametrizations.weight.original.grad
    assert grad is not None and grad.abs().sum() > 0


def test_quantize_model_errors() -> None:
    with pytest.raises(ValueError, match="no layer"):
        quantize_model(nn.Sequential(nn.ReLU()))
    model = quantize_model(_Net(6))
    with pytest.raises(ValueError, match="already quantised"):
        quantize_model(model)
    with pytest.raises(ValueError, match="scheme"):
        quantize_model(_Net(6), scheme="log")
    with pytest.raises(ValueError, match="bits"):
        quantize_model(_Net(6), weight_bits=0)
    with pytest.raises(ValueError, match="ternary"):
        quantize_model(_Net(6), weight_bits=8, scheme="ternary")


# ---------------------------------------------------------------- activation quantisation


def _by_hand(model: _Net, x: torch.Tensor) -> torch.Tensor:
    """``_Net``'s forward pass with every layer input fake-quantised by hand (int8 absmax over
    the channels at each position for the convolutions, over the features for the Linear)."""
    h = nn.functional.conv2d(quantize_activation_int8(x, 1), model.conv2d.weight, model.conv2d.bias)
    h = torch.relu(h).flatten(2)
    h = nn.functional.conv1d(quantize_activation_int8(h, 1), model.conv1d.weight, model.conv1d.bias)
    h = torch.relu(h).flatten(1)
    return nn.functional.linear(quantize_activation_int8(h, -1), model.fc.weight, model.fc.bias)


def test_quantize_model_activations_by_hand_and_round_trip() -> None:
    model, x = _Net(8), _images(9)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    before = model(x)
    quantize_model(model, weight_bits=8, activations=True)
    quantizers = activation_quantizers(model)
    assert {name: q.dim for name, q in quantizers.items()} == {"conv2d": 1, "conv1d": 1, "fc": -1}
    with torch.no_grad():
        out, expected = model(x), _by_hand(model, x)
    assert torch.equal(out, expected)
    weights_only = quantize_model(_Net(8), weight_bits=8)
    assert not torch.equal(out, weights_only(x))  # the inputs really are quantised
    assert set(model.state_dict()) == {k.replace("weight", "parametrizations.weight.original")
                                       if k.endswith("weight") else k for k in weights}
    dequantize_model(model)
    assert activation_quantizers(model) == {} and quantized_layers(model) == {}
    assert all(not m._forward_pre_hooks for m in model.modules())
    after = model.state_dict()
    assert after.keys() == weights.keys()
    assert all(torch.equal(after[k], weights[k]) for k in weights)
    assert torch.equal(model(x), before)


def test_activation_quantiser_dim_is_the_token_features() -> None:
    x = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(14))
    per_position = quantize_activation_int8(x.movedim(1, -1)).movedim(-1, 1)
    assert torch.equal(ActivationQuantizer(dim=1)(x), per_position)
    assert not torch.equal(ActivationQuantizer(dim=-1)(x), per_position)
    spikes = (torch.rand(6, 10, generator=torch.Generator().manual_seed(15)) < 0.3).float()
    assert torch.equal(quantize_activation_int8(spikes), spikes)  # binary spikes pass as they are
    with pytest.raises(ValueError, match="dim 4"):
        quantize_activation_int8(x, 4)


def test_activation_quantiser_gradient_is_straight_through() -> None:
    layer = quantize_model(nn.Linear(6, 3), weight_bits=4, activations=True)
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(16), requires_grad=True)
    layer(x).sum().backward()
    assert activation_quantizers(layer).keys() == {""}
    torch.testing.assert_close(x.grad, layer.weight.detach().sum(0).expand(5, 6))


def test_activation_quantised_copy_is_independent() -> None:
    model, x = quantize_model(_Net(10), weight_bits=8, activations=True), _images(11)
    clone = copy.deepcopy(model)
    assert torch.equal(clone(x), model(x))
    dequantize_model(clone)
    assert activation_quantizers(clone) == {}
    with torch.no_grad():
        assert torch.equal(model(x), _by_hand(model, x))  # the original keeps its hooks


def test_activation_quantisation_errors() -> None:
    model = nn.Sequential(nn.Bilinear(2, 2, 2))
    with pytest.raises(TypeError, match="Bilinear"):
        quantize_model(model, layer_types=(nn.Bilinear,), activations=True)
    assert quantized_layers(model) == {}  # refused before anything changed
    quantized = quantize_model(_Net(12), activations=True)
    with pytest.raises(ValueError, match="already quantised"):
        quantize_model(quantized)
    with pytest.raises(ValueError, match="already has"):
        ActivationQuantizer().attach(quantized.fc)


# ---------------------------------------------------------------- calibration


def _snn(seed: int) -> snn.Sequential:
    gen = torch.Generator().manual_seed(seed)
    net = snn.Sequential(nn.Linear(16, 32), snn.LIF(beta=0.9), nn.Linear(32, 4), snn.LI())
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen))
    return net


def test_observe_membranes_restores_hooks_and_reports_range() -> None:
    net, x = _snn(0), _drive(11)
    ranges = observe_membranes(net, [x, (x[:10], "target")])
    assert set(ranges) == {"1"}
    assert net[1].state_quant is None
    # the hand loop over the same neuron: membranes before reset
    with torch.no_grad():
        h = net[0](x)
    seen: list[torch.Tensor] = []
    p = F.LIFParameters(beta=0.9, state_quant=lambda v: seen.append(v) or v)
    reference.scan(F.lif_step, h, F.LIFState(torch.zeros(8, 32)), p)
    low, high = float(torch.stack(seen).min()), float(torch.stack(seen).max())
    assert math.isclose(ranges["1"].low, low, rel_tol=1e-6)
    assert math.isclose(ranges["1"].high, high, rel_tol=1e-6)


def test_calibrate_states_attaches_fitted_quantizers() -> None:
    net, x = _snn(1), _drive(12)
    low, high = observe_membranes(net, [x])["1"]
    quantizers = calibrate_states(net, [x], bits=4, mode="threshold")
    q = quantizers["1"]
    assert net[1].state_quant is q
    assert math.isclose(float(q.levels[0]), min(low, -1.0), rel_tol=1e-5)
    assert math.isclose(float(q.levels[-1]), max(high, 1.2), rel_tol=1e-5)
    out = net(x)
    assert out.shape == (40, 8, 4) and torch.isfinite(out).all()


def test_calibration_errors() -> None:
    with pytest.raises(ValueError, match="no spiking neuron"):
        observe_membranes(nn.Sequential(nn.Linear(2, 2)), [torch.zeros(1, 2)])
    with pytest.raises(ValueError, match="no membrane"):
        observe_membranes(_snn(2), [])
    net = snn.Sequential(nn.Linear(16, 3), snn.LIF(threshold=torch.tensor([1.0, 2.0, 3.0])))
    with pytest.raises(ValueError, match="one threshold"):
        calibrate_states(net, [_drive(13)], bits=4)


def test_quantize_states_attaches_squat_levels() -> None:
    net = snn.Sequential(
        nn.Linear(16, 8), snn.LIF(threshold=0.5), nn.Linear(8, 4), snn.LIF(), nn.Linear(4, 2),
        snn.LI(),
    )
    quantizers = quantize_states(net, 2, "threshold")
    assert set(quantizers) == {"1", "3"} and net[5].state_quant is None  # LI has no threshold
    assert net[1].state_quant is quantizers["1"]
    assert torch.equal(quantizers["1"].levels, state_levels(2, "threshold", threshold=0.5))
    assert torch.equal(quantizers["3"].levels, state_levels(2, "threshold"))
    quantize_states(net, 3, "uniform", lower=0.5)
    assert torch.equal(net[3].state_quant.levels, state_levels(3, "uniform", lower=0.5))
    net[1].state_quant = None
    assert net(_drive(17)).shape == (40, 8, 2)
    with pytest.raises(ValueError, match="no spiking neuron"):
        quantize_states(nn.Sequential(nn.Linear(2, 2)), 2)


# ---------------------------------------------------------------- integer export, size report


@pytest.mark.parametrize(("bits", "scheme", "dtype"), [(8, "uniform", torch.int8),
                                                      (4, "uniform", torch.int8),
                                                      (12, "uniform", torch.int16),
                                                      (None, "ternary", torch.int8)])  # fmt: skip
def test_export_codes_rebuild_the_computed_weights(
    bits: int | None, scheme: str, dtype: torch.dtype
) -> None:
    model = quantize_model(_Net(7), weight_bits=bits, scheme=scheme)
    exported = export_integer(model)
    limit = 1 if scheme == "ternary" else 2 ** (bits - 1) - 1
    for name in ("conv2d", "conv1d", "fc"):
        codes, scale = exported[f"{name}.weight_codes"], exported[f"{name}.weight_scale"]
        assert codes.dtype == dtype and codes.abs().max() <= limit
        assert torch.equal(codes.float() * scale, getattr(model, name).weight)


def test_export_includes_state_levels_and_threshold() -> None:
    net = snn.Sequential(nn.Linear(16, 32), snn.LIF(threshold=0.5), nn.Linear(32, 4))
    net[1].state_quant = StateQuantizer.from_bits(2, "threshold", threshold=0.5)
    exported = export_integer(quantize_model(net, weight_bits=8))
    assert torch.equal(exported["1.state_levels"], state_levels(2, "threshold", threshold=0.5))
    assert float(exported["1.threshold"]) == 0.5
    assert {"0.weight_codes", "2.weight_codes"} <= set(exported)
    with pytest.raises(ValueError, match="quantize_model"):
        export_integer(_Net(0))


def test_model_size_report_by_hand() -> None:
    # weight 4 x 10 = 40 values, bias 4 floats (16 bytes) at every precision
    report = model_size_report(nn.Linear(10, 4))
    assert report == {
        "parameters": 44,
        "float32": 160 + 16,
        "float16": 80 + 16,
        "int8": 40 + 4 * 4 + 16,  # codes + one float32 scale per output channel
        "int4": 20 + 4 * 4 + 16,
        "ternary": 10 + 4 + 16,  # 2-bit codes + one per-tensor scale
    }
    assert model_size_report(quantize_model(nn.Linear(10, 4))) == report
