"""The ESIM-like event simulator on synthetic scenes whose events can be counted by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from axonal.data.events import EVENT_DTYPE, EventSimulator

BG, BAR, EPS = 0.2, 1.0, 1e-3
C_ON, C_OFF = 0.3, 0.4
DT = 1000  # us between frames
T, H, W = 6, 3, 12
# log contrast between bar and background: ln(1.001 / 0.201) = 1.6054
CONTRAST = math.log((BAR + EPS) / (BG + EPS))


def moving_bar() -> tuple[np.ndarray, np.ndarray]:
    """A 2-pixel bright bar at columns 1, 2 moving right 1 pixel per frame (frame k: 1+k, 2+k)."""
    frames = np.full((T, H, W), BG)
    for k in range(T):
        frames[k, :, 1 + k : 3 + k] = BAR
    return frames, np.arange(T, dtype=np.int64) * DT


def test_moving_bar_hand_count() -> None:
    frames, t = moving_bar()
    events = EventSimulator(C_ON, C_OFF, eps=EPS)(frames, t)
    assert events.dtype == EVENT_DTYPE
    assert np.all(np.diff(events["t"]) >= 0)
    n_on = math.floor(CONTRAST / C_ON)  # 5 ON per pixel switching on
    # pixels starting bright: reference at the bar level -> floor(1.6054 / 0.4) = 4 OFF;
    # pixels lit during the sequence: reference ends 5 * 0.3 = 1.5 above the background -> 3 OFF
    n_off_initial, n_off_later = math.floor(CONTRAST / C_OFF), math.floor(n_on * C_ON / C_OFF)
    assert (n_on, n_off_initial, n_off_later) == (5, 4, 3)
    on, off = events[events["p"] == 1], events[events["p"] == 0]
    # ON only at the leading edge, columns 3..7; OFF only at the trailing edge, columns 1..5
    assert np.bincount(on["x"], minlength=W).tolist() == [0, 0, 0] + [n_on * H] * 5 + [0] * 4
    expected_off = [0] + [n_off_initial * H] * 2 + [n_off_later * H] * 3 + [0] * 6
    assert np.bincount(off["x"], minlength=W).tolist() == expected_off
    assert np.bincount(events["y"], minlength=H).tolist() == [len(events) // H] * H


def test_moving_bar_edges_and_interpolated_times() -> None:
    frames, t = moving_bar()
    events = EventSimulator(C_ON, C_OFF, eps=EPS)(frames, t)
    for k in range(1, T):  # between frames k-1 and k
        window = events[(events["t"] > t[k - 1]) & (events["t"] <= t[k])]
        on, off = window[window["p"] == 1], window[window["p"] == 0]
        assert set(on["x"].tolist()) == {2 + k}  # leading edge
        assert set(off["x"].tolist()) == {k}  # trailing edge
        # the j-th ON crossing sits where the linear log ramp reaches j * C_ON
        expected = sorted(t[k - 1] + round(j * C_ON / CONTRAST * DT) for j in range(1, 6))
        assert sorted(set(on["t"].tolist())) == expected


def test_static_scene_gives_no_events() -> None:
    rng = np.random.default_rng(1)
    frame = rng.uniform(0, 1, (H, W))
    frames = np.repeat(frame[None], 10, axis=0)
    sim = EventSimulator(0.1, 0.1, threshold_sigma=0.05)
    assert len(sim(frames, np.arange(10, dtype=np.int64) * DT, seed=3)) == 0


def test_refractory_keeps_one_event_per_transition() -> None:
    frames, t = moving_bar()
    # all crossings of one transition fall within DT of each other: only the first survives;
    # the reference still moves, so each switching pixel gives exactly one ON and one OFF
    events = EventSimulator(C_ON, C_OFF, refractory_us=DT, eps=EPS)(frames, t)
    assert int((events["p"] == 1).sum()) == 5 * H
    assert int((events["p"] == 0).sum()) == 5 * H
    for p in (0, 1):
        pix = events[events["p"] == p]
        assert len(np.unique(pix["x"].astype(int) * H + pix["y"])) == len(pix)


def test_refractory_gap_respected_per_pixel() -> None:
    frames, t = moving_bar()
    events = EventSimulator(C_ON, C_OFF, refractory_us=300, eps=EPS)(frames, t)
    free = EventSimulator(C_ON, C_OFF, eps=EPS)(frames, t)
    assert 0 < len(events) < len(free)
    for x in range(W):
        for y in range(H):
            times = events["t"][(events["x"] == x) & (events["y"] == y)]
            assert np.all(np.diff(times) >= 300)


def test_uint8_frames_equal_scaled_floats() -> None:
    frames, t = moving_bar()
    as_uint8 = np.round(frames * 255).astype(np.uint8)
    sim = EventSimulator(C_ON, C_OFF, eps=EPS)
    np.testing.assert_array_equal(sim(as_uint8, t), sim(as_uint8 / 255.0, t))


def test_mismatch_and_noise_are_seeded() -> None:
    frames, t = moving_bar()
    sim = EventSimulator(C_ON, C_OFF, threshold_sigma=0.1, noise_rate_hz=50.0, eps=EPS)
    a, b, c = sim(frames, t, seed=7), sim(frames, t, seed=7), sim(frames, t, seed=8)
    np.testing.assert_array_equal(a, b)
    assert len(a) != len(c) or not np.array_equal(a, c)
    # mismatch changes the per-pixel ON counts, which are all 5 without it
    mismatched = EventSimulator(C_ON, C_OFF, threshold_sigma=0.1, eps=EPS)(frames, t, seed=7)
    on = mismatched[mismatched["p"] == 1]
    counts = np.bincount(on["x"].astype(int) * H + on["y"])
    assert len(np.unique(counts[counts > 0])) > 1


def test_background_noise_rate() -> None:
    frames = np.full((2, 8, 8), 0.5)
    t = np.array([0, 1_000_000], dtype=np.int64)  # one second
    events = EventSimulator(noise_rate_hz=20.0)(frames, t, seed=0)
    expected = 20.0 * 64  # Poisson mean; std = 36
    assert abs(len(events) - expected) < 5 * math.sqrt(expected)
    assert set(np.unique(events["p"]).tolist()) == {0, 1}
    assert events["x"].max() < 8 and events["y"].max() < 8
    assert np.all(np.diff(events["t"]) >= 0)


@pytest.mark.parametrize(
    ("frames", "t", "error"),
    [
        (np.zeros((4, 4)), np.arange(4), ValueError),  # not [T, H, W]
        (np.full((2, 4, 4), 1.5), np.arange(2), ValueError),  # out of [0, 1]
        (np.zeros((2, 4, 4), dtype=np.int32), np.arange(2), TypeError),
        (np.zeros((2, 4, 4)), np.arange(3), ValueError),  # one time per frame
        (np.zeros((2, 4, 4)), np.array([5, 5]), ValueError),  # not increasing
        (np.zeros((2, 4, 4)), np.array([0.0, 1.0]), TypeError),  # not integer us
    ],
)
def test_bad_input_raises(frames: np.ndarray, t: np.ndarray, error: type) -> None:
    with pytest.raises(error):
        EventSimulator()(frames, t)


@pytest.mark.parametrize(
    "kwargs", [{"threshold_on": 0.0}, {"threshold_off": -1.0}, {"refractory_us": -1},
               {"noise_rate_hz": -0.5}, {"eps": 0.0}, {"threshold_sigma": -0.1}]
)
def test_bad_parameters_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EventSimulator(**kwargs)
