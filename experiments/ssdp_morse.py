"""SSDP beside gradient training on NeuroMorse: with and without, several seeds, per network.

    python -m experiments.ssdp_morse --architectures mlp --seeds 0 1 2
    python -m experiments.ssdp_morse --architectures resnet transformer --seeds 0 1 2
    python -m experiments.ssdp_morse --report        # tables and figure from stored results
    python -m experiments.ssdp_morse --cost          # SSDP's share of a training step only

Trains the NeuroMorse networks of :mod:`axonal.tasks.morse` (``architecture`` ``"mlp"``: the
demo network; ``"resnet"``, ``"transformer"``: :mod:`axonal.tasks.morse_models`) with
``plasticity="none"`` and ``"ssdp"`` for every seed (the two arms of a seed start from the
same weights and see the same batches), at the sizes of :data:`SIZES`. Reports per network,
as mean +- std over seeds and of the per-seed difference ``ssdp - none``: word accuracy per
noise condition (robustness to jitter and event noise), keyword-spotting F1, validation
accuracy per epoch (convergence), training time per epoch, the time spent inside the SSDP
rules over the training time of the epochs where they ran, and the synchrony of every
spiking layer on clean test words.

Results are kept per network in ``<out>/<architecture>/results.json``, written after every
run; runs already there (same sizes) are skipped, so an interrupted run resumes. The demo
network's results of the first version of this script, ``<out>/results.json`` (no SSDP
timing), are read as finished ``"mlp"`` runs and never rewritten. Writes
``<out>/<architecture>/summary.md`` and ``<img>/ssdp_morse_architectures.png``.

``--cost`` only times training steps of one network on the same batches (``--threads``
torch threads, default 1), with and without the two SSDP rules (active from the first step),
alternating, and prints the median seconds per step, the seconds spent inside the rules' hooks
and ``apply`` and their ratio to the plain step (for the demo network unless
``--architectures`` says otherwise).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

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
    ARCHITECTURES,
    CONDITIONS,
    MorseConfig,
    MorseWords,
    build_model,
    load_model,
    plasticity_rules,
    readout_at,
    run,
)
from experiments.ssdp_vision import TimedSSDP, pm

KINDS = ("none", "ssdp")

SIZE_FIELDS = (
    "hidden", "epochs", "train_samples", "batch_size", "lr", "stream_words",
    "test_samples_per_word",
)  # fmt: skip
"""The :class:`~axonal.tasks.morse.MorseConfig` fields that define a run besides its
network, seed and arm."""

_DEFAULTS = MorseConfig()
_SMALL = {"epochs": 6, "train_samples": 8192, "stream_words": 500, "test_samples_per_word": 10}
SIZES: dict[str, dict[str, Any]] = {
    "mlp": {**{f: getattr(_DEFAULTS, f) for f in SIZE_FIELDS}, "epochs": 8,
            "stream_words": 2000},
    "resnet": {**{f: getattr(_DEFAULTS, f) for f in SIZE_FIELDS}, **_SMALL, "hidden": 128,
               "train_samples": 16384},
    "transformer": {**{f: getattr(_DEFAULTS, f) for f in SIZE_FIELDS}, **_SMALL, "hidden": 32},
}  # fmt: skip
"""Run sizes per network, the same for both arms. The demo network keeps the task defaults
(8 epochs of 24,000 words). The ResNet (about the demo network's time per word on one
thread) and the transformer (about 6x) train 6 epochs of 16,384 and 8,192 words and are
scored on 10 test words per keyword and a 500-word stream, so that their 12 runs fit about
an hour on a shared 2-core machine."""


def synchrony(run_dir: Path) -> dict[str, float]:
    """Co-firing fraction (same step) and Kuramoto order of each spiking layer on 100 clean
    test words."""
    return layer_synchrony(load_model(run_dir))


def layer_synchrony(model: torch.nn.Module) -> dict[str, float]:
    """``cofiring_<layer>`` (fraction of neuron pairs firing at the same step) and
    ``kuramoto_<layer>`` (mean order parameter) of each spiking layer of a NeuroMorse network
    on 100 clean test words (2 per keyword, seed 0), in eval mode; the mode is restored. A
    layer's neurons are all its units (channels x tokens in the transformer)."""
    words = NeuroMorse("test", samples_per_word=2, seed=0, transform=ToDense())
    batch, _ = time_major_collate([words[i] for i in range(len(words))])
    was_training = model.training
    with SpikeMonitor(model, record=True) as monitor, torch.no_grad():
        model.eval()(batch)
    model.train(was_training)
    out = {}
    for name in monitor.layer_names:
        spikes = monitor.records(name).flatten(2)
        out[f"cofiring_{name}"] = cofiring_fraction(spikes)
        out[f"kuramoto_{name}"] = float(kuramoto_order(spikes).mean)
    return out


