"""Neuron steps against hand-computed values."""

import pytest
import torch

import axonal.functional as F
from axonal.functional.neurons import initial_state


def run_steps(step, params, xs, state_type=F.LIFState):
    """Run ``step`` over a list of scalar inputs (batch of one); return outputs and states."""
    state = initial_state(state_type, torch.zeros(1))
    outs, states = [], []
    for x in xs:
        out, state = step(torch.tensor([x]), state, params)
        outs.append(out.item())
        states.append(state)
    return outs, states


def test_lif_subtract_reset_by_hand():
    p = F.LIFParameters(beta=0.5, threshold=1.0, reset="subtract")
    outs, states = run_steps(F.lif_step, p, [0.6, 0.6, 0.6, 2.0])
    # v: 0.6, 0.9, 1.05 -> fire, 1.05-1 = 0.05; 0.025 + 2 = 2.025 -> fire, 1.025
    assert outs == [0, 0, 1, 1]
    assert [s.v.item() for s in states] == pytest.approx([0.6, 0.9, 0.05, 1.025], abs=1e-6)


def test_lif_zero_reset_goes_to_v_reset():
    p = F.LIFParameters(beta=0.5, threshold=1.0, reset="zero", v_reset=-0.25)
    outs, states = run_steps(F.lif_step, p, [1.5, 0.5])
    assert outs == [1, 0]
    assert [s.v.item() for s in states] == pytest.approx([-0.25, 0.375])


def test_lif_no_reset_keeps_membrane():
    p = F.LIFParameters(beta=0.5, threshold=1.0, reset="none")
    outs, states = run_steps(F.lif_step, p, [1.5, 0.0, 0.0])
    assert outs == [1, 0, 0]
    assert [s.v.item() for s in states] == pytest.approx([1.5, 0.75, 0.375])


def test_lif_fires_strictly_above_threshold():
    p = F.LIFParameters(beta=1.0, threshold=1.0)
    outs, _ = run_steps(F.lif_step, p, [1.0, 1e-6])
    assert outs == [0, 1]


def test_lif_v_leak_is_the_resting_potential():
    p = F.LIFParameters(beta=0.9, threshold=10.0, v_leak=2.0)
    _, states = run_steps(F.lif_step, p, [0.0] * 200)
    assert states[-1].v.item() == pytest.approx(2.0, abs=1e-6)
    assert states[0].v.item() == pytest.approx(0.1 * 2.0)


def test_if_integrates_without_leak():
    p = F.IFParameters(threshold=1.0, reset="subtract")
    outs, states = run_steps(F.if_step, p, [0.4, 0.4, 0.4, 0.0])
    assert outs == [0, 0, 1, 0]
    assert states[-1].v.item() == pytest.approx(0.2)


def test_li_outputs_membrane():
    p = F.LIParameters(beta=0.5)
    outs, _ = run_steps(F.li_step, p, [1.0, 0.0, 2.0])
    assert outs == pytest.approx([1.0, 0.5, 2.25])


def test_cuba_lif_by_hand():
    p = F.CubaLIFParameters(alpha=0.5, beta=0.5, threshold=1.2)
    outs, states = run_steps(F.cuba_lif_step, p, [1.0, 1.0, 0.0], F.CubaLIFState)
    # i: 1, 1.5, 0.75; v: 1, 0.5 + 1.5 = 2.0 -> fire -> 0.8; 0.4 + 0.75 = 1.15
    assert outs == [0, 1, 0]
    assert [s.i.item() for s in states] == pytest.approx([1.0, 1.5, 0.75])
    assert [s.v.item() for s in states] == pytest.approx([1.0, 0.8, 1.15])


def test_alif_threshold_adapts():
    p = F.ALIFParameters(beta=1.0, threshold=1.0, adapt_decay=0.5, adapt_strength=0.5)
    outs, states = run_steps(F.alif_step, p, [1.5, 1.2, 1.2], F.ALIFState)
    # t0: v 1.5 > 1 fire, v' 0.5, a 1; t1: v 1.7 > 1.5 fire, v' 0.2, a 1.5;
    # t2: v 1.4 < 1.75 silent, a 0.75
    assert outs == [1, 1, 0]
    assert [s.v.item() for s in states] == pytest.approx([0.5, 0.2, 1.4])
    assert [s.a.item() for s in states] == pytest.approx([1.0, 1.5, 0.75])


def test_ilif_emits_rounded_counts_over_d():
    p = F.ILIFParameters(beta=0.0, threshold=1.0, max_spikes=4)
    outs, _ = run_steps(F.ilif_step, p, [0.4, 0.6, 2.6, 7.0])
    assert outs == pytest.approx([0.0, 0.25, 0.75, 1.0])


def test_ilif_subtracts_the_count():
    p = F.ILIFParameters(beta=1.0, threshold=0.5, max_spikes=4)
    outs, states = run_steps(F.ilif_step, p, [1.3, 0.0])
    # v/theta = 2.6 -> k = 3, v' = 1.3 - 1.5 = -0.2; then -0.4 -> 0
    assert outs == pytest.approx([0.75, 0.0])
    assert states[0].v.item() == pytest.approx(-0.2)


def test_ilif_straight_through_gradient():
    x = torch.tensor([-1.0, 0.6, 2.6, 7.0], requires_grad=True)
    p = F.ILIFParameters(beta=0.0, threshold=1.0, max_spikes=4)
    s, _ = F.ilif_step(x, initial_state(F.LIFState, x), p)
    s.sum().backward()
    assert x.grad.tolist() == pytest.approx([0.0, 0.25, 0.25, 0.0])


def test_lif_spike_gradient_is_surrogate_derivative():
    x = torch.tensor([0.3, 1.0, 1.7], requires_grad=True)
    sur = F.ATan(alpha=2.0)
    p = F.LIFParameters(beta=0.9, threshold=1.0, surrogate=sur)
    s, _ = F.lif_step(x, initial_state(F.LIFState, x), p)
    s.sum().backward()
    assert torch.allclose(x.grad, sur.derivative(x.detach() - 1.0))


def test_detach_reset_changes_only_gradients():
    x = torch.tensor([[1.5, 0.2, 0.9]]).T.repeat(1, 3)
    grads, spikes = [], []
    for detach in (True, False):
        xi = x.clone().requires_grad_(True)
        p = F.LIFParameters(beta=0.9, detach_reset=detach)
        state = initial_state(F.LIFState, xi[0])
        out = []
        for x_t in xi.unbind(0):
            s, state = F.lif_step(x_t, state, p)
            out.append(s)
        torch.stack(out).sum().backward()
        grads.append(xi.grad)
        spikes.append(torch.stack(out))
    assert torch.equal(spikes[0], spikes[1])
    assert not torch.allclose(grads[0], grads[1])


def test_bad_reset_name():
    with pytest.raises(ValueError, match="reset must be one of"):
        F.neurons.check_reset("hard")


def test_integer_spike_rejects_bad_d():
    with pytest.raises(ValueError, match="max_spikes"):
        F.integer_spike(torch.zeros(2), 0)
