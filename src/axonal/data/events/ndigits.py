"""N-Digits: scikit-learn's handwritten digits seen by a simulated event camera in saccades.

Made the way N-MNIST was made, where a sensor moved in three saccades over a static digit:

1. each of the 1797 real 8 x 8 digits of ``sklearn.datasets.load_digits`` (values 0..16) is
   scaled to ``[0, 1]``, upsampled bilinearly to :data:`DIGIT_SIZE` pixels and drawn bright on
   a dim background (intensity ``BACKGROUND + (1 - BACKGROUND) * digit``) in the middle of a
   :data:`SENSOR_SIZE` canvas;
2. the image moves relative to the sensor along a closed triangle (:data:`SACCADE_VERTICES`,
   pixels; one saccade per side, :data:`SACCADE_US` each) sampled at
   :data:`FRAMES_PER_SACCADE` frames per saccade, with sub-pixel shifts rendered by bilinear
   interpolation; the margin keeps the digit in view;
3. the frames go through :class:`~axonal.data.events.simulator.EventSimulator` with
   :data:`SIMULATOR`, seeded per sample from ``(seed, sklearn index)``.

The split is fixed and stratified: in every class, a permutation drawn from
:data:`SPLIT_SEED` puts the first :data:`TEST_FRACTION` of the images in the test set. The
result is cached as ``$AXONAL_CACHE/ndigits/<params-hash>.npz`` (default cache
``~/.cache/axonal``, about 40 MB compressed, built in about 15 s); both splits share
one file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from axonal.data.events.packed import (
    PackedEventDataset,
    check_limit,
    check_seed,
    check_split,
    load_or_build,
)
from axonal.data.events.recording import EVENT_DTYPE
from axonal.data.events.simulator import EventSimulator
from axonal.io import cache_file

SENSOR_SIZE = 34
DIGIT_SIZE = 28
BACKGROUND = 0.1
SACCADE_VERTICES = ((0.0, -2.0), (2.0, 2.0), (-2.0, 1.0))
FRAMES_PER_SACCADE = 20
SACCADE_US = 100_000
SIMULATOR = EventSimulator(
    threshold_on=0.3, threshold_off=0.3, threshold_sigma=0.03, refractory_us=1000,
    noise_rate_hz=0.2,
)
SPLIT_SEED = 0
TEST_FRACTION = 0.2
FORMAT_VERSION = 1
_CHUNK = 256
_FIELDS = ("events", "offsets", "labels", "indices", "is_test")


class NDigits(PackedEventDataset):
    """Tonic-style N-Digits dataset: ``ds[i] -> (events, label)``.

    Args:
        split: ``"train"`` (1438 samples) or ``"test"`` (359 samples).
        transform: optional callable applied to the event array.
        target_transform: optional callable applied to the integer label.
        seed: seed of the simulator's threshold mismatch and noise.
        limit: keep only the first ``limit`` samples of each split (fast builds), or ``None``.

    Attributes:
        sensor_size: ``(width, height, polarities)`` = ``(34, 34, 2)``.
        classes: the labels ``0..9``.
        targets: ``[N]`` int64 labels of this split.
        indices: ``[N]`` int64 positions of the samples in ``sklearn.datasets.load_digits``.
        cache_path: the ``.npz`` file the data was loaded from or written to.
    """

    sensor_size = (SENSOR_SIZE, SENSOR_SIZE, 2)
    classes = tuple(range(10))

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
        rows = np.flatnonzero(data["is_test"] == (split == "test"))
        super().__init__(data, rows, transform, target_transform)
        self.indices = data["indices"][rows]


def cache_path(seed: int, limit: int | None) -> Path:
    """The cache file for these generation parameters (it may not exist yet)."""
    params = {
        "version": FORMAT_VERSION, "seed": seed, "limit": limit, "sensor": SENSOR_SIZE,
        "digit": DIGIT_SIZE, "background": BACKGROUND, "vertices": SACCADE_VERTICES,
        "frames": FRAMES_PER_SACCADE, "saccade_us": SACCADE_US, "simulator": asdict(SIMULATOR),
        "split_seed": SPLIT_SEED, "test_fraction": TEST_FRACTION,
    }
    return cache_file("ndigits", params)


def build(seed: int, limit: int | None = None) -> dict[str, np.ndarray]:
    """Generate N-Digits without touching the cache.

    Returns:
        ``events`` ``[E]`` (:data:`EVENT_DTYPE`, all samples back to back), ``offsets``
        ``[M + 1]`` (sample ``m`` is ``events[offsets[m]:offsets[m + 1]]``), ``labels``,
        ``indices`` (positions in ``load_digits``) and ``is_test``, each ``[M]``.
    """
    images, labels = _load_digits()
    is_test = stratified_test_mask(labels)
    chosen = np.concatenate([_first(~is_test, limit), _first(is_test, limit)])
    offsets_xy, timestamps = saccade_path()
    samples = []
    for start in range(0, len(chosen), _CHUNK):
        part = chosen[start : start + _CHUNK]
        frames = render(upsample(images[part]), offsets_xy)
        samples += [
            SIMULATOR(movie, timestamps, seed=np.random.default_rng([seed, int(index)]))
            for movie, index in zip(frames, part, strict=True)
        ]
    counts = np.array([len(s) for s in samples], dtype=np.int64)
    return {
        "events": np.concatenate(samples) if samples else np.empty(0, EVENT_DTYPE),
        "offsets": np.concatenate([[0], np.cumsum(counts)]),
        "labels": labels[chosen],
        "indices": chosen,
        "is_test": is_test[chosen],
    }


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """``[1797, 8, 8]`` float64 images in ``[0, 1]`` and ``[1797]`` int64 labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError("N-Digits needs scikit-learn: pip install scikit-learn") from e
    digits = load_digits()
    return digits.images / 16.0, digits.target.astype(np.int64)


