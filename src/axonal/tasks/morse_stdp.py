"""NeuroMorse's unsupervised STDP baseline: 2 -> 50 winner-take-all LIF neurons.

The network of the NeuroMorse paper's ``STDP Network`` (arXiv:2502.20729; method in
``../shared/reference/papers.md``), run by ``axonal train morse-stdp`` (see :func:`run`):

1. **Network** (:class:`WTALayer`). The two input channels (dot, dash) feed ``neurons`` LIF
   neurons (leak ``beta = 0.95``, weights drawn uniformly from ``[0, 1]``, no bias) with
   winner-take-all lateral inhibition: at each step only the neuron whose membrane exceeds its
   threshold by the most spikes, and then every membrane is reset to zero. While training,
   thresholds adapt (homeostasis): ``+ threshold_step`` at each of the neuron's spikes,
   ``- threshold_decay`` every step (``0.1`` and ``0.1 / 50 / 20`` in the authors' code).
2. **Training**, unsupervised. Each epoch presents the 50 keywords in a seeded random order
   as one stream (a word is its spikes and 15 silent steps; membranes carry over from word to
   word, as in the paper). After each word, :class:`axonal.learning.CausalSTDP` (``eta = 0.1``,
   causal 15-step linear window, latest pre spike, weights in ``[0, 1]``) applies the update of
   that word's post spikes: ``W[j] += eta (w(t_post - t_pre) - W[j])`` per spike of ``j``.
   (The paper applies each spike's update immediately; summing within a word differs by
   ``O(eta^2)``.)
3. **Labels.** Each neuron is labelled with the keyword it spikes most for on the 50 clean
   training words (each word run alone, from rest, thresholds frozen); a neuron that never
   spikes gets no label.
4. **Word classification** (as :mod:`axonal.tasks.morse`): fresh noisy samples of the 50
   keywords per noise condition; a word's class is the label of the neuron with the most
   spikes over it, and a word without output spikes counts as wrong.
5. **Keyword spotting** on the stream, scored with the exact-time metric and the tolerant
   precision / recall / F1 of :mod:`axonal.data.neuromorse.metrics`, two ways:

   - ``spotting``: as the supervised task (:func:`axonal.tasks.morse.spot_keywords`), the
     network is reset at silence-detected word boundaries and makes one decision per segment,
     at its end;
   - ``online``: the paper's protocol, the network runs over the whole stream without
     resets and every output spike is a detection of its neuron's keyword at that step.

Everything is seeded: the same config gives the same numbers on the same machine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numba import njit
from torch import Tensor, nn
from tqdm import tqdm

from axonal.analysis.monitor import format_table
from axonal.data import time_major_collate
from axonal.data.neuromorse import (
    KEYWORDS,
    NeuroMorse,
    NeuroMorseStream,
    ToDense,
    detection_scores,
    exact_match_score,
)
from axonal.io import save_json_atomic
from axonal.learning import CausalSTDP, save_checkpoint
from axonal.tasks.morse import (
    CONDITIONS,
    OTHER,
    MorseConfig,
    classify,
    evaluation_words,
    stream_scores,
)

__all__ = [
    "KeywordReadout",
    "MorseSTDPConfig",
    "WTALayer",
    "assign_labels",
    "online_detections",
    "run",
    "summary_table",
    "train",
    "train_epoch",
]

CHECKPOINT = "model.safetensors"


@dataclass
class MorseSTDPConfig:
    """Everything that defines a NeuroMorse STDP run (written to ``config.json``).

    The network and rule constants default to the authors' code; ``train_condition`` names
    the noise of the training words (fresh noise every epoch; ``"clean"`` as the paper).
    """

    name: str = "morse-stdp"
    neurons: int = 50
    epochs: int = 50
    beta: float = 0.95
    threshold: float = 1.0
    threshold_step: float = 0.1
    threshold_decay: float = 0.1 / 50 / 20
    eta: float = 0.1
    window: int = 15
    train_condition: str = "clean"
    test_conditions: tuple[str, ...] = tuple(CONDITIONS)
    test_samples_per_word: int = 20
    stream_words: int = 5000
    detection_window: int = 3
    seed: int = 0
    runs_dir: str = "runs"
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = ({self.train_condition} | set(self.test_conditions)) - set(CONDITIONS)
        if unknown:
            raise ValueError(f"unknown noise conditions {sorted(unknown)}; use {list(CONDITIONS)}")
        for name in ("neurons", "epochs", "window", "test_samples_per_word", "stream_words"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.beta <= 1.0:
            raise ValueError(f"beta must be in (0, 1], got {self.beta}")
        for name in ("threshold", "threshold_step", "threshold_decay", "eta"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def evaluation(self) -> MorseConfig:
        """The supervised task's config with this run's test-set and stream settings (what
        its evaluation helpers read)."""
        return MorseConfig(
            test_conditions=self.test_conditions, test_samples_per_word=self.test_samples_per_word,
            stream_words=self.stream_words, detection_window=self.detection_window,
            seed=self.seed,
        )  # fmt: skip


@njit(nogil=True, cache=True)
def _wta_scan(
    currents: np.ndarray,
    v: np.ndarray,
    threshold: np.ndarray,
    beta: float,
    step: float,
    decay: float,
    adapt: bool,
    spikes: np.ndarray,
) -> None:
    """The WTA-LIF loop over ``currents [T, B, N]``; updates ``v [B, N]``, ``threshold [N]``
    (if ``adapt``) in place and writes 0/1 into ``spikes [T, B, N]`` (zeros on entry)."""
    steps, batch, size = currents.shape
    for t in range(steps):
        for b in range(batch):
            best, winner = 0.0, -1
            for n in range(size):
                v[b, n] = beta * v[b, n] + currents[t, b, n]
                margin = v[b, n] - threshold[n]
                if margin > best:  # the largest positive margin; ties: the lowest index
                    best, winner = margin, n
            if winner >= 0:
                spikes[t, b, winner] = 1.0
                v[b, :] = 0.0
        if adapt:
            for n in range(size):
                threshold[n] += step * spikes[t, :, n].sum() / batch - decay


class WTALayer(nn.Module):
    """``inputs -> neurons`` winner-take-all LIF neurons with adaptive thresholds (CPU).

    ``layer(x [T, B, inputs], v [B, neurons] | None) -> (spikes [T, B, neurons], v)``, no
    autograd. Each step: ``v <- beta v + W x[t]``; among the neurons with
    ``v > threshold`` only the one with the largest ``v - threshold`` spikes (ties: the lowest
    index), and after a spike every membrane of that sample is reset to zero (lateral
    inhibition). In training mode the thresholds then move by ``threshold_step`` times the
    batch-mean spike minus ``threshold_decay`` (homeostasis); in eval mode they are fixed.
    The loop over steps is compiled (numba), so a stream of 10^6 steps takes well under a
    second.

    Attributes:
        fc: ``nn.Linear(inputs, neurons, bias=False)``, weights drawn from ``U[0, 1]``.
        threshold: buffer ``[neurons]``.
    """

    def __init__(
        self,
        inputs: int = 2,
        neurons: int = 50,
        *,
        beta: float = 0.95,
        threshold: float = 1.0,
        threshold_step: float = 0.1,
        threshold_decay: float = 0.1 / 50 / 20,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.fc = nn.Linear(inputs, neurons, bias=False)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.fc.weight.copy_(torch.rand(neurons, inputs, generator=generator))
        self.register_buffer("threshold", torch.full((neurons,), float(threshold)))
        self.beta, self.threshold_step, self.threshold_decay = beta, threshold_step, threshold_decay

    @torch.no_grad()
    def forward(self, x: Tensor, v: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.dim() != 3 or x.shape[2] != self.fc.in_features:
            raise ValueError(
                f"x must be [T, B, {self.fc.in_features}] spikes, got {tuple(x.shape)}"
            )
        if x.device.type != "cpu" or self.threshold.dtype != torch.float32:
            raise ValueError("WTALayer runs on the CPU in float32")
        currents = self.fc(x.to(torch.float32)).contiguous()
        v = torch.zeros_like(currents[0]) if v is None else v.to(torch.float32).clone()
        if v.shape != currents.shape[1:]:
            raise ValueError(f"v must be {tuple(currents.shape[1:])}, got {tuple(v.shape)}")
        spikes = torch.zeros_like(currents)
        _wta_scan(
            currents.numpy(), v.numpy(), self.threshold.numpy(), self.beta,
            self.threshold_step, self.threshold_decay, self.training, spikes.numpy(),
        )  # fmt: skip
        return spikes, v


class KeywordReadout(nn.Module):
    """A labelled :class:`WTALayer` as a keyword classifier: ``[T, B, 2] -> [T, B, 51]``.

    ``out[t, b, k]`` is the largest spike count up to step ``t`` among the neurons labelled
    ``k``; ``out[..., OTHER]`` is 0.5. The argmax at a word's last step is thus the label of
    its most active neuron, or "other" when no labelled neuron spiked, which is what
    :func:`axonal.tasks.morse.classify` and :func:`~axonal.tasks.morse.spot_keywords` read.

    Attributes:
        layer: the network. labels: buffer ``[neurons]`` int64, a keyword or -1 for none.
    """

    def __init__(self, layer: WTALayer, labels: Tensor) -> None:
        super().__init__()
        if labels.shape != layer.threshold.shape:
            raise ValueError(
                f"labels must be [{layer.threshold.numel()}], got {tuple(labels.shape)}"
            )
        self.layer = layer
        self.register_buffer("labels", labels.long())

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        spikes, _ = self.layer(x)
        counts = spikes.cumsum(dim=0)
        sink = OTHER + 1  # unlabelled neurons go to a column that is dropped
        index = torch.where(self.labels >= 0, self.labels, sink).expand_as(counts)
        scores = counts.new_zeros(*counts.shape[:2], sink + 1)
        scores.scatter_reduce_(2, index, counts, reduce="amax", include_self=True)
        scores = scores[..., :sink]
        scores[..., OTHER] = 0.5
        return scores


def train_epoch(
    layer: WTALayer, rule: CausalSTDP, words: Sequence[Tensor], v: Tensor | None = None
) -> tuple[Tensor, int]:
    """Present ``words`` (each ``[T_i, 2]``) one after the other, applying ``rule`` after each.

    Args:
        layer: in training mode (its thresholds adapt). rule: bound to ``layer.fc``.
        words: the epoch's words, in presentation order.
        v: membranes ``[1, N]`` carried over from the previous word (``None``: at rest).

    Returns:
        ``(v, count)``: the final membranes and the number of output spikes of the epoch.
    """
    count = 0
    for word in words:
        x = word.unsqueeze(1)
        spikes, v = layer(x, v)
        rule.observe(x, spikes)
        rule.apply()
        count += int(spikes.sum())
    rule.step_epoch()
    return v, count


@torch.no_grad()
def assign_labels(layer: WTALayer, words: Sequence[Tensor], classes: Sequence[int]) -> Tensor:
    """Label each neuron with the class it spikes most for: ``[N]`` int64, -1 if it never
    spikes. ``words`` (each ``[T_i, 2]``) run alone, from rest, in eval mode."""
    batch, _ = time_major_collate([(w, 0) for w in words])
    lengths = torch.tensor([w.shape[0] for w in words])
    was_training = layer.training
    spikes, _ = layer.eval()(batch)
    layer.train(was_training)
    inside = (torch.arange(batch.shape[0])[:, None] < lengths).unsqueeze(2)  # no padding
    per_word = (spikes * inside).sum(dim=0)  # [W, N]
    counts = per_word.new_zeros(len(KEYWORDS), per_word.shape[1])
    counts.index_add_(0, torch.as_tensor(list(classes)), per_word)
    best, label = counts.max(dim=0)
    return torch.where(best > 0, label, -1)


@torch.no_grad()
def online_detections(model: KeywordReadout, spikes: Tensor) -> np.ndarray:
    """The paper's stream protocol: run over a stream ``[T, 2]`` without resets; every output
    spike of a labelled neuron is a detection ``(step, label)``: ``[N, 2]`` int64."""
    out, _ = model.layer(spikes.unsqueeze(1))
    steps, _, neuron = out.nonzero(as_tuple=True)
    labels = model.labels[neuron]
    found = torch.stack([steps, labels], dim=1)[labels >= 0]
    return found.numpy().astype(np.int64)


def _online_scores(
    model: KeywordReadout, config: MorseSTDPConfig, condition: str
) -> dict[str, float]:
    """The paper's protocol (:func:`online_detections`) on the stream of ``condition``."""
    stream = NeuroMorseStream(
        noise=CONDITIONS[condition], num_words=config.stream_words, seed=config.seed
    )
    found = online_detections(model, ToDense(stream.num_steps)(stream.events))
    exact = exact_match_score(found, stream.labels)
    tolerant = detection_scores(found, stream.labels, window=config.detection_window)
    return {
        "output_spikes": len(found),
        "exact_correct": exact.correct,
        "exact_incorrect": exact.incorrect,
        "exact_fraction": exact.correct / max(len(found), 1),
        "precision": tolerant.micro_precision,
        "recall": tolerant.micro_recall,
        "f1": tolerant.micro_f1,
    }


