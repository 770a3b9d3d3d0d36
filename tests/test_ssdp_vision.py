"""The SSDP-on-N-Digits experiment's core on a tiny configuration (1 seed, 1 epoch)."""

from __future__ import annotations

import json
from dataclasses import replace

import torch

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