def one_run(architecture: str, kind: str, seed: int, sizes: Mapping[str, Any],
            out: Path) -> dict[str, Any]:
    """Train and score one network, arm and seed in ``<out>/<architecture>/<kind>-seed<seed>``;
    the SSDP rules are :class:`~experiments.ssdp_vision.TimedSSDP`, so the run records the
    seconds spent inside them."""
    config = MorseConfig(
        name=f"{kind}-seed{seed}", architecture=architecture, seed=seed, plasticity=kind,
        runs_dir=str(out / architecture), progress=False, **sizes,
    )  # fmt: skip
    rules: list[TimedSSDP] = []

    def timed_ssdp(target: torch.nn.Module, **kwargs: Any) -> TimedSSDP:
        rules.append(TimedSSDP(target, **kwargs))
        return rules[-1]

    results = run(config, ssdp=timed_ssdp)
    run_dir = out / architecture / config.name
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    return {
        "seed": seed,
        "sizes": dict(sizes),
        "classification": results["classification"],
        "kws_f1": {c: s["f1"] for c, s in results["spotting"].items()},
        "train_loss": history["train_loss"],
        "val_accuracy": [v["accuracy"] for v in history["val"]],
        "epoch_seconds": history["seconds"],
        "train_seconds": results["train_seconds"],
        "ssdp_seconds": sum(r.seconds for r in rules),
        "ssdp_start_epoch": rules[0].start_epoch if rules else None,
        "parameters": results["costs"]["parameters"],
        "spikes_per_word": results["costs"]["spikes_per_word"],
        "synchrony": {k: None if math.isnan(v) else v for k, v in synchrony(run_dir).items()},
    }


# ---------------------------------------------------------------------------- storage


def results_path(out: Path, architecture: str) -> Path:
    return out / architecture / "results.json"


def load_results(out: Path, architecture: str) -> dict[str, Any]:
    """``{"architecture", "runs": {kind: {seed (str): run}}}`` of one network: its
    ``results.json``, or for ``"mlp"`` without one the first version's ``<out>/results.json``
    (runs in seed order, sizes those of :data:`SIZES`), or an empty document."""
    path = results_path(out, architecture)
    if path.is_file():
        return json.loads(path.read_text())
    document: dict[str, Any] = {"architecture": architecture, "runs": {k: {} for k in KINDS}}
    legacy = out / "results.json"
    if architecture == "mlp" and legacy.is_file():
        old = json.loads(legacy.read_text())
        for kind in KINDS:
            for seed, result in zip(old["seeds"], old[kind], strict=True):
                document["runs"][kind][str(seed)] = {
                    "seed": seed, "sizes": SIZES["mlp"], **result,
                }
    return document


def finished(document: Mapping[str, Any], kind: str, seed: int,
             sizes: Mapping[str, Any]) -> bool:
    """Whether the run is stored; an error if it is stored with other sizes."""
    result = document["runs"][kind].get(str(seed))
    if result is None:
        return False
    if result["sizes"] != dict(sizes):
        raise ValueError(
            f"{document['architecture']} {kind} seed {seed} is stored with sizes "
            f"{result['sizes']}, not {dict(sizes)}: use another --out"
        )
    return True


def by_kind(document: Mapping[str, Any]) -> dict[str, list[dict]]:
    """Runs per arm in seed order, over the seeds both arms have."""
    runs = document["runs"]
    seeds = sorted(set(runs["none"]) & set(runs["ssdp"]), key=int)
    return {k: [runs[k][s] for s in seeds] for k in KINDS}


