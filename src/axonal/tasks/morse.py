"""NeuroMorse end to end: word classification and keyword spotting with a spiking network.

The job ``axonal demo`` runs (see :func:`run`):

1. **Data.** Training words are the 50 keywords (classes 0-49) and, as class 50 ("other"),
   non-keyword words of the running text, each drawn with one of several noise conditions
   (clean, each noise kind at its Low level, all three Low). The text of the test stream (its
   first ``stream_words`` words) never supplies training words.
2. **Model.** ``Linear(2, H) -> LIF -> Linear(H, H) -> LIF -> Linear(H, 51) -> LI``: two
   layers of LIF neurons with fixed leaks spread over ``[0.8, 0.995]`` (time constants of 5 to
   200 steps; learnable leaks were no better and can reach 1, which NIR cannot express), a
   slow leaky-integrator readout. A word is classified by the readout at its end time
   (``last spike + 15``, the paper's detection time). ``architecture`` swaps in a spiking
   ResNet or a spike-driven transformer with the same input and output
   (:mod:`axonal.tasks.morse_models`).
3. **Training.** Surrogate-gradient BPTT with :class:`axonal.learning.Trainer` (Adam, cosine
   learning-rate decay over the epochs), optionally with a local rule beside it (SSDP or
   STDP, :func:`plasticity_rules`).
4. **Word classification** (task a): accuracy on fresh noisy samples of the 50 keywords per
   noise condition (a keyword predicted as "other" counts as wrong).
5. **Keyword spotting** (task b): the network runs over the stream and is reset at word
   boundaries found by a silence detector (no input spike for ``END_OFFSET = 15`` steps: a
   word ends, since letters are 11 steps apart); at each boundary the readout's class, if a
   keyword, is a detection. Scored with the paper's exact-time metric and a tolerant one.
6. **Costs.** Spikes per inference, synaptic operations and energy per word
   (:func:`axonal.analysis.count_operations`).

Everything is seeded: the same config gives the same numbers on the same machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from axonal import nn as snn
from axonal.analysis import SpikeMonitor, count_operations, plot_curves, plot_raster
from axonal.analysis.monitor import format_table
from axonal.data import time_major_collate
from axonal.data.neuromorse import (
    END_OFFSET,
    KEYWORDS,
    NeuroMorse,
    NeuroMorseStream,
    NoiseConfig,
    ToDense,
    add_noise,
    corpus_words,
    detection_scores,
    encode_word,
    exact_match_score,
)
from axonal.io import save_json_atomic
from axonal.learning import SSDP, STDP, PlasticityRule, Trainer, load_checkpoint
from axonal.learning.trainer import CHECKPOINT_NAME
from axonal.tasks.morse_models import (
    INPUT_GAIN,
    MorseResNet,
    MorseTransformer,
    Synapse,
    spread_lif,
)

__all__ = [
    "ARCHITECTURES",
    "CONDITIONS",
    "OTHER",
    "PLASTICITY",
    "MorseConfig",
    "MorseWords",
    "build_model",
    "classify",
    "evaluation_words",
    "load_model",
    "other_words",
    "plasticity_rules",
    "plasticity_synapses",
    "readout_at",
    "run",
    "silence_segments",
    "spot_keywords",
    "stream_scores",
]

OTHER = len(KEYWORDS)
"""Class index of a word that is not one of the 50 keywords."""

CONDITIONS: dict[str, tuple[str, str, str]] = {
    "clean": ("none", "none", "none"),
    "dropout": ("low", "none", "none"),
    "jitter": ("none", "low", "none"),
    "poisson": ("none", "none", "low"),
    "all-low": ("low", "low", "low"),
}
"""Named noise conditions as (dropout, jitter, Poisson) levels."""

PLASTICITY = ("none", "ssdp", "stdp")
"""Local rules that can run beside gradient training (see :func:`plasticity_rules`)."""

ARCHITECTURES = ("mlp", "resnet", "transformer")
"""Networks of :func:`build_model`: the two-layer LIF network, a residual spiking MLP
(:class:`~axonal.tasks.morse_models.MorseResNet`) and a spike-driven transformer over a delay
line (:class:`~axonal.tasks.morse_models.MorseTransformer`); ``hidden`` is the width of
their spiking layers (the transformer's token channels)."""


@dataclass
class MorseConfig:
    """Everything that defines a NeuroMorse run (written to ``config.json``)."""

    name: str = "morse"
    hidden: int = 256
    epochs: int = 8
    train_samples: int = 24_000
    batch_size: int = 128
    lr: float = 3e-3
    keyword_fraction: float = 0.7
    train_conditions: tuple[str, ...] = tuple(CONDITIONS)
    test_conditions: tuple[str, ...] = tuple(CONDITIONS)
    test_samples_per_word: int = 20
    stream_words: int = 5000
    detection_window: int = 3
    plasticity: str = "none"
    architecture: str = "mlp"
    seed: int = 0
    runs_dir: str = "runs"
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.train_conditions) | set(self.test_conditions)
        unknown -= set(CONDITIONS)
        if unknown:
            raise ValueError(f"unknown noise conditions {sorted(unknown)}; use {list(CONDITIONS)}")
        for name in ("hidden", "epochs", "train_samples", "batch_size", "stream_words"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.plasticity not in PLASTICITY:
            raise ValueError(f"plasticity must be one of {PLASTICITY}, got {self.plasticity!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}"
            )
        if not 0.0 < self.keyword_fraction <= 1.0:
            raise ValueError(f"keyword_fraction must be in (0, 1], got {self.keyword_fraction}")


class MorseWords(Dataset):
    """Noisy training words: ``ds[i] -> (spikes [T_i, 2], (class, T_i))``.

    Sample ``i`` is a keyword (class 0-49) with probability ``keyword_fraction``, else a word of
    ``other_words`` (class :data:`OTHER`), under a noise condition drawn from ``conditions``;
    everything is drawn from ``SeedSequence([seed, split, i])`` (``split`` 0 for training and
    1 for validation). ``T_i = last spike + 16``.
    """

    def __init__(
        self,
        size: int,
        other_words: Sequence[str],
        conditions: Sequence[str],
        keyword_fraction: float,
        seed: int,
        split: int = 0,
    ) -> None:
        if not other_words:
            raise ValueError("need at least one non-keyword word for the 'other' class")
        self.size = size
        self.other_words = list(other_words)
        self.noises = [NoiseConfig.parse(CONDITIONS[c]) for c in conditions]
        self.keyword_fraction = keyword_fraction
        self.seed = seed
        self.split = split
        self.dense = ToDense()

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Tensor, tuple[int, int]]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.split, index]))
        if rng.random() < self.keyword_fraction:
            target = int(rng.integers(len(KEYWORDS)))
            word = KEYWORDS[target]
        else:
            target, word = OTHER, self.other_words[rng.integers(len(self.other_words))]
        noise = self.noises[rng.integers(len(self.noises))]
        spikes = self.dense(add_noise(encode_word(word), noise, rng, clip_negative=True))
        return spikes, (target, spikes.shape[0])


