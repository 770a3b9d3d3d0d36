"""Keyword-spotting scores on a NeuroMorse stream (pure numpy).

Detections are output spikes given as an ``[N, 2]`` integer array (or list of pairs) of
``(time step, keyword class)``. Keyword ``k`` should be detected at its end times
``labels.ends[k]`` (``start + last spike + 15``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from axonal.data.neuromorse.morse import NUM_CLASSES
from axonal.data.neuromorse.stream import StreamLabels

__all__ = ["DetectionScores", "ExactMatch", "detection_scores", "exact_match_score"]


def _as_detections(detections: np.ndarray | Sequence[tuple[int, int]]) -> np.ndarray:
    """Validate detections as an ``[N, 2]`` int64 array with classes in ``[0, 50)``."""
    array = np.asarray(detections)
    if array.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"detections must be [N, 2] (time, class), got shape {array.shape}")
    if array.dtype.kind not in "iuf" or (array != np.round(array)).any():
        raise ValueError(f"detections must hold whole numbers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    classes = array[:, 1]
    if classes.min() < 0 or classes.max() >= NUM_CLASSES:
        raise ValueError(
            f"detection classes must be in [0, {NUM_CLASSES}), got {classes.min()}..{classes.max()}"
        )
    return array


@dataclass(frozen=True)
class ExactMatch:
    """The paper's stream score. ``per_class[k] = (correct, incorrect)`` spikes of class ``k``."""

    correct: int
    incorrect: int
    per_class: np.ndarray


def exact_match_score(
    detections: np.ndarray | Sequence[tuple[int, int]], labels: StreamLabels
) -> ExactMatch:
    """Count each output spike as correct iff its time equals an end time of its own keyword.

    Every spike is judged alone, as in the authors' STDP test: two spikes at the same end time
    are both correct. Returns :class:`ExactMatch` with ``per_class`` ``[50, 2]`` int64.
    """
    array = _as_detections(detections)
    per_class = np.zeros((NUM_CLASSES, 2), dtype=np.int64)
    for k in range(NUM_CLASSES):
        times = array[array[:, 1] == k, 0]
        hits = int(np.isin(times, labels.ends[k]).sum())
        per_class[k] = hits, len(times) - hits
    return ExactMatch(int(per_class[:, 0].sum()), int(per_class[:, 1].sum()), per_class)


@dataclass(frozen=True)
class DetectionScores:
    """Tolerant keyword-spotting scores.

    ``tp``, ``fp``, ``fn``, ``precision``, ``recall``, ``f1`` are ``[50]`` arrays (a ratio with a
    zero denominator is 0). ``macro_*`` average over the keywords that occur or are detected
    (``tp + fp + fn > 0``; 0 if there are none); ``micro_*`` pool all counts.
    """

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    macro_precision: float
    macro_recall: float
    macro_f1: float
    micro_precision: float
    micro_recall: float
    micro_f1: float


def _match_count(ends: np.ndarray, times: np.ndarray, window: int) -> int:
    """Maximum one-to-one matching of occurrences (``ends``) to detection ``times`` with
    ``end <= time <= end + window``. All windows have one width, so taking occurrences in time
    order and giving each the earliest free detection in its window is optimal."""
    ends, times = np.sort(ends), np.sort(times)
    matched, j = 0, 0
    for end in ends:
        j += int(np.searchsorted(times[j:], end, side="left"))
        if j < len(times) and times[j] <= end + window:
            matched += 1
            j += 1
    return matched


def _ratio(num: np.ndarray | int, den: np.ndarray | int) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _f1(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    return _ratio(2 * precision * recall, precision + recall)


def detection_scores(
    detections: np.ndarray | Sequence[tuple[int, int]], labels: StreamLabels, window: int
) -> DetectionScores:
    """Precision, recall and F1 per keyword with a tolerance ``window`` (steps, >= 0).

    An occurrence of keyword ``k`` with end time ``e`` is hit by a detection of class ``k`` at
    a time in ``[e, e + window]`` (after the end time only; ``window = 0`` means exactly at
    ``e``). Each occurrence matches at most one detection and each detection at most one
    occurrence; unmatched detections are false positives, unmatched occurrences misses.
    """
    if not isinstance(window, int | np.integer) or window < 0:
        raise ValueError(f"window must be an int >= 0 (steps), got {window!r}")
    array = _as_detections(detections)
    detected = np.bincount(array[:, 1], minlength=NUM_CLASSES)
    occurring = labels.counts()
    tp = np.array(
        [
            _match_count(labels.ends[k], array[array[:, 1] == k, 0], int(window))
            for k in range(NUM_CLASSES)
        ],
        dtype=np.int64,
    )
    fp, fn = detected - tp, occurring - tp
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _f1(precision, recall)
    active = (tp + fp + fn) > 0
    micro_p, micro_r = _ratio(tp.sum(), tp.sum() + fp.sum()), _ratio(tp.sum(), tp.sum() + fn.sum())

    def macro(values: np.ndarray) -> float:
        return float(values[active].mean()) if active.any() else 0.0

    return DetectionScores(
        tp=tp,
        fp=fp,
        fn=fn,
        precision=precision,
        recall=recall,
        f1=f1,
        macro_precision=macro(precision),
        macro_recall=macro(recall),
        macro_f1=macro(f1),
        micro_precision=float(micro_p),
        micro_recall=float(micro_r),
        micro_f1=float(_f1(micro_p, micro_r)),
    )
