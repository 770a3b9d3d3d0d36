"""Event vision: spiking ResNet, spike-driven Transformer and Spiking MetaFormer, with and
without SMA + AZO, against ANNs of the same shape, on N-Digits or Moving Shapes.

    python -m experiments.vision --dataset ndigits --seeds 0 1 2
    python -m experiments.vision --dataset shapes --seeds 0 1
    python -m experiments.vision --dataset shapes --seeds 0 1 --models sdt_tiny --neuron ilif

For every seed and model: train from scratch (AdamW, cosine schedule, cross-entropy on the
time-averaged logits), then report test accuracy, operations and energy per test sample
(:func:`axonal.analysis.count_operations` on :data:`ENERGY_SAMPLES` test samples) and the
training time per epoch. The ANN of a model is the same architecture with every spiking
neuron replaced by a ReLU (:func:`to_ann`), run once on the frames summed over time
(:class:`SummedFrames`); its cost is the dense MAC count of every layer.

Data: events -> ``to_frames(n_time_bins=T)`` -> 2 x 2 sum pooling (34 x 34 -> 17 x 17), all in
memory. Results go to ``<out>/<dataset>[-<neuron>]/results.json`` (rewritten atomically after
every run; a rerun with the same settings skips the runs already there and only rewrites the
table) and ``summary.md``.

Reusable pieces (e.g. for other training experiments on the same data):
:func:`load_frames`, :func:`build`, :func:`train_one`, :func:`evaluate`, :func:`operations`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from axonal.analysis import count_operations
from axonal.data import time_major_collate
from axonal.data.events import MovingShapes, NDigits, to_frames
from axonal.io import atomic_open, save_json_atomic
from axonal.learning import Trainer
from axonal.learning.plasticity import PlasticityRule
from axonal.models import create_model
from axonal.nn import Neuron, SpikingModule

DATASETS: dict[str, Callable[..., Any]] = {"ndigits": NDigits, "shapes": MovingShapes}
MODELS: dict[str, dict[str, Any]] = {
    "sew_resnet_tiny": {"width": 16},
    "sdt_tiny": {"dim": 32, "depth": 1},
    "spiking_metaformer_tiny": {"width": 8},
}
"""The models of the experiment and their size options (registry name -> kwargs)."""
ENERGY_SAMPLES = 100
POOL = 2


# --- data ------------------------------------------------------------------------------------


def load_frames(dataset: str, split: str, time_steps: int, pool: int = POOL) -> TensorDataset:
    """A dataset split as dense frames: ``TensorDataset(x [N, T, 2, H/pool, W/pool], y [N])``.

    ``x`` holds event counts per time bin, polarity and pooled pixel (float32); the bins split
    each sample's time span into ``time_steps`` equal parts.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {dataset!r}")
    data = DATASETS[dataset](split)
    frames = torch.stack(
        [to_frames(data[i][0], data.sensor_size, n_time_bins=time_steps) for i in range(len(data))]
    )
    pooled = F.avg_pool2d(frames.flatten(0, 1), pool).unflatten(0, frames.shape[:2]) * pool**2
    return TensorDataset(pooled, torch.as_tensor(data.targets, dtype=torch.int64))


def num_classes(dataset: str) -> int:
    """Number of labels of a dataset."""
    return len(DATASETS[dataset].classes)


# --- models ----------------------------------------------------------------------------------


