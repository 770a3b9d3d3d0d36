"""Checkpoints in safetensors format (no pickle) and atomic file writes.

A checkpoint is one ``.safetensors`` file:

* tensors: the model's ``state_dict`` under ``model/<name>``, optimizer state tensors
  under ``optim/...`` (e.g. ``optim/state/0/exp_avg``), scheduler tensors (if any) under
  ``sched/...`` and caller-supplied tensors under ``extra/<name>``. Every tensor is saved
  as its own contiguous CPU copy, so tied (shared) weights and non-contiguous views are
  fine; tied weights come back as equal values copied into the same live parameter.
* header metadata (string -> string): a format marker, ``epoch``, ``step``, the caller's
  JSON ``metadata`` and the non-tensor parts of the optimizer and scheduler state
  (hyperparameters, python step counts), JSON-encoded with tensors replaced by references.

Writes are atomic: the file is written to a temporary file in the same directory, flushed
to disk and moved over the target with ``os.replace``; an interrupted or failing save
leaves any earlier file untouched.

Resume semantics: a checkpoint restores the model, optimizer (and scheduler) state and the
counters ``epoch`` / ``step``. It holds no random number generator state: code that needs
reproducible randomness after a resume must derive its generators from a seed and the
epoch or step (as :class:`axonal.learning.Trainer` does for data shuffling).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from axonal.io import atomic_open

__all__ = ["CheckpointError", "load_checkpoint", "save_checkpoint"]

_FORMAT = "axonal.checkpoint"
_VERSION = "1"
# Markers of the JSON encoding of nested state (see _encode).
_TENSOR, _TUPLE, _ITEMS = "__tensor__", "__tuple__", "__items__"


class CheckpointError(ValueError):
    """A file is not a readable axonal checkpoint, or does not fit the given model."""


def _standalone(tensor: torch.Tensor) -> torch.Tensor:
    """A contiguous CPU copy that shares memory with nothing (safetensors requires this)."""
    return tensor.detach().cpu().clone(memory_format=torch.contiguous_format)


def _encode(obj: Any, name: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able form of nested state; tensors move to ``tensors`` under ``name/...``.

    Dicts keep their key types (optimizer state is keyed by int) and tuples stay tuples.
    """
    if isinstance(obj, torch.Tensor):
        tensors[name] = _standalone(obj)
        return {_TENSOR: name}
    if isinstance(obj, tuple):
        return {_TUPLE: [_encode(v, f"{name}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{name}/{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        return {_ITEMS: [[k, _encode(v, f"{name}/{k}", tensors)] for k, v in obj.items()]}
    return obj


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`_encode`."""
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if _TENSOR in obj:
        return tensors[obj[_TENSOR]]
    if _TUPLE in obj:
        return tuple(_decode(v, tensors) for v in obj[_TUPLE])
    return {k: _decode(v, tensors) for k, v in obj[_ITEMS]}


def _check_counter(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: Optimizer | None = None,
    *,
    epoch: int = 0,
    step: int = 0,
    scheduler: LRScheduler | None = None,
    metadata: dict[str, Any] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
) -> None:
    """Save model (and optimizer / scheduler) state to ``path`` atomically.

    Args:
        path: destination file, conventionally ``*.safetensors``; parent dirs are created.
        model: its ``state_dict`` (parameters and buffers) must hold only tensors.
        optimizer: optional; all of its state is saved.
        epoch: completed epochs (>= 0).
        step: completed optimizer steps (>= 0).
        scheduler: optional learning-rate scheduler; all of its state is saved.
        metadata: JSON-serialisable user data (configs, metrics); returned by
            :func:`load_checkpoint`. JSON types only: tuples come back as lists.
        extra_tensors: more tensors to store by name (any shape / dtype).

    Raises:
        TypeError: a non-tensor model state entry, or metadata JSON cannot encode.
        ValueError: negative counters or non-finite floats in metadata.
    """
    _check_counter("epoch", epoch)
    _check_counter("step", step)
    tensors: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"model state {name!r} must be a tensor, got {type(value).__name__}")
        tensors[f"model/{name}"] = _standalone(value)
    for name, value in (extra_tensors or {}).items():
        tensors[f"extra/{name}"] = _standalone(value)
    header = {
        "format": _FORMAT,
        "version": _VERSION,
        "epoch": str(epoch),
        "step": str(step),
        "metadata": json.dumps(metadata or {}, allow_nan=False),
    }
    if optimizer is not None:
        header["optimizer"] = json.dumps(_encode(optimizer.state_dict(), "optim", tensors))
    if scheduler is not None:
        header["scheduler"] = json.dumps(_encode(scheduler.state_dict(), "sched", tensors))
    data = safetensors_bytes(tensors, metadata=header)
    with atomic_open(path, binary=True) as f:
        f.write(data)


def _read(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Header metadata and all tensors (on CPU) of a safetensors checkpoint file."""
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            header = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not iterable)
    except SafetensorError as err:
        raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from err
    if header.get("format") != _FORMAT:
        raise CheckpointError(f"{path}: not an axonal checkpoint (no '{_FORMAT}' format field)")
    if header.get("version") != _VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {header.get('version')!r}, expected {_VERSION!r}"
        )
    return header, tensors


def _with_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: Optimizer | None = None,
    *,
    scheduler: LRScheduler | None = None,
    strict: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (in place).

    Args:
        path: checkpoint file.
        model: receives the saved state (tensors are copied to its device and dtype).
        optimizer: if given, receives the saved optimizer state (which must exist).
        scheduler: if given, receives the saved scheduler state (which must exist).
        strict: passed to ``model.load_state_dict``: require exactly the saved keys.

    Returns:
        ``{"epoch": int, "step": int, "metadata": dict, "extra_tensors": dict[str, Tensor]}``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is truncated, corrupt, not an axonal checkpoint, lacks
            requested optimizer / scheduler state, or does not fit the model / optimizer.
    """
    path = Path(path)
    header, tensors = _read(path)
    try:
        model.load_state_dict(_with_prefix(tensors, "model/"), strict=strict)
        for obj, field in ((optimizer, "optimizer"), (scheduler, "scheduler")):
            if obj is None:
                continue
            if field not in header:
                raise CheckpointError(f"{path}: checkpoint has no {field} state")
            obj.load_state_dict(_decode(json.loads(header[field]), tensors))
        return {
            "epoch": int(header["epoch"]),
            "step": int(header["step"]),
            "metadata": json.loads(header["metadata"]),
            "extra_tensors": _with_prefix(tensors, "extra/"),
        }
    except CheckpointError:
        raise
    except (KeyError, ValueError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"{path}: cannot load checkpoint: {err}") from err
