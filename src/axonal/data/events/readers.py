"""Read event-camera files into :data:`EVENT_DTYPE` arrays, whole or in bounded chunks.

Readers by format (detected from content by :func:`probe`):

- EVT 2.0 and DAT: vectorised NumPy decoders here (fixed-size words).
- EVT 3.0: a numba decoder (:mod:`axonal.data.events.evt3`).
  ``expelliarmus`` 1.1.12 is not used: it refuses files whose extension is not .raw/.dat,
  silently drops a cut last word and gets EVT 3.0 timestamps wrong (docs/events.md).
- AEDAT 4.0: ``aedat`` (Rust decoder of the flatbuffers / LZ4 packets).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from axonal.data.events import evt3
from axonal.data.events.formats import AEDAT4_MAGIC, FileInfo, probe
from axonal.data.events.recording import EVENT_DTYPE, EventFileError, EventRecording

DEFAULT_CHUNK_EVENTS = 1_000_000
_WORD_BYTES = {"evt2": 4, "evt3": 2, "dat": 8}
_EVT2_TYPES = np.array([0x0, 0x1, 0x8, 0xA, 0xE, 0xF], dtype=np.uint32)
_WORD_NAMES = {"evt2": "32-bit EVT 2.0 word", "evt3": "16-bit EVT 3.0 word",
               "dat": "8-byte DAT event"}


def _check_whole_words(path: Path, info: FileInfo) -> None:
    """Raise when the payload after the header is not a whole number of words."""
    size = os.path.getsize(path)
    word = _WORD_BYTES[info.format]
    extra = (size - info.data_offset) % word
    if extra:
        raise EventFileError(
            path, f"truncated: {extra} trailing byte(s) do not make a whole "
            f"{_WORD_NAMES[info.format]}", size - extra
        )


def _to_event_array(x: np.ndarray, y: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Pack field arrays ``[N]`` into one ``[N]`` :data:`EVENT_DTYPE` array."""
    events = np.empty(len(t), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p
    return events


def _word_blocks(path: Path, info: FileInfo, words_per_block: int) -> Iterator[np.ndarray]:
    """Little-endian words of the payload, ``words_per_block`` at a time, after a size check."""
    _check_whole_words(path, info)
    dtype = {"evt2": "<u4", "evt3": "<u2", "dat": "<u8"}[info.format]
    with open(path, "rb") as f:
        f.seek(info.data_offset)
        while (words := np.fromfile(f, dtype=dtype, count=words_per_block)).size:
            yield words


def _dat_blocks(path: Path, info: FileInfo, chunk_events: int) -> Iterator[np.ndarray]:
    """DAT 2D events: uint32 t, then uint32 with x (bits 0-13), y (14-27), p (28-31)."""
    for words in _word_blocks(path, info, chunk_events):
        data = words >> np.uint64(32)
        yield _to_event_array(data & 0x3FFF, (data >> np.uint64(14)) & 0x3FFF,
                              (words & 0xFFFFFFFF).astype(np.int64), data >> np.uint64(28))


def _evt2_blocks(path: Path, info: FileInfo, chunk_events: int) -> Iterator[np.ndarray]:
    """EVT 2.0 words: type in bits 28-31; CD_OFF 0x0 / CD_ON 0x1 hold t low (22-27),
    x (11-21), y (0-10); TIME_HIGH 0x8 holds t >> 6 (0-27); 0xA, 0xE, 0xF carry no CD event."""
    time_high = 0
    offset = info.data_offset
    for words in _word_blocks(path, info, chunk_events):
        kind = words >> 28
        bad = np.flatnonzero(~np.isin(kind, _EVT2_TYPES))
        if bad.size:
            raise EventFileError(
                path, f"corrupt: EVT 2.0 word {int(words[bad[0]]):#010x} has unknown type "
                f"{int(kind[bad[0]]):#x}", offset + 4 * int(bad[0])
            )
        is_high = kind == 0x8
        highs = np.where(is_high, (words & 0x0FFFFFFF).astype(np.int64) << 6, -1)
        highs = np.maximum(np.maximum.accumulate(highs), time_high)
        if highs.size:
            time_high = int(highs[-1])
        cd = kind <= 0x1
        w = words[cd]
        yield _to_event_array((w >> 11) & 0x7FF, w & 0x7FF,
                              highs[cd] | ((w >> 22) & 0x3F).astype(np.int64), kind[cd])
        offset += 4 * words.size


def _evt3_blocks(path: Path, info: FileInfo, chunk_events: int) -> Iterator[np.ndarray]:
    """EVT 3.0 blocks decoded from ``chunk_events`` words at a time (at most 12 events/word)."""
    state = evt3.new_state()
    offset = info.data_offset
    for words in _word_blocks(path, info, chunk_events):
        n, bad = evt3.count_events(words)
        if bad >= 0:
            raise EventFileError(
                path, f"corrupt: EVT 3.0 word {int(words[bad]):#06x} has unknown type "
                f"{int(words[bad]) >> 12:#x}", offset + 2 * bad
            )
        out = np.empty((n, 4), dtype=np.int64)
        evt3.decode(words, state, out)
        offset += 2 * words.size
        yield _to_event_array(out[:, 0], out[:, 1], out[:, 2], out[:, 3])


def _aedat4_cut_offset(path: Path) -> int | None:
    """Byte offset of the first AEDAT4 packet that runs past the end of the file, if any."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(len(AEDAT4_MAGIC) + 2)  # magic line and its \r\n
        (header_size,) = struct.unpack("<i", f.read(4))
        offset = f.tell() + header_size
        while offset + 8 <= size:
            f.seek(offset)
            _stream, length = struct.unpack("<ii", f.read(8))
            if length < 0 or offset + 8 + length > size:
                return offset
            offset += 8 + length
    return offset if offset != size else None


def _aedat4_event_stream(path: Path) -> tuple[int, tuple[int, int]]:
    """The id and ``(width, height)`` of the first event stream of an AEDAT4 file."""
    import aedat

    streams = aedat.Decoder(str(path)).id_to_stream()
    for stream_id, stream in sorted(streams.items()):
        if stream.get("type") == "events":
            return stream_id, (int(stream["width"]), int(stream["height"]))
    raise EventFileError(path, "AEDAT4 file has no event stream")


def _aedat4_blocks(path: Path, info: FileInfo, chunk_events: int) -> Iterator[np.ndarray]:
    """Event packets of the first AEDAT4 event stream, one block per packet."""
    import aedat

    stream_id, _ = _aedat4_event_stream(path)
    try:
        for packet in aedat.Decoder(str(path)):
            if packet["stream_id"] == stream_id and "events" in packet:
                e = packet["events"]
                yield _to_event_array(e["x"], e["y"], e["t"].astype(np.int64), e["on"])
    except RuntimeError as err:
        offset = _aedat4_cut_offset(path)
        reason = "truncated packet" if offset is not None else "undecodable packet"
        raise EventFileError(path, f"{reason} ({err})", offset) from err


_BLOCKS = {"evt2": _evt2_blocks, "dat": _dat_blocks,
           "evt3": _evt3_blocks, "aedat4": _aedat4_blocks}


def _rechunk(blocks: Iterator[np.ndarray], chunk_events: int) -> Iterator[np.ndarray]:
    """Regroup blocks of any size into chunks of exactly ``chunk_events`` (last one shorter)."""
    pending: list[np.ndarray] = []
    held = 0
    for block in blocks:
        pending.append(block)
        held += len(block)
        if held >= chunk_events:
            joined = np.concatenate(pending)
            cut = len(joined) - len(joined) % chunk_events
            yield from np.split(joined[:cut], cut // chunk_events)
            pending, held = [joined[cut:]], len(joined) - cut
    if held:
        yield np.concatenate(pending)


def iter_chunks(
    path: str | Path, chunk_events: int = DEFAULT_CHUNK_EVENTS
) -> Iterator[np.ndarray]:
    """Yield the events of ``path`` in file order, ``chunk_events`` at a time.

    Memory stays bounded by a few chunks whatever the file size. Each chunk is an ``[n]``
    :data:`EVENT_DTYPE` array with ``n == chunk_events`` except the last one; concatenated,
    the chunks equal :func:`read`'s events when the file is time-ordered (all four test
    recordings are). Raises :class:`EventFileError` (file name, byte offset) on a cut or
    corrupt file, when the iteration reaches the bad part.
    """
    if chunk_events < 1:
        raise ValueError(f"chunk_events must be >= 1, got {chunk_events}")
    path = Path(path)
    info = probe(path)
    yield from _rechunk(_BLOCKS[info.format](path, info, chunk_events), chunk_events)


def read(path: str | Path, chunk_events: int = DEFAULT_CHUNK_EVENTS) -> EventRecording:
    """Read a whole event file (EVT 2.0, EVT 3.0, DAT or AEDAT 4.0, detected from content).

    Returns:
        An :class:`EventRecording`: ``events`` ``[N]`` :data:`EVENT_DTYPE` sorted by ``t``
        (a stable sort is applied only when the file is out of order), ``t`` in microseconds
        as stored in the file (no offset removed), and ``sensor_size`` ``(width, height)``
        from the header; for EVT files whose header names no geometry or known sensor it is
        ``(max x + 1, max y + 1)``. Unpacks as ``events, sensor_size = read(path)``.

    Raises:
        EventFileError: unknown format, cut or corrupt data (with the byte offset).
    """
    path = Path(path)
    info = probe(path)
    chunks = list(iter_chunks(path, chunk_events))
    events = np.concatenate(chunks) if chunks else np.empty(0, dtype=EVENT_DTYPE)
    if np.any(np.diff(events["t"]) < 0):
        events = events[np.argsort(events["t"], kind="stable")]
    size = info.sensor_size
    if info.format == "aedat4":
        size = _aedat4_event_stream(path)[1]
    elif size is None:
        size = (int(events["x"].max(initial=-1)) + 1, int(events["y"].max(initial=-1)) + 1)
    return EventRecording(events, size, info.format, path)
