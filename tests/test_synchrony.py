"""Tests of axonal.analysis.synchrony on hand-built spike trains and synthetic series."""

from __future__ import annotations

import json
import math
from itertools import combinations

import numpy as np
import pytest
import torch

from axonal.analysis.synchrony import (
    TrainingDynamics,
    cofiring_fraction,
    detect_stabilization,
    kuramoto_order,
    population_spike_synchronization,
    spike_synchronization,
)


def train(length: int, times: list[int]) -> torch.Tensor:
    """A [T] float spike train with spikes at ``times``."""
    out = torch.zeros(length)
    out[times] = 1.0
    return out


def population(length: int, times_per_neuron: list[list[int]]) -> torch.Tensor:
    """A [T, N] population from per-neuron spike times."""
    return torch.stack([train(length, times) for times in times_per_neuron], dim=1)


# --- co-firing --------------------------------------------------------------------------


def test_cofiring_synchronous_population_is_one() -> None:
    spikes = population(20, [[3, 11, 17]] * 6)
    assert cofiring_fraction(spikes) == 1.0


def test_cofiring_window_by_hand() -> None:
    # neuron 0 at t=0, neuron 1 at t=2, neuron 2 silent: 3 pairs, only (0, 1) can co-fire
    spikes = population(10, [[0], [2], []])
    assert cofiring_fraction(spikes, window=0) == 0.0
    assert cofiring_fraction(spikes, window=1) == 0.0
    assert cofiring_fraction(spikes, window=2) == pytest.approx(1 / 3)
    assert cofiring_fraction(spikes, window=50) == pytest.approx(1 / 3)


def test_cofiring_batch_is_mean_of_samples() -> None:
    synchronous = population(8, [[1, 5]] * 3)
    silent_pair = population(8, [[1], [4], [6]])
    batch = torch.stack([synchronous, silent_pair], dim=1)  # [T, 2, N]
    assert cofiring_fraction(batch) == pytest.approx(0.5)


def test_cofiring_matches_pairwise_loop() -> None:
    rng = np.random.default_rng(3)
    spikes = rng.random((30, 4, 9)) < 0.05
    window = 2
    expected = []
    for b in range(4):
        times = [np.flatnonzero(spikes[:, b, i]) for i in range(9)]
        hits = sum(
            any(abs(ti - tj) <= window for ti in times[i] for tj in times[j])
            for i, j in combinations(range(9), 2)
        )
        expected.append(hits / 36)
    assert cofiring_fraction(spikes, window=window) == pytest.approx(np.mean(expected))


def test_cofiring_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="N >= 2"):
        cofiring_fraction(torch.ones(5, 1))
    with pytest.raises(ValueError, match="window"):
        cofiring_fraction(torch.ones(5, 3), window=-1)
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        cofiring_fraction(torch.ones(5))
    with pytest.raises(ValueError, match=">= 0"):
        cofiring_fraction(-torch.ones(5, 3))
    with pytest.raises(TypeError, match="Tensor"):
        cofiring_fraction([[1, 0], [0, 1]])  # type: ignore[arg-type]


# --- Kuramoto ---------------------------------------------------------------------------


def test_kuramoto_synchronous_population_is_one_where_defined() -> None:
    spikes = population(20, [[2, 7, 15]] * 5)
    order = kuramoto_order(spikes)
    assert order.r.shape == (20,)
    assert torch.isnan(order.r[:2]).all() and torch.isnan(order.r[16:]).all()
    assert torch.allclose(order.r[2:16], torch.ones(14, dtype=torch.float64))
    assert order.mean == pytest.approx(1.0)