# ---------------------------------------------------------------------------- step cost


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


def step_cost(
    steps: int = 12, rounds: int = 3, seed: int = 0, architecture: str = "mlp"
) -> dict[str, float]:
    """Median time per training step of a NeuroMorse network (its :data:`SIZES` width,
    batch 128, Adam) on ``steps`` fixed batches, without and with SSDP, alternating for
    ``rounds`` rounds.

    For each clock ``c`` of :data:`CLOCKS` returns ``c_step_none``, ``c_step_ssdp`` (seconds
    per step), ``c_rule`` (seconds per step inside the rules' ``observe`` and ``apply``),
    ``c_rule_fraction = c_rule / c_step_none`` and ``c_step_fraction = c_step_ssdp /
    c_step_none - 1``.
    """
    config = MorseConfig()
    hidden = SIZES[architecture]["hidden"]
    words = MorseWords(
        config.batch_size * steps, ["zebra", "jumbo", "fox"], tuple(CONDITIONS),
        config.keyword_fraction, seed,
    )  # fmt: skip
    batches = list(DataLoader(words, batch_size=config.batch_size, collate_fn=time_major_collate))
    times = {(c, k): [] for c in CLOCKS for k in (*KINDS, "rule")}
    for _ in range(rounds):
        for kind in KINDS:
            model = build_model(hidden, seed, architecture)
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


# ----------------------------------------------------------------------------- reports


def ssdp_fraction(result: Mapping[str, Any]) -> float | None:
    """Seconds inside the SSDP rules over the wall time of the epochs where they ran
    (training and the validation pass), or ``None`` for runs that did not time them."""
    start = result.get("ssdp_start_epoch")
    if start is None:
        return None
    total = sum(result["epoch_seconds"][start:])
    return result["ssdp_seconds"] / total if total > 0 else None


def row(runs: Mapping[str, list[dict]], value: Callable[[dict], float], scale: float = 100.0,
        digits: int = 1) -> list[str]:
    """Cells ``[none, ssdp, ssdp - none]``: mean +- std over seeds of ``value(run)`` and of
    its per-seed difference (the arms of a seed share weights and batch order)."""
    values = {k: np.array([value(r) for r in runs[k]], dtype=np.float64) for k in KINDS}
    return [*(pm(values[k], scale, digits) for k in KINDS),
            pm(values["ssdp"] - values["none"], scale, digits)]  # fmt: skip


def mean_of(runs: Sequence[dict], key: str, digits: int) -> str:
    """Mean over runs of a synchrony measure, leaving out runs where it is undefined
    (stored as ``None``: no neuron of the layer fired twice); ``-`` if it is in none."""
    values = [r["synchrony"][key] for r in runs if r["synchrony"][key] is not None]
    return f"{np.mean(values):.{digits}f}" if values else "-"


