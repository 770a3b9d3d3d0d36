"""SSDP beside gradient training on NeuroMorse: with and without, several seeds.

    python -m experiments.ssdp_morse --seeds 0 1 2

Trains the demo network (:mod:`axonal.tasks.morse`) with ``plasticity="none"`` and
``"ssdp"`` for every seed, then reports, as mean +- std over seeds: word accuracy per noise
condition (robustness to jitter and event noise), validation accuracy per epoch
(convergence), training time per epoch (the cost of SSDP) and the synchrony of the hidden
layers on clean test words. Writes ``runs/ssdp_morse/results.json``, ``summary.md`` and
``curves.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from axonal.analysis import SpikeMonitor, save_png
from axonal.analysis.synchrony import cofiring_fraction, kuramoto_order
from axonal.data import time_major_collate
from axonal.data.neuromorse import NeuroMorse, ToDense
from axonal.io import atomic_open, save_json_atomic
from axonal.tasks.morse import MorseConfig, load_model, run

KINDS = ("none", "ssdp")


def synchrony(run_dir: Path) -> dict[str, float]:
    """Co-firing fraction (same step) and Kuramoto order of each hidden layer on 100 clean
    test words."""
    model = load_model(run_dir)
    words = NeuroMorse("test", samples_per_word=2, seed=0, transform=ToDense())
    batch, _ = time_major_collate([words[i] for i in range(len(words))])
    with SpikeMonitor(model, record=True) as monitor, torch.no_grad():
        model(batch)
    out = {}
    for name in monitor.layer_names:
        spikes = monitor.records(name)
        out[f"cofiring_{name}"] = cofiring_fraction(spikes)
        out[f"kuramoto_{name}"] = float(kuramoto_order(spikes).mean)
    return out


def one_run(kind: str, seed: int, epochs: int, runs_dir: Path) -> dict:
    config = MorseConfig(
        name=f"{kind}-seed{seed}", seed=seed, plasticity=kind, epochs=epochs,
        runs_dir=str(runs_dir), progress=False, stream_words=2000,
    )  # fmt: skip
    results = run(config)
    run_dir = runs_dir / config.name
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    return {
        "classification": results["classification"],
        "kws_f1": {c: s["f1"] for c, s in results["spotting"].items()},
        "val_accuracy": [v["accuracy"] for v in history["val"]],
        "epoch_seconds": history["seconds"],
        "synchrony": synchrony(run_dir),
    }


def mean_std(values: list[float]) -> str:
    return f"{100 * np.mean(values):.1f} +- {100 * np.std(values):.1f}"


def summary(results: dict[str, list[dict]]) -> str:
    conditions = list(results["none"][0]["classification"])
    lines = [
        "| metric | " + " | ".join(KINDS) + " |",
        "|---|" + "---|" * len(KINDS),
    ]
    for c in conditions:
        cells = [mean_std([r["classification"][c] for r in results[k]]) for k in KINDS]
        lines.append(f"| word accuracy, {c} (%) | " + " | ".join(cells) + " |")
    for c in conditions:
        cells = [mean_std([r["kws_f1"][c] for r in results[k]]) for k in KINDS]
        lines.append(f"| KWS F1 x 100, {c} | " + " | ".join(cells) + " |")
    for epoch in (0, 1, 3):
        cells = [mean_std([r["val_accuracy"][epoch] for r in results[k]]) for k in KINDS]
        label = f"validation accuracy after epoch {epoch + 1} (%)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    seconds = [np.mean([np.mean(r["epoch_seconds"]) for r in results[k]]) for k in KINDS]
    lines.append(
        "| seconds per epoch | " + " | ".join(f"{s:.1f}" for s in seconds) + " |"
    )
    for key in results["none"][0]["synchrony"]:
        cells = [f"{np.mean([r['synchrony'][key] for r in results[k]]):.4f}" for k in KINDS]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict[str, list[dict]], path: Path) -> None:
    figure = Figure(figsize=(5, 3.5), layout="constrained")
    ax = figure.subplots()
    for kind in KINDS:
        curves = np.array([r["val_accuracy"] for r in results[kind]])
        epochs = np.arange(1, curves.shape[1] + 1)
        ax.errorbar(epochs, curves.mean(0), yerr=curves.std(0), label=kind, capsize=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title("NeuroMorse: with and without SSDP")
    ax.legend()
    save_png(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", default="runs/ssdp_morse")
    args = parser.parse_args()
    out = Path(args.out)
    results: dict[str, list[dict]] = {k: [] for k in KINDS}
    for seed in args.seeds:
        for kind in KINDS:
            results[kind].append(one_run(kind, seed, args.epochs, out))
    save_json_atomic(out / "results.json", {"seeds": args.seeds, **results})
    table = summary(results)
    with atomic_open(out / "summary.md", binary=False) as f:
        f.write(table + "\n")
    plot(results, out / "curves.png")
    print(table)


if __name__ == "__main__":
    main()
