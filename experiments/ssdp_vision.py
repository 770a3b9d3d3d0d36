"""SSDP beside gradient training on N-Digits: a minimal network, a spiking ResNet and a
spiking transformer.

    python -m experiments.ssdp_vision --seeds 0 1 2
    python -m experiments.ssdp_vision --models minimal --seeds 0 1 2
    python -m experiments.ssdp_vision --models sdt_tiny --arms none ssdp ssdp_sites --seeds 0 1 2

Trains the spiking ResNet and spike-driven transformer of :mod:`experiments.vision` (same
sizes, built by its :func:`~experiments.vision.build`) and the paper's minimal-layer network
(:class:`MinimalNetwork`: one hidden LIF layer and a classifier) on N-Digits event frames,
each with and without SSDP, for every seed; all are scored by
:func:`experiments.vision.evaluate`. The two arms of a seed start from the same weights and
see the same batches, so they differ only by SSDP (and are identical until it starts). SSDP
is bound as in the paper's SSD-ViT code:

- the classifier ``Linear``: pre = pooled last features > 0 at each step (the hidden spikes
  themselves in the minimal network), post = logits > 0;
- in the transformer, also the output projection ``W_o`` (1x1 conv) of the last attention
  block: pre = the block's input membrane > 0, post = its output membrane > 0, any pixel.

The optional arm ``"ssdp_sites"`` (``--arms``; it differs from ``"ssdp"`` only in a model
with attention) binds the same rules, but the ``W_o`` rule reads every token (pixel) as a
sample of its own (``sites="samples"``: trains ``[T, B * H * W, C]``), so a pair of channels
co-fires only when both spike at the same token.

Per epoch it records the training loss, clean test accuracy, the co-firing fraction and
Kuramoto order of the last feature layer on a fixed probe batch, its firing rate, the
classifier weight norm, the training time and the time spent in SSDP. At the end it measures
test accuracy under event corruptions applied before framing (time jitter, uniform
background noise, dropped events). Writes ``<out>/results.json`` (after every run, so a
partial run keeps what it finished), ``<out>/summary.md`` and ``<img>/ssdp_vision_curves.png``
(``--report`` rewrites only these two from an existing ``results.json``; the tables add the
per-seed paired difference ``arm - none`` of each SSDP arm the model has). A run adds to an
existing ``results.json``: the (model, arm, seed) runs already there are kept and not rerun,
provided the training and measurement settings (:data:`SHARED`) are the same; otherwise it
stops with an error.

The test set is evaluated after every epoch only to draw the curves and count epochs to the
target accuracy; nothing is selected on it (the reported model is the last epoch's). The data
pipeline is that of :mod:`experiments.vision` (counts per time bin, 2x2 sum pooling to
17x17), rebuilt here because the test corruptions act on the events before framing.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from axonal.analysis import save_png
from axonal.analysis.synchrony import cofiring_fraction, detect_stabilization, kuramoto_order
from axonal.data import time_major_collate
from axonal.data.events import (
    CropTime,
    DropEvent,
    NDigits,
    TimeJitter,
    UniformNoise,
    to_frames,
)
from axonal.io import atomic_open, save_json_atomic
from axonal.learning import SSDP, CosineSchedule, EMASchedule, Trainer, WatchHandle
from axonal.models.resnet import make_neuron
from axonal.models.transformer import Residual, SpikeDrivenAttention
from axonal.nn import Sequential, SpikingModule
from experiments import vision

WO_SITES = {"ssdp": "any", "ssdp_sites": "samples"}
"""SSDP arm -> how its ``W_o`` rule reads the token axes (``sites`` of :class:`SSDP`)."""
ARMS = ("none", *WO_SITES)
MODELS = ("sew_resnet_tiny", "sdt_tiny", "minimal")
DURATION_US = 300_000  # three 100 ms saccades
FRAME = (2, 17, 17)  # polarity, pooled height, pooled width of one input frame
HIDDEN = 256  # LIF neurons of the minimal network


@dataclass(frozen=True)
class Config:
    """Everything that defines a run of the experiment.

    ``time_bins``: frames per sample (each ``DURATION_US / time_bins`` long); ``start_epoch``:
    SSDP warm-up in epochs; ``target_accuracy``: the clean test accuracy whose first epoch
    measures convergence; ``limit``: N-Digits samples per split (``None``: all 1438 / 359);
    ``probe``: clean test samples for the synchrony measures; ``noise_seed``: seed of the
    test-time corruptions (the same corrupted test sets for every model, seed and arm);
    ``arms``: the arms of :data:`ARMS` to run for every model (``"ssdp_sites"`` only for
    models with attention).
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    models: tuple[str, ...] = MODELS
    arms: tuple[str, ...] = ("none", "ssdp")
    epochs: int = 10
    time_bins: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-2
    start_epoch: int = 3
    target_accuracy: float = 0.8
    limit: int | None = None
    probe: int = 64
    noise_seed: int = 1234
    out: str = "runs/ssdp_vision"
    img: str = "docs/img"