def other_words(held_out: int) -> list[str]:
    """Non-keyword words of the text after its first ``held_out`` words (the test stream's),
    no longer than the longest keyword so that batches stay short."""
    def duration(word: str) -> int:
        return int(encode_word(word)["t"][-1])

    longest = max(duration(k) for k in KEYWORDS)
    evaluation_words = set(corpus_words()[:held_out])
    candidates = {w for w in corpus_words() if w not in evaluation_words and w not in KEYWORDS}
    return sorted(w for w in candidates if duration(w) <= longest)


def build_model(hidden: int = 128, seed: int = 0, architecture: str = "mlp") -> snn.Sequential:
    """The word classifier: ``[T, B, 2]`` spikes -> ``[T, B, 51]`` readout membranes.

    ``architecture`` is one of :data:`ARCHITECTURES`; ``hidden`` the width of its spiking
    layers; the weights are drawn from ``seed`` (the global random state is left alone).
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if architecture == "resnet":
            return MorseResNet(hidden, OTHER + 1)
        if architecture == "transformer":
            return MorseTransformer(hidden, OTHER + 1)
        model = snn.Sequential(
            nn.Linear(2, hidden),
            spread_lif(hidden),
            nn.Linear(hidden, hidden),
            spread_lif(hidden),
            nn.Linear(hidden, OTHER + 1),
            snn.LI(beta=0.99),
        )
    with torch.no_grad():  # input spikes are sparse: a stronger first layer gets neurons firing
        model[0].weight.mul_(INPUT_GAIN)
    return model


def load_model(run_dir: str | Path) -> snn.Sequential:
    """The trained model of a finished run: ``runs/<name>/`` (its ``config.json``, whose
    ``architecture`` defaults to ``"mlp"`` for runs written before it existed, and
    ``train/checkpoint.safetensors``)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found: is {run_dir} a morse run folder?")
    config = json.loads(config_path.read_text())
    model = build_model(config["hidden"], config["seed"], config.get("architecture", "mlp"))
    load_checkpoint(run_dir / "train" / CHECKPOINT_NAME, model)
    return model.eval()