class ReLUUnit(SpikingModule):
    """Stand-in for a spiking neuron in the ANN twin: ``relu(x)``, stateless."""

    def run(self, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        return torch.relu(x), None

    def step(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, None]:
        return torch.relu(x_t), None


class SummedFrames(SpikingModule):
    """Runs ``model`` once on its input summed over time: ``[T, B, ...] -> [1, B, classes]``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def run(self, x: Tensor, state: Any = None) -> tuple[Tensor, None]:
        return self.model(x.sum(0, keepdim=True)), None


def to_ann(model: nn.Module) -> nn.Module:
    """Replace every spiking neuron of ``model`` (in place) by a :class:`ReLUUnit`."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Neuron):
                setattr(parent, name, ReLUUnit())
    return model


def build(
    name: str,
    sma: bool,
    *,
    time_steps: int,
    classes: int,
    seed: int,
    ann: bool = False,
    neuron: str | None = None,
) -> nn.Module:
    """A model of :data:`MODELS` with its experiment size, initialised from ``seed``.

    ``sma``: add SMA + AZO (paper defaults) to its conv stage(s); ``ann``: the ANN twin
    (:func:`to_ann` in a :class:`SummedFrames`; ``sma`` must then be False); ``neuron``:
    ``"lif"`` or ``"ilif"`` instead of the model's default (ResNet and Transformer: LIF,
    MetaFormer: I-LIF with ``D = 4``). The SNN maps
    ``[T, B, 2, H, W] -> [T, B, classes]``, the ANN ``-> [1, B, classes]``. The global torch
    random state is left as it was.
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {name!r}")
    if ann and sma:
        raise ValueError("the ANN twin is built without SMA")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        options = {**MODELS[name], "in_channels": 2, "num_classes": classes}
        if neuron is not None:
            options["neuron"] = neuron
        if sma:
            options |= {"sma": True, "time_steps": time_steps}
        model = create_model(name, **options)
    return SummedFrames(to_ann(model)) if ann else model


# --- training and measures -------------------------------------------------------------------


def _loader(data: TensorDataset, batch_size: int, shuffle: bool) -> DataLoader:
    generator = torch.Generator() if shuffle else None
    return DataLoader(
        data, batch_size, shuffle=shuffle, collate_fn=time_major_collate, generator=generator
    )


def _loss(outputs: Tensor, targets: Tensor) -> Tensor:
    return F.cross_entropy(outputs.mean(0), targets)


def train_one(
    model: nn.Module,
    data: TensorDataset,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 32,
    lr: float = 2e-3,
    weight_decay: float = 1e-2,
    plasticity: Sequence[PlasticityRule] = (),
) -> list[float]:
    """Train ``model`` on ``data`` (from :func:`load_frames`) with :class:`axonal.learning.
    Trainer`: AdamW, cosine learning rate over ``epochs``, cross-entropy on the logits
    averaged over time, shuffling seeded by ``seed``. ``plasticity``: local rules passed on to
    the Trainer. Returns the wall time of each epoch in seconds."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    trainer = Trainer(
        model, optimizer, _loss, scheduler=scheduler, plasticity=plasticity, progress=False,
        seed=seed,
    )  # fmt: skip
    history = trainer.fit(_loader(data, batch_size, shuffle=True), epochs)
    return list(history.seconds)


def evaluate(model: nn.Module, data: TensorDataset, batch_size: int = 100) -> float:
    """Accuracy in [0, 1] of the time-averaged logits on ``data``, in eval mode."""
    was_training = model.training
    model.eval()
    correct = 0
    try:
        with torch.no_grad():
            for x, y in _loader(data, batch_size, shuffle=False):
                correct += int((model(x).mean(0).argmax(-1) == y).sum())
    finally:
        model.train(was_training)
    return correct / len(data)


def operations(model: nn.Module, data: TensorDataset, samples: int = ENERGY_SAMPLES) -> dict:
    """Per-sample operations of ``model`` on the first ``samples`` of ``data``:
    ``sops``, ``macs``, ``energy_uj`` (45 nm: 4.6 pJ / MAC, 0.9 pJ / SOP), ``ann_macs`` and
    ``ann_energy_uj`` (every layer dense), ``params``, and the mean binary-equivalent firing
    rate over the spiking layers (``None`` without any)."""
    x = torch.stack([data[i][0] for i in range(min(samples, len(data)))], dim=1)
    report = count_operations(model, x).per_sample()
    rates = [row.binary_rate for row in report.neurons]
    return {
        "sops": report.total_sops,
        "macs": report.total_macs,
        "energy_uj": report.energy_joules * 1e6,
        "ann_macs": report.total_ann_macs,
        "ann_energy_uj": report.ann_energy_joules * 1e6,
        "params": report.params,
        "firing_rate": float(np.mean(rates)) if rates else None,
    }


# --- the experiment --------------------------------------------------------------------------


def configs(models: list[str], with_ann: bool) -> list[tuple[str, str, bool, bool]]:
    """``(key, model, sma, ann)`` for every run of one seed."""
    runs = []
    for name in models:
        runs += [(name, name, False, False), (f"{name}+sma", name, True, False)]
        if with_ann:
            runs.append((f"ann:{name}", name, False, True))
    return runs


