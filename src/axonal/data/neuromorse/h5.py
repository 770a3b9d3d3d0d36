"""NeuroMorse HDF5 files in the authors' layout (``DatasetConversion.py``).

Directory: ``Train/`` and ``Test/``, each with 27 files, one per noise combination, named
``Dropout-{None|Low|High} Jitter-{..} Poisson-{..}.h5`` except that the noise-free combination
is named ``Clean.h5`` (there is no ``Dropout-None Jitter-None Poisson-None.h5``, as in the
published dataset).

Train file (the 50 keywords, one noisy sample each)::

    Spikes/Times      [50] variable-length float64   spike times (steps)
    Spikes/Channels   [50] variable-length float64   0 dot, 1 dash
    Labels/Labels     [50] strings                   the keyword

Test file (one stream)::

    Spikes/Times, Spikes/Channels      [1] variable-length float64
    Labels/Labels                      [50] strings (the keywords, in order)
    Labels/Start Times, Labels/End Times   [50] variable-length float64

Numbers are float64 as in the published files. We also store a few attributes (noise values,
seed, text source), which readers of the original layout ignore.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from axonal.data.neuromorse.datasets import NeuroMorse, NeuroMorseStream
from axonal.data.neuromorse.morse import KEYWORDS, NUM_CHANNELS, keyword_index, make_events
from axonal.data.neuromorse.noise import NoiseConfig, noise_grid
from axonal.data.neuromorse.stream import StreamLabels
from axonal.io import atomic_path

__all__ = [
    "DataFormatError",
    "StreamRecord",
    "WordRecord",
    "read_h5",
    "write_h5",
    "write_stream_h5",
    "write_words_h5",
]

_VLEN = h5py.vlen_dtype(np.dtype("float64"))


class DataFormatError(ValueError):
    """A data file is unreadable, truncated or not in the expected layout."""


@dataclass(frozen=True)
class WordRecord:
    """Contents of a train file: ``events[i]`` ``[N_i]`` with class index ``targets[i]``."""

    events: list[np.ndarray]
    targets: np.ndarray


@dataclass(frozen=True)
class StreamRecord:
    """Contents of a test file: stream events ``[N]`` and keyword labels (no word spans)."""

    events: np.ndarray
    labels: StreamLabels


@contextmanager
def _atomic_h5(path: Path) -> Iterator[h5py.File]:
    """Open a temporary HDF5 file next to ``path``; move it onto ``path`` only on success."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as file:
        yield file


def _write_vlen(group: h5py.Group, name: str, arrays: list[np.ndarray]) -> None:
    data = group.create_dataset(name, (len(arrays),), dtype=_VLEN)
    for i, array in enumerate(arrays):
        data[i] = np.asarray(array, dtype=np.float64)


def _write_attrs(file: h5py.File, noise: NoiseConfig, attrs: dict[str, Any]) -> None:
    noise_values = {"dropout": noise.dropout, "jitter": noise.jitter, "poisson": noise.poisson}
    file.attrs.update({**noise_values, **attrs})


def write_words_h5(path: str | os.PathLike, dataset: NeuroMorse) -> Path:
    """Write every sample of ``dataset`` (events and keyword) as a train file, atomically."""
    path = Path(path)
    samples = [dataset.events(i) for i in range(len(dataset))]
    with _atomic_h5(path) as file:
        spikes = file.create_group("Spikes")
        _write_vlen(spikes, "Times", [e["t"] for e, _ in samples])
        _write_vlen(spikes, "Channels", [e["x"] for e, _ in samples])
        labels = file.create_group("Labels").create_dataset(
            "Labels", (len(samples),), dtype=h5py.string_dtype()
        )
        labels[:] = [KEYWORDS[target] for _, target in samples]
        _write_attrs(file, dataset.noise, {"seed": dataset.seed, "split": dataset.split})
    return path


def write_stream_h5(path: str | os.PathLike, stream: NeuroMorseStream) -> Path:
    """Write ``stream`` as a test file, atomically."""
    path = Path(path)
    with _atomic_h5(path) as file:
        spikes = file.create_group("Spikes")
        _write_vlen(spikes, "Times", [stream.events["t"]])
        _write_vlen(spikes, "Channels", [stream.events["x"]])
        labels = file.create_group("Labels")
        names = labels.create_dataset("Labels", (len(KEYWORDS),), dtype=h5py.string_dtype())
        names[:] = list(KEYWORDS)
        _write_vlen(labels, "Start Times", list(stream.labels.starts))
        _write_vlen(labels, "End Times", list(stream.labels.ends))
        attrs = {"seed": stream.seed, "source": stream.source, "num_words": len(stream.words)}
        _write_attrs(file, stream.noise, attrs)
    return path


