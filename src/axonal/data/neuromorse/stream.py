"""Running text as one Morse spike stream, with keyword start and end times.

Words are concatenated so that the first spike of a word comes ``WORD_GAP = 16`` steps after
the last spike of the previous word (the authors' ``1 + letter_space + (word_space -
letter_space)``). Every word occupies the span ``[start, end]`` with ``start`` its first spike
and ``end = start + last_spike + END_OFFSET`` (``END_OFFSET = word_space = 15``): the time step
at which the paper expects a keyword detector to fire.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from axonal.data.neuromorse.morse import NUM_CLASSES, keyword_index, make_events, word_pattern

__all__ = ["END_OFFSET", "WORD_GAP", "WORD_SPAN_DTYPE", "StreamLabels", "encode_stream"]

WORD_GAP = 16
END_OFFSET = 15

WORD_SPAN_DTYPE = np.dtype([("start", np.int64), ("end", np.int64), ("label", np.int64)])
"""One word of a stream: first spike ``start``, expected detection time ``end``, keyword class
``label`` (``-1`` for a word that is not a keyword)."""


@dataclass(frozen=True)
class StreamLabels:
    """Where the keywords of a stream are.

    Attributes:
        starts: 50 int64 arrays; ``starts[k]`` are the start times of keyword ``k``.
        ends: 50 int64 arrays of the same lengths; ``ends[k]`` are its end (detection) times.
        words: every word of the stream as a ``[W]`` array of :data:`WORD_SPAN_DTYPE`, or
            ``None`` when unknown (the HDF5 files store keywords only).
    """

    starts: tuple[np.ndarray, ...]
    ends: tuple[np.ndarray, ...]
    words: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.starts) != NUM_CLASSES or len(self.ends) != NUM_CLASSES:
            raise ValueError(
                f"expected {NUM_CLASSES} start and end arrays, "
                f"got {len(self.starts)} and {len(self.ends)}"
            )
        for k, (s, e) in enumerate(zip(self.starts, self.ends, strict=True)):
            if s.shape != e.shape or s.ndim != 1:
                raise ValueError(
                    f"keyword {k}: start and end times must be 1-D of equal length, "
                    f"got shapes {s.shape} and {e.shape}"
                )

    @classmethod
    def from_words(cls, words: np.ndarray) -> StreamLabels:
        """Group the keyword spans of a ``[W]`` :data:`WORD_SPAN_DTYPE` array by class."""
        masks = [words["label"] == k for k in range(NUM_CLASSES)]
        return cls(
            starts=tuple(words["start"][m] for m in masks),
            ends=tuple(words["end"][m] for m in masks),
            words=words,
        )

    def counts(self) -> np.ndarray:
        """Occurrences of each keyword, ``[50]`` int64."""
        return np.array([len(s) for s in self.starts], dtype=np.int64)


def encode_stream(words: Iterable[str], start: int = 0) -> tuple[np.ndarray, StreamLabels]:
    """Encode words as one spike stream starting at time step ``start``.

    Returns ``(events, labels)``: events ``[N]`` (fields ``t``, ``x``, ``p``), sorted by time,
    and :class:`StreamLabels` with the span of every word in ``labels.words``.
    """
    words = list(words)
    if not words:
        raise ValueError("expected at least one word, got none")
    patterns = [word_pattern(w) for w in words]
    lasts = np.array([t[-1] for t, _ in patterns], dtype=np.int64)
    starts = int(start) + np.concatenate(([0], np.cumsum(lasts[:-1] + WORD_GAP)))
    counts = np.array([len(t) for t, _ in patterns], dtype=np.int64)
    times = np.repeat(starts, counts) + np.concatenate([t for t, _ in patterns])
    events = make_events(times, np.concatenate([x for _, x in patterns]))

    spans = np.empty(len(words), dtype=WORD_SPAN_DTYPE)
    spans["start"] = starts
    spans["end"] = starts + lasts + END_OFFSET
    spans["label"] = [keyword_index(w.lower()) for w in words]
    return events, StreamLabels.from_words(spans)