def test_kuramoto_anti_phase_and_quarter_phase_by_hand() -> None:
    # neuron 0 spikes at 0, 4, 8; neuron 1 at 2, 6, 10: half a cycle apart where both defined
    spikes = population(12, [[0, 4, 8], [2, 6, 10]])
    r = kuramoto_order(spikes).r
    assert torch.allclose(r[0:2], torch.ones(2, dtype=torch.float64))  # only neuron 0
    assert torch.allclose(r[2:9], torch.zeros(7, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(r[9:11], torch.ones(2, dtype=torch.float64))  # only neuron 1
    assert torch.isnan(r[11])
    # neuron 0: 0, 4 -> phase pi/2 at t=1; neuron 1: 1, 5 -> phase 0 at t=1
    r = kuramoto_order(population(6, [[0, 4], [1, 5]])).r
    assert r[1].item() == pytest.approx(math.sqrt(2) / 2)


def test_kuramoto_excludes_neurons_with_one_spike_and_keeps_batch_shape() -> None:
    spikes = population(10, [[1, 5], [3]])
    r = kuramoto_order(spikes).r
    assert torch.allclose(r[1:6], torch.ones(5, dtype=torch.float64))
    batch = torch.stack([spikes, spikes], dim=1)
    assert kuramoto_order(batch).r.shape == (10, 2)
    assert math.isnan(kuramoto_order(torch.zeros(10, 3)).mean)


def test_kuramoto_random_independent_trains_are_incoherent() -> None:
    generator = torch.Generator().manual_seed(0)
    spikes = (torch.rand(300, 200, generator=generator) < 0.1).float()
    order = kuramoto_order(spikes)
    assert order.mean < 0.3
    # away from the edges, where only the few neurons that spiked early/late are defined
    assert float(order.r[30:-30].max()) < 0.3


# --- SPIKE-synchronization ---------------------------------------------------------------


def test_spike_sync_identical_trains_is_one() -> None:
    a = train(50, [3, 9, 10, 30, 44])
    assert spike_synchronization(a, a.clone()) == 1.0


def test_spike_sync_disjoint_far_apart_is_zero() -> None:
    a = train(100, [2, 5, 8])
    b = train(100, [80, 85, 90])
    assert spike_synchronization(a, b) == 0.0
    assert spike_synchronization(a, torch.zeros(100)) == 0.0
    assert spike_synchronization(torch.zeros(100), torch.zeros(100)) == 1.0


def test_spike_sync_small_example_by_hand() -> None:
    # a = {0, 4, 10}, b = {1, 9}, T = 12
    # a0=0: nearest b=1, |d|=1, tau = min(4, 8)/2 = 2 -> coincident
    # a1=4: nearest b=1, |d|=3, tau = min(4, 6, 8)/2 = 2 -> not
    # a2=10: nearest b=9, |d|=1, tau = min(6, 8)/2 = 3 -> coincident
    # b0=1: nearest a=0, |d|=1, tau = min(8, 4)/2 = 2 -> coincident
    # b1=9: nearest a=10, |d|=1, tau = min(8, 6)/2 = 3 -> coincident
    a = train(12, [0, 4, 10])
    b = train(12, [1, 9])
    assert spike_synchronization(a, b) == pytest.approx(4 / 5)
    assert spike_synchronization(b, a) == pytest.approx(4 / 5)
    # a window capped at 1 step keeps only distances < 1: none here
    assert spike_synchronization(a, b, max_tau=1.0) == 0.0
    # numpy input gives the same value
    assert spike_synchronization(a.numpy(), b.numpy()) == pytest.approx(4 / 5)


def test_spike_sync_strict_window_with_lone_spikes() -> None:
    # one spike each: tau = T/2 bounds the window; |d| = 5 < 10 but |d| = 10 is not < 10
    assert spike_synchronization(train(20, [3]), train(20, [8])) == 1.0
    assert spike_synchronization(train(20, [3]), train(20, [13])) == 0.0


def test_population_spike_sync_by_hand() -> None:
    # a = b = {2, 5}, c = {15, 18}, T = 20: each spike of a and b coincides with 1 of its
    # 2 partners (a-c: |d| = 13 vs tau = 1.5), spikes of c with none -> (4 * 1/2) / 6 = 1/3
    spikes = population(20, [[2, 5], [2, 5], [15, 18]])
    assert population_spike_synchronization(spikes) == pytest.approx(1 / 3)
    assert population_spike_synchronization(population(20, [[2, 5]] * 4)) == 1.0
    batch = torch.stack([spikes, population(20, [[2, 5]] * 3)], dim=1)
    assert population_spike_synchronization(batch) == pytest.approx((1 / 3 + 1) / 2)


def test_spike_sync_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        spike_synchronization(torch.zeros(5), torch.zeros(6))
    with pytest.raises(ValueError, match=r"\[T\]"):
        spike_synchronization(torch.zeros(5, 2), torch.zeros(5))
    with pytest.raises(ValueError, match="max_tau"):
        spike_synchronization(torch.zeros(5), torch.zeros(5), max_tau=0.0)


# --- stabilization ----------------------------------------------------------------------


def test_detect_stabilization_finds_transition() -> None:
    rng = np.random.default_rng(7)
    window = 5
    for _ in range(20):
        series = np.concatenate([1.0 + rng.normal(size=20), 1.0 + 0.01 * rng.normal(size=40)])
        found = detect_stabilization(series, window=window, ratio=0.2)
        assert found is not None
        assert abs(found - 20) <= window


def test_detect_stabilization_none_for_stationary_noise() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        assert detect_stabilization(rng.normal(size=100)) is None
    assert detect_stabilization(np.ones(30)) is None  # already stable: no transition
    assert detect_stabilization(rng.normal(size=13)) is None  # too short to decide


def test_detect_stabilization_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="finite"):
        detect_stabilization([1.0, math.nan] * 10)
    with pytest.raises(ValueError, match="window"):
        detect_stabilization([1.0] * 20, window=1)
    with pytest.raises(ValueError, match="ratio"):
        detect_stabilization([1.0] * 20, ratio=1.5)


def test_training_dynamics_records_aligned_series() -> None:
    dynamics = TrainingDynamics()
    dynamics.record(0, loss=2.0, rate=torch.tensor(0.1))
    dynamics.record(1, loss=1.5, synchrony=0.4)
    record = dynamics.as_dict()
    assert record["epoch"] == [0, 1]
    assert record["loss"] == [2.0, 1.5]
    assert record["rate"][0] == pytest.approx(0.1) and math.isnan(record["rate"][1])
    assert math.isnan(record["synchrony"][0]) and record["synchrony"][1] == 0.4
    json.dumps(record)
    with pytest.raises(ValueError, match="increase"):
        dynamics.record(1, loss=1.0)


def test_training_dynamics_stabilization_epoch_maps_to_epochs() -> None:
    rng = np.random.default_rng(5)
    norms = np.concatenate([rng.uniform(0.5, 1.5, size=20), 0.1 + 1e-3 * rng.random(30)])
    dynamics = TrainingDynamics()
    for index, norm in enumerate(norms):
        dynamics.record(10 + 2 * index, weight_update_norm=norm)
    epoch = dynamics.stabilization_epoch("weight_update_norm")
    assert epoch is not None
    assert abs(epoch - (10 + 2 * 20)) <= 2 * 5
    with pytest.raises(ValueError, match="no series"):
        dynamics.stabilization_epoch("loss")
