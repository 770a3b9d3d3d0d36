"""The NeuroMorse job: segmentation, streaming equivalence, a tiny end-to-end run."""

import json

import numpy as np
import pytest
import torch

from axonal.data.neuromorse import ToDense, encode_stream
from axonal.nn import Streaming
from axonal.tasks.morse import (
    OTHER,
    MorseConfig,
    MorseWords,
    build_model,
    classify,
    run,
    silence_segments,
    spot_keywords,
)


def stream(words):
    events, labels = encode_stream(words)
    return ToDense(int(labels.words["end"][-1]) + 1)(events), labels


def test_silence_segments_find_every_word_of_a_clean_stream():
    spikes, labels = stream(["the", "a", "which", "xyz", "me"])
    segments = silence_segments(spikes)
    assert segments == [(int(s), int(e)) for s, e, _ in labels.words]


def test_letter_gaps_do_not_split_words():
    spikes, _ = stream(["which"])  # six letters, gaps of 11 steps
    assert len(silence_segments(spikes)) == 1


def test_spot_keywords_equals_streaming_with_resets():
    model = build_model(hidden=16, seed=3)
    with torch.no_grad():  # a readout biased so that some words are keywords
        model[4].bias.copy_(torch.linspace(-1, 1, OTHER + 1))
    spikes, _ = stream(["the", "of", "python", "and", "a", "is", "to"])
    found = spot_keywords(model, spikes)

    online = Streaming(model)
    ends = {e for _, e in silence_segments(spikes)}
    expected = []
    with torch.no_grad():
        for t, x_t in enumerate(spikes.unbind(0)):
            out = online(x_t[None])
            if t in ends:
                k = int(out.argmax(-1))
                if k != OTHER:
                    expected.append((t, k))
                online.reset()
    assert found.tolist() == [list(d) for d in expected]
    assert len(expected) > 0


def test_classify_reads_each_word_at_its_own_end():
    model = build_model(hidden=8, seed=0)
    short, long = torch.zeros(20, 2), torch.zeros(50, 2)
    short[0, 0] = long[0, 1] = 1
    together = classify(model, [short, long])
    alone = torch.cat([classify(model, [short]), classify(model, [long])])
    assert torch.equal(together, alone)


def test_morse_words_are_deterministic_and_mixed():
    ds = MorseWords(200, ["python", "code"], ["clean", "all-low"], 0.5, seed=1)
    first = [ds[i] for i in range(200)]
    again = ds[17]
    assert torch.equal(first[17][0], again[0]) and first[17][1] == again[1]
    targets = np.array([t for _, (t, _) in first])
    assert 60 < (targets == OTHER).sum() < 140
    assert all(x.shape[0] == n for x, (_, n) in first)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="unknown noise conditions"):
        MorseConfig(test_conditions=("fog",))
    with pytest.raises(ValueError, match="hidden must be"):
        MorseConfig(hidden=0)


def tiny(tmp_path, name):
    return MorseConfig(
        name=name, hidden=16, epochs=2, train_samples=256, batch_size=64,
        test_samples_per_word=1, stream_words=200, runs_dir=str(tmp_path), progress=False,
        test_conditions=("clean", "all-low"),
    )  # fmt: skip


def test_tiny_run_writes_the_run_folder_and_is_reproducible(tmp_path):
    first = run(tiny(tmp_path, "a"))
    second = run(tiny(tmp_path, "b"))
    folder = tmp_path / "a"
    for name in ("config.json", "metrics.json", "raster.png", "training_curve.png"):
        assert (folder / name).is_file()
    assert (folder / "train" / "checkpoint.safetensors").is_file()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["classification"]) == {"clean", "all-low"}
    assert metrics["history"]["train_loss"][1] < metrics["history"]["train_loss"][0]
    assert metrics["costs"]["spikes_per_word"] > 0 and metrics["costs"]["sops_per_word"] > 0
    first.pop("train_seconds")
    second.pop("train_seconds")
    assert first == second


def test_trained_run_exports_to_nir_and_scores_the_same(tmp_path):
    import nir

    from axonal.cli import main
    from axonal.data.neuromorse import NeuroMorse
    from axonal.interop.nir import NIRSemanticsWarning, from_nir
    from axonal.tasks.morse import load_model

    run(tiny(tmp_path, "n"))
    path = tmp_path / "morse.nir"
    with pytest.warns(NIRSemanticsWarning, match="subtract"):  # NIR has no subtract reset
        assert main(["export", str(tmp_path / "n"), "--nir", str(path)]) == 0
    assert isinstance(nir.read(path), nir.NIRGraph)
    imported = from_nir(path)
    model = load_model(tmp_path / "n")
    words = NeuroMorse("test", noise="low", samples_per_word=1, transform=ToDense())
    samples = [words[i][0] for i in range(len(words))]
    assert torch.equal(classify(imported, samples), classify(model, samples))
    assert main(["import", str(path)]) == 0


@pytest.mark.parametrize("kind", ["ssdp", "stdp"])
def test_plasticity_runs_beside_gradient_training(tmp_path, kind):
    from axonal.learning import load_checkpoint

    config = tiny(tmp_path, kind)
    config.epochs, config.test_conditions, config.plasticity = 3, ("clean",), kind
    run(config)
    plain = tiny(tmp_path, "plain")
    plain.epochs, plain.test_conditions = 3, ("clean",)
    run(plain)
    with_rule, without = build_model(16), build_model(16)
    meta = load_checkpoint(tmp_path / kind / "train" / "checkpoint.safetensors", with_rule)
    load_checkpoint(tmp_path / "plain" / "train" / "checkpoint.safetensors", without)
    assert meta["metadata"]["plasticity"][0]["epoch"] == 3
    assert not torch.equal(with_rule[2].weight, without[2].weight)
