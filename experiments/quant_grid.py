"""The SQUAT grid (arXiv:2404.19668) on NeuroMorse and N-Digits: how quantisation-aware
training of weights and of neuron states compares with post-training quantisation.

    python -m experiments.quant_grid --task morse --seeds 0 1 2
    python -m experiments.quant_grid --task ndigits --seeds 0 1 2

For every seed: train one full-precision (FP) model, then for every bit width ``b`` (8, 4, 2)
build each variant from a copy of it. Every variant ends as the same deployed model, weights
*and* spiking-neuron states at ``b`` bits; they differ in which part was quantised while
fine-tuning:

- ``ptq``: no training; weights quantised (uniform, per output channel, data-free) and states
  calibrated on a few training batches (:func:`axonal.quant.calibrate_states`,
  threshold-centred levels over the observed membrane range);
- ``qat``: fine-tuned with fake-quantised weights; states calibrated afterwards as in ``ptq``;
- ``squat_uniform`` / ``squat_threshold``: fine-tuned with SQUAT's fixed state levels
  (``[-theta, 1.2 theta]``, uniform or threshold-centred); weights quantised afterwards;
- ``qat_squat``: fine-tuned with both (threshold-centred states).

Every fine-tuning run has the same budget (``finetune_epochs`` epochs of Adam from the FP
model, cosine decay); ``fp_finetuned`` is the FP model given that budget too, to separate the
effect of the extra epochs from that of quantisation-aware training. Also recorded: each
variant's accuracy "as trained" (before the post-hoc part was quantised). The readout layer
(a non-spiking leaky integrator) and biases stay in float.

Writes ``<out>/results.json`` (after every seed, atomically) and ``<out>/summary.md``
(accuracy in %, mean +- std over seeds). Single-threaded (``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from axonal import nn as snn
from axonal.data import time_major_collate
from axonal.data.events.ndigits import NDigits
from axonal.data.events.representations import to_frames
from axonal.data.neuromorse import NeuroMorse, ToDense
from axonal.io import atomic_open, save_json_atomic
from axonal.learning import Trainer
from axonal.quant import (
    StateQuantizer,
    calibrate_states,
    quantize_model,
    quantize_states,
    quantized_layers,
    spiking_neurons,
)
from axonal.tasks.morse import CONDITIONS, MorseWords, build_model, other_words, readout_at

TASKS = ("morse", "ndigits")
VARIANTS = ("ptq", "qat", "squat_uniform", "squat_threshold", "qat_squat")
LABELS = {
    "fp": "full precision",
    "fp_finetuned": "full precision + fine-tuning",
    "ptq": "PTQ",
    "qat": "weight QAT",
    "squat_uniform": "SQUAT (uniform)",
    "squat_threshold": "SQUAT (threshold-centred)",
    "qat_squat": "QAT + SQUAT",
}
MORSE_TEST_CONDITIONS = ("clean", "all-low")
POST_HOC_STATE_MODE = "threshold"  # levels given to states that were not trained quantised
QAT_SQUAT_STATE_MODE = "threshold"


@dataclass(frozen=True)
class GridConfig:
    """One task's grid. ``width``: hidden neurons per layer (morse) or channels of the first
    convolution (ndigits, the second has twice as many). ``train_samples``: training words
    (morse) or images (ndigits, at most 1438); fine-tuning uses the first
    ``finetune_samples`` of them. ``test_samples``: samples per keyword and test condition
    (morse) or test images (ndigits, at most 359). ``time_bins``: event frames per N-Digits
    sample."""

    task: str
    seeds: tuple[int, ...] = (0, 1, 2)
    bits: tuple[int, ...] = (8, 4, 2)
    epochs: int = 6
    finetune_epochs: int = 2
    lr: float = 3e-3
    finetune_lr: float = 1e-3
    batch_size: int = 128
    train_samples: int = 16000
    finetune_samples: int = 3000
    test_samples: int = 10
    width: int = 128
    time_bins: int = 15
    calibration_batches: int = 4

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        for name in ("epochs", "finetune_epochs", "batch_size", "train_samples", "width",
                     "finetune_samples", "test_samples", "time_bins",
                     "calibration_batches"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.seeds or not self.bits:
            raise ValueError("give at least one seed and one bit width")


PRESETS = {
    "morse": GridConfig("morse"),
    "ndigits": GridConfig(
        "ndigits", epochs=8, lr=2e-3, finetune_lr=5e-4, batch_size=64, train_samples=1438,
        finetune_samples=1438, test_samples=359, width=8, time_bins=10,
    ),
}


@dataclass
class TaskData:
    """A task for the grid: ``build(seed)`` a fresh model, its ``loss(outputs, targets)``, the
    training samples ``(input [T, ...], target)`` and ``evaluate(model)`` -> accuracies (the
    key ``"accuracy"`` is the headline)."""

    build: Callable[[int], snn.Sequential]
    loss: Callable[[Tensor, Any], Tensor]
    train: list[tuple[Tensor, Any]]
    evaluate: Callable[[nn.Module], dict[str, float]]


# ---------------------------------------------------------------- NeuroMorse


def _morse_loss(outputs: Tensor, targets: tuple[Tensor, Tensor]) -> Tensor:
    labels, lengths = targets
    return nn.functional.cross_entropy(readout_at(outputs, lengths), labels)


@torch.no_grad()
def _morse_accuracy(model: nn.Module, samples: list[Tensor], labels: Tensor) -> float:
    lengths = torch.tensor([s.shape[0] for s in samples])
    batch, _ = time_major_collate([(s, 0) for s in samples])
    predicted = readout_at(model.eval()(batch), lengths).argmax(-1)
    return float((predicted == labels).float().mean())


def morse_task(config: GridConfig, seed: int) -> TaskData:
    """NeuroMorse word classification with :func:`axonal.tasks.morse.build_model`: training
    words as in ``axonal demo`` (all noise conditions, 30 % non-keywords); test: fresh keywords,
    ``test_samples`` per keyword under each of :data:`MORSE_TEST_CONDITIONS`."""
    words = MorseWords(
        config.train_samples, other_words(5000), tuple(CONDITIONS), 0.7, seed, split=0
    )
    tests = {}
    for condition in MORSE_TEST_CONDITIONS:
        data = NeuroMorse("test", noise=CONDITIONS[condition], samples_per_word=config.test_samples,
                          seed=seed, transform=ToDense())  # fmt: skip
        samples, labels = zip(*(data[i] for i in range(len(data))), strict=True)
        tests[condition] = (list(samples), torch.tensor(labels))

    def evaluate(model: nn.Module) -> dict[str, float]:
        scores = {c: _morse_accuracy(model, *tests[c]) for c in MORSE_TEST_CONDITIONS}
        return {"accuracy": float(np.mean(list(scores.values()))), **scores}

    return TaskData(
        build=lambda s: build_model(config.width, s),
        loss=_morse_loss,
        train=[words[i] for i in range(len(words))],
        evaluate=evaluate,
    )


# ---------------------------------------------------------------- N-Digits


def ndigits_model(width: int, seed: int) -> snn.Sequential:
    """``[T, B, 2, 34, 34]`` spikes -> ``[T, B, 10]`` readout membranes: two strided
    convolutions with LIF neurons, a 3 x 3 sum pool and a leaky-integrator readout."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return snn.Sequential(
            nn.Conv2d(2, width, 5, stride=2, padding=2), snn.LIF(beta=0.9),          # 17 x 17
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), snn.LIF(beta=0.9),  # 9 x 9
            snn.SumPool2d(3), nn.Flatten(),                                           # 3 x 3
            nn.Linear(2 * width * 9, 10), snn.LI(beta=0.9),
        )  # fmt: skip


