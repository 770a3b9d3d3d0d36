"""A small trainer for spiking networks: surrogate gradients, backpropagation through time.

The trainer is model-agnostic. Each batch is ``(inputs, targets)`` with ``inputs`` a
time-major tensor ``[T, B, ...]``; the model maps ``inputs`` to whatever ``loss_fn`` and
the metrics expect (e.g. output spikes ``[T, B, C]`` or logits ``[B, C]``). Gradients flow
through the spike non-linearities by their surrogates, defined in the model.

Datasets usually return samples ``[T, ...]``: build the loader with
``collate_fn=axonal.data.time_major_collate`` to get ``[T_max, B, ...]`` batches, and with
``generator=torch.Generator()`` when ``shuffle=True``. The trainer reseeds the loader's
generator at the start of every epoch from ``(seed, epoch)``, so the data order of an
epoch does not depend on what ran before it and a resumed run repeats the uninterrupted
one exactly. Any other randomness (dropout, random augmentations) must be deterministic
on its own for exact resumes; the trainer does not touch global random state.

Files (when ``run_dir`` is given): ``metrics.json`` (the :class:`History`, rewritten after
every epoch) and ``checkpoint.safetensors`` (latest model, optimizer and scheduler state,
epoch, step and history), both written atomically.

Example::

    loader = DataLoader(train_set, batch_size=32, shuffle=True,
                        collate_fn=time_major_collate, generator=torch.Generator())
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), 1e-3),
                      nn.functional.cross_entropy, run_dir="runs/demo")
    history = trainer.fit(loader, epochs=10, val_loader=val_loader,
                          metrics={"accuracy": accuracy}, resume=True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader, RandomSampler
from tqdm import tqdm

from axonal.io import save_json_atomic
from axonal.learning.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from axonal.learning.plasticity import PlasticityRule

__all__ = ["CHECKPOINT_NAME", "METRICS_NAME", "History", "Trainer"]

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.json"

LossFn = Callable[[Any, Any], torch.Tensor]
Metric = Callable[[Any, Any], float | torch.Tensor]


@dataclass
class History:
    """What happened in each epoch of a run; index ``i`` is epoch ``i + 1``.

    Attributes:
        train_loss: mean training loss per sample over the epoch (while the weights were
            changing).
        val: :meth:`Trainer.evaluate` on the validation loader after the epoch
            (``{"loss": ..., <metric>: ...}``), or ``{}`` without a validation loader.
        seconds: wall time of the epoch (training and validation), in seconds.
    """

    train_loss: list[float] = field(default_factory=list)
    val: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, train_loss: float, val: dict[str, float], seconds: float) -> None:
        """Record one more epoch."""
        self.train_loss.append(train_loss)
        self.val.append(val)
        self.seconds.append(seconds)

    def to_dict(self) -> dict[str, list[Any]]:
        """A JSON-serialisable copy (the content of ``metrics.json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, list[Any]]) -> History:
        """Inverse of :meth:`to_dict`."""
        return cls(list(data["train_loss"]), list(data["val"]), list(data["seconds"]))


def _to_device(targets: Any, device: torch.device) -> Any:
    """Move a tensor, or the tensors of a (nested) tuple or list, to ``device``."""
    if isinstance(targets, torch.Tensor):
        return targets.to(device)
    if isinstance(targets, (tuple, list)):
        return type(targets)(_to_device(t, device) for t in targets)
    return targets


def _epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 64-bit seed that depends only on ``(seed, epoch)``."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0])


def _seed_shuffling(loader: Iterable[Any], seed: int) -> None:
    """Reseed a DataLoader's generators so its order depends only on ``seed``.

    Other iterables are left as they are (they must be deterministic themselves).
    """
    if not isinstance(loader, DataLoader):
        return
    sampler_generator = getattr(loader.sampler, "generator", None)
    if isinstance(loader.sampler, RandomSampler) and sampler_generator is None:
        raise ValueError(
            "the training DataLoader shuffles without a torch.Generator; create it with "
            "generator=torch.Generator() so the trainer can seed each epoch"
        )
    for generator in (loader.generator, sampler_generator):
        if generator is not None:
            generator.manual_seed(seed)