def summary(architecture: str, runs: Mapping[str, list[dict]]) -> str:
    """A markdown table of one network's runs (both arms, the same seeds)."""
    first = runs["none"][0]
    rows: list[tuple[str, list[str]]] = []
    for c in first["classification"]:
        rows.append((f"word accuracy, {c} (%)", row(runs, lambda r, c=c: r["classification"][c])))
    for c in first["kws_f1"]:
        rows.append((f"KWS F1 x 100, {c}", row(runs, lambda r, c=c: r["kws_f1"][c])))
    for epoch in range(len(first["val_accuracy"])):
        rows.append((f"validation accuracy after epoch {epoch + 1} (%)",
                     row(runs, lambda r, e=epoch: r["val_accuracy"][e])))  # fmt: skip
    if all("train_loss" in r for k in KINDS for r in runs[k]):
        rows.append(("training loss, last epoch", row(runs, lambda r: r["train_loss"][-1], 1, 3)))
    rows.append(("seconds per epoch", row(runs, lambda r: np.mean(r["epoch_seconds"]), 1, 1)))
    fractions = [ssdp_fraction(r) for r in runs["ssdp"]]
    if None not in fractions:
        rows.append(("SSDP seconds / epoch seconds, SSDP epochs (%)",
                     ["-", pm(fractions), "-"]))  # fmt: skip
    for key in first["synchrony"]:
        if key.startswith("cofiring_"):
            layer = key.removeprefix("cofiring_")
            cells = [f"{mean_of(runs[k], key, 4)} / {mean_of(runs[k], f'kuramoto_{layer}', 3)}"
                     for k in KINDS]
            rows.append((f"co-firing / Kuramoto, layer {layer}", [*cells, "-"]))
    sizes = first["sizes"]
    lines = [
        f"### {architecture} (hidden {sizes['hidden']}, {sizes['epochs']} epochs of "
        f"{sizes['train_samples']} words, {len(runs['none'])} seeds)",
        "",
        "| metric | none | ssdp | ssdp - none (paired) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return "\n".join(lines)


def plot(results: Mapping[str, Mapping[str, list[dict]]], path: Path) -> None:
    """Validation accuracy per epoch, one panel per network, mean +- std over seeds per arm;
    a dotted line where SSDP starts."""
    figure = Figure(figsize=(4.5 * len(results), 3.5), layout="constrained")
    axes = figure.subplots(1, len(results), squeeze=False)[0]
    for ax, (architecture, runs) in zip(axes, results.items(), strict=True):
        for kind in KINDS:
            curves = np.array([r["val_accuracy"] for r in runs[kind]])
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.errorbar(epochs, curves.mean(0), yerr=curves.std(0), label=kind, capsize=3)
        start = runs["ssdp"][0].get("ssdp_start_epoch", 2)
        ax.axvline(start + 0.5, color="grey", linestyle=":")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy")
        ax.set_title(f"NeuroMorse {architecture}: with and without SSDP", fontsize=9)
        ax.legend()
    save_png(figure, path)


def report(out: Path, architectures: Sequence[str], img: Path) -> str:
    """Write each network's ``summary.md`` and the figure; return the tables."""
    results = {a: by_kind(load_results(out, a)) for a in architectures}
    results = {a: runs for a, runs in results.items() if runs["none"]}
    tables = []
    for architecture, runs in results.items():
        table = summary(architecture, runs)
        with atomic_open(out / architecture / "summary.md", binary=False) as f:
            f.write(table + "\n")
        tables.append(table)
    if results:
        plot(results, img / "ssdp_morse_architectures.png")
    return "\n\n".join(tables)


def train_all(out: Path, architectures: Sequence[str], seeds: Sequence[int],
              epochs: int | None) -> None:
    """Every network, seed and arm not stored yet; the results file after every run."""
    for architecture in architectures:
        sizes = SIZES[architecture] | ({} if epochs is None else {"epochs": epochs})
        document = load_results(out, architecture)
        for seed in seeds:
            for kind in KINDS:
                if finished(document, kind, seed, sizes):
                    continue
                start = time.perf_counter()
                result = one_run(architecture, kind, seed, sizes, out)
                document["runs"][kind][str(seed)] = result
                save_json_atomic(results_path(out, architecture), document)
                print(f"{architecture} {kind} seed {seed}: clean "
                      f"{result['classification']['clean']:.3f}, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", nargs="+", choices=list(ARCHITECTURES),
                        help="networks (default: all; with --cost: mlp)")  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the epochs of SIZES (then use another --out)")
    parser.add_argument("--out", default="runs/ssdp_morse")
    parser.add_argument("--img", default="docs/img", help="folder of the figure")
    parser.add_argument("--report", action="store_true",
                        help="only rewrite the summaries and the figure from stored results")
    parser.add_argument("--cost", action="store_true", help="only time SSDP's share of a step")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for --cost")
    args = parser.parse_args(argv)
    if args.cost:
        torch.set_num_threads(args.threads)
        for architecture in args.architectures or ["mlp"]:
            if args.architectures:
                print(architecture)
            for key, value in step_cost(architecture=architecture).items():
                print(f"{key:20s} {value:.4f}")
        return
    torch.set_num_threads(1)
    out, architectures = Path(args.out), args.architectures or list(ARCHITECTURES)
    if not args.report:
        train_all(out, architectures, args.seeds, args.epochs)
    print(report(out, architectures, Path(args.img)))


if __name__ == "__main__":
    main()
