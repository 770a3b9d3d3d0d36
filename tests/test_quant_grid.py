"""The quantisation grid script (experiments/quant_grid.py) runs end to end on tiny configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from axonal.quant import StateQuantizer, quantized_layers, spiking_neurons
from experiments.quant_grid import (
    LABELS,
    PRESETS,
    VARIANTS,
    GridConfig,
    deploy,
    ndigits_model,
    prepare,
    run_grid,
)

TINY = {
    "morse": GridConfig(
        "morse", seeds=(0,), bits=(4,), epochs=1, finetune_epochs=1, batch_size=16,
        train_samples=32, finetune_samples=16, test_samples=1, width=8, calibration_batches=1,
    ),
    "ndigits": GridConfig(
        "ndigits", seeds=(0,), bits=(4,), epochs=1, finetune_epochs=1, batch_size=8,
        train_samples=8, finetune_samples=8, test_samples=6, width=2, time_bins=4,
        calibration_batches=1,
    ),
}  # fmt: skip


@pytest.mark.parametrize("task", ["morse", "ndigits"])
def test_grid_runs_and_writes_results(task: str, tmp_path: Path) -> None:
    results = run_grid(TINY[task], tmp_path, ndigits_limit=8, log=lambda _: None)
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["config"]["task"] == task
    run = written["runs"]["0"]
    assert set(run) == {"fp", "fp_finetuned", "4"}
    assert set(run["4"]) == set(VARIANTS)
    for variant, cell in run["4"].items():
        assert 0.0 <= cell["accuracy"] <= 1.0
        assert ("trained_accuracy" in cell) == (variant != "ptq")
    assert run == results["runs"]["0"]
    table = (tmp_path / "summary.md").read_text()
    assert all(LABELS[v] in table for v in VARIANTS) and "4-bit" in table


def test_variants_quantise_what_they_train_and_deploy_the_rest() -> None:
    calibration = [(torch.rand(4, 2, 2, 34, 34) < 0.2).float()]
    for variant in VARIANTS:
        model = prepare(variant, ndigits_model(2, 0), 4)
        neurons = spiking_neurons(model).values()
        has_weights = bool(quantized_layers(model))
        has_states = all(isinstance(n.state_quant, StateQuantizer) for n in neurons)
        assert has_weights == (variant in ("qat", "qat_squat"))
        assert has_states == variant.startswith(("squat", "qat_squat"))
        deploy(model, 4, calibration)
        assert quantized_layers(model)
        assert all(isinstance(n.state_quant, StateQuantizer) for n in neurons)
        assert all(n.state_quant.levels.numel() == 16 for n in neurons)


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="task"):
        GridConfig("mnist")
    with pytest.raises(ValueError, match="epochs"):
        GridConfig("morse", epochs=0)
    with pytest.raises(ValueError, match="variant"):
        prepare("fp16", ndigits_model(2, 0), 4)
    assert PRESETS["ndigits"].train_samples <= 1438
