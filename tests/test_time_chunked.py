"""Tests for axonal.nn.TimeChunked: chunk-by-chunk inference, bitwise as the whole run.

The bitwise checks use batches of 16: PyTorch's CPU Linear and Conv2d give per-sample results
that depend on the batch size for small batches (measured here: Linear on fewer than 13-16
rows, Conv2d on one sample), so chunks of fewer rows are equal to the whole run only up to
rounding (see the TimeChunked docstring).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from axonal.models import create_model
from axonal.nn import (
    ALIF,
    LIF,
    RLIF,
    CubaLIF,
    Delay,
    Sequential,
    SpikingModule,
    TimeChunked,
)

pytestmark = pytest.mark.usefixtures("seeded_single_thread")

T, B = 7, 16
CHUNKS = (1, 2, 3, 7, 10)  # dividing T or not, one chunk, and more steps than T


def assert_same(a: Any, b: Any) -> None:
    """Bitwise equality of two outputs or states (tensors, None, nested tuples and lists)."""
    if isinstance(a, Tensor):
        assert isinstance(b, Tensor) and a.shape == b.shape and torch.equal(a, b)
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a is None and b is None


def conv_net() -> Sequential:
    net = Sequential(
        nn.Conv2d(2, 8, 3, padding=1), nn.BatchNorm2d(8), LIF(beta=0.9),
        nn.Conv2d(8, 8, 3, padding=1), nn.AvgPool2d(2), LIF(beta=0.9), nn.Flatten(),
        nn.Linear(8 * 6 * 6, 5), LIF(),
    )  # fmt: skip
    with torch.no_grad():
        for layer in (net[0], net[3], net[7]):
            layer.weight.mul_(4)  # every stage fires
    return net.eval()


def dense_net() -> Sequential:
    return Sequential(
        nn.Linear(6, 16), LIF(beta=0.9), nn.Linear(16, 16), ALIF(), nn.Linear(16, 16),
        CubaLIF(), Delay(3), RLIF(16, bias=True), nn.Linear(16, 4),
    ).eval()  # fmt: skip


def count_calls(module: nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("steps", CHUNKS)
def test_conv_net_chunked_is_bitwise_the_whole_run(steps: int) -> None:
    net = conv_net()
    x = (torch.rand(T, B, 2, 12, 12) < 0.3).float() * 2
    chunked = TimeChunked(net, steps)
    calls = count_calls(net)
    with torch.no_grad():
        want, want_state = net(x, return_state=True)
        calls[0] = 0
        got, got_state = chunked(x, return_state=True)
    assert calls[0] == -(-T // steps)
    assert want.shape == (T, B, 5) and want.sum() > 0
    assert_same(got, want)
    assert_same(got_state, want_state)


@pytest.mark.parametrize("steps", CHUNKS)
def test_dense_net_with_a_state_passed_in(steps: int) -> None:
    net = dense_net()
    warm, x = torch.rand(4, B, 6) * 3, torch.rand(T, B, 6) * 3
    with torch.inference_mode():
        _, state = net(warm, return_state=True)
        want, want_state = net(x, state, return_state=True)
        got, got_state = TimeChunked(net, steps)(x, state, return_state=True)
        again, _ = TimeChunked(net, steps)(x, state, return_state=True)
    assert want.abs().sum() > 0
    assert_same(got, want)
    assert_same(got_state, want_state)
    assert_same(again, want)  # the state passed in was not changed


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("name", ["sew_resnet_tiny", "ms_resnet_tiny", "sdt_tiny"])
def test_model_zoo_network_in_eval_mode(name: str, steps: int) -> None:
    options = {"dim": 8} if name.startswith("sdt") else {"width": 4}
    net = create_model(name, in_channels=2, num_classes=5, **options).eval()
    x = torch.rand(T, B, 2, 16, 16) * 2
    with torch.no_grad():
        want, want_state = net(x, return_state=True)
        got, got_state = TimeChunked(net, steps)(x, return_state=True)
    assert_same(got, want)
    assert_same(got_state, want_state)


def test_falls_back_to_the_whole_run_with_autograd() -> None:
    net = conv_net()
    twin = copy.deepcopy(net)
    x = torch.rand(T, 2, 2, 12, 12) * 2
    chunked = TimeChunked(net, 2)
    calls = count_calls(net)
    assert not chunked.chunking()
    got = chunked(x)
    want = twin(x)
    assert calls[0] == 1
    assert_same(got, want)
    got.square().sum().backward()
    want.square().sum().backward()
    for p, q in zip(net.parameters(), twin.parameters(), strict=True):
        assert p.grad is not None and p.grad.abs().sum() > 0
        assert_same(p.grad, q.grad)


def test_falls_back_to_the_whole_run_in_training_mode() -> None:
    net = conv_net().train()  # BatchNorm normalises with the statistics of what it sees
    twin = copy.deepcopy(net)
    x = torch.rand(T, 2, 2, 12, 12) * 2
    chunked = TimeChunked(net, 2)
    calls = count_calls(net)
    with torch.no_grad():
        assert not chunked.chunking()
        got, want = chunked(x), twin(x)
    assert calls[0] == 1
    assert_same(got, want)
    assert_same(net[1].running_mean, twin[1].running_mean)


def test_step_is_the_module_step() -> None:
    net = dense_net()
    x_t = torch.rand(B, 6) * 3
    with torch.no_grad():
        assert_same(TimeChunked(net, 2).step(x_t), net.step(x_t))


def test_refuses_modules_that_look_across_time() -> None:
    net = create_model("sew_resnet_tiny", width=4, sma=True, time_steps=T).eval()
    with pytest.raises(ValueError, match=r"SMA look.*across the time steps"):
        TimeChunked(net, 2)


class _LastStep(SpikingModule):
    def run(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        return x[-1:], state


def test_rejects_a_module_that_drops_the_time_axis() -> None:
    with torch.no_grad(), pytest.raises(ValueError, match="keeps the time axis"):
        TimeChunked(_LastStep().eval(), 2)(torch.rand(T, 2, 3))


@pytest.mark.parametrize("steps", [0, -1, 1.5, True, "2"])
def test_rejects_bad_steps(steps: Any) -> None:
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        TimeChunked(LIF(), steps)


def test_rejects_a_plain_module() -> None:
    with pytest.raises(TypeError, match="SpikingModule"):
        TimeChunked(nn.Linear(2, 2), 2)  # type: ignore[arg-type]