def plasticity_synapses(model: snn.Sequential) -> dict[str, list[Synapse]]:
    """Where :func:`plasticity_rules` binds its rules in a :func:`build_model` network:
    ``{"ssdp": [hidden, readout], "stdp": [hidden]}``.

    - ``"mlp"``: hidden = the hidden-to-hidden Linear (pre: first LIF layer, post: second);
      readout = the readout Linear (pre: second LIF layer, post: readout membrane).
    - :class:`~axonal.tasks.morse_models.MorseResNet`: hidden = the second Linear of the last
      residual block (between its LIF layers); readout as for the MLP, pre being the last
      block's output. STDP on the same hidden Linear.
    - :class:`~axonal.tasks.morse_models.MorseTransformer`: SSDP on ``W_o`` of the attention
      (pre: the block's input membrane, post: its output membrane, any token) and on the
      readout; STDP on the first 1x1 conv of the MLP block (between its LIF layers).
    """
    if isinstance(model, MorseResNet):
        hidden = model.hidden_synapse()
        return {"ssdp": [hidden, model.readout_synapse()], "stdp": [hidden]}
    if isinstance(model, MorseTransformer):
        ssdp = [model.hidden_synapse(), model.readout_synapse()]
        return {"ssdp": ssdp, "stdp": [model.mlp_synapse()]}
    hidden = Synapse(model[2], model[1], model[3])
    return {"ssdp": [hidden, Synapse(model[4], model[3], model[5])], "stdp": [hidden]}


def plasticity_rules(
    model: snn.Sequential, kind: str, ssdp: Callable[..., SSDP] = SSDP
) -> list[PlasticityRule]:
    """Local rules for a :func:`build_model` network, observing its forward passes through
    hooks (the weights of :func:`plasticity_synapses`).

    - ``"ssdp"``: SSDP (paper defaults) on a hidden weight and on the readout weight (post:
      readout membrane above 0, the reference code's "classifier output > 0"), after a
      2-epoch warm-up. ``ssdp`` makes each rule (``ssdp(target, start_epoch=2)``), e.g. a
      subclass of :class:`axonal.learning.SSDP` that times itself.
    - ``"stdp"``: additive pair STDP (amplitudes 1e-4, tau 20 steps) on a hidden weight,
      after a 2-epoch warm-up.
    - ``"none"``: no rule.
    """
    if kind == "none":
        return []
    if kind not in ("ssdp", "stdp"):
        raise ValueError(f"plasticity must be one of {PLASTICITY}, got {kind!r}")
    rules: list[PlasticityRule] = []
    for synapse in plasticity_synapses(model)[kind]:
        if kind == "ssdp":
            rule = ssdp(synapse.target, start_epoch=2)
        else:
            rule = STDP(synapse.target, a_plus=1e-4, a_minus=1e-4, start_epoch=2)
        rule.watch(synapse.pre, synapse.post, pre_from=synapse.pre_from)
        rules.append(rule)
    return rules


def readout_at(outputs: Tensor, lengths: Tensor) -> Tensor:
    """The readout of each sample at its last step: ``outputs [T, B, C]``, ``lengths [B]`` ->
    ``[B, C]``."""
    return outputs[lengths - 1, torch.arange(outputs.shape[1])]


def _loss(outputs: Tensor, targets: tuple[Tensor, Tensor]) -> Tensor:
    labels, lengths = targets
    return nn.functional.cross_entropy(readout_at(outputs, lengths), labels)


def _accuracy(outputs: Tensor, targets: tuple[Tensor, Tensor]) -> float:
    labels, lengths = targets
    return (readout_at(outputs, lengths).argmax(-1) == labels).float().mean().item()


