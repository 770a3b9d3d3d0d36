"""Training: surrogate-gradient BPTT trainer and safetensors checkpoints."""

from axonal.learning.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
    save_json_atomic,
)
from axonal.learning.trainer import History, Trainer

__all__ = [
    "CheckpointError",
    "History",
    "Trainer",
    "load_checkpoint",
    "save_checkpoint",
    "save_json_atomic",
]
