"""Event datasets stored as one cached file: samples back to back, split into train and test.

:class:`PackedEventDataset` is the Tonic-style ``ds[i] -> (events, label)`` view shared by the
generated datasets (N-Digits, Moving Shapes); :func:`load_or_build` reads their cache or makes
it (atomically) when it is missing or unreadable.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from axonal.io import atomic_path

__all__ = ["PackedEventDataset", "check_limit", "check_split", "load_or_build"]


def check_split(split: object) -> str:
    """``split`` if it is ``"train"`` or ``"test"``, else a ``ValueError``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split  # type: ignore[return-value]


def check_seed(seed: object) -> int:
    """``seed`` if it is an int >= 0, else a ``ValueError``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return seed


def check_limit(limit: object) -> int | None:
    """``limit`` if it is ``None`` or a positive int, else a ``ValueError``."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    return limit  # type: ignore[return-value]


def load_or_build(
    path: Path, fields: Sequence[str], build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The arrays ``fields`` of the ``.npz`` cache ``path``; when it is missing or unreadable,
    ``build()`` them and write the file atomically (no pickle either way)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in fields}
    except (FileNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError):
        pass
    data = build()
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **data)
    return data


class PackedEventDataset:
    """``ds[i] -> (events, label)`` over samples stored back to back.

    Args:
        data: ``events`` ``[E]`` (samples back to back), ``offsets`` ``[M + 1]`` (sample ``m``
            is ``events[offsets[m]:offsets[m + 1]]``) and ``labels`` ``[M]``.
        rows: ``[N]`` the samples of this dataset (e.g. one split), indices into ``labels``.
        transform: optional callable applied to each (copied) event array.
        target_transform: optional callable applied to each integer label.

    Attributes:
        targets: ``[N]`` int64 labels.
    """

    def __init__(
        self,
        data: dict[str, np.ndarray],
        rows: np.ndarray,
        transform: Callable[[np.ndarray], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
    ) -> None:
        self.transform, self.target_transform = transform, target_transform
        self._events, self._offsets, self._rows = data["events"], data["offsets"], rows
        self.targets = data["labels"][rows]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        row = self._rows[i]
        events = self._events[self._offsets[row] : self._offsets[row + 1]].copy()
        label = int(self.targets[i])
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return events, label
