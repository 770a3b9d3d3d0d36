"""Training: surrogate-gradient BPTT trainer, safetensors checkpoints, local plasticity.

- :class:`Trainer`: BPTT with progress, history, checkpoints and exact resume.
- :func:`save_checkpoint` / :func:`load_checkpoint`: safetensors, atomic, no pickle.
- :class:`SSDP`, :class:`STDP`: local rules bound to one weight, applied after the optimizer
  step; their maths is in :mod:`axonal.learning.functional` (``ssdp_delta``, ``stdp_delta``).
"""

from axonal.learning import functional
from axonal.learning.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from axonal.learning.plasticity import (
    SSDP,
    STDP,
    CosineSchedule,
    EMASchedule,
    PlasticityRule,
    Schedule,
    WatchHandle,
    bound_weight,
)
from axonal.learning.trainer import History, Trainer

__all__ = [
    "SSDP",
    "STDP",
    "CheckpointError",
    "CosineSchedule",
    "EMASchedule",
    "History",
    "PlasticityRule",
    "Schedule",
    "Trainer",
    "WatchHandle",
    "bound_weight",
    "functional",
    "load_checkpoint",
    "save_checkpoint",
]
