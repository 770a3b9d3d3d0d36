"""Format detection from file content: Prophesee text headers and the AEDAT4 magic line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from axonal.data.events.recording import EventFileError

AEDAT4_MAGIC = b"#!AER-DAT4.0"
DAT_EVENT_TYPES = (0x00, 0x0C)  # TD (2D events) and CD (change detection)
DAT_EVENT_SIZE = 8
_MAX_HEADER_LINE = 4096
_PROBE_BYTES = 1 << 16
# Sensor geometry for EVT files whose header names only the sensor or camera plugin.
_SENSOR_SIZES = {"gen3": (640, 480), "gen31": (640, 480), "gen4": (1280, 720),
                 "gen41": (1280, 720), "imx636": (1280, 720)}


@dataclass(frozen=True)
class FileInfo:
    """What the header says.

    Attributes:
        format: ``"evt2"``, ``"evt3"``, ``"dat"`` or ``"aedat4"``.
        data_offset: byte offset of the first event word (after the text header and, for
            DAT, the two bytes of event type and size).
        sensor_size: ``(width, height)`` when the header gives it (or names a known sensor).
        header: the ``% key value`` pairs of a Prophesee header, keys lower-cased.
    """

    format: str
    data_offset: int
    sensor_size: tuple[int, int] | None
    header: dict[str, str]


def _header_lines(head: bytes) -> tuple[dict[str, str], int]:
    """Parse leading ``% key value`` lines; return the pairs and the byte length they take."""
    pairs: dict[str, str] = {}
    pos = 0
    while pos < len(head) and head[pos : pos + 1] == b"%":
        end = head.find(b"\n", pos, pos + _MAX_HEADER_LINE)
        if end < 0:
            break
        try:
            text = head[pos + 1 : end].decode("ascii").strip()
        except UnicodeDecodeError:
            break
        if not text.isprintable():
            break
        pos = end + 1
        if text == "end":
            break
        key, _, value = text.partition(" ")
        pairs[key.lower()] = value.strip()
    return pairs, pos


def _sensor_size(header: dict[str, str]) -> tuple[int, int] | None:
    """The ``(width, height)`` a Prophesee header states or implies, else ``None``."""
    if "width" in header and "height" in header:
        return int(header["width"]), int(header["height"])
    geometry = re.fullmatch(r"(\d+)x(\d+)", header.get("geometry", ""))
    if geometry:
        return int(geometry[1]), int(geometry[2])
    fmt = dict(re.findall(r"(\w+)=(\d+)", header.get("format", "")))
    if "width" in fmt and "height" in fmt:
        return int(fmt["width"]), int(fmt["height"])
    names = f"{header.get('plugin_name', '')} {header.get('sensor_generation', '')}".lower()
    for token in re.findall(r"gen\d+|imx\d+", names.replace(".", "")):
        if token in _SENSOR_SIZES:
            return _SENSOR_SIZES[token]
    return None


def probe(path: str | Path) -> FileInfo:
    """Detect the format of ``path`` from its first bytes (the extension is not used).

    Raises:
        EventFileError: when the file is missing, empty or in none of the known formats.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_PROBE_BYTES)
    except OSError as err:
        raise EventFileError(path, f"cannot open: {err.strerror}") from err
    if head.startswith(AEDAT4_MAGIC):
        return FileInfo("aedat4", 0, None, {})
    header, length = _header_lines(head)
    evt = header.get("evt", "")
    fmt = header.get("format", "").split(";")[0].upper()
    if evt == "2.0" or fmt == "EVT2":
        return FileInfo("evt2", length, _sensor_size(header), header)
    if evt == "3.0" or fmt == "EVT3":
        return FileInfo("evt3", length, _sensor_size(header), header)
    if evt or fmt:
        raise EventFileError(path, f"unsupported Prophesee encoding evt={evt!r} format={fmt!r}")
    if length and len(head) >= length + 2:
        event_type, event_size = head[length], head[length + 1]
        if event_type in DAT_EVENT_TYPES and event_size == DAT_EVENT_SIZE:
            return FileInfo("dat", length + 2, _sensor_size(header), header)
        raise EventFileError(
            path, f"DAT event type {event_type:#x} size {event_size} is not a 2D event", length
        )
    raise EventFileError(
        path, "unknown event file format: neither a Prophesee header (EVT 2.0, EVT 3.0, DAT) "
        "nor the AEDAT 4.0 magic line", 0
    )
