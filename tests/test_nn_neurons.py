"""Neuron modules: multi-step equals the one-step reference loop, state, dtypes, errors."""

import pytest
import torch
from torch import nn

import axonal.functional as F
import axonal.nn as ann

MAKERS = {
    "LIF": lambda: ann.LIF(beta=0.8),
    "LIF-zero": lambda: ann.LIF(beta=0.8, reset="zero", v_reset=-0.1),
    "LIF-none": lambda: ann.LIF(beta=0.8, reset="none"),
    "IF": lambda: ann.IF(threshold=1.5),
    "LI": lambda: ann.LI(beta=0.7),
    "CubaLIF": lambda: ann.CubaLIF(alpha=0.6, beta=0.8),
    "ALIF": lambda: ann.ALIF(beta=0.85, adapt_strength=0.3),
    "ILIF": lambda: ann.ILIF(beta=0.5, max_spikes=3),
}
CELLS = {
    "LIF": (ann.LIFCell, ann.LIF),
    "IF": (ann.IFCell, ann.IF),
    "LI": (ann.LICell, ann.LI),
    "CubaLIF": (ann.CubaLIFCell, ann.CubaLIF),
    "ALIF": (ann.ALIFCell, ann.ALIF),
    "ILIF": (ann.ILIFCell, ann.ILIF),
}


def inputs(shape=(12, 3, 5), seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) * 1.2).to(dtype)


def step_loop(module, x, state=None):
    outs = []
    for x_t in x.unbind(0):
        out, state = module.step(x_t, state)
        outs.append(out)
    return torch.stack(outs), state


@pytest.mark.parametrize("name", MAKERS)
def test_multi_step_equals_step_loop(name):
    m = MAKERS[name]()
    x = inputs()
    out, state = m(x, return_state=True)
    ref, ref_state = step_loop(m, x)
    assert torch.equal(out, ref)
    for a, b in zip(state, ref_state, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", MAKERS)
def test_state_continues_a_split_sequence(name):
    m = MAKERS[name]()
    x = inputs((20, 2, 4), seed=1)
    whole = m(x)
    first, state = m(x[:7], return_state=True)
    second = m(x[7:], state)
    assert torch.equal(torch.cat([first, second]), whole)


@pytest.mark.parametrize("name", MAKERS)
def test_multi_step_calls_are_stateless(name):
    m = MAKERS[name]()
    x = inputs()
    assert torch.equal(m(x), m(x))


@pytest.mark.parametrize("name", CELLS)
def test_cell_is_one_step_of_the_sequence_module(name):
    cell_type, sequence_type = CELLS[name]
    cell, seq = cell_type(), sequence_type()
    x = inputs()
    state = None
    outs = []
    for x_t in x.unbind(0):
        out, state = cell(x_t, state)
        outs.append(out)
    assert torch.equal(torch.stack(outs), seq(x))


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_dtype_is_preserved(name, dtype):
    m = MAKERS[name]()
    x = inputs(dtype=dtype).requires_grad_(True)
    out = m(x)
    out.sum().backward()
    assert out.dtype == dtype
    assert x.grad.dtype == dtype


def test_lif_matches_functional_definition():
    m = ann.LIF(beta=0.8, threshold=0.9, reset="zero")
    x = inputs()
    p = F.LIFParameters(beta=0.8, threshold=0.9, reset="zero")
    state = F.initial_state(F.LIFState, x[0])
    ref = []
    for x_t in x.unbind(0):
        s, state = F.lif_step(x_t, state, p)
        ref.append(s)
    assert torch.equal(m(x), torch.stack(ref))


def test_per_neuron_constants_broadcast():
    beta = torch.tensor([0.0, 1.0])
    m = ann.LIF(beta=beta, threshold=torch.tensor([10.0, 10.0]))
    x = torch.ones(5, 1, 2)
    _, state = m(x, return_state=True)
    assert state.v.tolist() == [[1.0, 5.0]]


def test_learnable_beta_and_threshold_get_gradients():
    m = ann.LIF(beta=0.9, threshold=1.0, learn_beta=True, learn_threshold=True)
    assert {n for n, _ in m.named_parameters()} == {"beta", "threshold"}
    m(inputs()).sum().backward()
    assert m.beta.grad is not None and m.beta.grad.abs() > 0
    assert m.threshold.grad is not None and m.threshold.grad.abs() > 0


def test_fixed_constants_are_buffers_not_parameters():
    m = ann.CubaLIF()
    assert list(m.parameters()) == []
    assert {"alpha", "beta", "threshold"} <= set(dict(m.named_buffers()))


def test_learnable_beta_is_clamped_to_unit_interval():
    m = ann.LI(beta=0.5, learn_beta=True)
    with torch.no_grad():
        m.beta.fill_(1.7)
    out = m(torch.ones(3, 1, 1))
    assert out.flatten().tolist() == [1.0, 2.0, 3.0]


def test_recurrent_lif_uses_previous_spikes():
    m = ann.RLIF(2, beta=0.0, threshold=0.5)
    with torch.no_grad():
        m.recurrent.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
    x = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]], [[0.0, 0.0]]])
    # neuron 0 fires at t=0; neuron 1 receives it at t=1 and fires
    assert m(x)[:, 0].tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]