def one_run(name: str, sma: bool, ann: bool, seed: int, data: dict, args: Any) -> dict:
    """Train and measure one model for one seed."""
    model = build(
        name, sma, time_steps=args.time_steps, classes=data["classes"], seed=seed, ann=ann,
        neuron=args.neuron,
    )  # fmt: skip
    seconds = train_one(
        model, data["train"], epochs=args.epochs, seed=seed, batch_size=args.batch_size,
        lr=args.lr,
    )  # fmt: skip
    start = time.perf_counter()
    accuracy = evaluate(model, data["test"])
    eval_seconds = time.perf_counter() - start
    return {
        "accuracy": accuracy,
        "epoch_seconds": seconds,
        "eval_seconds": eval_seconds,
        **operations(model, data["test"]),
    }


def _mean_std(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    v = np.asarray(values, dtype=float) * scale
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def _si(value: float) -> str:
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {unit}"
    return f"{value:.0f}"


def summary(results: dict[str, list[dict]]) -> str:
    """A markdown table: one row per configuration, mean ± std over seeds (seconds per epoch:
    the median epoch of a run, so that a first epoch that includes JIT compilation does not
    count, averaged over seeds)."""
    lines = [
        "| model | SMA+AZO | params | test accuracy (%) | SOPs / sample | MACs / sample "
        "| energy / sample (µJ) | firing rate | s / epoch | seeds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, runs in results.items():
        ann = key.startswith("ann:")
        name = key.removeprefix("ann:").removesuffix("+sma")
        energy = [r["ann_energy_uj"] if ann else r["energy_uj"] for r in runs]
        macs = [r["ann_macs"] if ann else r["macs"] for r in runs]
        rate = [r["firing_rate"] for r in runs if r["firing_rate"] is not None]
        cells = [
            f"ANN twin of {name}" if ann else name,
            "yes" if key.endswith("+sma") else "no",
            _si(runs[0]["params"]),
            _mean_std([r["accuracy"] for r in runs], 100),
            "—" if ann else _si(float(np.mean([r["sops"] for r in runs]))),
            _si(float(np.mean(macs))),
            _mean_std(energy, 1.0, 2),
            f"{np.mean(rate):.3f}" if rate else "—",
            f"{np.mean([np.median(r['epoch_seconds']) for r in runs]):.1f}",
            str(len(runs)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="ndigits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--no-ann", action="store_true", help="skip the ANN twins")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--time-steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--neuron", choices=["lif", "ilif"], help="override every model's")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/vision")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = {
        k: getattr(args, k) for k in ("dataset", "epochs", "time_steps", "batch_size", "lr")
    } | {"pool": POOL, "models": MODELS, "energy_samples": ENERGY_SAMPLES}
    if args.neuron is not None:
        settings["neuron"] = args.neuron
    folder = args.dataset + (f"-{args.neuron}" if args.neuron else "")
    path = Path(args.out) / folder / "results.json"
    results = _previous(path, settings)
    start = time.perf_counter()
    data = {
        "train": load_frames(args.dataset, "train", args.time_steps),
        "test": load_frames(args.dataset, "test", args.time_steps),
        "classes": num_classes(args.dataset),
    }
    print(f"data ready in {time.perf_counter() - start:.1f} s", flush=True)
    for seed in args.seeds:
        for key, name, sma, ann in configs(args.models, not args.no_ann):
            done = {r["seed"] for r in results.get(key, [])}
            if seed in done:
                continue
            run = {"seed": seed, **one_run(name, sma, ann, seed, data, args)}
            results.setdefault(key, []).append(run)
            save_json_atomic(path, {"settings": settings, "results": results})
            print(
                f"{key} seed {seed}: accuracy {run['accuracy']:.3f}, "
                f"{np.mean(run['epoch_seconds']):.1f} s/epoch "
                f"(elapsed {time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    table = summary(results)
    with atomic_open(path.with_name("summary.md"), binary=False) as f:
        f.write(table + "\n")
    print(table)


def _previous(path: Path, settings: dict) -> dict[str, list[dict]]:
    """The results of an earlier run with the same settings, else an empty dict."""
    if not path.exists():
        return {}
    stored = json.loads(path.read_text())
    same = stored.get("settings") == json.loads(json.dumps(settings))
    return stored["results"] if same else {}


if __name__ == "__main__":
    main()
