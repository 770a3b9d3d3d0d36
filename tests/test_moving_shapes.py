"""Moving Shapes (direction of motion through the event simulator), built small in a temporary
cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from axonal.data.events import EVENT_DTYPE, MovingShapes
from axonal.data.events.moving_shapes import (
    BACKGROUND,
    DIRECTIONS,
    DURATION_US,
    FRAMES,
    SENSOR_SIZE,
    direction_vector,
    draw_scene,
    render,
    signed_distance,
)

LIMIT = 16


@pytest.fixture
def train() -> MovingShapes:
    """Built once in the session's private cache (conftest), loaded by later tests."""
    return MovingShapes("train", limit=LIMIT)


def test_samples_are_valid_and_balanced(train: MovingShapes) -> None:
    assert len(train) == LIMIT and train.sensor_size == (34, 34, 2)
    assert train.targets.tolist() == [i % DIRECTIONS for i in range(LIMIT)]
    for i in range(len(train)):
        events, label = train[i]
        assert events.dtype == EVENT_DTYPE and len(events) > 50
        assert events["x"].min() >= 0 and events["x"].max() < SENSOR_SIZE
        assert events["y"].min() >= 0 and events["y"].max() < SENSOR_SIZE
        assert np.all(np.diff(events["t"]) >= 0) and events["t"][-1] <= DURATION_US
        assert label == train.targets[i]


def _centroid(events: np.ndarray) -> np.ndarray:
    return np.array([events["x"].mean(), events["y"].mean()])


def test_events_follow_the_motion(train: MovingShapes) -> None:
    for i in range(len(train)):
        events, label = train[i]
        u = direction_vector(label)
        early = events[events["t"] < DURATION_US / 4]
        late = events[events["t"] > 3 * DURATION_US / 4]
        assert (_centroid(late) - _centroid(early)) @ u > 0.4 * train.travel[i]


def test_polarity_depends_on_contrast_and_direction(train: MovingShapes) -> None:
    """A bright shape has ON events at its leading edge, a dark one OFF events: the ON - OFF
    centroid points along the motion for bright shapes and against it for dark ones."""
    assert {True, False} <= set((train.contrast > 0).tolist())
    for i in range(len(train)):
        events, label = train[i]
        on, off = events[events["p"] == 1], events[events["p"] == 0]
        along = (_centroid(on) - _centroid(off)) @ direction_vector(label)
        assert np.sign(along) == np.sign(train.contrast[i])


def test_deterministic_cached_and_seeded(cache: Path) -> None:
    first = MovingShapes("test", limit=4, seed=2)
    path = first.cache_path
    assert path.parent == cache / "moving_shapes" and path.exists()
    stamp = path.stat().st_mtime_ns
    again = MovingShapes("test", limit=4, seed=2)
    assert path.stat().st_mtime_ns == stamp  # loaded, not rebuilt
    path.unlink()
    rebuilt = MovingShapes("test", limit=4, seed=2)
    other = MovingShapes("test", limit=4, seed=3)
    for i in range(4):
        np.testing.assert_array_equal(first[i][0], again[i][0])
        np.testing.assert_array_equal(first[i][0], rebuilt[i][0])
        assert not np.array_equal(first[i][0], other[i][0])
    train = MovingShapes("train", limit=4, seed=2)
    assert not np.array_equal(train[0][0], first[0][0])  # the splits hold different scenes


def test_transforms_applied(cache: Path) -> None:
    ds = MovingShapes("test", limit=2, transform=len, target_transform=lambda y: y + 10)
    plain = MovingShapes("test", limit=2)
    assert ds[1] == (len(plain[1][0]), plain[1][1] + 10)


def test_signed_distance_of_disc_and_square() -> None:
    x, y = np.array([0.0, 3.0, 5.0]), np.array([0.0, 0.0, 0.0])
    np.testing.assert_allclose(signed_distance(x, y, 0, 4.0, 0.0), [-4.0, -1.0, 1.0])
    # a square with circumradius sqrt(2) rotated so its edges are axis-aligned: half-side 1
    square = signed_distance(x, y, 4, np.sqrt(2), -np.pi / 4)
    np.testing.assert_allclose(square, [-1.0, 2.0, 4.0], atol=1e-12)


def test_render_moves_the_shape_and_keeps_contrast_symmetric() -> None:
    scene = {
        "shape": 0, "radius": 4.0, "rotation": 0.0, "contrast": 0.8, "travel": 10.0,
        "start": np.array([12.0, 17.0]), "end": np.array([22.0, 17.0]),
    }  # fmt: skip
    bright = render(scene)
    assert bright.shape == (FRAMES, SENSOR_SIZE, SENSOR_SIZE)
    np.testing.assert_allclose(bright[0, 16, 11], BACKGROUND * np.exp(0.8))  # inside at start
    np.testing.assert_allclose(bright[-1, 16, 11], BACKGROUND)  # left behind at the end
    dark = render({**scene, "contrast": -0.8})
    np.testing.assert_allclose(np.log(dark / BACKGROUND), -np.log(bright / BACKGROUND))


def test_scenes_stay_inside_the_sensor() -> None:
    rng = np.random.default_rng(0)
    for i in range(200):
        scene = draw_scene(i % DIRECTIONS, rng)
        for centre in (scene["start"], scene["end"]):
            assert np.all(centre - scene["radius"] >= 1) and np.all(
                centre + scene["radius"] <= SENSOR_SIZE - 1
            )
        np.testing.assert_allclose(
            scene["end"] - scene["start"],
            scene["travel"] * direction_vector(i % DIRECTIONS),
            atol=1e-12,
        )


def test_bad_arguments_raise(cache: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        MovingShapes("val")
    with pytest.raises(ValueError, match="limit"):
        MovingShapes("train", limit=0)
    with pytest.raises(ValueError, match="seed"):
        MovingShapes("train", seed=-1)
    with pytest.raises(ValueError, match="label"):
        draw_scene(DIRECTIONS, np.random.default_rng(0))