def test_recurrent_lif_cell_and_gradients():
    m = ann.RLIF(4)
    cell = ann.RLIFCell(4)
    cell.load_state_dict(m.state_dict())
    x = inputs((9, 2, 4)).requires_grad_(True)
    out = m(x)
    assert torch.equal(out, step_loop(cell, x)[0])
    out.sum().backward()
    assert m.recurrent.weight.grad is not None


def test_sequential_threads_state_and_matches_streaming():
    torch.manual_seed(0)
    net = ann.Sequential(nn.Linear(5, 8), ann.LIF(), nn.Linear(8, 8), ann.RLIF(8), ann.LI())
    x = inputs((15, 3, 5))
    whole = net(x)
    a, state = net(x[:6], return_state=True)
    b = net(x[6:], state)
    assert torch.allclose(torch.cat([a, b]), whole)
    online = ann.Streaming(net)
    streamed = torch.stack([online(x_t) for x_t in x.unbind(0)])
    assert torch.allclose(streamed, whole, atol=1e-6)
    online.reset()
    assert torch.allclose(online(x[0]), whole[0], atol=1e-6)


def test_sequential_folds_time_for_plain_layers():
    conv = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.Flatten())
    net = ann.Sequential(conv, ann.LIF())
    x = inputs((4, 2, 2, 6, 6))
    out = net(x)
    assert out.shape == (4, 2, 4 * 36)
    assert torch.equal(out, ann.LIF()(conv(x.flatten(0, 1)).unflatten(0, (4, 2))))


def test_nested_sequential():
    inner = ann.Sequential(nn.Linear(3, 3), ann.LIF())
    outer = ann.Sequential(inner, nn.Linear(3, 2), ann.LI())
    out, state = outer(inputs((5, 2, 3)), return_state=True)
    assert out.shape == (5, 2, 2)
    assert isinstance(state[0], list) and len(state[0]) == 2


def test_sequential_slices_are_plain_sequentials_sharing_layers():
    class Net(ann.Sequential):  # a constructor unlike Sequential's, as in the model zoo
        def __init__(self, width: int) -> None:
            super().__init__(nn.Linear(3, width), ann.LIF(), nn.Linear(width, 2), ann.LI())

    net = Net(4)
    head = net[-2:]
    assert type(head) is ann.Sequential and head[0] is net[2] and len(head) == 2
    x = inputs((5, 2, 3))
    hidden = net[:2](x)
    torch.testing.assert_close(head(hidden), net(x))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ann.LIF(reset="hard"), "reset must be one of"),
        (lambda: ann.LIF(beta=1.5), "beta must lie in"),
        (lambda: ann.LIF(beta=float("nan")), "beta must lie in"),
        (lambda: ann.LIF(threshold=0.0), "threshold must be"),
        (lambda: ann.LIF(surrogate="tanh"), "unknown surrogate"),
        (lambda: ann.ILIF(max_spikes=0), "max_spikes"),
        (lambda: ann.CubaLIF(alpha=-0.1), "alpha must lie in"),
        (lambda: ann.RLIF(0), "size must be"),
    ],
)
def test_bad_constructor_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        ann.LIF()(torch.ones(5))
    with pytest.raises(TypeError, match="floating-point"):
        ann.LIF()(torch.ones(5, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="RLIF of size 4"):
        ann.RLIF(4)(torch.ones(3, 2, 5))
    with pytest.raises(ValueError, match="state has 1 entries"):
        ann.Sequential(nn.Linear(2, 2), ann.LIF())(torch.ones(3, 1, 2), [None])
    with pytest.raises(TypeError, match="Streaming wraps"):
        ann.Streaming(nn.Linear(2, 2))
