"""N-Digits built on a small subset into a temporary cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from axonal.data.events import EVENT_DTYPE, NDigits
from axonal.data.events.ndigits import (
    SENSOR_SIZE,
    render,
    saccade_path,
    stratified_test_mask,
    upsample,
)

LIMIT = 12


def test_samples_are_valid_events(cache: Path) -> None:
    ds = NDigits("train", limit=LIMIT)
    assert len(ds) == LIMIT and ds.sensor_size == (34, 34, 2)
    for i in range(len(ds)):
        events, label = ds[i]
        assert events.dtype == EVENT_DTYPE and len(events) > 100
        assert events["x"].min() >= 0 and events["x"].max() < SENSOR_SIZE
        assert events["y"].min() >= 0 and events["y"].max() < SENSOR_SIZE
        assert np.all(np.diff(events["t"]) >= 0) and events["t"][-1] <= 300_000
        assert set(np.unique(events["p"]).tolist()) == {0, 1}
        assert label == ds.targets[i]


def test_labels_match_sklearn_and_split_is_disjoint(cache: Path) -> None:
    target = load_digits().target
    train, test = NDigits("train", limit=LIMIT), NDigits("test", limit=LIMIT)
    assert len(test) == LIMIT
    for ds in (train, test):
        assert [ds[i][1] for i in range(len(ds))] == target[ds.indices].tolist()
    assert not set(train.indices.tolist()) & set(test.indices.tolist())


def test_full_split_is_stratified_and_fixed() -> None:
    labels = load_digits().target
    is_test = stratified_test_mask(labels)
    np.testing.assert_array_equal(is_test, stratified_test_mask(labels))
    for c in range(10):
        n = int((labels == c).sum())
        assert int(is_test[labels == c].sum()) == round(0.2 * n)


def test_deterministic_and_cached(cache: Path) -> None:
    first = NDigits("train", limit=LIMIT, seed=3)
    path = first.cache_path
    assert path.parent == cache / "ndigits" and path.suffix == ".npz" and path.exists()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    stamp = path.stat().st_mtime_ns
    again = NDigits("train", limit=LIMIT, seed=3)
    assert path.stat().st_mtime_ns == stamp  # loaded, not rebuilt
    path.unlink()
    rebuilt = NDigits("train", limit=LIMIT, seed=3)
    other = NDigits("train", limit=LIMIT, seed=4)
    assert other.cache_path != path
    for i in range(LIMIT):
        np.testing.assert_array_equal(first[i][0], again[i][0])
        np.testing.assert_array_equal(first[i][0], rebuilt[i][0])
    assert any(not np.array_equal(first[i][0], other[i][0]) for i in range(LIMIT))


def test_transforms_applied(cache: Path) -> None:
    ds = NDigits("test", limit=2, transform=len, target_transform=lambda y: y + 100)
    plain = NDigits("test", limit=2)
    assert ds[0] == (len(plain[0][0]), plain[0][1] + 100)


def test_render_follows_the_saccades() -> None:
    offsets, t = saccade_path()
    assert len(offsets) == len(t) == 61 and np.all(np.diff(t) > 0)
    np.testing.assert_array_equal(offsets[0], offsets[-1])  # the path closes
    dot = np.zeros((1, 28, 28))
    dot[0, 10, 12] = 1.0
    frames = render(dot, np.array([[0.0, 0.0], [1.0, -2.0], [0.5, 0.0]]))
    # the digit is centred with a 3-pixel margin; offset (dx, dy) moves it right and down
    assert np.unravel_index(frames[0, 0].argmax(), (34, 34)) == (13, 15)
    assert np.unravel_index(frames[0, 1].argmax(), (34, 34)) == (11, 16)
    # half a pixel right: the dot's light is split evenly between two columns
    np.testing.assert_allclose(frames[0, 2, 13, 15:17], [0.55, 0.55])
    np.testing.assert_allclose(frames.min(), 0.1)


def test_upsample_keeps_range_and_size() -> None:
    images = load_digits().images[:3] / 16.0
    big = upsample(images)
    assert big.shape == (3, 28, 28) and big.min() >= 0 and big.max() <= 1
    np.testing.assert_allclose(big.mean(axis=(1, 2)), images.mean(axis=(1, 2)), atol=0.02)


def test_bad_arguments_raise(cache: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        NDigits("val")
    with pytest.raises(ValueError, match="limit"):
        NDigits("train", limit=0)
    with pytest.raises(ValueError, match="seed"):
        NDigits("train", seed=-1)