def train(config: MorseSTDPConfig) -> tuple[WTALayer, dict[str, list[float]]]:
    """Build the network and train it without labels (module docstring, step 2).

    Returns:
        The trained layer (in training mode) and its per-epoch history: output ``spikes``,
        ``threshold_mean`` and ``weight_change`` (Frobenius norm of the epoch's change).
    """
    layer = WTALayer(
        2, config.neurons, beta=config.beta, threshold=config.threshold,
        threshold_step=config.threshold_step, threshold_decay=config.threshold_decay,
        seed=config.seed,
    )  # fmt: skip
    rule = CausalSTDP(layer.fc, eta=config.eta, window=config.window)
    words = NeuroMorse(
        "train", noise=CONDITIONS[config.train_condition], samples_per_word=config.epochs,
        seed=config.seed, transform=ToDense(),
    )  # fmt: skip
    order = torch.Generator().manual_seed(config.seed)
    history: dict[str, list[float]] = {"spikes": [], "threshold_mean": [], "weight_change": []}
    v = None
    layer.train()
    for epoch in tqdm(range(config.epochs), desc="STDP epochs", disable=not config.progress):
        before = layer.fc.weight.detach().clone()
        shuffled = torch.randperm(len(KEYWORDS), generator=order)
        v, count = train_epoch(
            layer, rule, [words[epoch * len(KEYWORDS) + int(k)][0] for k in shuffled], v
        )
        history["spikes"].append(count)
        history["threshold_mean"].append(layer.threshold.mean().item())
        history["weight_change"].append((layer.fc.weight.detach() - before).norm().item())
    return layer, history


