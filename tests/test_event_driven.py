"""Event-driven Linear / Conv2d: equal to the dense ops, and the switch between the paths."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import axonal.nn as ann
from axonal.kernels import event as ev

TOL = {"rtol": 1e-5, "atol": 1e-5}


def spikes(*shape: int, density: float = 0.1, seed: int = 0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen) < density).to(dtype)


def randn(*shape: int, seed: int = 1, dtype=torch.float32):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---- kernels ----


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(7, 40), (5, 3, 40), (40,)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_spike_linear_equals_linear(dtype, shape, with_bias):
    x = spikes(*shape, density=0.2, dtype=dtype)
    weight, bias = randn(9, 40, dtype=dtype), randn(9, seed=2, dtype=dtype) if with_bias else None
    out = ev.spike_linear(x, weight, bias)
    assert out.shape == (*shape[:-1], 9) and out.dtype == dtype
    torch.testing.assert_close(out, F.linear(x, weight, bias), **TOL)


def test_spike_linear_weights_nonbinary_values_and_reuses_layout():
    x = spikes(6, 30, density=0.3) * randn(6, 30, seed=3)  # graded events
    weight, bias = randn(4, 30), randn(4, seed=2)
    layout = ev.linear_layout(weight)
    out = ev.spike_linear(x, weight, bias, layout=layout)
    torch.testing.assert_close(out, F.linear(x, weight, bias), **TOL)
    assert torch.equal(ev.spike_linear(torch.zeros(2, 30), weight, bias), bias.expand(2, 4))


def test_spike_linear_on_threads_equals_linear():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = spikes(64, 2048, density=0.05)  # above the size that runs on one thread
        weight, bias = randn(33, 2048), randn(33, seed=2)
        torch.testing.assert_close(ev.spike_linear(x, weight, bias), F.linear(x, weight, bias),
                                   **TOL)  # fmt: skip
    finally:
        torch.set_num_threads(threads)


CONVS = [
    {},
    {"padding": 1},
    {"stride": 2},
    {"stride": (2, 1), "padding": (0, 2)},
    {"dilation": 2, "padding": 2},
    {"padding": "same"},
    {"padding": "valid", "stride": 3},
    {"groups": 2, "padding": 1},
    {"groups": 4, "stride": 2},
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kwargs", CONVS)
@pytest.mark.parametrize("kernel", [(3, 3), (2, 4)])
def test_spike_conv2d_equals_conv2d(kwargs, kernel):
    groups = kwargs.get("groups", 1)
    x = spikes(3, 8, 11, 13, density=0.3)
    weight, bias = randn(12, 8 // groups, *kernel), randn(12, seed=2)
    out = ev.spike_conv2d(x, weight, bias, **kwargs)
    ref = F.conv2d(x, weight, bias, **kwargs)
    assert out.shape == ref.shape and out.is_contiguous()
    torch.testing.assert_close(out, ref, **TOL)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spike_conv2d_time_major_without_bias(dtype):
    x = spikes(4, 3, 2, 9, 9, density=0.2, dtype=dtype)  # [T, B, C, H, W]
    weight = randn(5, 2, 3, 3, dtype=dtype)
    out = ev.spike_conv2d(x, weight, None, padding=1)
    ref = F.conv2d(x.flatten(0, 1), weight, None, padding=1).unflatten(0, (4, 3))
    assert out.shape == (4, 3, 5, 9, 9)
    torch.testing.assert_close(out, ref, **TOL)


def test_spike_conv2d_on_threads_equals_conv2d():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = spikes(16, 4, 32, 32, density=0.05)
        weight, bias = randn(8, 4, 3, 3), randn(8, seed=2)
        torch.testing.assert_close(ev.spike_conv2d(x, weight, bias, padding=1),
                                   F.conv2d(x, weight, bias, padding=1), **TOL)  # fmt: skip
    finally:
        torch.set_num_threads(threads)


def test_census_counts_density_and_checks_binary():
    x = torch.zeros(10, 10)
    x[0, :7] = 1
    assert ev.census(x) == (0.07, True)
    x[5, 5] = 0.5
    assert ev.census(x) == (0.08, False)
    x[5, 5] = float("nan")
    assert ev.census(x)[1] is False
    assert ev.census(torch.zeros(0)) == (0.0, True)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ev.spike_linear(torch.zeros(3, 5), torch.zeros(4, 6)), r"\[\.\.\., 6\]"),
        (lambda: ev.spike_linear(torch.zeros(3, 5), torch.zeros(4, 5, 1)), "weight must be"),
        (lambda: ev.spike_linear(torch.zeros(3, 5), torch.zeros(4, 5).double()), "float64"),
        (lambda: ev.spike_linear(torch.zeros(3, 5, dtype=torch.int64), torch.zeros(4, 5)),
         "float32 or float64"),
        (lambda: ev.spike_linear(torch.zeros(3, 5), torch.zeros(4, 5), torch.zeros(3)),
         r"bias must be \[4\]"),
        (lambda: ev.spike_linear([[0.0]], torch.zeros(4, 1)), "torch.Tensor"),
        (lambda: ev.spike_linear(torch.zeros(3, 5, device="meta"), torch.zeros(4, 5)), "CPU"),
        (lambda: ev.spike_linear(torch.zeros(3, 5), torch.zeros(4, 5),
                                 layout=torch.zeros(4, 5)), "layout"),
        (lambda: ev.spike_conv2d(torch.zeros(2, 3, 8, 8), torch.zeros(4, 2, 3, 3)),
         r"\[N, 2, H, W\]"),
        (lambda: ev.spike_conv2d(torch.zeros(3, 8, 8), torch.zeros(4, 3, 3, 3)), "spikes must"),
        (lambda: ev.spike_conv2d(torch.zeros(1, 3, 8, 8), torch.zeros(4, 3, 3)), "weight must"),
        (lambda: ev.spike_conv2d(torch.zeros(1, 3, 8, 8), torch.zeros(4, 3, 3, 3), stride=0),
         "stride"),
        (lambda: ev.spike_conv2d(torch.zeros(1, 4, 8, 8), torch.zeros(3, 2, 3, 3), groups=2),
         "groups"),
        (lambda: ev.spike_conv2d(torch.zeros(1, 3, 8, 8), torch.zeros(4, 3, 3, 3), stride=2,
                                 padding="same"), "same"),
        (lambda: ev.spike_conv2d(torch.zeros(1, 3, 8, 8), torch.zeros(4, 3, 3, 3),
                                 padding="full"), "padding"),
        (lambda: ev.spike_conv2d(torch.zeros(1, 3, 2, 8), torch.zeros(4, 3, 3, 3)), "smaller"),
    ],
)  # fmt: skip
def test_kernels_reject_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_kernels_refuse_gradients():
    weight = torch.zeros(4, 5, requires_grad=True)
    with pytest.raises(ValueError, match="no backward"):
        ev.spike_linear(torch.zeros(3, 5), weight)
    with torch.no_grad():
        ev.spike_linear(torch.zeros(3, 5), weight)


# ---- modules ----


def test_event_linear_switches_on_density_binary_and_grad():
    torch.manual_seed(0)
    layer = ann.EventLinear(64, 10, crossover=0.2)
    x = spikes(5, 4, 64, density=0.05)  # [T, B, in]
    with torch.no_grad():
        out = layer(x)
        assert layer.last_path == "event" and layer.last_density == pytest.approx(x.mean().item())
        torch.testing.assert_close(out, F.linear(x, layer.weight, layer.bias), **TOL)
        layer(spikes(5, 4, 64, density=0.5))
        assert layer.last_path == "dense"
        layer(x * 0.5)  # not binary
        assert layer.last_path == "dense" and layer.last_density is not None
    with torch.inference_mode():
        layer(x)
        assert layer.last_path == "event"
    out = layer(x)  # gradients wanted: dense, and they flow
    assert layer.last_path == "dense" and layer.last_density is None
    out.sum().backward()
    assert layer.weight.grad is not None


def test_event_linear_float64_and_mismatched_dtype():
    layer = ann.EventLinear(8, 3, dtype=torch.float64, crossover=1.0)
    with torch.no_grad():
        layer(spikes(2, 8, dtype=torch.float64))
        assert layer.last_path == "event"
        with pytest.raises(RuntimeError):
            layer(spikes(2, 8))  # float32 input, float64 weight: torch's own error
        assert layer.last_path == "dense"


def test_crossover_bounds_and_class_default():
    assert ann.EventLinear(4, 4).crossover == ann.event.LINEAR_CROSSOVER
    assert ann.EventConv2d(1, 1, 1).crossover == ann.event.CONV_CROSSOVER
    layer = ann.EventLinear(4, 4, crossover=0)
    with torch.no_grad():
        layer(torch.zeros(2, 4))
    assert layer.last_path == "dense"
    with pytest.raises(ValueError, match="crossover"):
        ann.EventLinear(4, 4, crossover=1.5)
    layer.crossover = -1
    with pytest.raises(ValueError, match="crossover"), torch.no_grad():
        layer(torch.zeros(2, 4))


def test_event_linear_follows_weight_updates():
    layer = ann.EventLinear(16, 4, crossover=1.0)
    x = spikes(3, 16, density=0.3)
    with torch.no_grad():
        layer(x)
        layer.weight.mul_(-2)  # in place: the cached layout must be rebuilt
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), **TOL)
        layer.load_state_dict(nn.Linear(16, 4).state_dict())
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), **TOL)
    assert layer.last_path == "event"


@pytest.mark.parametrize(
    "kwargs", [{"padding": 1}, {"stride": 2, "bias": False}, {"padding": "same", "dilation": 2}]
)
def test_event_conv2d_equals_conv2d(kwargs):
    torch.manual_seed(0)
    layer = ann.EventConv2d(4, 6, 3, crossover=0.5, **kwargs)
    dense = nn.Conv2d(4, 6, 3, **kwargs)
    dense.load_state_dict(layer.state_dict())
    x = spikes(5, 4, 10, 10, density=0.1)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), dense(x), **TOL)
        assert layer.last_path == "event"
        torch.testing.assert_close(layer(x[0]), dense(x[0]), **TOL)  # unbatched [C, H, W]
        assert layer.last_path == "event"


def test_event_conv2d_other_padding_modes_run_dense():
    layer = ann.EventConv2d(2, 3, 3, padding=1, padding_mode="reflect", crossover=1.0)
    with torch.no_grad():
        layer(spikes(2, 2, 6, 6))
    assert layer.last_path == "dense"


# ---- the transform ----


class Wrapped(nn.Linear):
    """A subclass: event_driven must leave it alone."""


def test_event_driven_swaps_in_place_and_back():
    torch.manual_seed(0)
    net = ann.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), ann.LIF(beta=0.9, threshold=0.5), nn.Flatten(),
        nn.Linear(4 * 8 * 8, 20), ann.LIF(beta=0.9, threshold=0.5), Wrapped(20, 5),
    )  # fmt: skip
    params = list(net.parameters())
    state = {k: v.clone() for k, v in net.state_dict().items()}
    x = spikes(6, 3, 2, 8, 8, density=0.05)  # [T, B, C, H, W]
    with torch.no_grad():
        ref = net(x)
        assert ann.event_driven(net) is net
        assert [type(m) for m in net] == [ann.EventConv2d, ann.LIF, nn.Flatten, ann.EventLinear,
                                          ann.LIF, Wrapped]  # fmt: skip
        assert list(net.parameters()) == params and net.state_dict().keys() == state.keys()
        net[0].crossover = net[3].crossover = 1.0
        torch.testing.assert_close(net(x), ref, **TOL)
        assert net[0].last_path == net[3].last_path == "event"
    ann.event_driven(net, enable=False)
    assert [type(m) for m in net] == [nn.Conv2d, ann.LIF, nn.Flatten, nn.Linear, ann.LIF, Wrapped]
    assert not {"crossover", "last_path", "last_density", "_event_layout"} & net[0].__dict__.keys()
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref, **TOL)
    layer = ann.event_driven(nn.Linear(3, 3))  # a bare layer is converted too
    assert type(layer) is ann.EventLinear


def test_event_driven_needs_a_layer():
    with pytest.raises(ValueError, match=r"no nn.Linear or nn.Conv2d"):
        ann.event_driven(ann.Sequential(ann.LIF()))
