"""Training: surrogate-gradient BPTT trainer, safetensors checkpoints, local plasticity.

- :class:`Trainer`: BPTT with progress, history, checkpoints and exact resume.
- :func:`save_checkpoint` / :func:`load_checkpoint`: safetensors, atomic, no pickle.
- :class:`SSDP`, :class:`STDP`, :class:`CausalSTDP`: local rules bound to one weight, applied
  after the optimizer step (or on their own, unsupervised); their maths is in
  :mod:`axonal.learning.functional` (``ssdp_delta``, ``stdp_delta``, ``causal_stdp_pairings``).
"""

from axonal.learning import functional
from axonal.learning.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from axonal.learning.plasticity import (
    SSDP,
    STDP,
    CausalSTDP,
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
    "CausalSTDP",
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
