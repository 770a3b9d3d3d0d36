"""Tonic-style NeuroMorse datasets: noisy keyword samples and the keyword-spotting stream.

Randomness: sample ``i`` of a :class:`NeuroMorse` split draws its noise from
``numpy.random.default_rng(SeedSequence([seed, split_code, i]))`` (train 0, test 1), so it does
not depend on access order and the two splits see different noise. The stream uses
``SeedSequence([seed, 2])``. The seed does not depend on the noise config, so configs share
their random streams (common random numbers), unlike the authors' single ``np.random.seed(100)``
sequence.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from axonal.data.neuromorse.corpus import CORPUS_SOURCE, clean_words, corpus_words
from axonal.data.neuromorse.morse import KEYWORDS, NUM_CHANNELS, encode_word, make_events
from axonal.data.neuromorse.noise import NoiseConfig, NoiseSpec, add_noise
from axonal.data.neuromorse.stream import WORD_SPAN_DTYPE, StreamLabels, encode_stream
from axonal.io import atomic_open, cache_file

__all__ = ["NeuroMorse", "NeuroMorseStream"]

_SPLIT_CODES = {"train": 0, "test": 1}
_STREAM_CODE = 2


def _check_seed(seed: int) -> int:
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return seed


class NeuroMorse:
    """The 50 keywords as noisy spike samples: ``ds[i] -> (events, target)``.

    Sample ``i`` is keyword ``i % 50`` (so the first 50 samples are the paper's training set,
    in the paper's order), repeated ``samples_per_word`` times with fresh noise.

    Args:
        split: ``"train"`` or ``"test"``; the splits draw independent noise. Jitter clips
            negative times to 0 in both (they are word samples, as the authors' training set).
        noise: a :class:`NoiseConfig` or anything :meth:`NoiseConfig.parse` accepts.
        samples_per_word: noisy copies of each keyword.
        seed: non-negative int.
        transform: applied to the events (e.g. :class:`ToDense`).
        target_transform: applied to the class index.

    Events are structured arrays with fields ``t``, ``x`` (0 dot, 1 dash), ``p``.
    """

    classes: tuple[str, ...] = KEYWORDS
    num_channels: int = NUM_CHANNELS
    sensor_size: tuple[int, int, int] = (NUM_CHANNELS, 1, 1)

    def __init__(
        self,
        split: str = "train",
        noise: NoiseSpec = None,
        samples_per_word: int = 1,
        seed: int = 0,
        transform: Callable[[np.ndarray], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
    ) -> None:
        if split not in _SPLIT_CODES:
            raise ValueError(f"split must be one of {tuple(_SPLIT_CODES)}, got {split!r}")
        if not isinstance(samples_per_word, int) or samples_per_word < 1:
            raise ValueError(f"samples_per_word must be an int >= 1, got {samples_per_word!r}")
        self.split = split
        self.noise = NoiseConfig.parse(noise)
        self.samples_per_word = samples_per_word
        self.seed = _check_seed(seed)
        self.transform = transform
        self.target_transform = target_transform
        self._clean = [encode_word(word) for word in KEYWORDS]

    def __len__(self) -> int:
        return len(KEYWORDS) * self.samples_per_word

    def events(self, index: int) -> tuple[np.ndarray, int]:
        """Noisy events ``[N]`` and class index of sample ``index``, before any transform."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        target = index % len(KEYWORDS)
        seq = np.random.SeedSequence([self.seed, _SPLIT_CODES[self.split], index])
        rng = np.random.default_rng(seq)
        return add_noise(self._clean[target], self.noise, rng, clip_negative=True), target

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        events, target = self.events(index)
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return events, target


def _load_stream(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Events and word spans from a cache file, or ``None`` if it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as f:
            events = make_events(f["t"], f["x"])
            spans = np.zeros(len(f["start"]), dtype=WORD_SPAN_DTYPE)
            for name in WORD_SPAN_DTYPE.names:
                spans[name] = f[name]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return events, spans


def _save_stream(path: Path, events: np.ndarray, spans: np.ndarray) -> None:
    with atomic_open(path, binary=True) as f:
        np.savez(
            f, t=events["t"], x=events["x"], start=spans["start"], end=spans["end"],
            label=spans["label"],
        )  # fmt: skip


class NeuroMorseStream:
    """The keyword-spotting test stream: running English text as one noisy spike stream.

    ``ds[0] -> (events, labels)`` (the dataset has one sample). Jitter does not clip negative
    times here, as in the paper's test set. The stream starts at step 0 with the first text
    word; the authors' generator forgot to reset its clock and spike list after the training
    words, so their stream opens with the spikes of "me" (unlabelled), which we leave out.

    Args:
        noise: a :class:`NoiseConfig` or anything :meth:`NoiseConfig.parse` accepts.
        num_words: use the first ``num_words`` words; ``None`` for all.
        seed: non-negative int.
        text: English text to encode; ``None`` uses the CPython documentation topics (see
            :mod:`axonal.data.neuromorse.corpus`). It is lower-cased and stripped of
            punctuation by :func:`clean_words`.
        transform: applied to the events (e.g. ``ToDense(stream.num_steps)``).
        cache: keep the generated stream under ``$AXONAL_CACHE/neuromorse/`` (default
            ``~/.cache/axonal``), keyed by the words, noise and seed, and load it from there
            next time; a missing or unreadable file is regenerated.

    Attributes:
        text_words: the encoded words, in order.
        events: noisy events ``[N]`` sorted by ``(t, x)``.
        labels: :class:`StreamLabels` (per keyword start and end times, word spans).
        words: every word's span, ``[W]`` with fields ``start``, ``end``, ``label``
            (class, or -1 for a non-keyword).
        num_steps: ``last end time + 1``; a dense tensor of this length covers every label.
        source: where the text came from.

    Building the whole default corpus (62k words, 6.6M steps, 1.9M events with the strongest
    noise) takes under a second; with ``cache=True`` later constructions load it from disk.
    """

    classes: tuple[str, ...] = KEYWORDS
    num_channels: int = NUM_CHANNELS
    sensor_size: tuple[int, int, int] = (NUM_CHANNELS, 1, 1)

    def __init__(
        self,
        noise: NoiseSpec = None,
        num_words: int | None = None,
        seed: int = 0,
        text: str | None = None,
        transform: Callable[[np.ndarray], Any] | None = None,
        cache: bool = True,
    ) -> None:
        words = corpus_words() if text is None else clean_words(text)
        if num_words is not None:
            if not isinstance(num_words, int) or not 1 <= num_words <= len(words):
                raise ValueError(
                    f"num_words must be an int in [1, {len(words)}] for this text, "
                    f"got {num_words!r}"
                )
            words = words[:num_words]
        self.noise = NoiseConfig.parse(noise)
        self.seed = _check_seed(seed)
        self.transform = transform
        self.source = CORPUS_SOURCE if text is None else "user text"
        self.text_words: tuple[str, ...] = tuple(words)
        path = self._cache_path() if cache else None
        cached = None if path is None else _load_stream(path)
        if cached is None:
            clean, self.labels = encode_stream(words)
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, _STREAM_CODE]))
            self.events = add_noise(clean, self.noise, rng, clip_negative=False)
            if path is not None:
                _save_stream(path, self.events, self.words)
        else:
            self.events, spans = cached
            self.labels = StreamLabels.from_words(spans)

    def _cache_path(self) -> Path:
        text = hashlib.sha256(" ".join(self.text_words).encode()).hexdigest()
        noise = [self.noise.dropout, self.noise.jitter, self.noise.poisson]
        return cache_file(
            "neuromorse", {"format": 1, "text": text, "noise": noise, "seed": self.seed}
        )

    @property
    def words(self) -> np.ndarray:
        """Every word's ``(start, end, label)`` span, ``[W]``."""
        assert self.labels.words is not None
        return self.labels.words

    @property
    def num_steps(self) -> int:
        return int(self.words["end"][-1]) + 1

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> tuple[Any, StreamLabels]:
        if index not in (0, -1):
            raise IndexError(f"NeuroMorseStream has one sample, got index {index}")
        events = self.events if self.transform is None else self.transform(self.events)
        return events, self.labels