class Trainer:
    """Train ``model`` by backpropagation through time, with checkpoints and resume.

    Args:
        model: maps time-major inputs ``[T, B, ...]`` to outputs for ``loss_fn``; moved
            to ``device``.
        optimizer: optimizer over the model's parameters.
        loss_fn: ``loss_fn(outputs, targets) -> scalar tensor``.
        run_dir: directory for ``metrics.json`` and ``checkpoint.safetensors`` (created
            when first written); ``None`` writes nothing.
        device: where the model runs; batches are moved there.
        grad_clip: if given (> 0), clip the global gradient norm to it before each step.
        scheduler: learning-rate scheduler, stepped once at the end of every epoch.
        plasticity: local rules (:class:`axonal.learning.SSDP`, :class:`~axonal.learning.STDP`)
            that observe the forward passes (e.g. through ``rule.watch``): each is applied
            after every optimizer step and told of every finished epoch (warm-up, amplitude
            schedules); their state is saved in the checkpoint and restored on resume.
        progress: show a tqdm bar per epoch and a one-line summary after it.
        seed: (>= 0) seeds the training loader's shuffling per epoch (see module docstring).

    Attributes:
        epoch: completed epochs. step: completed optimizer steps. history: per epoch.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Optimizer,
        loss_fn: LossFn,
        *,
        run_dir: str | Path | None = None,
        device: str | torch.device = "cpu",
        grad_clip: float | None = None,
        scheduler: LRScheduler | None = None,
        plasticity: Sequence[PlasticityRule] = (),
        progress: bool = True,
        seed: int = 0,
    ) -> None:
        if grad_clip is not None and not grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {grad_clip}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.grad_clip = grad_clip
        self.scheduler = scheduler
        self.plasticity = list(plasticity)
        self.progress = progress
        self.seed = seed
        self.epoch = 0
        self.step = 0
        self.history = History()

    def fit(
        self,
        train_loader: Iterable[Any],
        epochs: int,
        *,
        val_loader: Iterable[Any] | None = None,
        metrics: dict[str, Metric] | None = None,
        checkpoint_every: int = 1,
        resume: bool = False,
    ) -> History:
        """Train until ``epochs`` epochs are complete, counting those already done.

        Args:
            train_loader: yields ``(inputs [T, B, ...], targets)``.
            epochs: total number of epochs of the run (a resumed run continues up to it).
            val_loader: evaluated after every epoch, if given.
            metrics: ``name -> metric(outputs, targets)`` for validation; see
                :meth:`evaluate`.
            checkpoint_every: save the checkpoint every this many epochs, and always after
                the last one (only with a ``run_dir``).
            resume: first load ``run_dir/checkpoint.safetensors`` if it exists
                (see :meth:`resume`).

        Returns:
            The history of the whole run (including epochs before a resume).

        Raises:
            FloatingPointError: the training loss became NaN or infinite.
        """
        if epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {epochs}")
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
        if resume:
            self.resume()
        for epoch in range(self.epoch, epochs):
            start = time.perf_counter()
            _seed_shuffling(train_loader, _epoch_seed(self.seed, epoch))
            train_loss = self._train_epoch(train_loader, epoch, epochs)
            val = {} if val_loader is None else self.evaluate(val_loader, metrics)
            if self.scheduler is not None:
                self.scheduler.step()
            for rule in self.plasticity:
                rule.step_epoch()
            self.history.add(train_loss, val, time.perf_counter() - start)
            self.epoch = epoch + 1
            self._report(epochs)
            last = self.epoch == epochs
            self._write_run_files(checkpoint=last or self.epoch % checkpoint_every == 0)
        return self.history

    def evaluate(
        self, loader: Iterable[Any], metrics: dict[str, Metric] | None = None
    ) -> dict[str, float]:
        """Mean loss and metrics over ``loader``, without gradients, in eval mode.

        Each metric is ``metric(outputs, targets) -> float or 0-d tensor`` for one batch;
        results are averaged over batches weighted by batch size ``B`` (``inputs.shape[1]``).

        Returns:
            ``{"loss": mean loss, <metric name>: mean value, ...}``.
        """
        metrics = metrics or {}
        if "loss" in metrics:
            raise ValueError("'loss' is always reported; give the metric another name")
        totals = dict.fromkeys(["loss", *metrics], 0.0)
        count = 0
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for batch in loader:
                    inputs, targets = self._unpack(batch)
                    outputs = self.model(inputs)
                    size = inputs.shape[1]
                    totals["loss"] += self._loss(outputs, targets).item() * size
                    for name, metric in metrics.items():
                        totals[name] += float(metric(outputs, targets)) * size
                    count += size
        finally:
            self.model.train(was_training)
        if count == 0:
            raise ValueError("the evaluation loader yielded no batches")
        return {name: total / count for name, total in totals.items()}

    def resume(self) -> bool:
        """Load ``run_dir/checkpoint.safetensors`` if it exists; return whether it did.

        Restores model, optimizer and scheduler state, ``epoch``, ``step`` and ``history``.

        Raises:
            ValueError: no ``run_dir``, or the checkpoint was made with another ``seed``.
            CheckpointError: the file is not a readable trainer checkpoint for this model.
        """
        if self.run_dir is None:
            raise ValueError("resume needs a Trainer with a run_dir")
        path = self.run_dir / CHECKPOINT_NAME
        if not path.exists():
            return False
        info = load_checkpoint(path, self.model, self.optimizer, scheduler=self.scheduler)
        meta = info["metadata"]
        if "history" not in meta or "seed" not in meta:
            raise CheckpointError(f"{path}: not a Trainer checkpoint (no history or seed)")
        if meta["seed"] != self.seed:
            raise ValueError(
                f"{path} was trained with seed {meta['seed']}, this trainer has seed {self.seed}"
            )
        rules = meta.get("plasticity", [])
        if len(rules) != len(self.plasticity):
            raise ValueError(
                f"{path} holds {len(rules)} plasticity rule state(s), this trainer has "
                f"{len(self.plasticity)} rule(s)"
            )
        for rule, state in zip(self.plasticity, rules, strict=True):
            rule.load_state_dict(state)
        self.epoch, self.step = info["epoch"], info["step"]
        self.history = History.from_dict(meta["history"])
        return True

    def _train_epoch(self, loader: Iterable[Any], epoch: int, epochs: int) -> float:
        """One pass of BPTT updates over ``loader``; returns the mean loss per sample."""
        self.model.train()
        total, count = 0.0, 0
        bar = tqdm(
            loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not self.progress, leave=False
        )
        for batch in bar:
            inputs, targets = self._unpack(batch)
            loss = self._loss(self.model(inputs), targets)
            value = loss.item()
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"training loss is {value} at epoch {epoch + 1} (1-based), "
                    f"step {self.step + 1} (optimizer steps so far: {self.step})"
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
            for rule in self.plasticity:
                rule.apply()
            self.step += 1
            total += value * inputs.shape[1]
            count += inputs.shape[1]
            bar.set_postfix(loss=f"{value:.4f}")
        if count == 0:
            raise ValueError("the training loader yielded no batches")
        return total / count

    def _unpack(self, batch: Any) -> tuple[torch.Tensor, Any]:
        """Check a ``(inputs, targets)`` batch and move it to the device."""
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError(f"a batch must be (inputs, targets), got {type(batch).__name__}")
        inputs, targets = batch
        if not isinstance(inputs, torch.Tensor) or inputs.ndim < 2:
            got = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs)
            raise ValueError(f"inputs must be a time-major tensor [T, B, ...], got {got}")
        return inputs.to(self.device), _to_device(targets, self.device)

    def _loss(self, outputs: Any, targets: Any) -> torch.Tensor:
        loss = self.loss_fn(outputs, targets)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            got = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(f"loss_fn must return a scalar tensor, got {got}")
        return loss

    def _report(self, epochs: int) -> None:
        """Print a one-line summary of the last epoch (when ``progress`` is on)."""
        if not self.progress:
            return
        val = ", ".join(f"val_{k} {v:.4f}" for k, v in self.history.val[-1].items())
        tqdm.write(
            f"epoch {self.epoch}/{epochs}: train_loss {self.history.train_loss[-1]:.4f}"
            f"{', ' + val if val else ''} ({self.history.seconds[-1]:.1f} s)"
        )

    def _write_run_files(self, *, checkpoint: bool) -> None:
        """Rewrite ``metrics.json`` and, if asked, the checkpoint (needs a ``run_dir``)."""
        if self.run_dir is None:
            return
        if checkpoint:
            save_checkpoint(
                self.run_dir / CHECKPOINT_NAME,
                self.model,
                self.optimizer,
                epoch=self.epoch,
                step=self.step,
                scheduler=self.scheduler,
                metadata={
                    "seed": self.seed,
                    "history": self.history.to_dict(),
                    "plasticity": [rule.state_dict() for rule in self.plasticity],
                },
            )
        save_json_atomic(self.run_dir / METRICS_NAME, self.history.to_dict())
