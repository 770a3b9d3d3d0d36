"""Continuous (NIR-style) parameters -> discrete neurons: the mapping and its exactness."""

import math

import pytest
import torch

import axonal.nn as ann
from axonal.functional.continuous import decay


def test_decay_formulas():
    assert decay(1e-3, 1e-4).item() == pytest.approx(math.exp(-0.1))
    assert decay(1e-3, 1e-4, "euler").item() == pytest.approx(0.9)
    taus = torch.tensor([1e-3, 2e-3])
    assert decay(taus, 1e-3).tolist() == pytest.approx([math.exp(-1), math.exp(-0.5)])


@pytest.mark.parametrize(
    ("tau", "dt", "method", "message"),
    [
        (-1e-3, 1e-4, "exp", "tau must be"),
        (0.0, 1e-4, "exp", "tau must be"),
        (1e-3, 0.0, "exp", "dt must be"),
        (1e-4, 1e-3, "euler", "euler needs dt <= tau"),
        (1e-3, 1e-4, "rk4", "method must be"),
    ],
)
def test_decay_rejects_bad_values(tau, dt, method, message):
    with pytest.raises(ValueError, match=message):
        decay(tau, dt, method)


def test_exp_lif_is_exact_for_constant_current():
    """tau dv/dt = (v_leak - v) + r I with constant I: v(t) = v_inf + (v0 - v_inf) e^(-t/tau)."""
    tau, dt, r, v_leak, current = 5e-3, 1e-4, 2.0, -0.3, 0.4
    lif = ann.LIF.from_continuous(tau=tau, dt=dt, r=r, v_leak=v_leak, v_threshold=100.0)
    steps = 300
    x = torch.full((steps, 1, 1), current, dtype=torch.float64)
    _, state = lif(x, return_state=True)
    v_inf = v_leak + r * current
    expected = v_inf * (1 - math.exp(-steps * dt / tau))
    assert state.v.item() == pytest.approx(expected, rel=1e-6)


def test_euler_lif_is_forward_euler():
    tau, dt, r = 1e-3, 1e-4, 10.0
    lif = ann.LIF.from_continuous(tau=tau, dt=dt, r=r, v_threshold=100.0, method="euler")
    assert lif.beta.item() == pytest.approx(0.9)
    # one Euler step from rest with input I: v = dt/tau * r * I
    _, state = lif(torch.full((1, 1, 1), 0.5), return_state=True)
    assert state.v.item() == pytest.approx(1e-4 / 1e-3 * 10 * 0.5)


def test_r_equal_tau_over_dt_gives_unit_gain_as_in_snntorch_export():
    # snnTorch's NIR export writes tau = dt / (1 - beta), r = tau / dt (Euler); beta = 0.9
    lif = ann.LIF.from_continuous(tau=1e-3, dt=1e-4, r=10.0, method="euler")
    assert lif.beta.item() == pytest.approx(0.9)
    assert lif.input_scale.item() == pytest.approx(1.0)


def test_v_reset_and_threshold_are_honoured():
    lif = ann.LIF.from_continuous(tau=1e-3, dt=1e-3, v_threshold=0.5, v_reset=-0.2, reset="zero")
    x = torch.tensor([[[10.0]], [[0.0]]])
    out, state = lif(x, return_state=True)
    assert out.flatten().tolist() == [1.0, 0.0]
    assert state.v.item() == pytest.approx(-0.2 * math.exp(-1))


def test_if_from_continuous_scales_by_dt_r():
    neuron = ann.IF.from_continuous(dt=1e-3, r=200.0, v_threshold=1.0)
    _, state = neuron(torch.full((3, 1, 1), 1.0), return_state=True)
    # dv/dt = r I -> 0.2 per step; 0.6 after 3 steps, no spike
    assert state.v.item() == pytest.approx(0.6)


def test_li_from_continuous_settles_at_r_i_plus_leak():
    li = ann.LI.from_continuous(tau=1e-3, dt=1e-4, r=3.0, v_leak=1.0)
    out = li(torch.full((2000, 1, 1), 0.5))
    assert out[-1].item() == pytest.approx(1.0 + 3.0 * 0.5, rel=1e-5)


def test_cuba_lif_from_continuous_steady_state():
    """Constant input I: synaptic current settles at w_in I, membrane at v_leak + r w_in I."""
    neuron = ann.CubaLIF.from_continuous(
        tau_syn=2e-3, tau_mem=5e-3, dt=1e-4, r=2.0, w_in=0.5, v_leak=0.1, v_threshold=100.0
    )
    assert neuron.alpha.item() == pytest.approx(math.exp(-0.05))
    assert neuron.beta.item() == pytest.approx(math.exp(-0.02))
    _, state = neuron(torch.full((5000, 1, 1), 0.8, dtype=torch.float64), return_state=True)
    assert state.v.item() == pytest.approx(0.1 + 2.0 * 0.5 * 0.8, rel=1e-5)


def test_alif_from_continuous_sets_adaptation_decay():
    neuron = ann.ALIF.from_continuous(tau=1e-2, tau_adapt=1e-1, dt=1e-3)
    assert neuron.beta.item() == pytest.approx(math.exp(-0.1))
    assert neuron.adapt_decay.item() == pytest.approx(math.exp(-0.01))


def test_per_neuron_time_constants():
    lif = ann.LIF.from_continuous(tau=torch.tensor([1e-3, 1e-2]), dt=1e-3)
    assert lif.beta.tolist() == pytest.approx([math.exp(-1), math.exp(-0.1)])
    assert lif.input_scale.tolist() == pytest.approx([1 - math.exp(-1), 1 - math.exp(-0.1)])


def test_negative_tau_is_rejected_by_modules():
    with pytest.raises(ValueError, match="tau must be"):
        ann.LIF.from_continuous(tau=-1.0, dt=1e-3)