def _ndigits_loss(outputs: Tensor, labels: Tensor) -> Tensor:
    return nn.functional.cross_entropy(outputs.mean(0), labels)


def _frames(data: NDigits, count: int, bins: int) -> list[tuple[Tensor, int]]:
    """The first ``count`` samples as binary frames ``[bins, 2, 34, 34]`` (an event or more in
    a pixel and bin gives a spike) with their labels."""
    out = []
    for i in range(min(count, len(data))):
        events, label = data[i]
        frames = to_frames(events, data.sensor_size, n_time_bins=bins)
        out.append(((frames > 0).float(), label))
    return out


def ndigits_task(config: GridConfig, seed: int, limit: int | None = None) -> TaskData:
    """N-Digits (simulator seed 0, the same data for every seed) as binary event frames;
    ``limit`` builds a small N-Digits (first ``limit`` images of each split) for tests."""
    train = _frames(NDigits("train", limit=limit), config.train_samples, config.time_bins)
    test = _frames(NDigits("test", limit=limit), config.test_samples, config.time_bins)
    inputs, labels = time_major_collate(test)

    @torch.no_grad()
    def evaluate(model: nn.Module) -> dict[str, float]:
        model.eval()
        predicted = torch.cat([
            model(inputs[:, i : i + 128]).mean(0).argmax(-1)
            for i in range(0, inputs.shape[1], 128)
        ])  # fmt: skip
        return {"accuracy": float((predicted == labels).float().mean())}

    return TaskData(
        build=lambda s: ndigits_model(config.width, s),
        loss=_ndigits_loss,
        train=train,
        evaluate=evaluate,
    )


