"""Atomic file writes shared by every layer (checkpoints, metrics, plots, datasets).

A file is first written to a temporary sibling, flushed to disk and then moved over the
target with ``os.replace``: readers see the old file or the new one, never half of one, and a
failing write leaves the old file untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_path", "cache_file", "save_json_atomic"]


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path of ``path`` to write (e.g. with h5py); on success it is
    moved onto ``path``, on any exception removed. Parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextmanager
def atomic_open(path: str | Path, *, binary: bool) -> Iterator[IO[Any]]:
    """Open a new temporary sibling of ``path`` (bytes, or UTF-8 text) for writing; it replaces
    ``path`` when the ``with`` block succeeds (after an fsync) and is removed otherwise."""
    with atomic_path(path) as tmp, open(tmp, "xb" if binary else "x", **_text(binary)) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def _text(binary: bool) -> dict[str, str]:
    return {} if binary else {"encoding": "utf-8"}


def save_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented, strict JSON (no NaN/inf) to ``path`` atomically.

    Raises TypeError / ValueError from :mod:`json` for objects JSON cannot represent; the
    previous content of ``path`` is then kept.
    """
    with atomic_open(path, binary=False) as f:
        json.dump(obj, f, indent=2, allow_nan=False)
        f.write("\n")


def cache_file(kind: str, params: dict[str, Any], suffix: str = ".npz") -> Path:
    """Where a generated artefact with these ``params`` is cached (it may not exist yet):
    ``$AXONAL_CACHE/<kind>/<hash of params><suffix>``, ``AXONAL_CACHE`` defaulting to
    ``~/.cache/axonal``. ``params`` must be JSON-serialisable."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    root = Path(os.environ.get("AXONAL_CACHE", Path.home() / ".cache" / "axonal"))
    return root / kind / f"{digest}{suffix}"
