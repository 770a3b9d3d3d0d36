"""SSDP beside gradient training on NeuroMorse: with and without, several seeds.

    python -m experiments.ssdp_morse --seeds 0 1 2
    python -m experiments.ssdp_morse --cost          # SSDP's share of a training step only

Trains the demo network (:mod:`axonal.tasks.morse`) with ``plasticity="none"`` and
``"ssdp"`` for every seed, then reports, as mean +- std over seeds: word accuracy per noise
condition (robustness to jitter and event noise), validation accuracy per epoch
(convergence), training time per epoch (the cost of SSDP) and the synchrony of the hidden
layers on clean test words. Writes ``runs/ssdp_morse/results.json``, ``summary.md`` and
``curves.png``.

``--cost`` only times training steps of the same network on the same batches (``--threads``
torch threads, default 1), with and without the two SSDP rules (active from the first step),
alternating, and prints the median seconds per step, the seconds spent inside the rules' hooks
and ``apply`` and their ratio to the plain step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch.utils.data import DataLoader

from axonal.analysis import SpikeMonitor, save_png
from axonal.analysis.synchrony import cofiring_fraction, kuramoto_order
from axonal.data import time_major_collate
from axonal.data.neuromorse import NeuroMorse, ToDense
from axonal.io import atomic_open, save_json_atomic
from axonal.tasks.morse import (
    CONDITIONS,
    MorseConfig,
    MorseWords,
    build_model,
    load_model,
    plasticity_rules,
    readout_at,
    run,
)

KINDS = ("none", "ssdp")


def synchrony(run_dir: Path) -> dict[str, float]:
    """Co-firing fraction (same step) and Kuramoto order of each hidden layer on 100 clean
    test words."""
    return layer_synchrony(load_model(run_dir))


def layer_synchrony(model: torch.nn.Module) -> dict[str, float]:
    """``cofiring_<layer>`` (fraction of neuron pairs firing at the same step) and
    ``kuramoto_<layer>`` (mean order parameter) of each spiking layer of the demo network on
    100 clean test words (2 per keyword, seed 0), in eval mode; the mode is restored."""
    words = NeuroMorse("test", samples_per_word=2, seed=0, transform=ToDense())
    batch, _ = time_major_collate([words[i] for i in range(len(words))])
    was_training = model.training
    with SpikeMonitor(model, record=True) as monitor, torch.no_grad():
        model.eval()(batch)
    model.train(was_training)
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


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""Wall time, and CPU time of this process (less disturbed by other jobs on a shared machine)."""


def _now() -> dict[str, float]:
    return {name: clock() for name, clock in CLOCKS.items()}


def _timed(function, spent: dict[str, float]):
    """``function`` wrapped so that its wall and CPU time are added to ``spent``."""

    def wrapper(*args, **kwargs):
        start = _now()
        try:
            return function(*args, **kwargs)
        finally:
            for name, value in _now().items():
                spent[name] += value - start[name]

    return wrapper


def step_cost(steps: int = 12, rounds: int = 3, seed: int = 0) -> dict[str, float]:
    """Median time per training step of the demo network (hidden 256, batch 128, Adam) on
    ``steps`` fixed batches, without and with SSDP, alternating for ``rounds`` rounds.

    For each clock ``c`` of :data:`CLOCKS` returns ``c_step_none``, ``c_step_ssdp`` (seconds
    per step), ``c_rule`` (seconds per step inside the rules' ``observe`` and ``apply``),
    ``c_rule_fraction = c_rule / c_step_none`` and ``c_step_fraction = c_step_ssdp /
    c_step_none - 1``.
    """
    config = MorseConfig()
    words = MorseWords(
        config.batch_size * steps, ["zebra", "jumbo", "fox"], tuple(CONDITIONS),
        config.keyword_fraction, seed,
    )  # fmt: skip
    batches = list(DataLoader(words, batch_size=config.batch_size, collate_fn=time_major_collate))
    times = {(c, k): [] for c in CLOCKS for k in (*KINDS, "rule")}
    for _ in range(rounds):
        for kind in KINDS:
            model = build_model(config.hidden, seed)
            optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
            rules = plasticity_rules(model, kind)
            spent = dict.fromkeys(CLOCKS, 0.0)
            for rule in rules:
                rule.epoch = rule.start_epoch  # active from the first step
                rule.observe = _timed(rule.observe, spent)  # the hooks call rule.observe
            for x, (labels, lengths) in batches:
                start = _now()
                spent.update(dict.fromkeys(CLOCKS, 0.0))
                loss = torch.nn.functional.cross_entropy(readout_at(model(x), lengths), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                for rule in rules:
                    _timed(rule.apply, spent)()
                for name, value in _now().items():
                    times[name, kind].append(value - start[name])
                    if kind == "ssdp":
                        times[name, "rule"].append(spent[name])
    out = {}
    for c in CLOCKS:
        none, ssdp, rule = (statistics.median(times[c, k]) for k in (*KINDS, "rule"))
        out |= {f"{c}_step_none": none, f"{c}_step_ssdp": ssdp, f"{c}_rule": rule}
        out |= {f"{c}_rule_fraction": rule / none, f"{c}_step_fraction": ssdp / none - 1.0}
    return out


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
    parser.add_argument("--cost", action="store_true", help="only time SSDP's share of a step")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for --cost")
    args = parser.parse_args()
    if args.cost:
        torch.set_num_threads(args.threads)
        for key, value in step_cost().items():
            print(f"{key:20s} {value:.4f}")
        return
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