def _first(mask: np.ndarray, limit: int | None) -> np.ndarray:
    return np.flatnonzero(mask)[:limit]


def stratified_test_mask(labels: np.ndarray) -> np.ndarray:
    """``[N]`` bool: the fixed test set, ``round(TEST_FRACTION * n_c)`` images of each class."""
    rng = np.random.default_rng(SPLIT_SEED)
    is_test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        is_test[members[: round(TEST_FRACTION * len(members))]] = True
    return is_test


def upsample(images: np.ndarray) -> np.ndarray:
    """``[N, h, w]`` -> ``[N, DIGIT_SIZE, DIGIT_SIZE]`` float64, bilinear, clipped to [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float64))[:, None]
    big = F.interpolate(x, size=(DIGIT_SIZE, DIGIT_SIZE), mode="bilinear", align_corners=False)
    return big[:, 0].clamp(0.0, 1.0).numpy()


def saccade_path() -> tuple[np.ndarray, np.ndarray]:
    """The image offset ``[T, 2]`` (dx, dy in pixels) and frame times ``[T]`` (int64 us).

    ``T = 3 * FRAMES_PER_SACCADE + 1``: the path goes round the triangle once at constant
    speed along each side, starting and ending at the first vertex.
    """
    corners = np.array((*SACCADE_VERTICES, SACCADE_VERTICES[0]), dtype=np.float64)
    steps = np.arange(FRAMES_PER_SACCADE) / FRAMES_PER_SACCADE
    legs = [a + steps[:, None] * (b - a) for a, b in pairwise(corners)]
    offsets = np.concatenate([*legs, corners[-1:]])
    frame_us = SACCADE_US // FRAMES_PER_SACCADE
    return offsets, np.arange(len(offsets), dtype=np.int64) * frame_us


def render(digits: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Draw each digit centred on the sensor, moved by each offset (bilinear sub-pixel shift).

    Args:
        digits: ``[N, DIGIT_SIZE, DIGIT_SIZE]`` in ``[0, 1]``.
        offsets: ``[T, 2]`` shifts (dx to the right, dy down) in pixels.

    Returns:
        ``[N, T, SENSOR_SIZE, SENSOR_SIZE]`` float64 intensities in ``[BACKGROUND, 1]``.
    """
    pad = int(np.ceil(np.abs(offsets).max())) + 1
    border = (SENSOR_SIZE - DIGIT_SIZE) // 2 + pad
    canvas = np.pad(digits, ((0, 0), (border, border), (border, border)))
    frames = np.empty((len(digits), len(offsets), SENSOR_SIZE, SENSOR_SIZE))
    for k, (dx, dy) in enumerate(offsets):
        ix, iy = int(np.floor(dx)), int(np.floor(dy))
        fx, fy = dx - ix, dy - iy
        frames[:, k] = sum(
            wy * wx * _window(canvas, pad - iy - sy, pad - ix - sx)
            for sy, wy in ((0, 1 - fy), (1, fy))
            for sx, wx in ((0, 1 - fx), (1, fx))
        )
    return BACKGROUND + (1 - BACKGROUND) * frames


def _window(canvas: np.ndarray, top: int, left: int) -> np.ndarray:
    return canvas[:, top : top + SENSOR_SIZE, left : left + SENSOR_SIZE]
