"""Moving Shapes: the direction of motion of a shape seen by a simulated event camera.

Each sample is one convex shape (a disc, triangle, square or hexagon; random size and
rotation) gliding in a straight line at constant speed over a uniform background; the label
is the direction of motion, one of :data:`DIRECTIONS` = 8 (``k * 45`` degrees
counter-clockwise from "to the right", as seen on the sensor, whose rows grow downwards: label
2 is "up").

The shape is brighter or darker than the background with equal probability, by the same
log-intensity step either way (intensity ``BACKGROUND * exp(s * a * coverage)``, ``s = +-1``,
``a`` drawn from :data:`LOG_CONTRAST`). A bright shape moving right and a dark shape moving
left then leave nearly the same events summed over time (ON events at the right edge, OFF at
the left), so the direction is mostly in the order of the events: unlike N-Digits, the task
needs temporal processing. The one static cue left is physical: with per-pixel threshold
mismatch a pixel's trailing-edge events can be one fewer than its leading-edge events (the
reference keeps a residual), so the leading edge is slightly stronger (bright shapes: 53 % ON
events, dark shapes: 46 %).

Generation of sample ``i`` of a split uses ``numpy.random.default_rng([seed, split, i])``:

1. label ``i % 8`` (balanced); shape, circumradius (:data:`RADIUS` pixels), rotation,
   contrast sign and size ``a``, travel distance (:data:`TRAVEL` pixels over the whole
   :data:`DURATION_US`) and a path midpoint that keeps the shape at least one pixel inside
   the :data:`SENSOR_SIZE` sensor;
2. :data:`FRAMES` frames rendered analytically (a one-pixel linear ramp across the edge of the
   shape's signed distance, so sub-pixel motion is smooth);
3. the frames go through the N-Digits simulator
   (:data:`axonal.data.events.ndigits.SIMULATOR`), seeded by the same generator.

Both splits are cached in one file, ``$AXONAL_CACHE/moving_shapes/<params-hash>.npz``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from axonal.data.events.ndigits import SIMULATOR
from axonal.data.events.packed import (
    PackedEventDataset,
    check_limit,
    check_seed,
    check_split,
    load_or_build,
)
from axonal.data.events.recording import EVENT_DTYPE
from axonal.io import cache_file

SENSOR_SIZE = 34
DIRECTIONS = 8
SHAPES = ("disc", "triangle", "square", "hexagon")
SIDES = (0, 3, 4, 6)
"""Polygon sides of each shape (0: a disc)."""
RADIUS = (3.0, 6.0)
TRAVEL = (8.0, 14.0)
BACKGROUND = 0.3
LOG_CONTRAST = (0.6, 1.0)
FRAMES = 41
DURATION_US = 200_000
SPLIT_SIZES = {"train": 1600, "test": 400}
FORMAT_VERSION = 1
_SPLIT_IDS = {"train": 0, "test": 1}
_FIELDS = ("events", "offsets", "labels", "shapes", "contrast", "travel", "split")


class MovingShapes(PackedEventDataset):
    """Tonic-style Moving Shapes dataset: ``ds[i] -> (events, direction)``.

    Args:
        split: ``"train"`` (1600 samples) or ``"test"`` (400 samples).
        transform: optional callable applied to the event array.
        target_transform: optional callable applied to the integer label.
        seed: seed of the scenes and of the simulator's mismatch and noise.
        limit: keep only the first ``limit`` samples of each split (fast builds), or ``None``.

    Attributes:
        sensor_size: ``(width, height, polarities)`` = ``(34, 34, 2)``.
        classes: the direction labels ``0..7`` (``k * 45`` degrees, counter-clockwise).
        targets: ``[N]`` int64 labels of this split.
        shapes: ``[N]`` int64 index into :data:`SHAPES`.
        contrast: ``[N]`` float64 signed log contrast ``s * a`` (> 0: brighter than the
            background).
        travel: ``[N]`` float64 distance moved in pixels.
        cache_path: the ``.npz`` file the data was loaded from or written to.
    """

    sensor_size = (SENSOR_SIZE, SENSOR_SIZE, 2)
    classes = tuple(range(DIRECTIONS))

    def __init__(
        self,
        split: str = "train",
        transform: Callable[[np.ndarray], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        seed: int = 0,
        limit: int | None = None,
    ) -> None:
        check_split(split)
        self.cache_path = cache_path(check_seed(seed), check_limit(limit))
        data = load_or_build(self.cache_path, _FIELDS, lambda: build(seed, limit))
        rows = np.flatnonzero(data["split"] == _SPLIT_IDS[split])
        super().__init__(data, rows, transform, target_transform)
        self.shapes = data["shapes"][rows]
        self.contrast = data["contrast"][rows]
        self.travel = data["travel"][rows]


def cache_path(seed: int, limit: int | None) -> Path:
    """The cache file for these generation parameters (it may not exist yet)."""
    params = {
        "version": FORMAT_VERSION, "seed": seed, "limit": limit, "sensor": SENSOR_SIZE,
        "directions": DIRECTIONS, "sides": SIDES, "radius": RADIUS, "travel": TRAVEL,
        "background": BACKGROUND, "contrast": LOG_CONTRAST, "frames": FRAMES,
        "duration_us": DURATION_US, "sizes": SPLIT_SIZES, "simulator": asdict(SIMULATOR),
    }  # fmt: skip
    return cache_file("moving_shapes", params)


def build(seed: int, limit: int | None = None) -> dict[str, np.ndarray]:
    """Generate both splits without touching the cache.

    Returns:
        ``events`` ``[E]`` (:data:`EVENT_DTYPE`, samples back to back), ``offsets``
        ``[M + 1]``, and per sample ``[M]``: ``labels``, ``shapes``, ``contrast``, ``travel``
        and ``split`` (0 = train, 1 = test).
    """
    times = np.linspace(0, DURATION_US, FRAMES).round().astype(np.int64)
    samples, meta = [], []
    for split, split_id in _SPLIT_IDS.items():
        for i in range(min(SPLIT_SIZES[split], limit or SPLIT_SIZES[split])):
            rng = np.random.default_rng([seed, split_id, i])
            scene = draw_scene(i % DIRECTIONS, rng)
            samples.append(SIMULATOR(render(scene), times, seed=rng))
            meta.append((i % DIRECTIONS, scene["shape"], scene["contrast"], scene["travel"],
                         split_id))  # fmt: skip
    counts = np.array([len(s) for s in samples], dtype=np.int64)
    labels, shapes, contrast, travel, split = map(np.array, zip(*meta, strict=True))
    return {
        "events": np.concatenate(samples) if samples else np.empty(0, EVENT_DTYPE),
        "offsets": np.concatenate([[0], np.cumsum(counts)]),
        "labels": labels.astype(np.int64),
        "shapes": shapes.astype(np.int64),
        "contrast": contrast.astype(np.float64),
        "travel": travel.astype(np.float64),
        "split": split.astype(np.int64),
    }


def direction_vector(label: int) -> np.ndarray:
    """Unit motion ``(dx, dy)`` in sensor pixels (``dy`` grows downwards) of a label."""
    angle = 2 * np.pi * label / DIRECTIONS
    return np.array([np.cos(angle), -np.sin(angle)])


def draw_scene(label: int, rng: np.random.Generator) -> dict[str, Any]:
    """Random scene parameters for one sample moving in direction ``label``.

    Returns a dict with ``shape`` (index into :data:`SHAPES`), ``radius``, ``rotation``
    (radians), ``contrast`` (signed log contrast), ``travel`` (pixels), ``start`` and ``end``
    (``(x, y)`` of the centre at the first and last frame).
    """
    if not 0 <= label < DIRECTIONS:
        raise ValueError(f"label must lie in [0, {DIRECTIONS}), got {label}")
    shape = int(rng.integers(len(SHAPES)))
    radius = rng.uniform(*RADIUS)
    rotation = rng.uniform(0, 2 * np.pi)
    contrast = rng.choice([-1.0, 1.0]) * rng.uniform(*LOG_CONTRAST)
    travel = rng.uniform(*TRAVEL)
    half = 0.5 * travel * direction_vector(label)
    low, high = radius + 1 + np.abs(half), SENSOR_SIZE - 1 - radius - np.abs(half)
    middle = rng.uniform(low, high)
    return {
        "shape": shape, "radius": radius, "rotation": rotation, "contrast": float(contrast),
        "travel": travel, "start": middle - half, "end": middle + half,
    }  # fmt: skip


def signed_distance(
    x: np.ndarray, y: np.ndarray, sides: int, radius: float, rotation: float
) -> np.ndarray:
    """Distance in pixels from points ``(x, y)`` (relative to the centre) to the edge of a
    regular polygon with ``sides`` sides and circumradius ``radius`` (a disc for 0 sides);
    negative inside. For polygons it is exact inside and near the edges (the largest
    distance to an edge line), which is all a one-pixel ramp needs."""
    if sides == 0:
        return np.hypot(x, y) - radius
    angles = rotation + np.pi * (2 * np.arange(sides) + 1) / sides
    normals = np.stack([np.cos(angles), np.sin(angles)])  # [2, sides]
    along = x[..., None] * normals[0] + y[..., None] * normals[1]
    return along.max(-1) - radius * np.cos(np.pi / sides)


def render(scene: dict[str, Any]) -> np.ndarray:
    """The ``[FRAMES, SENSOR_SIZE, SENSOR_SIZE]`` float64 intensities of a scene, in (0, 1).

    Pixel ``(row, col)`` is sampled at its centre; the shape covers it by
    ``clip(0.5 - distance, 0, 1)``; the intensity is ``BACKGROUND * exp(contrast * cover)``.
    """
    rows, cols = np.mgrid[0:SENSOR_SIZE, 0:SENSOR_SIZE].astype(np.float64) + 0.5
    fraction = np.linspace(0.0, 1.0, FRAMES)[:, None, None]
    cx = scene["start"][0] + fraction * (scene["end"][0] - scene["start"][0])
    cy = scene["start"][1] + fraction * (scene["end"][1] - scene["start"][1])
    sides = SIDES[scene["shape"]]
    distance = signed_distance(cols - cx, rows - cy, sides, scene["radius"], scene["rotation"])
    cover = np.clip(0.5 - distance, 0.0, 1.0)
    return BACKGROUND * np.exp(scene["contrast"] * cover)
