"""The NeuroMorse ResNet and transformer: shapes, causality, streaming, training, plasticity
binding, checkpoints and the CLI flag."""

import json

import pytest
import torch
from model_cases import train_losses

from axonal.analysis import SpikeMonitor, count_operations
from axonal.cli import main
from axonal.learning import SSDP, STDP, save_checkpoint
from axonal.nn import Streaming
from axonal.tasks.morse import (
    OTHER,
    MorseConfig,
    build_model,
    classify,
    evaluation_words,
    load_model,
    plasticity_rules,
    plasticity_synapses,
)
from axonal.tasks.morse_models import MorseResNet, MorseTransformer

pytestmark = pytest.mark.usefixtures("seeded_single_thread")

NEW = ("resnet", "transformer")


def spikes(steps, batch, seed=0, rate=0.15):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, 2, generator=generator) < rate).float()


def trained_briefly(architecture):
    """A model a few Adam steps away from its initialisation (non-trivial BN statistics)."""
    model = build_model(12, seed=1, architecture=architecture)
    train_losses(model, spikes(30, 6), torch.arange(6), steps=2)
    return model.eval()


@pytest.mark.parametrize("architecture", NEW)
def test_output_contract_and_counting(architecture):
    model = build_model(16, seed=0, architecture=architecture)
    same = build_model(16, seed=0, architecture=architecture)
    assert all(torch.equal(a, b) for a, b in
               zip(model.state_dict().values(), same.state_dict().values(), strict=True))
    assert isinstance(model, MorseResNet if architecture == "resnet" else MorseTransformer)
    x = spikes(40, 3)
    assert model(x).shape == (40, 3, OTHER + 1)
    with SpikeMonitor(model) as monitor, torch.no_grad():
        model(x)
    assert monitor.total_spikes() > 0
    assert count_operations(model, x).total_sops > 0


def test_bad_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match="architecture must be one of"):
        build_model(8, architecture="lstm")
    with pytest.raises(ValueError, match="architecture must be one of"):
        MorseConfig(architecture="lstm")


@pytest.mark.parametrize("architecture", NEW)
def test_output_at_t_ignores_later_input_and_streaming_matches(architecture):
    model = trained_briefly(architecture)
    x = spikes(36, 2)
    changed = x.clone()
    changed[20:] = 1.0 - changed[20:]
    with torch.no_grad():
        out, out_changed = model(x), model(changed)
        online = Streaming(model)
        stepped = torch.stack([online(x_t) for x_t in x])
    assert torch.equal(out[:20], out_changed[:20])
    assert not torch.allclose(out[20:], out_changed[20:])
    torch.testing.assert_close(stepped, out, rtol=1e-5, atol=1e-5)


def test_padded_words_classify_as_alone():
    model = trained_briefly("transformer")
    words = [spikes(n, 1, seed=n)[:, 0] for n in (18, 33, 25)]
    together = classify(model, words)
    alone = torch.cat([classify(model, [w]) for w in words])
    assert torch.equal(together, alone)


def test_delay_line_holds_the_last_inputs_as_tokens():
    model = build_model(8, seed=0, architecture="transformer")
    x = torch.arange(1.0, 11.0).view(10, 1, 1).expand(10, 1, 2)
    tokens = model[:2](x)  # [T, B, 2, tokens, 1]: token k is the input k steps back
    t, k = 9, torch.arange(model.tokens)
    assert torch.equal(tokens[t, 0, 0, :, 0], (t + 1 - k).clamp(min=0).float())


@pytest.mark.parametrize("architecture", NEW)
def test_each_architecture_learns_a_tiny_batch(architecture):
    model = build_model(16, seed=0, architecture=architecture)
    losses = train_losses(model, spikes(30, 8, seed=2), torch.arange(8) % 4, steps=8)
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("architecture", NEW)
@pytest.mark.parametrize("kind", ["ssdp", "stdp"])
def test_rules_bind_to_the_documented_weights_and_change_only_them(architecture, kind):
    model = build_model(16, seed=0, architecture=architecture)
    rules = plasticity_rules(model, kind)
    targets = [s.target for s in plasticity_synapses(model)[kind]]
    if architecture == "resnet":
        block = model[-3].inner
        expected = [block[2], model[-2]] if kind == "ssdp" else [block[2]]
    else:
        expected = ([model.attention.inner.out[0], model[-2]] if kind == "ssdp"
                    else [model[5].inner[1]])  # fmt: skip
    assert targets == expected
    assert [r.weight for r in rules] == [t.weight for t in expected]
    assert all(isinstance(r, SSDP if kind == "ssdp" else STDP) for r in rules)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for rule in rules:
        rule.epoch = rule.start_epoch
    model.train()(spikes(60, 8, rate=0.3))
    for rule in rules:
        rule.apply()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    bound = {n for n, p in model.named_parameters() if any(p is t.weight for t in expected)}
    assert changed and changed <= bound


def test_old_config_without_architecture_loads_the_mlp(tmp_path):
    model = build_model(8, seed=4)
    save_checkpoint(tmp_path / "train" / "checkpoint.safetensors", model)
    (tmp_path / "config.json").write_text(json.dumps({"hidden": 8, "seed": 4}))
    loaded = load_model(tmp_path)
    assert not isinstance(loaded, (MorseResNet, MorseTransformer))
    x = spikes(20, 2)
    assert torch.equal(loaded(x), model.eval()(x))


def test_cli_trains_a_resnet_and_load_model_rebuilds_it(tmp_path, capsys):
    argv = ["train", "morse", "--architecture", "resnet", "--hidden", "16", "--epochs", "1",
            "--train-samples", "128", "--batch-size", "64", "--stream-words", "60",
            "--test-samples-per-word", "1", "--test-conditions", "clean",
            "--runs-dir", str(tmp_path), "--name", "res", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "word accuracy" in capsys.readouterr().out
    folder = tmp_path / "res"
    assert json.loads((folder / "config.json").read_text())["architecture"] == "resnet"
    model = load_model(folder)
    assert isinstance(model, MorseResNet) and not model.training
    metrics = json.loads((folder / "metrics.json").read_text())
    config = MorseConfig(test_samples_per_word=1)
    samples, targets = evaluation_words(config, "clean")
    accuracy = (classify(model, samples) == targets).float().mean().item()
    assert accuracy == pytest.approx(metrics["classification"]["clean"])
    with pytest.raises(SystemExit) as exit_:
        main(["train", "morse", "--architecture", "lstm"])
    assert exit_.value.code == 2
    assert "invalid choice: 'lstm'" in capsys.readouterr().err