SHARED = tuple(
    k for k in Config.__dataclass_fields__ if k not in ("seeds", "models", "arms", "out", "img")
)
"""The :class:`Config` fields that runs kept in one ``results.json`` must share."""


# ------------------------------------------------------------------------------ data


def corruptions(seed: int) -> dict[str, Callable[[np.ndarray], np.ndarray] | None]:
    """Test conditions: name -> event transform (``None``: clean), each seeded from ``seed``."""
    sensor = NDigits.sensor_size
    crop = CropTime(0, DURATION_US - 1)

    def jitter(sigma_us: int, k: int) -> Callable[[np.ndarray], np.ndarray]:
        shift = TimeJitter(sigma_us, seed=seed + k)
        return lambda events: crop(shift(events))

    return {
        "clean": None,
        "jitter 10 ms": jitter(10_000, 1),
        "jitter 30 ms": jitter(30_000, 2),
        "noise +50 %": UniformNoise(sensor, fraction=0.5, duration_us=DURATION_US, seed=seed + 3),
        "noise +100 %": UniformNoise(sensor, fraction=1.0, duration_us=DURATION_US,
                                      seed=seed + 4),
        "drop 20 %": DropEvent(0.2, seed=seed + 5),
        "drop 50 %": DropEvent(0.5, seed=seed + 6),
    }