@torch.no_grad()
def classify(model: nn.Module, samples: Sequence[Tensor]) -> Tensor:
    """Classes of isolated words ``samples`` (each ``[T_i, 2]``, ending ``END_OFFSET`` steps
    after its last spike): ``[N]`` int64."""
    lengths = torch.tensor([s.shape[0] for s in samples])
    batch, _ = time_major_collate([(s, 0) for s in samples])
    return readout_at(model(batch), lengths).argmax(-1)


def silence_segments(spikes: Tensor, gap: int = END_OFFSET) -> list[tuple[int, int]]:
    """Word segments of a stream ``[T, C]``: ``(first, end)`` step pairs, ``end`` being
    ``gap`` steps after a spike that no other spike follows within ``gap`` steps.

    This is the stream's word boundary rule (letters are 11 steps apart, words 16): a counter
    of silent steps, reset by every input spike, that fires at ``gap``. Segments whose end lies
    past the stream are dropped.
    """
    times = torch.nonzero(spikes.sum(-1) > 0).flatten()
    if len(times) == 0:
        return []
    breaks = torch.nonzero(times.diff() > gap).flatten()
    firsts = torch.cat([times[:1], times[breaks + 1]])
    ends = torch.cat([times[breaks], times[-1:]]) + gap
    return [(int(f), int(e)) for f, e in zip(firsts, ends, strict=True) if e < spikes.shape[0]]


@torch.no_grad()
def spot_keywords(
    model: nn.Module, spikes: Tensor, batch_size: int = 512
) -> np.ndarray:
    """Keyword detections on a stream ``[T, 2]``: ``[N, 2]`` int array of ``(time, class)``.

    Equivalent to running the model step by step over the stream with
    :class:`axonal.nn.Streaming` and calling ``reset()`` after every boundary of
    :func:`silence_segments`; here the segments run as one batch for speed.
    """
    segments = silence_segments(spikes)
    detections = []
    for i in range(0, len(segments), batch_size):
        chunk = segments[i : i + batch_size]
        classes = classify(model, [spikes[f : e + 1] for f, e in chunk])
        detections += [(e, int(c)) for (_, e), c in zip(chunk, classes, strict=True)]
    found = np.array([d for d in detections if d[1] != OTHER], dtype=np.int64)
    return found.reshape(-1, 2)


def evaluation_words(config: MorseConfig, condition: str) -> tuple[list[Tensor], Tensor]:
    """The test keyword samples under noise ``condition`` (a key of :data:`CONDITIONS`):
    dense ``[T_i, 2]`` spike trains and their class indices ``[N]``."""
    data = NeuroMorse(
        "test",
        noise=CONDITIONS[condition],
        samples_per_word=config.test_samples_per_word,
        seed=config.seed,
        transform=ToDense(),
    )
    samples, targets = zip(*(data[i] for i in range(len(data))), strict=True)
    return list(samples), torch.tensor(targets)


def stream_scores(model: nn.Module, config: MorseConfig, condition: str) -> dict[str, Any]:
    """Keyword spotting on the test stream under ``condition``: exact-time hits (the paper's
    metric) and tolerant micro/macro precision, recall and F1."""
    stream = NeuroMorseStream(
        noise=CONDITIONS[condition], num_words=config.stream_words, seed=config.seed
    )
    spikes = ToDense(stream.num_steps)(stream.events)
    found = spot_keywords(model, spikes)
    exact = exact_match_score(found, stream.labels)
    tolerant = detection_scores(found, stream.labels, window=config.detection_window)
    return {
        "keyword_occurrences": int(stream.labels.counts().sum()),
        "detections": len(found),
        "exact_correct": exact.correct,
        "exact_incorrect": exact.incorrect,
        "precision": tolerant.micro_precision,
        "recall": tolerant.micro_recall,
        "f1": tolerant.micro_f1,
        "macro_f1": tolerant.macro_f1,
    }


def _costs(model: nn.Module, samples: Sequence[Tensor]) -> dict[str, float]:
    batch, _ = time_major_collate([(s, 0) for s in samples])
    with SpikeMonitor(model) as monitor, torch.no_grad():
        model(batch)
    report = count_operations(model, batch).per_sample()
    return {
        "spikes_per_word": monitor.spikes_per_sample(),
        "sops_per_word": report.total_sops,
        "macs_per_word": report.total_macs,
        "energy_per_word_nj": report.energy_joules * 1e9,
        "parameters": report.params,
    }


