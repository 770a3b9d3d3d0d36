"""Spatial and noise transforms: hand-built cases, and agreement with Tonic's own transforms
(installed by `make install`) in both directions."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from axonal.data.events import (
    EVENT_DTYPE,
    CenterCrop,
    CropTime,
    Denoise,
    Downsample,
    MergePolarities,
    RandomCrop,
    RandomFlip,
    RefractoryPeriod,
    UniformNoise,
    to_frames,
)

SIZE = (16, 12)
SENSOR = (16, 12, 2)  # Tonic-style (W, H, P)


@pytest.fixture(scope="module")
def tonic():
    return importlib.import_module("tonic")


def _events(n: int, seed: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    events = np.zeros(n, dtype=EVENT_DTYPE)
    events["x"], events["y"] = rng.integers(0, size[0], n), rng.integers(0, size[1], n)
    events["t"] = np.sort(rng.integers(0, 10_000, n))
    events["p"] = rng.integers(0, 2, n)
    return events


def _hand(rows: list[tuple[int, int, int, int]]) -> np.ndarray:
    return np.array(rows, dtype=EVENT_DTYPE)


def test_center_crop_by_hand():
    events = _hand([(0, 0, 1, 1), (5, 4, 2, 0), (6, 6, 3, 1), (9, 7, 4, 0)])
    out = CenterCrop((10, 8), (4, 4))(events)  # box x in [3, 7), y in [2, 6)
    np.testing.assert_array_equal(out, _hand([(2, 2, 2, 0)]))
    padded = CenterCrop((10, 8), (12, 8))(events)  # wider than the sensor: shifted right by 1
    np.testing.assert_array_equal(padded["x"], events["x"] + 1)
    assert len(events) == 4 and events["x"][1] == 5  # input untouched


def test_random_crop_windows_stay_inside_and_are_seeded():
    events = _events(4000, 0)
    crops = [RandomCrop(SIZE, (5, 4), seed=3)(events) for _ in range(2)]
    np.testing.assert_array_equal(crops[0], crops[1])
    crop = RandomCrop(SIZE, (5, 4), seed=3)
    for _ in range(20):
        out = crop(events)
        assert out["x"].max() < 5 and out["y"].max() < 4 and out["x"].min() >= 0
        # dense events: every pixel of the window is hit, so the window is fully inside
        assert len(np.unique(out["x"].astype(int) * 4 + out["y"])) == 20
    with pytest.raises(ValueError, match="larger than the sensor"):
        RandomCrop(SIZE, (17, 4))
    with pytest.raises(ValueError, match="positive"):
        CenterCrop(SIZE, (0, 3))


def test_refractory_period_by_hand():
    events = _hand([(1, 1, 0, 1), (1, 1, 50, 1), (1, 1, 120, 0), (2, 1, 60, 0), (1, 1, 200, 1)])
    events = events[np.argsort(events["t"], kind="stable")]
    out = RefractoryPeriod(100)(events)
    # pixel (1, 1): 0 kept, 50 inside, 120 kept (120 - 0 > 100), 200 inside (200 - 120 = 80)
    np.testing.assert_array_equal(out["t"], [0, 60, 120])
    with pytest.raises(ValueError, match="refractory_us"):
        RefractoryPeriod(-1)


def test_uniform_noise_adds_n_events_in_range():
    events = _events(500, 1)
    out = UniformNoise(SENSOR, n=300, seed=2)(events)
    assert len(out) == 800 and np.all(np.diff(out["t"]) >= 0)
    assert out["x"].max() < SIZE[0] and out["y"].max() < SIZE[1] and set(out["p"]) == {0, 1}
    assert out["t"].min() == events["t"].min() and out["t"].max() <= events["t"].max()
    np.testing.assert_array_equal(out, UniformNoise(SIZE, n=300, seed=2)(events))
    with pytest.raises(ValueError, match="time span"):
        UniformNoise(SIZE, n=3)(events[:0])
    relative = UniformNoise(SIZE, fraction=0.5, duration_us=20_000, seed=1)(events)
    assert len(relative) == 750 and relative["t"].max() > events["t"].max()
    assert relative["t"].max() < 20_000
    with pytest.raises(ValueError, match="exactly one"):
        UniformNoise(SIZE, n=3, fraction=0.1)


def test_flips_by_hand():
    events = _hand([(0, 2, 5, 1), (15, 11, 7, 0)])
    np.testing.assert_array_equal(RandomFlip(SIZE, "x", p=1.0)(events)["x"], [15, 0])
    np.testing.assert_array_equal(RandomFlip(SIZE, "y", p=1.0)(events)["y"], [9, 0])
    np.testing.assert_array_equal(RandomFlip(SIZE, "p", p=1.0)(events)["p"], [0, 1])
    np.testing.assert_array_equal(RandomFlip(SIZE, "x", p=0.0)(events), events)
    np.testing.assert_array_equal(MergePolarities()(events)["p"], [0, 0])
    with pytest.raises(ValueError, match="axis"):
        RandomFlip(SIZE, "t")


# ---------------------------------------------------------------- agreement with Tonic


def test_deterministic_transforms_equal_tonic(tonic):
    T = tonic.transforms
    events = _events(3000, 4)
    pairs = [
        (CenterCrop(SIZE, (9, 7)), T.CenterCrop(SENSOR, (9, 7))),
        (CenterCrop(SIZE, (20, 14)), T.CenterCrop(SENSOR, (20, 14))),
        (CropTime(2000, 7000), T.CropTime(2000, 7000)),
        (MergePolarities(), T.MergePolarities()),
        (RandomFlip(SIZE, "x", p=1.0), T.RandomFlipLR(SENSOR, p=1.0)),
        (RandomFlip(SIZE, "y", p=1.0), T.RandomFlipUD(SENSOR, p=1.0)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours(events), theirs(events.copy()), err_msg=repr(ours))


def test_downsample_equals_tonic(tonic):
    events = _events(1000, 5)
    ours = Downsample(0.5)(events)
    theirs = tonic.transforms.Downsample(spatial_factor=0.5)(events.copy())
    np.testing.assert_array_equal(ours, theirs)


def test_refractory_period_keeps_tonic_events_and_agrees_without_bursts(tonic):
    events = _events(3000, 6)
    ours = RefractoryPeriod(400)(events)
    theirs = tonic.transforms.RefractoryPeriod(delta=400)(events.copy())
    # Tonic also restarts the period at dropped events, so it keeps a subset of ours
    assert set(map(tuple, theirs.tolist())) <= set(map(tuple, ours.tolist()))
    assert len(theirs) < len(ours)
    sparse = _events(200, 7, size=(40, 40))  # no burst of three events within 2 periods
    np.testing.assert_array_equal(
        RefractoryPeriod(50)(sparse), tonic.transforms.RefractoryPeriod(delta=50)(sparse.copy())
    )


def test_tonic_pipeline_runs_axonal_transforms_and_the_reverse(tonic):
    """axonal transforms inside ``tonic.transforms.Compose``, on Tonic's own event dtype, and
    Tonic transforms on axonal events, give the same frames either way."""
    ours_events = _events(2000, 8)
    tonic_events = tonic.io.make_structured_array(
        ours_events["x"], ours_events["y"], ours_events["t"], ours_events["p"]
    )
    tonic_pipeline = tonic.transforms.Compose(
        [CenterCrop(SIZE, (10, 10)), Denoise(200),
         tonic.transforms.ToFrame((10, 10, 2), time_window=1000, include_incomplete=True)]
    )
    ours = to_frames(Denoise(200)(tonic.transforms.CenterCrop(SENSOR, (10, 10))(
        ours_events.copy())), (10, 10), time_window_us=1000)
    theirs = tonic_pipeline(tonic_events)
    np.testing.assert_array_equal(ours.numpy(), theirs.astype(np.float32))
    assert ours.sum() > 0