def frames(
    dataset: NDigits,
    time_bins: int,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Tensor:
    """Every sample as event-count frames ``[N, T, 2, 17, 17]`` (float32).

    Events (after ``transform``) are counted in ``time_bins`` equal bins per polarity and
    pixel on the 34x34 sensor, then 2x2 pixels are summed (as :func:`experiments.vision.
    load_frames` does).
    """
    stacked = []
    for i in range(len(dataset)):
        events, _ = dataset[i]
        if transform is not None:
            events = transform(events)
        stacked.append(to_frames(events, dataset.sensor_size, n_time_bins=time_bins))
    x = torch.stack(stacked)
    pool = vision.POOL
    return F.avg_pool2d(x.flatten(0, 1), pool).unflatten(0, x.shape[:2]) * pool**2


def shuffled(x: Tensor, y: Tensor, batch_size: int) -> DataLoader:
    """Shuffled batches ``([T, B, 2, H, W], [B])`` of samples ``x [N, T, ...]``, labels
    ``y [N]`` (the Trainer seeds the order of each epoch)."""
    return DataLoader(
        TensorDataset(x, y), batch_size=batch_size, shuffle=True,
        collate_fn=time_major_collate, generator=torch.Generator(),
    )  # fmt: skip


@dataclass
class Data:
    """Training frames and labels, clean test labels and the test frames of each condition."""

    train_x: Tensor
    train_y: Tensor
    test_y: Tensor
    test_x: dict[str, Tensor]


def load_data(config: Config) -> Data:
    """Frame N-Digits (train: clean; test: every condition of :func:`corruptions`)."""
    train, test = NDigits("train", limit=config.limit), NDigits("test", limit=config.limit)
    return Data(
        train_x=frames(train, config.time_bins),
        train_y=torch.from_numpy(train.targets),
        test_y=torch.from_numpy(test.targets),
        test_x={
            name: frames(test, config.time_bins, transform)
            for name, transform in corruptions(config.noise_seed).items()
        },
    )


# ----------------------------------------------------------------------- model, SSDP


class MinimalNetwork(Sequential):
    """The paper's minimal-layer SNN: frames ``[T, B, 2, 17, 17]`` -> flatten ->
    ``Linear(578, hidden)`` -> LIF (``beta = 0.5``, reset to 0, as in the other models) ->
    ``Linear(hidden, classes)``, logits per step ``[T, B, classes]``."""

    def __init__(self, hidden: int = HIDDEN, classes: int = 10) -> None:
        super().__init__(
            nn.Flatten(), nn.Linear(math.prod(FRAME), hidden), make_neuron("lif"),
            nn.Linear(hidden, classes),
        )  # fmt: skip

    def run(self, x: Tensor, state: list[Any] | None = None) -> tuple[Tensor, list[Any]]:
        if x.dim() != 5 or tuple(x.shape[2:]) != FRAME:
            raise ValueError(f"MinimalNetwork expects [T, B, {', '.join(map(str, FRAME))}], "
                             f"got {tuple(x.shape)}")  # fmt: skip
        return super().run(x, state)


def build(name: str, seed: int, time_bins: int) -> nn.Module:
    """The SNN ``name`` of :data:`MODELS` for 10 classes, with its weights drawn from
    ``seed``: ``"minimal"`` is a :class:`MinimalNetwork`, the others are the models of
    :data:`experiments.vision.MODELS` (no SMA). The global torch random state is left as it
    was."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    if name != "minimal":
        return vision.build(name, False, time_steps=time_bins, classes=10, seed=seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return MinimalNetwork()


def head(model: nn.Module) -> tuple[nn.Module, nn.Linear]:
    """The last feature layer and the classifier of a model that ends in either
    ``[..., features, AdaptiveAvgPool2d, Flatten, Linear]`` (features ``[T, B, C, H, W]``)
    or ``[..., features, Linear]`` (features ``[T, B, N]``); the features are a spiking
    module, so that a hook on it sees them time-major."""
    layers = list(model)
    pooled = [type(m) for m in layers[-3:-1]] == [nn.AdaptiveAvgPool2d, nn.Flatten]
    features, classifier = layers[-4 if pooled else -2], layers[-1]
    if not (isinstance(features, SpikingModule) and isinstance(classifier, nn.Linear)):
        raise TypeError("expected [..., spiking features, (AdaptiveAvgPool2d, Flatten,) "
                        f"Linear], got {model}")  # fmt: skip
    return features, classifier


def last_attention(model: nn.Module) -> Residual | None:
    """The residual wrapper of the model's last spike-driven attention block, if any."""
    blocks = [m for m in model if isinstance(m, Residual)]
    blocks = [m for m in blocks if isinstance(m.inner, SpikeDrivenAttention)]
    return blocks[-1] if blocks else None


class TimedSSDP(SSDP):
    """:class:`SSDP` that also counts the seconds spent in ``observe`` and ``apply`` and
    the Frobenius norm of every applied update (both since creation)."""

    def __init__(self, target: nn.Module, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self.seconds = 0.0
        self.update_norm = 0.0

    def observe(self, pre: Tensor, post: Tensor) -> None:
        start = time.perf_counter()
        super().observe(pre, post)
        self.seconds += time.perf_counter() - start

    def apply(self) -> Tensor | None:
        start = time.perf_counter()
        delta = super().apply()
        self.seconds += time.perf_counter() - start
        if delta is not None:
            self.update_norm += float(delta.norm())
        return delta


def ssdp_rule(target: nn.Module, config: Config, sites: str = "any") -> TimedSSDP:
    """SSDP with the SSD-ViT settings: ``A+ = 1e-4``, ``A_base = 5e-5``, ``sigma = 1`` step,
    first-spike latencies, amplitudes moving 30 % per epoch toward a cosine target
    (``A+ 1e-4 -> 5e-5``, ``A_base 1e-4 -> 5e-5``), after ``config.start_epoch`` epochs;
    ``sites`` as in :class:`SSDP`."""
    target_plus = CosineSchedule(1e-4, 5e-5, config.epochs)
    target_base = CosineSchedule(1e-4, 5e-5, config.epochs)
    return TimedSSDP(
        target, a_plus=1e-4, a_baseline=5e-5, sigma=1.0, start_epoch=config.start_epoch,
        schedules={"a_plus": EMASchedule(target_plus),
                   "a_baseline": EMASchedule(target_base, low=0.0)},
        sites=sites,
    )  # fmt: skip


def watch_classifier(rule: TimedSSDP, features: nn.Module, model: nn.Module) -> WatchHandle:
    """Observe the classifier in training: pre = ``features`` output, a map
    ``[T, B, C, H, W]`` with any pixel > 0 (the pooled features > 0) or ``[T, B, N]`` as it
    is; post = ``model`` output ``[T, B, classes]`` (the logits; ``> 0`` is a spike). The
    pooling counts as SSDP time."""

    def pooled(spikes: Tensor) -> Tensor:
        if spikes.dim() == 3:
            return spikes
        start = time.perf_counter()
        pooled_spikes = spikes.flatten(3).amax(dim=3)
        rule.seconds += time.perf_counter() - start
        return pooled_spikes

    return rule.watch(features, model, pre_map=pooled)


def attach_ssdp(
    model: nn.Module, config: Config, arm: str = "ssdp"
) -> tuple[list[TimedSSDP], list[WatchHandle]]:
    """SSDP on the classifier and, in a transformer, on ``W_o`` of the last attention block,
    whose rule reads the tokens as :data:`WO_SITES` says for the SSDP ``arm``."""
    if arm not in WO_SITES:
        raise ValueError(f"arm must be one of {tuple(WO_SITES)}, got {arm!r}")
    features, classifier = head(model)
    rules = [ssdp_rule(classifier, config)]
    handles = [watch_classifier(rules[0], features, model)]
    block = last_attention(model)
    if block is not None:
        rules.append(ssdp_rule(block.inner.out[0], config, WO_SITES[arm]))
        handles.append(rules[-1].watch(block, block, pre_from="input"))
    return rules, handles


# ---------------------------------------------------------------------- measurements


def mean_logits(outputs: Tensor) -> Tensor:
    """``[T, B, C]`` per-step logits -> ``[B, C]`` averaged over time."""
    return outputs.mean(dim=0)


def loss_fn(outputs: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(mean_logits(outputs), labels)


@torch.no_grad()
def probe_synchrony(model: nn.Module, x: Tensor, neurons: int = 256) -> dict[str, float]:
    """Synchrony of the last feature layer on ``x [T, B, 2, H, W]`` (eval mode).

    Its neurons are the ``C x H x W`` units of a feature map, or the ``N`` of a
    ``[T, B, N]`` layer (a value > 0 is a spike). The
    co-firing fraction (same step) and the Kuramoto order are taken on a fixed subset of
    ``neurons`` of them (drawn with seed 0, the same for every run); the firing rate is
    spikes per neuron per step over all of them. The Kuramoto order is ``None`` when no
    neuron of the subset fires twice (it is undefined then).
    """
    features, _ = head(model)
    captured: list[Tensor] = []
    handle = features.register_forward_hook(
        lambda m, a, out: captured.append((out[0] if isinstance(out, tuple) else out) > 0)
    )
    model.eval()
    try:
        model(x)
    finally:
        handle.remove()
    spikes = captured[0].flatten(2)  # [T, B, C*H*W] or [T, B, N]
    chosen = torch.randperm(spikes.shape[2], generator=torch.Generator().manual_seed(0))
    subset = spikes[:, :, chosen[:neurons].sort().values]
    order = kuramoto_order(subset).mean
    return {
        "cofiring": cofiring_fraction(subset),
        "kuramoto": None if math.isnan(order) else order,
        "rate": float(spikes.float().mean()),
    }


def epochs_to(curve: Sequence[float], target: float) -> int | None:
    """First (1-based) epoch whose value reaches ``target``, or ``None``."""
    return next((e + 1 for e, v in enumerate(curve) if v >= target), None)


# ----------------------------------------------------------------------------- runs


def run_arm(model_name: str, arm: str, seed: int, data: Data, config: Config) -> dict:
    """Train one model without SSDP (``arm="none"``) or with the SSDP of ``arm`` and
    measure it."""
    model = build(model_name, seed, config.time_bins)
    rules, handles = attach_ssdp(model, config, arm) if arm != "none" else ([], [])
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs)
    trainer = Trainer(
        model, optimizer, loss_fn, scheduler=scheduler, plasticity=rules, progress=False,
        seed=seed,
    )  # fmt: skip
    train_loader = shuffled(data.train_x, data.train_y, config.batch_size)
    clean = TensorDataset(data.test_x["clean"], data.test_y)
    probe = data.test_x["clean"][: config.probe].transpose(0, 1)
    _, classifier = head(model)
    record: dict[str, list[float]] = {
        k: [] for k in ("test_accuracy", "cofiring", "kuramoto", "rate", "weight_norm",
                        "ssdp_seconds", "ssdp_update_norm")
    }  # fmt: skip
    for epoch in range(config.epochs):
        trainer.fit(train_loader, epoch + 1)
        record["test_accuracy"].append(vision.evaluate(model, clean))
        for key, value in probe_synchrony(model, probe).items():
            record[key].append(value)
        record["weight_norm"].append(float(classifier.weight.detach().norm()))
        record["ssdp_seconds"].append(sum(r.seconds for r in rules))
        record["ssdp_update_norm"].append(sum(r.update_norm for r in rules))
    for handle in handles:
        handle.remove()
    history = trainer.history
    for key in ("ssdp_seconds", "ssdp_update_norm"):  # cumulative -> per epoch
        record[key] = np.diff([0.0, *record[key]]).tolist()
    robustness = {
        name: vision.evaluate(model, TensorDataset(x, data.test_y))
        for name, x in data.test_x.items()
    }
    stable = detect_stabilization(history.train_loss, window=3)  # None for < 8 epochs
    return {
        "seed": seed,
        "train_loss": history.train_loss,
        "train_seconds": history.seconds,
        **record,
        "robustness": robustness,
        "epochs_to_target": epochs_to(record["test_accuracy"], config.target_accuracy),
        "loss_stabilization_epoch": None if stable is None else stable + 1,
    }


def load_previous(path: Path, config: Config) -> dict:
    """The results document at ``path``, or an empty one for ``config`` if there is none.

    Every run in it carries its ``"seed"``. Raises ValueError if the stored :data:`SHARED`
    settings differ from ``config``'s (its runs could not be compared with new ones).
    """
    if not path.exists():
        return {"config": asdict(config), "results": {}}
    document = json.loads(path.read_text())
    stored, wanted = document["config"], asdict(config)
    differ = [f"{k} = {stored.get(k)!r} there, {wanted[k]!r} here"
              for k in SHARED if stored.get(k) != wanted[k]]  # fmt: skip
    if differ:
        raise ValueError(f"{path} holds runs with other settings ({'; '.join(differ)}); "
                         "rerun with the same settings or another --out")  # fmt: skip
    for arms in document["results"].values():
        for runs in arms.values():
            # files written before runs kept their seed: the runs of each arm follow the
            # stored seeds (a partial run holds fewer)
            for result, seed in zip(runs, stored["seeds"], strict=False):
                result.setdefault("seed", seed)
    return document


def pending(
    results: Mapping[str, Mapping[str, list[dict]]], config: Config
) -> list[tuple[str, str, int]]:
    """The ``(model, arm, seed)`` runs of ``config`` (its models x seeds x arms) not yet in
    ``results``, in run order."""
    def done(model_name: str, arm: str) -> set[int]:
        return {r["seed"] for r in results.get(model_name, {}).get(arm, [])}

    return [(m, arm, seed) for m in config.models for seed in config.seeds
            for arm in config.arms if seed not in done(m, arm)]  # fmt: skip


def check_arms(config: Config) -> None:
    """Raise ValueError for an arm not in :data:`ARMS`, or for ``"ssdp_sites"`` on a model
    without attention (it would repeat ``"ssdp"`` there)."""
    unknown = [a for a in config.arms if a not in ARMS]
    if unknown:
        raise ValueError(f"arms must be among {ARMS}, got {unknown}")
    if "ssdp_sites" in config.arms:
        flat = [m for m in config.models
                if last_attention(build(m, 0, config.time_bins)) is None]  # fmt: skip
        if flat:
            raise ValueError(f"arm 'ssdp_sites' needs an attention block, which {flat} lack; "
                             "run it with --models sdt_tiny")  # fmt: skip


def run(config: Config) -> dict:
    """Train and measure every model, seed and arm not yet in ``<out>/results.json``; rewrite
    it after each run and return its content, ``{"config", "results": {model: {arm: [per
    seed, by seed]}}}`` (:func:`report` renders it). The stored config lists every model,
    seed and arm in the file."""
    check_arms(config)
    torch.set_num_threads(1)
    path = Path(config.out) / "results.json"
    document = load_previous(path, config)
    results = document["results"]
    todo = pending(results, config)
    data = load_data(config) if todo else None
    for model_name, arm, seed in todo:
        start = time.perf_counter()
        runs = results.setdefault(model_name, {}).setdefault(arm, [])
        result = run_arm(model_name, arm, seed, data, config)
        runs.append(result)
        runs.sort(key=lambda r: r["seed"])
        seeds = sorted({r["seed"] for arms in results.values() for rs in arms.values() for r in rs})
        arms = [a for a in ARMS if any(a in model_arms for model_arms in results.values())]
        document["config"] = asdict(replace(config, models=tuple(results), seeds=tuple(seeds),
                                            arms=tuple(arms)))  # fmt: skip
        save_json_atomic(path, document)
        print(f"{model_name} {arm} seed {seed}: "
              f"{result['robustness']['clean']:.3f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
    return document


def report(document: Mapping[str, Any]) -> str:
    """Write ``summary.md`` and the curves PNG of a results document; return the tables."""
    config = Config(**{k: tuple(v) if isinstance(v, list) else v
                       for k, v in document["config"].items()})  # fmt: skip
    table = summary(document["results"], config)
    with atomic_open(Path(config.out) / "summary.md", binary=False) as f:
        f.write(table + "\n")
    plot(document["results"], config, Path(config.img) / "ssdp_vision_curves.png")
    return table


# -------------------------------------------------------------------------- reports


def pm(values: Sequence[float], scale: float = 100.0, digits: int = 1) -> str:
    """``mean +- std`` (over seeds, ``ddof=0``) of ``values * scale``."""
    v = scale * np.asarray(values, dtype=np.float64)
    return f"{v.mean():.{digits}f} +- {v.std():.{digits}f}"


def reached(values: Sequence[int | None]) -> str:
    """Mean epochs to the target over the seeds that reached it, and how many did."""
    hits = [v for v in values if v is not None]
    mean = f"{np.mean(hits):.1f}" if hits else "-"
    return f"{mean} ({len(hits)}/{len(values)} seeds)"


def arms_of(runs: Mapping[str, list[dict]]) -> list[str]:
    """The arms one model has results for, in :data:`ARMS` order."""
    return [a for a in ARMS if runs.get(a)]


def paired(runs: Mapping[str, list[dict]], value: Callable[[dict], float],
           scale: float = 100.0, digits: int = 1) -> list[str]:
    """Cells ``[none, ssdp, ..., ssdp - none, ...]`` over the model's arms
    (:func:`arms_of`): mean +- std over seeds of ``value(run)``, then of its per-seed
    difference from ``none`` for each SSDP arm (the arms of a seed share weights and batch
    order)."""
    arms = arms_of(runs)
    values = {a: np.array([value(r) for r in runs[a]], dtype=np.float64) for a in arms}
    cells = [pm(values[a], scale, digits) for a in arms]
    return cells + [pm(values[a] - values["none"], scale, digits) for a in arms[1:]]


def summary_rows(runs: Mapping[str, list[dict]], config: Config) -> list[tuple[str, list[str]]]:
    """``(metric, [none, ssdp, ..., ssdp - none, ...])`` rows for one model (cells as in
    :func:`paired`)."""
    arms = arms_of(runs)
    no_diff = ["-"] * (len(arms) - 1)
    rows = [
        (f"test accuracy, {c} (%)", paired(runs, lambda r, c=c: r["robustness"][c]))
        for c in runs[ARMS[0]][0]["robustness"]
    ]
    target = f"epochs to {100 * config.target_accuracy:.0f} % clean test accuracy"
    rows.append((target, [reached([r["epochs_to_target"] for r in runs[a]]) for a in arms]
                 + no_diff))
    for e in sorted({0, config.start_epoch, config.epochs - 1}):
        label = f"test accuracy after epoch {e + 1} (%)"
        rows.append((label, paired(runs, lambda r, e=e: r["test_accuracy"][e])))
    for key, label in (("cofiring", "co-firing fraction, last epoch"),
                       ("kuramoto", "Kuramoto order, last epoch"),
                       ("rate", "feature firing rate, last epoch"),
                       ("weight_norm", "classifier weight norm, last epoch")):
        rows.append((label, paired(runs, lambda r, key=key: r[key][-1], 1.0, 3)))
    rows.append(("SSDP update norm, sum over epochs",
                 paired(runs, lambda r: sum(r["ssdp_update_norm"]), 1.0, 3)))
    rows.append(("loss stabilization epoch (per seed)",
                 [", ".join(str(r["loss_stabilization_epoch"]) for r in runs[a]) for a in arms]
                 + no_diff))
    rows.append(("training seconds per epoch",
                 paired(runs, lambda r: np.mean(r["train_seconds"]), 1.0, 1)))
    rows.append(("SSDP seconds / training seconds, SSDP epochs (%)",
                 ["-", *(pm([ssdp_fraction(r, config) for r in runs[a]]) for a in arms[1:]),
                  *no_diff]))
    return rows  # fmt: skip


def ssdp_fraction(result: Mapping[str, Any], config: Config) -> float:
    """Time in SSDP over training time, over the epochs where SSDP was active."""
    active = slice(config.start_epoch, None)
    spent = sum(result["ssdp_seconds"][active])
    total = sum(result["train_seconds"][active])
    return spent / total if total > 0 else math.nan


def summary(results: Mapping[str, Mapping[str, list[dict]]], config: Config) -> str:
    """Markdown tables, one per model, mean +- std over seeds (and of the per-seed
    differences); a model has the columns of the arms it has results for."""
    parts = []
    for model_name, runs in results.items():
        arms = arms_of(runs)
        header = [*arms, *(f"{a} - none (paired)" for a in arms[1:])]
        lines = [f"### {model_name}", "",
                 "| metric | " + " | ".join(header) + " |",
                 "|---|" + "---|" * len(header)]  # fmt: skip
        lines += [f"| {label} | " + " | ".join(cells) + " |"
                  for label, cells in summary_rows(runs, config)]  # fmt: skip
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def plot(results: Mapping[str, Mapping[str, list[dict]]], config: Config, path: Path) -> None:
    """Per model (rows): training loss, clean test accuracy and co-firing fraction per epoch,
    mean +- std over seeds for each arm the model has; a dotted line where SSDP starts."""
    panels = (("train_loss", "training loss"), ("test_accuracy", "clean test accuracy"),
              ("cofiring", "co-firing fraction (features)"))  # fmt: skip
    figure = Figure(figsize=(12, 3.2 * len(results)), layout="constrained")
    axes = figure.subplots(len(results), len(panels), squeeze=False)
    for row, (model_name, runs) in zip(axes, results.items(), strict=True):
        for ax, (key, label) in zip(row, panels, strict=True):
            for arm in arms_of(runs):
                curves = np.array([r[key] for r in runs[arm]], dtype=np.float64)
                epochs = np.arange(1, curves.shape[1] + 1)
                mean, std = curves.mean(0), curves.std(0)
                ax.plot(epochs, mean, label=arm)
                ax.fill_between(epochs, mean - std, mean + std, alpha=0.25)
            ax.axvline(config.start_epoch + 0.5, color="grey", linestyle=":")
            ax.set_xlabel("epoch")
            ax.set_title(f"{model_name}: {label}", fontsize=9)
        row[0].legend()
    save_png(figure, path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Config()
    parser.add_argument("--seeds", type=int, nargs="+", default=list(defaults.seeds))
    parser.add_argument("--models", nargs="+", default=list(defaults.models),
                        choices=list(MODELS))  # fmt: skip
    parser.add_argument("--arms", nargs="+", default=list(defaults.arms), choices=list(ARMS),
                        help="'ssdp_sites' only with --models sdt_tiny")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--limit", type=int, default=None, help="samples per split")
    parser.add_argument("--out", default=defaults.out)
    parser.add_argument("--img", default=defaults.img)
    parser.add_argument("--report", action="store_true",
                        help="only rewrite summary.md and the PNG from <out>/results.json")
    args = parser.parse_args(argv)
    if args.report:
        print(report(json.loads((Path(args.out) / "results.json").read_text())))
        return
    config = replace(
        defaults, seeds=tuple(args.seeds), models=tuple(args.models), arms=tuple(args.arms),
        epochs=args.epochs, limit=args.limit, out=args.out, img=args.img,
    )  # fmt: skip
    print(report(run(config)))


if __name__ == "__main__":
    main()