def _plots(model: nn.Module, history: dict[str, list[float]], run_dir: Path) -> None:
    sample = ToDense()(encode_word("which"))[:, None]
    with SpikeMonitor(model, record=True) as monitor, torch.no_grad():
        model(sample)
    names = monitor.layer_names
    plot_raster(
        torch.cat([sample[:, 0]] + [monitor.records(n)[:, 0].flatten(1) for n in names],
                  dim=-1),
        title="'which': input (neurons 0-1) and hidden spikes",
        path=run_dir / "raster.png",
    )
    plot_curves(history, path=run_dir / "training_curve.png", title="NeuroMorse training")


def run(config: MorseConfig | None = None, ssdp: Callable[..., SSDP] = SSDP) -> dict[str, Any]:
    """Train and evaluate; write ``runs/<name>/`` and return the results (also in
    ``metrics.json``). ``ssdp``: the SSDP rule maker passed to :func:`plasticity_rules`."""
    config = config or MorseConfig()
    run_dir = Path(config.runs_dir) / config.name
    save_json_atomic(run_dir / "config.json", asdict(config))
    others = other_words(config.stream_words)
    words = (others, config.train_conditions, config.keyword_fraction, config.seed)
    loader = DataLoader(
        MorseWords(config.train_samples, *words, split=0), batch_size=config.batch_size,
        shuffle=True, collate_fn=time_major_collate, generator=torch.Generator(),
    )  # fmt: skip
    val_loader = DataLoader(
        MorseWords(config.batch_size * 4, *words, split=1), batch_size=config.batch_size,
        collate_fn=time_major_collate,
    )  # fmt: skip
    model = build_model(config.hidden, config.seed, config.architecture)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    trainer = Trainer(
        model, optimizer, _loss, run_dir=run_dir / "train", grad_clip=1.0, scheduler=schedule,
        plasticity=plasticity_rules(model, config.plasticity, ssdp), progress=config.progress,
        seed=config.seed,
    )  # fmt: skip
    started = time.perf_counter()
    history = trainer.fit(
        loader, config.epochs, val_loader=val_loader, metrics={"accuracy": _accuracy}
    )
    train_seconds = time.perf_counter() - started

    model.eval()
    results: dict[str, Any] = {"train_seconds": train_seconds, "classification": {}}
    for condition in config.test_conditions:
        samples, targets = evaluation_words(config, condition)
        accuracy = (classify(model, samples) == targets).float().mean().item()
        results["classification"][condition] = accuracy
    results["spotting"] = {c: stream_scores(model, config, c) for c in config.test_conditions}
    results["costs"] = _costs(model, evaluation_words(config, "clean")[0])
    curves = {
        "train loss": history.train_loss,
        "validation loss": [v["loss"] for v in history.val],
        "validation accuracy": [v["accuracy"] for v in history.val],
    }
    save_json_atomic(run_dir / "metrics.json", {"history": history.to_dict(), **results})
    _plots(model, curves, run_dir)
    return results


def summary_table(results: dict[str, Any]) -> str:
    """The printed summary of :func:`run`'s results."""
    rows = []
    for condition, accuracy in results["classification"].items():
        spot = results["spotting"][condition]
        rows.append([
            condition,
            f"{100 * accuracy:.1f}%",
            f"{spot['f1']:.3f}",
            f"{spot['precision']:.3f}",
            f"{spot['recall']:.3f}",
            f"{spot['exact_correct']}/{spot['keyword_occurrences']}",
        ])  # fmt: skip
    table = format_table(
        ["noise", "word accuracy", "KWS F1", "precision", "recall", "exact hits"], rows
    )
    costs = results["costs"]
    return "\n".join([
        table,
        "",
        f"spikes per word {costs['spikes_per_word']:.1f}   SOPs per word "
        f"{costs['sops_per_word']:.0f}   MACs per word {costs['macs_per_word']:.0f}   "
        f"energy per word {costs['energy_per_word_nj']:.2f} nJ (45 nm: 0.9 pJ/SOP, 4.6 pJ/MAC)",
        f"training time {results['train_seconds']:.0f} s",
    ])  # fmt: skip

