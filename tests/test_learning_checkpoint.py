"""Tests for axonal.learning.checkpoint: safetensors round trip, atomic writes, bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from axonal.io import save_json_atomic
from axonal.learning import CheckpointError, load_checkpoint, save_checkpoint


class TiedNet(nn.Module):
    """Embedding tied to its read-out, a non-contiguous parameter and a buffer."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.embed = nn.Embedding(5, 4)
        self.out = nn.Linear(4, 5, bias=False)
        self.out.weight = self.embed.weight  # tied
        self.mix = nn.Parameter(torch.randn(3, 4, generator=g).t())  # [4, 3], not contiguous
        self.norm = nn.BatchNorm1d(3)  # running_mean / running_var / num_batches_tracked
        with torch.no_grad():
            self.embed.weight.copy_(torch.randn(5, 4, generator=g))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.embed(tokens) + self.norm(self.embed(tokens) @ self.mix).sum(-1, True))


def trained(seed: int, steps: int) -> tuple[TiedNet, torch.optim.Optimizer, Any]:
    model = TiedNet(seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.05, betas=(0.8, 0.95))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    tokens = torch.arange(10) % 5
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(tokens), (tokens + 1) % 5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model, opt, sched


def assert_same_state(a: Any, b: Any) -> None:
    """Nested state dicts equal: tensors bitwise, everything else by ==, same types."""
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same_state(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_state(x, y)
    else:
        assert a == b


def test_round_trip_restores_model_optimizer_scheduler_and_metadata(tmp_path: Path) -> None:
    model, opt, sched = trained(seed=0, steps=3)
    path = tmp_path / "ckpt.safetensors"
    meta = {"config": {"lr": 0.05, "name": "tied"}, "acc": [0.5, 0.75]}
    mask = torch.tensor([True, False, True])
    save_checkpoint(
        path, model, opt, epoch=3, step=7, scheduler=sched, metadata=meta,
        extra_tensors={"mask": mask},
    )  # fmt: skip

    fresh, fresh_opt, fresh_sched = trained(seed=1, steps=0)
    info = load_checkpoint(path, fresh, fresh_opt, scheduler=fresh_sched)

    assert info["epoch"] == 3 and info["step"] == 7 and info["metadata"] == meta
    extra = info["extra_tensors"]
    assert list(extra) == ["mask"] and torch.equal(extra["mask"], mask)
    assert_same_state(model.state_dict(), fresh.state_dict())
    assert_same_state(opt.state_dict(), fresh_opt.state_dict())
    assert_same_state(sched.state_dict(), fresh_sched.state_dict())
    assert fresh.out.weight is fresh.embed.weight  # still tied after loading
    # Both continue identically: the restored optimizer state is really in use.
    tokens = torch.arange(10) % 5
    for m, o in ((model, opt), (fresh, fresh_opt)):
        o.zero_grad()
        nn.functional.cross_entropy(m(tokens), tokens).backward()
        o.step()
    assert_same_state(model.state_dict(), fresh.state_dict())


def test_file_is_plain_safetensors_with_documented_layout(tmp_path: Path) -> None:
    model, opt, _ = trained(seed=0, steps=1)
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model, opt, epoch=1, extra_tensors={"x": torch.zeros(2)})
    with safe_open(path, framework="pt") as f:
        keys, header = set(f.keys()), f.metadata()
    assert {"model/embed.weight", "model/out.weight", "model/norm.running_mean"} <= keys
    assert {"optim/state/0/exp_avg", "optim/state/0/exp_avg_sq", "extra/x"} <= keys
    assert header["epoch"] == "1" and header["step"] == "0"
    assert json.loads(header["optimizer"])  # non-tensor optimizer state is JSON


def test_optimizer_requested_but_not_saved_is_an_error(tmp_path: Path) -> None:
    model, opt, _ = trained(seed=0, steps=1)
    path = tmp_path / "weights.safetensors"
    save_checkpoint(path, model)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        load_checkpoint(path, model, opt)
    assert load_checkpoint(path, model)["epoch"] == 0


def test_model_mismatch_names_the_file_and_strict_false_allows_missing(tmp_path: Path) -> None:
    path = tmp_path / "lin.safetensors"
    save_checkpoint(path, nn.Linear(3, 2))
    with pytest.raises(CheckpointError, match=r"lin\.safetensors"):
        load_checkpoint(path, nn.Linear(4, 2))  # shape mismatch
    with pytest.raises(CheckpointError, match=r"lin\.safetensors"):
        load_checkpoint(path, nn.Sequential(nn.Linear(3, 2)))  # different keys
    bigger = nn.Linear(3, 2)
    bigger.register_buffer("extra", torch.ones(1))
    load_checkpoint(path, bigger, strict=False)
    assert torch.equal(bigger.extra, torch.ones(1))


def test_failing_checkpoint_save_keeps_previous_file(tmp_path: Path) -> None:
    model, _, _ = trained(seed=0, steps=0)
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model, epoch=1, metadata={"ok": True})
    with torch.no_grad():
        model.mix.add_(1.0)
    with pytest.raises(TypeError):
        save_checkpoint(path, model, epoch=2, metadata={"bad": object()})
    with pytest.raises(ValueError):
        save_checkpoint(path, model, epoch=2, metadata={"bad": float("nan")})
    restored = TiedNet(seed=0)
    info = load_checkpoint(path, restored)
    assert info["epoch"] == 1 and info["metadata"] == {"ok": True}
    assert torch.equal(restored.mix, TiedNet(seed=0).mix)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]  # no temp files left


def test_json_write_failing_midway_keeps_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    save_json_atomic(path, {"a": 1})
    # json.dump streams: the long list is written to the temporary file before the failure.
    with pytest.raises(TypeError):
        save_json_atomic(path, {"long": list(range(100_000)), "bad": object()})
    with pytest.raises(ValueError):
        save_json_atomic(path, {"loss": float("inf")})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_save_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "demo" / "config.json"
    save_json_atomic(path, {"nested": {"x": [1, 2.5, None]}})
    assert json.loads(path.read_text()) == {"nested": {"x": [1, 2.5, None]}}


def _truncated(path: Path) -> None:
    save_checkpoint(path, nn.Linear(3, 2), epoch=1)
    path.write_bytes(path.read_bytes()[:-10])


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 4)


def _foreign_safetensors(path: Path) -> None:
    save_file({"weight": torch.zeros(2, 3), "bias": torch.zeros(2)}, path)


def _json_file(path: Path) -> None:
    save_json_atomic(path, {"weight": [1, 2]})


@pytest.mark.parametrize("make_bad", [_truncated, _garbage, _foreign_safetensors, _json_file])
def test_corrupt_or_foreign_file_raises_checkpoint_error(tmp_path: Path, make_bad: Any) -> None:
    path = tmp_path / "bad.safetensors"
    make_bad(path)
    with pytest.raises(CheckpointError, match=r"bad\.safetensors"):
        load_checkpoint(path, nn.Linear(3, 2))


def test_checkpoint_error_is_a_value_error_and_missing_file_is_not_found(tmp_path: Path) -> None:
    assert issubclass(CheckpointError, ValueError)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.safetensors", nn.Linear(3, 2))


BAD_COUNTERS = [({"epoch": -1}, ValueError), ({"step": 1.5}, TypeError)]


@pytest.mark.parametrize(("kwargs", "error"), BAD_COUNTERS)
def test_bad_counters_are_rejected(tmp_path: Path, kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        save_checkpoint(tmp_path / "c.safetensors", nn.Linear(2, 2), **kwargs)
    assert not (tmp_path / "c.safetensors").exists()
