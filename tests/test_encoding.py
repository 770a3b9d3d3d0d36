"""Tests for axonal.encoding: rate, latency and delta encoders."""

from __future__ import annotations

import math

import pytest
import torch

from axonal.encoding import delta, delta_reconstruct, latency, rate, spike_times
from axonal.encoding.delta import _delta_loop, _delta_scan


def _random_walk(shape: tuple[int, ...], seed: int, jump_every: int = 0) -> torch.Tensor:
    """Float64 random walk ``[T, ...]``; optional large jumps give multi-crossing steps."""
    generator = torch.Generator().manual_seed(seed)
    steps = torch.randn(shape, generator=generator, dtype=torch.float64) * 0.1
    if jump_every:
        steps[::jump_every] *= 20.0
    return steps.cumsum(dim=0)


# ----------------------------------------------------------------------------- rate


def test_rate_measured_rate_matches_probability() -> None:
    x = torch.tensor([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
    num_steps = 20_000
    spikes = rate(x, num_steps, generator=torch.Generator().manual_seed(0))
    measured = spikes.mean(dim=0)
    sigma = torch.sqrt(x * (1 - x) / num_steps)
    assert torch.all((measured - x).abs() <= 5 * sigma + 1e-12)
    assert measured[0] == 0.0 and measured[-1] == 1.0


def test_rate_gain_scales_and_clamps() -> None:
    x = torch.tensor([0.25, 0.8])
    spikes = rate(x, 20_000, gain=2.0, generator=torch.Generator().manual_seed(1))
    measured = spikes.mean(dim=0)
    assert abs(float(measured[0]) - 0.5) < 5 * math.sqrt(0.25 / 20_000)
    assert measured[1] == 1.0


def test_rate_is_reproducible_with_a_seeded_generator() -> None:
    x = torch.rand(4, 5, generator=torch.Generator().manual_seed(2))
    first = rate(x, 50, generator=torch.Generator().manual_seed(7))
    second = rate(x, 50, generator=torch.Generator().manual_seed(7))
    other = rate(x, 50, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_rate_shape_dtype_and_binary_values() -> None:
    x = torch.full((2, 3), 0.5, dtype=torch.float64)
    spikes = rate(x, 7, generator=torch.Generator().manual_seed(3))
    assert spikes.shape == (7, 2, 3)
    assert spikes.dtype == torch.float64
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}


def test_rate_without_generator_leaves_global_rng_alone() -> None:
    before = torch.get_rng_state()
    rate(torch.full((3,), 0.5), 10)
    assert torch.equal(before, torch.get_rng_state())


def test_rate_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"min -0\.5 and max 1\.5"):
        rate(torch.tensor([-0.5, 0.2, 1.5]), 4)
    with pytest.raises(ValueError, match="NaN"):
        rate(torch.tensor([0.2, float("nan")]), 4)
    with pytest.raises(ValueError, match="inf"):
        rate(torch.tensor([0.2, float("inf")]), 4)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        rate(torch.tensor(0.5), 4)
    with pytest.raises(ValueError, match="num_steps"):
        rate(torch.tensor([0.5]), 0)
    with pytest.raises(ValueError, match="gain"):
        rate(torch.tensor([0.5]), 4, gain=-1.0)
    with pytest.raises(TypeError, match="floating"):
        rate(torch.tensor([0, 1]), 4)


# -------------------------------------------------------------------------- latency


def test_latency_linear_hand_checked_times() -> None:
    # t = round((1 - x) * 10); x <= 0.01 never fires (time reported as T = 11).
    x = torch.tensor([1.0, 0.5, 0.3, 0.8, 0.0, 0.005])
    spikes = latency(x, 11)
    assert spikes.shape == (11, 6)
    assert spike_times(spikes).tolist() == [0, 5, 7, 2, 11, 11]


def test_latency_log_without_normalisation_uses_tau_in_steps() -> None:
    # t = 10 * ln(x / (x - 0.5)): 10 ln 2 = 6.93, 10 ln 3 = 10.99, 10 ln 6 = 17.92,
    # 10 ln 11 = 23.98 (past step 19, silent); x <= 0.5 silent.
    x = torch.tensor([1.0, 0.75, 0.6, 0.55, 0.5, 0.2])
    spikes = latency(x, 20, mode="log", tau=10.0, threshold=0.5, normalize=False)
    assert spike_times(spikes).tolist() == [7, 11, 18, 20, 20, 20]


def test_latency_log_normalised_hand_checked_times() -> None:
    # T = 5, threshold 0.5: cut-off x_c = 0.5 + 0.5 / 5 = 0.6. With u(x) = ln(x / (x - 0.5)),
    # t = round(4 * (u(x) - ln 2) / (ln 6 - ln 2)) = round(4 * ln(u-ratio) / ln 3):
    # x=1 -> 0; 0.9 -> 4 ln(1.125)/ln 3 = 0.43 -> 0; 0.75 -> 4 ln(1.5)/ln 3 = 1.48 -> 1;
    # 0.65 -> 4 ln(13/6)/ln 3 = 2.82 -> 3; 0.6 -> 4; 0.55 -> clamped to 4; 0.5 silent (5).
    x = torch.tensor([1.0, 0.9, 0.75, 0.65, 0.6, 0.55, 0.5])
    for tau in (1.0, 50.0):  # tau cancels out when normalising
        spikes = latency(x, 5, mode="log", tau=tau, threshold=0.5)
        assert spike_times(spikes).tolist() == [0, 0, 1, 3, 4, 4, 5]


@pytest.mark.parametrize("mode", ["linear", "log"])
def test_latency_brighter_fires_earlier_and_at_most_once(mode: str) -> None:
    x = torch.rand(500, generator=torch.Generator().manual_seed(4)).sort().values
    spikes = latency(x, 32, mode=mode)
    assert torch.all(spikes.sum(dim=0) == (x > 0.01).to(spikes.dtype))
    times = spike_times(spikes)
    assert torch.all(times[1:] <= times[:-1])
    assert times[-1] < times[0]


def test_latency_single_step_window_and_dtype() -> None:
    x = torch.tensor([[0.005, 0.2], [0.7, 1.0]], dtype=torch.float64)
    for mode in ("linear", "log"):
        spikes = latency(x, 1, mode=mode)
        assert spikes.dtype == torch.float64
        assert spikes.shape == (1, 2, 2)
        assert spikes[0].tolist() == [[0.0, 1.0], [1.0, 1.0]]


def test_spike_times_reports_first_spike_or_num_steps() -> None:
    spikes = torch.tensor([[0, 0, 1], [1, 0, 1], [1, 0, 0]])
    assert spike_times(spikes).tolist() == [1, 3, 0]
    with pytest.raises(ValueError):
        spike_times(torch.tensor(1.0))


def test_latency_rejects_bad_input() -> None:
    x = torch.tensor([0.5])
    with pytest.raises(ValueError, match="mode"):
        latency(x, 4, mode="exp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        latency(x, 4, threshold=0.0)
    with pytest.raises(ValueError, match="threshold"):
        latency(x, 4, threshold=1.0)
    with pytest.raises(ValueError, match="tau"):
        latency(x, 4, mode="log", tau=-1.0)
    with pytest.raises(ValueError, match=r"max 2"):
        latency(torch.tensor([2.0]), 4)
    with pytest.raises(ValueError, match="NaN"):
        latency(torch.tensor([float("nan")]), 4)
    with pytest.raises(ValueError, match="num_steps"):
        latency(x, 0)
    with pytest.raises(ValueError, match="dimension"):
        latency(torch.tensor(0.5), 4)


# ---------------------------------------------------------------------------- delta


def test_delta_rising_and_falling_ramps() -> None:
    ramp = 0.25 * torch.arange(17, dtype=torch.float64)  # rises 4.0 in steps of 0.25
    events = delta(ramp, 0.25)
    assert events.shape == (17, 2)
    assert events[:, 0].tolist() == [0.0] + [1.0] * 16
    assert events[:, 1].sum() == 0
    falling = delta(-ramp, 0.25, counts=True)
    assert falling[:, 1].tolist() == [0.0] + [1.0] * 16
    assert falling[:, 0].sum() == 0


def test_delta_multi_crossing_step_counts_or_flags() -> None:
    signal = torch.tensor([0.0, 1.0, 1.0])
    counted = delta(signal, 0.25, counts=True)
    flagged = delta(signal, 0.25)
    assert counted[:, 0].tolist() == [0.0, 4.0, 0.0]
    assert flagged[:, 0].tolist() == [0.0, 1.0, 0.0]  # the reference still moved to 1.0
    assert delta_reconstruct(counted, 0.25, signal[0]).tolist() == [0.0, 1.0, 1.0]
    assert delta_reconstruct(flagged, 0.25, signal[0]).tolist() == [0.0, 0.25, 0.25]


def test_delta_sine_counts_equal_quantised_rise_and_fall() -> None:
    # 0.99 sin over one period, theta = 0.125, so q = s / theta peaks at 7.92 (step 16), dips
    # to -7.92 (step 48) and ends at -0.78 (step 63). The reference index k goes
    # 0 -> floor(7.92) = 7 (7 UP), -> ceil(-7.92) = -7 (14 DOWN), -> floor(-0.78) = -1 (6 UP).
    t = torch.arange(64, dtype=torch.float64)
    signal = 0.99 * torch.sin(2 * math.pi * t / 64)
    events = delta(signal, 0.125, counts=True)
    assert events[:, 0].sum() == 13
    assert events[:, 1].sum() == 14
    assert torch.equal(delta(signal, 0.125), events)  # one crossing per step at most here


def test_delta_reference_has_hysteresis() -> None:
    # t1: d = 0.3 -> UP, r = 0.25; t2: d = -0.1 -> none; t3: d = -0.3 -> DOWN, r = 0;
    # t4: d = -0.3 -> DOWN, r = -0.25.
    signal = torch.tensor([0.0, 0.3, 0.15, -0.05, -0.3], dtype=torch.float64)
    threshold = torch.tensor(0.25, dtype=torch.float64)
    expected_up, expected_down = [0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 1.0]
    events = delta(signal, 0.25)
    assert events[:, 0].tolist() == expected_up
    assert events[:, 1].tolist() == expected_down
    up, down = _delta_loop(signal, threshold, threshold, 0)
    assert up.tolist() == expected_up
    assert down.tolist() == expected_down


def test_delta_asymmetric_thresholds() -> None:
    # t1: d = 1.0 -> 2 UP of 0.5, r = 1.0; t2: d = -0.8 -> 2 DOWN of 0.3, r = 0.4.
    signal = torch.tensor([0.0, 1.0, 0.2], dtype=torch.float64)
    events = delta(signal, 0.5, off_threshold=0.3, counts=True)
    assert events.tolist() == [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]
    level = delta_reconstruct(events, 0.5, signal[0], off_threshold=0.3)
    assert torch.allclose(level, torch.tensor([0.0, 1.0, 0.4], dtype=torch.float64))


@pytest.mark.parametrize("off_threshold", [None, 0.07])
def test_delta_reconstruction_stays_within_one_threshold(off_threshold: float | None) -> None:
    signal = _random_walk((2000, 3, 2), seed=5, jump_every=37)
    threshold = torch.tensor([[0.05], [0.1], [0.2]], dtype=torch.float64)
    events = delta(signal, threshold, off_threshold=off_threshold, counts=True)
    level = delta_reconstruct(events, threshold, signal[0], off_threshold=off_threshold)
    down = threshold if off_threshold is None else off_threshold
    error = signal - level
    assert torch.all(error < threshold + 1e-9)
    assert torch.all(error > -down - 1e-9)


def test_delta_reduces_data_on_a_slow_signal() -> None:
    # Each crossing needs a move of one threshold, so the count is at most the total
    # variation (4.0) over theta, and a monotone segment loses less than one crossing.
    t = torch.arange(1000, dtype=torch.float64)
    signal = torch.sin(2 * math.pi * t / 1000)
    events = delta(signal, 0.1, counts=True)
    total_variation = float(signal.diff().abs().sum())
    assert total_variation / 0.1 - 3 <= float(events.sum()) <= total_variation / 0.1
    assert float(events.sum()) < signal.numel() / 20


def test_delta_scan_equals_loop() -> None:
    signal = _random_walk((3000, 4, 3), seed=6, jump_every=11)
    threshold = torch.linspace(0.02, 0.3, 12, dtype=torch.float64).reshape(4, 3)
    scan_up, scan_down = _delta_scan(signal, threshold)
    loop_up, loop_down = _delta_loop(signal, threshold, threshold, 0)
    assert scan_up.max() > 1  # multi-crossing steps are exercised
    assert torch.equal(scan_up, loop_up)
    assert torch.equal(scan_down, loop_down)


def test_delta_refractory_suppresses_and_defers_events() -> None:
    ramp = 0.25 * torch.arange(17, dtype=torch.float64)
    # Events at t = 1, then every 3 steps; each reports the 3 crossings gathered meanwhile.
    counted = delta(ramp, 0.25, refractory=2, counts=True)
    expected = [0.0] * 17
    for step in (1, 4, 7, 10, 13, 16):
        expected[step] = 1.0 if step == 1 else 3.0
    assert counted[:, 0].tolist() == expected
    assert delta(ramp, 0.25, refractory=2)[:, 0].tolist() == [min(v, 1.0) for v in expected]
    assert delta_reconstruct(counted, 0.25, ramp[0])[-1] == 4.0


def test_delta_refractory_keeps_elements_independent() -> None:
    signal = _random_walk((500, 6), seed=7)
    together = delta(signal, 0.05, refractory=3, counts=True)
    for channel in range(6):
        alone = delta(signal[:, channel], 0.05, refractory=3, counts=True)
        assert torch.equal(together[:, channel], alone)
    assert together.sum() < delta(signal, 0.05, counts=True).sum()


def test_delta_flags_are_binary_and_exclusive() -> None:
    events = delta(_random_walk((1000, 5), seed=8, jump_every=7), 0.05)
    assert set(events.unique().tolist()) == {0.0, 1.0}
    assert torch.all(events.sum(dim=-1) <= 1)


def test_delta_explicit_equal_off_threshold_matches_default() -> None:
    signal = _random_walk((300, 2), seed=9)
    assert torch.equal(delta(signal, 0.1), delta(signal, 0.1, off_threshold=0.1))


def test_delta_dtype_shape_and_single_step() -> None:
    signal64 = _random_walk((50, 2, 3), seed=10)
    events64 = delta(signal64, 0.1)
    assert events64.dtype == torch.float64
    assert events64.shape == (50, 2, 3, 2)
    assert delta(signal64.float(), 0.1).dtype == torch.float32
    assert delta_reconstruct(events64, 0.1, signal64[0]).dtype == torch.float64
    assert delta(torch.tensor([[1.0, 2.0]]), 0.1).tolist() == [[[0.0, 0.0], [0.0, 0.0]]]


def test_delta_rejects_bad_input() -> None:
    signal = torch.zeros(5, 3)
    with pytest.raises(ValueError, match="threshold"):
        delta(signal, 0.0)
    with pytest.raises(ValueError, match="threshold"):
        delta(signal, -0.1)
    with pytest.raises(ValueError, match="off_threshold"):
        delta(signal, 0.1, off_threshold=float("nan"))
    with pytest.raises(ValueError, match="threshold"):
        delta(signal, torch.tensor([0.1, 0.0, 0.1]))
    with pytest.raises(ValueError, match="broadcast"):
        delta(signal, torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="NaN"):
        delta(torch.tensor([0.0, float("nan")]), 0.1)
    with pytest.raises(ValueError, match="dimension"):
        delta(torch.tensor(1.0), 0.1)
    with pytest.raises(ValueError, match="T >= 1"):
        delta(torch.zeros(0, 3), 0.1)
    with pytest.raises(ValueError, match="refractory"):
        delta(signal, 0.1, refractory=-1)
    with pytest.raises(TypeError, match="floating"):
        delta(torch.zeros(5, dtype=torch.int64), 0.1)
    with pytest.raises(ValueError, match=r"\[T, \.\.\., 2\]"):
        delta_reconstruct(torch.zeros(5, 3), 0.1, torch.zeros(()))
    with pytest.raises(ValueError, match="non-negative"):
        delta_reconstruct(-torch.ones(5, 2), 0.1, torch.zeros(()))