def write_h5(
    out_dir: str | os.PathLike,
    num_stream_words: int | None = 10_000,
    seed: int = 0,
    text: str | None = None,
) -> list[Path]:
    """Write the whole dataset: ``out_dir/Train`` and ``out_dir/Test``, 27 files each.

    Train files hold the 50 keywords with train-split noise (one sample each, as the paper);
    test files hold the stream of the first ``num_stream_words`` words of ``text`` (default:
    the CPython documentation, see :class:`NeuroMorseStream`; ``None`` words = all of it).
    Returns the written paths, train files first, in :func:`noise_grid` order.
    """
    out = Path(out_dir)
    train, test = [], []
    for noise in noise_grid():
        name = f"{noise.name}.h5"
        words = NeuroMorse("train", noise=noise, seed=seed)
        train.append(write_words_h5(out / "Train" / name, words))
        stream = NeuroMorseStream(noise, num_words=num_stream_words, seed=seed, text=text)
        test.append(write_stream_h5(out / "Test" / name, stream))
    return train + test


def _field(file: h5py.File, field: str) -> np.ndarray:
    """Read dataset ``field`` whole; any failure becomes a :class:`DataFormatError`."""
    if field not in file:
        raise DataFormatError(f"{file.filename}: missing dataset {field!r}")
    try:
        data = file[field]
        if not isinstance(data, h5py.Dataset):
            raise TypeError(f"expected a dataset, found {type(data).__name__}")
        return data.asstr()[()] if h5py.check_string_dtype(data.dtype) else data[()]
    except (OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise DataFormatError(f"{file.filename}: cannot read {field!r}: {exc}") from exc


def _vlen_list(file: h5py.File, field: str, length: int | None = None) -> list[np.ndarray]:
    """A 1-D variable-length float dataset as a list of float64 arrays, checked."""
    data = _field(file, field)
    if data.ndim != 1 or (length is not None and len(data) != length):
        want = "1-D" if length is None else f"shape ({length},)"
        raise DataFormatError(f"{file.filename}: {field!r} must be {want}, got {data.shape}")
    try:
        arrays = [np.asarray(a, dtype=np.float64).reshape(-1) for a in data]
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"{file.filename}: {field!r} is not numeric: {exc}") from exc
    if any(not np.isfinite(a).all() for a in arrays):
        raise DataFormatError(f"{file.filename}: {field!r} holds non-finite values")
    return arrays


def _to_steps(values: np.ndarray) -> np.ndarray:
    """Float times to int64 steps (the authors' jittered files hold non-integer times)."""
    return np.rint(values).astype(np.int64)


def _events(file: h5py.File, times: np.ndarray, channels: np.ndarray, where: str) -> np.ndarray:
    if times.shape != channels.shape:
        raise DataFormatError(
            f"{file.filename}: {where}: Times and Channels lengths differ "
            f"({len(times)} vs {len(channels)})"
        )
    if not np.isin(channels, np.arange(NUM_CHANNELS)).all():
        raise DataFormatError(f"{file.filename}: {where}: Channels must be 0 or 1")
    return make_events(_to_steps(times), channels.astype(np.int64))


def _keyword_targets(file: h5py.File) -> np.ndarray:
    names = _field(file, "Labels/Labels")
    targets = np.array([keyword_index(str(n)) for n in np.ravel(names)], dtype=np.int64)
    if names.ndim != 1 or (targets < 0).any():
        raise DataFormatError(f"{file.filename}: 'Labels/Labels' must be 1-D keywords")
    return targets


def _read_words(file: h5py.File) -> WordRecord:
    targets = _keyword_targets(file)
    times = _vlen_list(file, "Spikes/Times", len(targets))
    channels = _vlen_list(file, "Spikes/Channels", len(targets))
    events = [
        _events(file, t, c, f"sample {i}")
        for i, (t, c) in enumerate(zip(times, channels, strict=True))
    ]
    return WordRecord(events=events, targets=targets)


def _read_stream(file: h5py.File) -> StreamRecord:
    targets = _keyword_targets(file)
    if not np.array_equal(targets, np.arange(len(KEYWORDS))):
        raise DataFormatError(f"{file.filename}: 'Labels/Labels' must list the 50 keywords")
    (times,) = _vlen_list(file, "Spikes/Times", 1)
    (channels,) = _vlen_list(file, "Spikes/Channels", 1)
    starts = _vlen_list(file, "Labels/Start Times", len(KEYWORDS))
    ends = _vlen_list(file, "Labels/End Times", len(KEYWORDS))
    try:
        labels = StreamLabels(
            starts=tuple(_to_steps(s) for s in starts), ends=tuple(_to_steps(e) for e in ends)
        )
    except ValueError as exc:
        raise DataFormatError(f"{file.filename}: bad keyword times: {exc}") from exc
    return StreamRecord(events=_events(file, times, channels, "stream"), labels=labels)


def read_h5(path: str | os.PathLike) -> WordRecord | StreamRecord:
    """Read a NeuroMorse train file (:class:`WordRecord`) or test file (:class:`StreamRecord`).

    A file with ``Labels/Start Times`` or ``Labels/End Times`` is a test file. Times are
    rounded to whole steps. Raises ``FileNotFoundError`` if ``path`` does not exist and
    :class:`DataFormatError` (naming the file and the field) if it is corrupt, truncated or not
    in the NeuroMorse layout.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no NeuroMorse file at {path}")
    try:
        with h5py.File(path, "r") as file:
            if "Labels/Start Times" in file or "Labels/End Times" in file:
                return _read_stream(file)
            return _read_words(file)
    except DataFormatError:
        raise
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise DataFormatError(f"{path}: corrupt or unreadable HDF5 file: {exc}") from exc