# ---------------------------------------------------------------- the grid


def train(model: nn.Module, data: TaskData, samples: int, epochs: int, lr: float, seed: int,
          batch_size: int) -> float:  # fmt: skip
    """Adam on the first ``samples`` training samples, cosine decay over ``epochs``, gradient
    norm clipped at 1; returns the seconds taken."""
    loader = DataLoader(data.train[:samples], batch_size=batch_size, shuffle=True,
                        collate_fn=time_major_collate, generator=torch.Generator())  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    trainer = Trainer(model, optimizer, data.loss, grad_clip=1.0, scheduler=schedule,
                      progress=False, seed=seed)  # fmt: skip
    started = time.perf_counter()
    trainer.fit(loader, epochs)
    return time.perf_counter() - started


def finetune(model: nn.Module, data: TaskData, config: GridConfig, seed: int) -> float:
    """The fine-tuning budget every variant gets; returns the seconds taken."""
    return train(model, data, config.finetune_samples, config.finetune_epochs,
                 config.finetune_lr, seed, config.batch_size)  # fmt: skip


def prepare(variant: str, model: nn.Module, bits: int) -> nn.Module:
    """Quantise what ``variant`` trains quantised (in place): weights for QAT, states for
    SQUAT (SQUAT's fixed levels ``[-theta, 1.2 theta]``)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if variant in ("qat", "qat_squat"):
        quantize_model(model, bits)
    if variant == "squat_uniform":
        quantize_states(model, bits, "uniform")
    elif variant == "squat_threshold":
        quantize_states(model, bits, "threshold")
    elif variant == "qat_squat":
        quantize_states(model, bits, QAT_SQUAT_STATE_MODE)
    return model


def deploy(model: nn.Module, bits: int, calibration: Sequence[Tensor]) -> nn.Module:
    """Quantise what is still float (in place): weights (uniform, per channel) and spiking
    neuron states (calibrated on ``calibration`` batches)."""
    if not quantized_layers(model):
        quantize_model(model, bits)
    neurons = spiking_neurons(model).values()
    if not all(isinstance(n.state_quant, StateQuantizer) for n in neurons):
        calibrate_states(model, calibration, bits, POST_HOC_STATE_MODE)
    return model.eval()


def run_variant(
    variant: str,
    fp_model: nn.Module,
    bits: int,
    data: TaskData,
    config: GridConfig,
    seed: int,
    calibration: Sequence[Tensor],
) -> dict[str, Any]:
    """One cell of the grid for one seed: the deployed model's scores (``accuracy``, ...),
    ``trained_accuracy`` (before the post-hoc quantisation) and the fine-tuning seconds."""
    model = prepare(variant, copy.deepcopy(fp_model), bits)
    record: dict[str, Any] = {"finetune_seconds": 0.0}
    if variant != "ptq":
        record["finetune_seconds"] = finetune(model, data, config, seed)
        record["trained_accuracy"] = data.evaluate(model)["accuracy"]
    return {**record, **data.evaluate(deploy(model, bits, calibration))}


def run_seed(config: GridConfig, seed: int, data: TaskData,
             log: Callable[[str], None] = print) -> dict[str, Any]:  # fmt: skip
    """Every cell of the grid for one seed."""
    model = data.build(seed)
    seconds = train(model, data, config.train_samples, config.epochs, config.lr, seed,
                    config.batch_size)  # fmt: skip
    result: dict[str, Any] = {"fp": {**data.evaluate(model), "train_seconds": seconds}}
    log(f"seed {seed} fp: {result['fp']['accuracy']:.4f} ({seconds:.0f} s)")
    tuned = copy.deepcopy(model)
    seconds = finetune(tuned, data, config, seed)
    result["fp_finetuned"] = {**data.evaluate(tuned), "finetune_seconds": seconds}
    size = config.batch_size
    calibration = [
        time_major_collate(data.train[i * size : (i + 1) * size])[0]
        for i in range(min(config.calibration_batches, -(-len(data.train) // size)))
    ]
    for bits in config.bits:
        cells = {}
        for variant in VARIANTS:
            cells[variant] = run_variant(variant, model, bits, data, config, seed, calibration)
            log(f"seed {seed} {bits}-bit {variant}: {cells[variant]['accuracy']:.4f}")
        result[str(bits)] = cells
    return result


def make_task(config: GridConfig, seed: int, ndigits_limit: int | None = None) -> TaskData:
    """The :class:`TaskData` of ``config.task`` for ``seed``."""
    if config.task == "morse":
        return morse_task(config, seed)
    return ndigits_task(config, seed, ndigits_limit)


def run_grid(config: GridConfig, out: str | Path, *, ndigits_limit: int | None = None,
             log: Callable[[str], None] = print) -> dict[str, Any]:  # fmt: skip
    """Run the grid; write ``out/results.json`` after every seed and ``out/summary.md`` at
    the end; return the results (``{"config", "runs": {seed: ...}}``)."""
    out = Path(out)
    results: dict[str, Any] = {"config": asdict(config), "runs": {}}
    started = time.perf_counter()
    for seed in config.seeds:
        results["runs"][str(seed)] = run_seed(config, seed, make_task(config, seed, ndigits_limit),
                                              log)  # fmt: skip
        results["seconds"] = time.perf_counter() - started
        save_json_atomic(out / "results.json", results)
    with atomic_open(out / "summary.md", binary=False) as f:
        f.write(summary(results) + "\n")
    return results


# ---------------------------------------------------------------- report


def _cell(values: list[float]) -> str:
    """``mean ± std`` of fractions, in %."""
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}"


def _table(results: dict[str, Any], key: str, trained: bool = False) -> list[str]:
    """One markdown table of ``key`` (mean ± std in % over seeds): rows = methods, columns =
    FP and each bit width; ``trained`` gives the accuracy as trained instead of deployed."""
    runs = list(results["runs"].values())
    bits = [str(b) for b in results["config"]["bits"]]
    lines = ["| method | FP | " + " | ".join(f"{b}-bit" for b in bits) + " |",
             "|---|---|" + "---|" * len(bits)]  # fmt: skip
    if not trained:
        for name in ("fp", "fp_finetuned"):
            lines.append(f"| {LABELS[name]} | {_cell([r[name][key] for r in runs])} |"
                         + " |" * len(bits))  # fmt: skip
    for variant in VARIANTS[1:] if trained else VARIANTS:
        field = "trained_accuracy" if trained else key
        cells = [_cell([r[b][variant][field] for r in runs]) for b in bits]
        lines.append(f"| {LABELS[variant]} | |" + "".join(f" {c} |" for c in cells))
    return lines


def summary(results: dict[str, Any]) -> str:
    """Markdown tables (accuracy in %, mean ± std over seeds, population std): deployed
    (weights and states at the bit width), as trained (before the post-hoc part was
    quantised), and deployed per test condition where the task has several."""
    first = next(iter(results["runs"].values()))["fp"]
    conditions = [k for k in first if k not in ("accuracy", "train_seconds")]
    lines = ["Deployed accuracy (%), weights and spiking-neuron states at the bit width:", ""]
    lines += _table(results, "accuracy")
    lines += ["", "Accuracy as trained (%), before the post-hoc part was quantised:", ""]
    lines += _table(results, "accuracy", trained=True)
    for condition in conditions:
        lines += ["", f"Deployed accuracy (%), {condition} test samples only:", ""]
        lines += _table(results, condition)
    seeds = ", ".join(results["runs"])
    lines += ["", f"Seeds {seeds}; {results.get('seconds', 0) / 60:.1f} min in all."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--bits", type=int, nargs="+", default=[8, 4, 2])
    parser.add_argument("--epochs", type=int, help="FP training epochs (preset by task)")
    parser.add_argument("--finetune-epochs", type=int, help="fine-tuning epochs (preset)")
    parser.add_argument("--train-samples", type=int, help="training samples (preset)")
    parser.add_argument("--out", help="output folder (default runs/quant_grid/<task>)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    overrides = {
        k: v for k, v in (("epochs", args.epochs), ("finetune_epochs", args.finetune_epochs),
                          ("train_samples", args.train_samples)) if v is not None
    }  # fmt: skip
    config = replace(PRESETS[args.task], seeds=tuple(args.seeds), bits=tuple(args.bits),
                     **overrides)  # fmt: skip
    results = run_grid(config, args.out or f"runs/quant_grid/{args.task}",
                       log=lambda m: print(m, flush=True))  # fmt: skip
    print(summary(results))


if __name__ == "__main__":
    main()
