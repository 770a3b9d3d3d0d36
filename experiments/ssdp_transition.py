"""Synchrony and loss per epoch with SSDP: does training switch from unstable to stable?

    python -m experiments.ssdp_transition          # about 6 minutes on 1 thread

The SSDP paper reports a sudden transition from unstable to stable dynamics. This trains the
NeuroMorse demo network (:func:`axonal.tasks.morse.build_model`, smaller: ``--hidden 128``,
``--train-samples 3072`` noisy words per epoch, Adam with cosine learning-rate decay and
gradient clipping as in the demo) for ``--epochs 30`` with SSDP on the hidden-to-hidden and
readout weights (:func:`axonal.tasks.morse.plasticity_rules`, paper amplitudes) from epoch
``--start-epoch 10`` (the paper's warm-up), and the same network without SSDP from the same
initial weights on the same batches. After every epoch it records

- the training loss (mean over the epoch and batch-to-batch standard deviation),
- validation loss and accuracy (512 noisy words, split 1),
- co-firing fraction and Kuramoto order of both LIF layers on 100 clean test words
  (:func:`experiments.ssdp_morse.layer_synchrony`),
- the size of the SSDP updates (sum over the epoch's batches of ``||dW||_F``, both rules),

and :func:`axonal.analysis.synchrony.detect_stabilization` (window 5, ratio 0.2) looks for
the epoch at which each series' variance collapses for good. Writes
``<out>/dynamics.json`` and ``<img>`` (a PNG with loss, synchrony and update size per epoch).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.utils.data import DataLoader

from axonal.analysis import save_png
from axonal.analysis.synchrony import TrainingDynamics
from axonal.data import time_major_collate
from axonal.io import save_json_atomic
from axonal.tasks.morse import (
    CONDITIONS,
    MorseWords,
    build_model,
    other_words,
    plasticity_rules,
    readout_at,
)
from experiments.ssdp_morse import layer_synchrony

ARMS = ("ssdp", "none")
SERIES = ("train_loss", "train_loss_std", "val_loss", "cofiring_1", "cofiring_3")
"""The per-epoch series searched for a stabilization epoch."""


@dataclass(frozen=True)
class Config:
    """What defines the experiment (written to ``dynamics.json``)."""

    epochs: int = 30
    start_epoch: int = 10
    hidden: int = 128
    train_samples: int = 3072
    batch_size: int = 128
    lr: float = 3e-3
    stream_words: int = 2000
    seed: int = 0
    window: int = 5
    ratio: float = 0.2


def _loss(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor):
    return nn.functional.cross_entropy(readout_at(model(x), lengths), labels)


@torch.no_grad()
def _validate(model: nn.Module, batches: list) -> tuple[float, float]:
    """Mean loss and accuracy over fixed validation batches, in eval mode."""
    model.eval()
    losses, hits, count = [], 0, 0
    for x, (labels, lengths) in batches:
        out = readout_at(model(x), lengths)
        losses.append(nn.functional.cross_entropy(out, labels).item() * len(labels))
        hits += int((out.argmax(-1) == labels).sum())
        count += len(labels)
    model.train()
    return sum(losses) / count, hits / count


def train_arm(kind: str, config: Config, words: tuple, val_batches: list) -> TrainingDynamics:
    """Train one arm (``"ssdp"`` or ``"none"``) and record its per-epoch dynamics."""
    model = build_model(config.hidden, config.seed)
    rules = plasticity_rules(model, kind)
    for rule in rules:
        rule.start_epoch = config.start_epoch
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    loader = DataLoader(
        MorseWords(config.train_samples, *words, split=0), batch_size=config.batch_size,
        shuffle=True, collate_fn=time_major_collate,
        generator=torch.Generator().manual_seed(config.seed),
    )  # fmt: skip
    dynamics = TrainingDynamics()
    for epoch in range(config.epochs):
        started, losses, update = time.perf_counter(), [], 0.0
        model.train()
        for x, (labels, lengths) in loader:
            loss = _loss(model, x, labels, lengths)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            for rule in rules:
                delta = rule.apply()
                update += 0.0 if delta is None else float(delta.norm())
            losses.append(loss.item())
        scheduler.step()
        for rule in rules:
            rule.step_epoch()
        val_loss, val_accuracy = _validate(model, val_batches)
        dynamics.record(
            epoch + 1, train_loss=statistics.mean(losses), train_loss_std=statistics.stdev(losses),
            val_loss=val_loss, val_accuracy=val_accuracy, ssdp_update=update,
            seconds=time.perf_counter() - started, **layer_synchrony(model),
        )  # fmt: skip
        print(f"{kind} epoch {epoch + 1}: loss {losses[-1]:.3f} val {val_accuracy:.3f}", flush=True)
    return dynamics


def stabilization(dynamics: TrainingDynamics, config: Config) -> dict[str, int | None]:
    """The stabilization epoch of each of :data:`SERIES` (``None``: not found)."""
    return {
        name: dynamics.stabilization_epoch(name, window=config.window, ratio=config.ratio)
        for name in SERIES
    }


def plot(results: dict[str, Any], config: Config, path: Path) -> None:
    """Loss, co-firing of both layers and SSDP update size per epoch, both arms."""
    figure = Figure(figsize=(10, 6.5), layout="constrained")
    axes = figure.subplots(2, 2, sharex=True).flatten()
    panels = [
        (("train_loss", "val_loss"), "loss (train solid, validation dotted)"),
        (("cofiring_1",), "co-firing fraction, LIF layer 1"),
        (("cofiring_3",), "co-firing fraction, LIF layer 2"),
        (("ssdp_update",), "SSDP update size, sum of ||dW|| per epoch"),
    ]
    colors = {"ssdp": "tab:red", "none": "tab:blue"}
    for ax, (names, title) in zip(axes, panels, strict=True):
        for arm in ARMS:
            series = results[arm]["dynamics"]
            for name, style in zip(names, ("-", ":"), strict=False):
                values = np.asarray(series[name], dtype=float)
                values[values <= 0] = np.nan  # no update (warm-up, no SSDP): not drawn
                ax.plot(series["epoch"], values, style, color=colors[arm],
                        label=arm if style == "-" else None)  # fmt: skip
            found = results[arm]["stabilization"].get(names[0])
            if found is not None:
                ax.axvline(found, color=colors[arm], alpha=0.5, linestyle="--")
        ax.axvline(config.start_epoch + 0.5, color="gray", linestyle=":", linewidth=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
    axes[0].legend(title="dashed: stabilization\ndotted gray: SSDP starts", fontsize=8)
    figure.suptitle("NeuroMorse with and without SSDP: is there an unstable-to-stable switch?")
    save_png(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Config()
    for name, value in asdict(defaults).items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    parser.add_argument("--out", default="runs/ssdp_transition")
    parser.add_argument("--img", default="docs/img/ssdp_transition.png")
    args = parser.parse_args()
    config = Config(**{k: getattr(args, k) for k in asdict(defaults)})
    torch.set_num_threads(1)
    words = (other_words(config.stream_words), tuple(CONDITIONS), 0.7, config.seed)
    val_batches = list(DataLoader(
        MorseWords(512, *words, split=1), batch_size=config.batch_size,
        collate_fn=time_major_collate,
    ))  # fmt: skip
    results: dict[str, Any] = {"config": asdict(config)}
    for arm in ARMS:
        dynamics = train_arm(arm, config, words, val_batches)
        results[arm] = {
            "dynamics": dynamics.as_dict(),
            "stabilization": stabilization(dynamics, config),
        }
        save_json_atomic(Path(args.out) / "dynamics.json", results)
    plot(results, config, Path(args.img))
    for arm in ARMS:
        series = results[arm]["dynamics"]
        print(f"{arm}: stabilization {results[arm]['stabilization']}, final val accuracy "
              f"{series['val_accuracy'][-1]:.3f}, mean epoch "
              f"{np.mean(series['seconds']):.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
