"""The SSDP-on-N-Digits experiment's core on tiny configurations (1-2 seeds, 1 epoch)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest
import torch

from axonal.learning import functional as LF
from experiments import ssdp_vision as sv


def test_ssdp_binds_to_classifier_and_attention_projection():
    config = sv.Config(epochs=2, start_epoch=0)
    resnet_rules, _ = sv.attach_ssdp(sv.build("sew_resnet_tiny", 0, 4), config)
    model = sv.build("sdt_tiny", 0, 4)
    rules, handles = sv.attach_ssdp(model, config)
    assert len(resnet_rules) == 1 and len(rules) == 2
    _, classifier = sv.head(model)
    assert rules[0].weight is classifier.weight
    assert rules[1].weight is sv.last_attention(model).inner.out[0].weight
    model.train()
    model(torch.rand(4, 2, 2, 17, 17))
    assert all(rule._pending is not None for rule in rules)  # both observed a forward pass
    for handle in handles:
        handle.remove()


def test_tiny_run_writes_both_arms(tmp_path):
    config = replace(
        sv.Config(), seeds=(0,), epochs=1, start_epoch=0, time_bins=4, batch_size=4, limit=12,
        probe=4, out=str(tmp_path / "out"), img=str(tmp_path / "img"),
    )  # fmt: skip
    table = sv.report(sv.run(config))
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["config"]["epochs"] == 1
    for model_name in sv.MODELS:
        arms = document["results"][model_name]
        assert set(arms) == {"none", "ssdp"}
        none, ssdp = arms["none"][0], arms["ssdp"][0]
        assert set(none["robustness"]) == set(sv.corruptions(0))
        assert all(0.0 <= a <= 1.0 for a in none["robustness"].values())
        assert len(none["train_loss"]) == len(none["cofiring"]) == 1
        assert none["ssdp_update_norm"] == [0.0] and ssdp["ssdp_update_norm"][0] > 0
        assert ssdp["ssdp_seconds"][0] > 0
    assert (tmp_path / "img" / "ssdp_vision_curves.png").stat().st_size > 0
    assert "| test accuracy, clean (%) |" in table
    assert (tmp_path / "out" / "summary.md").read_text() == table + "\n"


def test_minimal_network_feeds_hidden_spikes_to_classifier_ssdp():
    model = sv.build("minimal", 0, 4)
    assert torch.equal(model[1].weight, sv.build("minimal", 0, 4)[1].weight)
    assert not torch.equal(model[1].weight, sv.build("minimal", 1, 4)[1].weight)
    features, classifier = sv.head(model)
    assert features is model[2] and classifier is model[3]
    rules, handles = sv.attach_ssdp(model, sv.Config(epochs=2, start_epoch=0))
    assert len(rules) == 1 and rules[0].weight is classifier.weight
    captured = []
    hook = features.register_forward_hook(lambda m, a, out: captured.append(out[0]))
    model.train()
    logits = model(torch.rand(4, 3, 2, 17, 17) * 4)
    hook.remove()
    for handle in handles:
        handle.remove()
    hidden, logits = captured[0].detach(), logits.detach()
    assert logits.shape == (4, 3, 10) and hidden.shape == (4, 3, sv.HIDDEN)
    assert 0 < float(hidden.mean()) < 1  # some, not all, hidden neurons fire
    rule = rules[0]
    expected = LF.ssdp_delta(hidden, logits > 0, rule.a_plus,
                             rule.a_baseline, rule.sigma)  # fmt: skip
    torch.testing.assert_close(rule._pending[0], expected)  # the [T, B, H] spikes, unpooled
    with pytest.raises(ValueError, match=r"\[T, B, 2, 17, 17\]"):
        model(torch.rand(4, 3, 2, 16, 16))


def test_run_keeps_finished_runs_and_refuses_other_settings(tmp_path):
    config = replace(
        sv.Config(), seeds=(0,), models=("minimal",), epochs=1, start_epoch=0, time_bins=4,
        batch_size=4, limit=12, probe=4, out=str(tmp_path), img=str(tmp_path),
    )  # fmt: skip
    first = sv.run(config)["results"]["minimal"]
    document = sv.run(replace(config, seeds=(1, 0)))
    runs = document["results"]["minimal"]
    assert document["config"]["seeds"] == (0, 1) and document["config"]["models"] == ("minimal",)
    assert document["config"]["arms"] == ("none", "ssdp") == config.arms
    for arm in config.arms:
        assert [r["seed"] for r in runs[arm]] == [0, 1]
        assert runs[arm][0] == first[arm][0]  # seed 0 not retrained (same wall times)
    assert runs["none"][1]["train_loss"] != runs["none"][0]["train_loss"]
    path = tmp_path / "results.json"
    stored = path.read_text()
    assert json.loads(stored) == json.loads(json.dumps(document))
    with pytest.raises(ValueError, match="epochs = 1 there, 2 here"):
        sv.run(replace(config, epochs=2))
    assert path.read_text() == stored


def test_runs_stored_without_seed_get_the_config_seeds_in_order(tmp_path):
    config = sv.Config(seeds=(3, 5), models=("minimal",))
    legacy = {"config": asdict(config),
              "results": {"minimal": {"none": [{}, {}], "ssdp": [{}]}}}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(legacy))
    document = sv.load_previous(tmp_path / "results.json", config)
    assert document["results"]["minimal"] == {"none": [{"seed": 3}, {"seed": 5}],
                                              "ssdp": [{"seed": 3}]}  # fmt: skip
    assert sv.pending(document["results"], config) == [("minimal", "ssdp", 5)]


def test_ssdp_sites_arm_reads_attention_tokens_as_samples():
    config = sv.Config(epochs=2, start_epoch=0)
    model = sv.build("sdt_tiny", 0, 4)
    rules, handles = sv.attach_ssdp(model, config, "ssdp_sites")
    assert [rule.sites for rule in rules] == ["any", "samples"]  # classifier, W_o
    assert rules[1].weight is sv.last_attention(model).inner.out[0].weight
    block = sv.last_attention(model)
    captured = []
    hook = block.register_forward_hook(lambda m, a, out: captured.append((a[0], out[0])))
    model.train()
    model(torch.rand(4, 2, 2, 17, 17))
    hook.remove()
    for handle in handles:
        handle.remove()
    pre, post = (x.detach() > 0 for x in captured[0])  # [T, B, C, H, W]
    tokens = lambda s: s.flatten(3).transpose(2, 3).flatten(1, 2)  # noqa: E731  [T, B*H*W, C]
    rule = rules[1]
    per_token = LF.ssdp_delta(tokens(pre), tokens(post), rule.a_plus, rule.a_baseline,
                              rule.sigma)  # fmt: skip
    any_pixel = LF.ssdp_delta(pre.flatten(3).any(3), post.flatten(3).any(3), rule.a_plus,
                              rule.a_baseline, rule.sigma)  # fmt: skip
    torch.testing.assert_close(rule._pending[0], per_token)
    assert not torch.allclose(per_token, any_pixel)
    assert [r.sites for r in sv.attach_ssdp(sv.build("minimal", 0, 4), config, "ssdp_sites")[0]
            ] == ["any"]  # fmt: skip
    with pytest.raises(ValueError, match="arm must be one of"):
        sv.attach_ssdp(model, config, "none")


def test_pending_schedules_the_extra_arm_only_for_the_requested_models():
    done = [{"seed": 0}]
    results = {m: {"none": done, "ssdp": done} for m in ("sdt_tiny", "minimal")}
    config = sv.Config(seeds=(0, 1), models=("sdt_tiny",), arms=sv.ARMS)
    assert sv.pending(results, config) == [
        ("sdt_tiny", "ssdp_sites", 0), ("sdt_tiny", "none", 1), ("sdt_tiny", "ssdp", 1),
        ("sdt_tiny", "ssdp_sites", 1),
    ]  # fmt: skip
    assert sv.pending(results, sv.Config(seeds=(0,), models=("minimal",))) == []
    sv.check_arms(config)
    with pytest.raises(ValueError, match=r"attention block, which \['minimal'\] lack"):
        sv.check_arms(replace(config, models=("sdt_tiny", "minimal")))
    with pytest.raises(ValueError, match="arms must be among"):
        sv.check_arms(replace(config, arms=("none", "stdp")))


def fake_run(seed: int, accuracy: float, epochs: int = 2) -> dict:
    """A stored run with every field the report reads, clean accuracy ``accuracy``."""
    series = [0.5] * epochs
    return {
        "seed": seed, "train_loss": series, "train_seconds": [2.0] * epochs,
        "test_accuracy": [0.5, accuracy], "cofiring": series, "kuramoto": series,
        "rate": series, "weight_norm": series, "ssdp_seconds": [0.0, 0.1],
        "ssdp_update_norm": series, "robustness": {"clean": accuracy, "drop 20 %": 0.5},
        "epochs_to_target": None, "loss_stabilization_epoch": None,
    }  # fmt: skip


def test_report_gives_the_extra_arm_columns_only_to_the_model_that_has_it(tmp_path):
    config = sv.Config(seeds=(0, 1), models=("sdt_tiny", "minimal"), arms=sv.ARMS, epochs=2,
                       start_epoch=1, out=str(tmp_path), img=str(tmp_path))  # fmt: skip
    arm_accuracy = {"none": (0.5, 0.7), "ssdp": (0.6, 0.7), "ssdp_sites": (0.8, 0.9)}
    results = {
        "sdt_tiny": {a: [fake_run(s, acc[s]) for s in (0, 1)] for a, acc in arm_accuracy.items()},
        "minimal": {a: [fake_run(s, 0.5) for s in (0, 1)] for a in ("none", "ssdp")},
    }
    table = sv.report({"config": json.loads(json.dumps(asdict(config))), "results": results})
    sdt, minimal = table.split("### minimal")
    assert ("| metric | none | ssdp | ssdp_sites | ssdp - none (paired) "
            "| ssdp_sites - none (paired) |") in sdt  # fmt: skip
    # clean accuracy: means 60, 65, 85; paired differences (10, 0) and (30, 20)
    assert ("| test accuracy, clean (%) | 60.0 +- 10.0 | 65.0 +- 5.0 | 85.0 +- 5.0 "
            "| 5.0 +- 5.0 | 25.0 +- 5.0 |") in sdt  # fmt: skip
    assert "| metric | none | ssdp | ssdp - none (paired) |\n|---|---|---|---|\n" in minimal
    assert "ssdp_sites" not in minimal
    for part in (sdt, minimal):  # every row has as many cells as its header
        rows = [line for line in part.splitlines() if line.startswith("|")]
        assert len({line.count("|") for line in rows}) == 1
    assert (tmp_path / "ssdp_vision_curves.png").stat().st_size > 0
