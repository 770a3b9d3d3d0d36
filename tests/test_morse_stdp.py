"""NeuroMorse STDP baseline: winner-take-all dynamics, homeostasis, unsupervised learning,
neuron labels and the evaluation of a tiny run."""

from __future__ import annotations

import json

import pytest
import torch

from axonal.data.neuromorse import NeuroMorse, ToDense, encode_word
from axonal.learning import CausalSTDP, load_checkpoint
from axonal.tasks.morse import OTHER, classify
from axonal.tasks.morse_stdp import (
    KeywordReadout,
    MorseSTDPConfig,
    WTALayer,
    assign_labels,
    online_detections,
    run,
    train_epoch,
)


def random_input(seed: int, steps: int, batch: int, p: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, 2, generator=g) < p).float()


def loop_wta(layer: WTALayer, x: torch.Tensor) -> torch.Tensor:
    """The WTA rule written out per sample and neuron (eval mode: fixed thresholds)."""
    weight, threshold = layer.fc.weight.detach(), layer.threshold
    steps, batch, _ = x.shape
    spikes = torch.zeros(steps, batch, weight.shape[0])
    for b in range(batch):
        v = [0.0] * weight.shape[0]
        for t in range(steps):
            v = [layer.beta * v[n] + float(weight[n] @ x[t, b]) for n in range(len(v))]
            margins = [v[n] - float(threshold[n]) for n in range(len(v))]
            best = max(range(len(v)), key=lambda n: (margins[n], -n))
            if margins[best] > 0:
                spikes[t, b, best] = 1.0
                v = [0.0] * len(v)
    return spikes


def test_winner_take_all_has_at_most_one_winner_per_step():
    layer = WTALayer(2, 6, beta=0.9, threshold=0.8, seed=1).eval()
    x = random_input(0, 60, 3)
    spikes, v = layer(x)
    assert spikes.shape == (60, 3, 6) and v.shape == (3, 6)
    assert int(spikes.sum()) > 10  # the test means something: neurons do fire
    assert spikes.sum(dim=-1).max() <= 1
    assert len(spikes.sum(dim=(0, 1)).nonzero()) > 1  # and not always the same neuron
    assert torch.equal(spikes, loop_wta(layer, x))
    # membranes carry over: two halves with the state passed on equal one pass
    first, state = layer(x[:25])
    second, _ = layer(x[25:], state)
    assert torch.equal(torch.cat([first, second]), spikes)


def test_thresholds_adapt_in_training_and_are_frozen_in_eval():
    layer = WTALayer(2, 5, threshold=0.7, threshold_step=0.1, threshold_decay=0.01, seed=2)
    x = random_input(3, 50, 1)
    before = layer.threshold.clone()
    layer.eval()(x)
    assert torch.equal(layer.threshold, before)
    spikes, _ = layer.train()(x)
    assert int(spikes.sum()) > 0
    expected = before + 0.1 * spikes.sum(dim=(0, 1)) - 0.01 * 50
    torch.testing.assert_close(layer.threshold, expected)
    with pytest.raises(ValueError, match=r"\[T, B, 2\]"):
        layer(torch.zeros(4, 3))


def test_unsupervised_stdp_changes_the_weights_of_firing_neurons_only():
    layer = WTALayer(seed=0).train()
    rule = CausalSTDP(layer.fc, eta=0.1, window=15)
    words = [NeuroMorse("train", transform=ToDense())[i][0] for i in range(12)]
    before = layer.fc.weight.detach().clone()
    state, count = train_epoch(layer, rule, words, torch.zeros(1, 50))
    weight = layer.fc.weight.detach()
    assert count > 0 and rule.epoch == 1 and state.shape == (1, 50)
    changed = (weight != before).any(dim=1)
    silent = layer.threshold == layer.threshold.min()  # never spiked: only the decay acted
    assert silent.any() and changed.any()
    assert not changed[silent].any()  # post-triggered: a neuron that never spiked keeps its row
    assert bool((weight >= 0).all() and (weight <= 1).all())
    assert not bool((layer.threshold == 1.0).all())  # homeostasis ran during training


def test_labels_and_readout_classify_words():
    layer = WTALayer(2, 3, threshold=1.5)  # 0: dots, 1: dashes, 2: deaf
    with torch.no_grad():
        layer.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    # "i" = two dots 6 steps apart (1 + 0.95^6 > 1.5), "m" = two dashes, "e" = one dot
    words = [ToDense()(encode_word(w)) for w in ("i", "m", "e")]
    labels = assign_labels(layer, words, [3, 7, 9])
    assert labels.tolist() == [3, 7, -1]
    model = KeywordReadout(layer, labels).eval()
    assert classify(model, words).tolist() == [3, 7, OTHER]  # "e" makes no spike: no answer
    stream = torch.cat(words)  # the paper's protocol: every output spike is a detection
    found = online_detections(model, stream)
    assert found[:, 1].tolist() == [3, 7]
    assert found[0, 0] == 6 and found[1, 0] == words[0].shape[0] + 6
    with pytest.raises(ValueError, match="labels"):
        KeywordReadout(layer, torch.zeros(4))


def test_tiny_run_writes_and_returns_metrics(tmp_path):
    config = MorseSTDPConfig(
        epochs=2, test_conditions=("clean", "jitter"), test_samples_per_word=1,
        stream_words=40, runs_dir=str(tmp_path), progress=False,
    )  # fmt: skip
    results = run(config)
    assert len(results["history"]["spikes"]) == 2
    assert results["history"]["weight_change"][0] > 0
    assert 0 < results["labelled_neurons"] <= 50
    for condition in ("clean", "jitter"):
        assert 0.0 <= results["classification"][condition] <= 1.0
        spot, online = results["spotting"][condition], results["online"][condition]
        assert spot["keyword_occurrences"] > 0 and 0.0 <= spot["f1"] <= 1.0
        assert online["exact_correct"] + online["exact_incorrect"] == online["output_spikes"]
    run_dir = tmp_path / config.name
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["classification"] == pytest.approx(results["classification"])
    model = KeywordReadout(WTALayer(), torch.zeros(50))
    load_checkpoint(run_dir / "model.safetensors", model)
    assert int((model.labels >= 0).sum()) == results["labelled_neurons"]
    with pytest.raises(ValueError, match="unknown noise"):
        MorseSTDPConfig(train_condition="rain")