def run(config: MorseSTDPConfig | None = None) -> dict[str, Any]:
    """Train unsupervised, label the neurons, evaluate; write ``runs/<name>/`` (config,
    ``metrics.json``, ``model.safetensors``) and return the results."""
    config = config or MorseSTDPConfig()
    run_dir = Path(config.runs_dir) / config.name
    save_json_atomic(run_dir / "config.json", asdict(config))
    started = time.perf_counter()
    layer, history = train(config)
    train_seconds = time.perf_counter() - started

    clean = NeuroMorse("train", transform=ToDense())
    words, classes = zip(*(clean[i] for i in range(len(KEYWORDS))), strict=True)
    model = KeywordReadout(layer, assign_labels(layer, words, classes)).eval()
    labels = model.labels[model.labels >= 0]
    results: dict[str, Any] = {
        "train_seconds": train_seconds,
        "labelled_neurons": int(labels.numel()),
        "keywords_covered": int(labels.unique().numel()),
        "train_accuracy": (classify(model, words) == torch.tensor(classes)).float().mean().item(),
        "classification": {},
    }
    evaluation = config.evaluation()
    for condition in config.test_conditions:
        samples, targets = evaluation_words(evaluation, condition)
        results["classification"][condition] = (
            (classify(model, samples) == targets).float().mean().item()
        )
    results["spotting"] = {c: stream_scores(model, evaluation, c) for c in config.test_conditions}
    results["online"] = {c: _online_scores(model, config, c) for c in config.test_conditions}
    save_json_atomic(run_dir / "metrics.json", {"history": history, **results})
    save_checkpoint(run_dir / CHECKPOINT, model, epoch=config.epochs, metadata=asdict(config))
    return {"history": history, **results}


def summary_table(results: dict[str, Any]) -> str:
    """The printed summary of :func:`run`'s results."""
    rows = []
    for condition, accuracy in results["classification"].items():
        spot, online = results["spotting"][condition], results["online"][condition]
        rows.append([
            condition,
            f"{100 * accuracy:.1f}%",
            f"{spot['f1']:.3f}",
            f"{spot['exact_correct']}/{spot['keyword_occurrences']}",
            f"{online['exact_correct']}/{online['output_spikes']}",
            f"{online['f1']:.3f}",
        ])  # fmt: skip
    table = format_table(
        ["noise", "word accuracy", "KWS F1", "exact hits", "online exact/spikes", "online F1"],
        rows,
    )
    return "\n".join([
        table,
        "",
        f"training words, clean: {100 * results['train_accuracy']:.1f}% "
        f"({results['labelled_neurons']} labelled neurons, "
        f"{results['keywords_covered']} keywords covered)",
        f"training time {results['train_seconds']:.0f} s",
    ])  # fmt: skip
