"""Tests for axonal.learning.trainer on a tiny spiking network written here (model-agnostic)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from axonal.data import time_major_collate
from axonal.learning import History, Trainer, load_checkpoint

T, CHANNELS, HIDDEN = 20, 2, 16


class Spike(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid surrogate gradient backward."""

    @staticmethod
    def forward(ctx: Any, v: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(v)
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (v,) = ctx.saved_tensors
        return grad / (1 + 5 * v.abs()) ** 2


class TinySNN(nn.Module):
    """Linear -> leaky integrate-and-fire (subtractive reset) -> mean spike count -> Linear.

    Input [T, B, CHANNELS]; output logits [B, 2]. Weights from a seeded generator.
    """

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.fc = nn.Linear(CHANNELS, HIDDEN)
        self.readout = nn.Linear(HIDDEN, 2)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = self.fc(x)
        v = torch.zeros_like(current[0])
        spikes = []
        for t in range(x.shape[0]):
            v = 0.9 * v + current[t]
            s = Spike.apply(v - 1.0)
            v = v - s
            spikes.append(s)
        return self.readout(torch.stack(spikes).mean(0))


def spike_trains(n: int, seed: int) -> TensorDataset:
    """Task: which of 2 channels fires more? Rates 0.5 vs 0.15; samples [T, 2], label 0/1."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    rates = torch.full((n, CHANNELS), 0.15)
    rates[torch.arange(n), labels] = 0.5
    spikes = torch.bernoulli(rates[:, None, :].expand(n, T, CHANNELS), generator=g)
    return TensorDataset(spikes, labels)


def loader(data: TensorDataset, shuffle: bool = True) -> DataLoader:
    return DataLoader(
        data, batch_size=32, shuffle=shuffle, collate_fn=time_major_collate,
        generator=torch.Generator(),
    )  # fmt: skip


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == targets).float().mean()


def make_trainer(run_dir: Path | None, seed: int = 0, **kwargs: Any) -> Trainer:
    model = TinySNN(seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.8**epoch)  # not chainable
    return Trainer(
        model, opt, nn.functional.cross_entropy, run_dir=run_dir, scheduler=sched,
        progress=False, seed=seed, **kwargs,
    )  # fmt: skip


def test_training_lowers_loss_and_learns_the_task() -> None:
    trainer = make_trainer(None, grad_clip=1.0)
    train, val = loader(spike_trains(256, seed=0)), loader(spike_trains(128, seed=1), False)
    before = trainer.evaluate(val, {"accuracy": accuracy})
    history = trainer.fit(train, epochs=6, val_loader=val, metrics={"accuracy": accuracy})
    after = history.val[-1]
    assert after["loss"] < 0.5 * before["loss"]
    assert after["accuracy"] >= 0.9 > before["accuracy"] + 0.2
    assert history.train_loss[-1] < history.train_loss[0]
    assert len(history.seconds) == 6 and trainer.epoch == 6 and trainer.step == 6 * 8


def test_resume_reproduces_an_uninterrupted_run_exactly(tmp_path: Path) -> None:
    data = loader(spike_trains(96, seed=0))
    straight = make_trainer(tmp_path / "straight")
    straight.fit(data, epochs=4)

    first = make_trainer(tmp_path / "resumed")
    first.fit(data, epochs=2)
    halfway = {k: v.clone() for k, v in first.model.state_dict().items()}
    second = make_trainer(tmp_path / "resumed")  # fresh model, optimizer and scheduler
    history = second.fit(data, epochs=4, resume=True)

    assert second.epoch == 4 and second.step == straight.step == 4 * 3
    assert history.train_loss == straight.history.train_loss
    assert second.scheduler.get_last_lr() == straight.scheduler.get_last_lr()
    for name, value in straight.model.state_dict().items():
        assert torch.equal(second.model.state_dict()[name], value), name
        assert not torch.equal(halfway[name], value), name  # the last 2 epochs did change it


def test_resume_without_checkpoint_starts_fresh_and_rejects_another_seed(tmp_path: Path) -> None:
    data = loader(spike_trains(64, seed=0))
    trainer = make_trainer(tmp_path)
    assert trainer.resume() is False and trainer.epoch == 0
    trainer.fit(data, epochs=1)
    with pytest.raises(ValueError, match="seed 0"):
        make_trainer(tmp_path, seed=1).resume()
    with pytest.raises(ValueError, match="run_dir"):
        make_trainer(None).resume()


def test_metrics_json_holds_the_history_and_checkpoint_the_state(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path / "run")
    train, val = loader(spike_trains(64, seed=0)), loader(spike_trains(32, seed=1), False)
    history = trainer.fit(train, epochs=2, val_loader=val, metrics={"accuracy": accuracy})

    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved == history.to_dict()
    assert History.from_dict(saved) == history
    assert len(saved["train_loss"]) == 2 and all(s > 0 for s in saved["seconds"])
    assert [set(v) for v in saved["val"]] == [{"loss", "accuracy"}] * 2
    info = load_checkpoint(tmp_path / "run" / "checkpoint.safetensors", TinySNN(seed=5))
    assert info["epoch"] == 2 and info["step"] == 4 and info["metadata"]["history"] == saved


class CrashingLoader:
    """Yields the same batches every epoch, raises at the start of epoch ``crash_epoch``."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]], crash_epoch: int) -> None:
        self.batches, self.crash_epoch, self.epochs = batches, crash_epoch, 0

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.epochs += 1
        if self.epochs == self.crash_epoch:
            raise RuntimeError("simulated crash")
        return iter(self.batches)


def test_crash_keeps_last_checkpoint_and_metrics_of_finished_epochs(tmp_path: Path) -> None:
    batches = list(loader(spike_trains(64, seed=0), shuffle=False))
    trainer = make_trainer(tmp_path)
    with pytest.raises(RuntimeError, match="simulated crash"):
        trainer.fit(CrashingLoader(batches, crash_epoch=4), epochs=5, checkpoint_every=2)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert len(metrics["train_loss"]) == 3
    assert load_checkpoint(tmp_path / "checkpoint.safetensors", TinySNN(seed=5))["epoch"] == 2


def test_non_finite_loss_raises_with_epoch_and_step() -> None:
    batches = list(loader(spike_trains(96, seed=0), shuffle=False))
    # cross_entropy with class-probability targets [B, 2]; the third batch's are NaN.
    batches = [(x, nn.functional.one_hot(y, 2).float()) for x, y in batches]
    batches[2] = (batches[2][0], torch.full_like(batches[2][1], torch.nan))
    trainer = make_trainer(None)
    with pytest.raises(FloatingPointError, match=r"nan at epoch 1 .*step 3"):
        trainer.fit(batches, epochs=1)
    assert trainer.step == 2  # the bad batch did not update the weights


def test_shuffling_loader_without_generator_is_rejected() -> None:
    data = DataLoader(spike_trains(32, seed=0), batch_size=8, shuffle=True,
                      collate_fn=time_major_collate)  # fmt: skip
    with pytest.raises(ValueError, match="generator"):
        make_trainer(None).fit(data, epochs=1)


def test_bad_batches_and_empty_loaders_are_rejected() -> None:
    trainer = make_trainer(None)
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        trainer.evaluate([(torch.zeros(5), torch.zeros(5))])
    with pytest.raises(TypeError, match="inputs, targets"):
        trainer.evaluate([torch.zeros(3, 2, 2)])
    with pytest.raises(ValueError, match="no batches"):
        trainer.evaluate([])
    with pytest.raises(ValueError, match="no batches"):
        trainer.fit([], epochs=1)


def test_time_major_collate_pads_variable_lengths() -> None:
    a = torch.ones(3, 2)
    b = torch.full((5, 2), 2.0)
    inputs, targets = time_major_collate([(a, 0), (b, 1)])
    assert inputs.shape == (5, 2, 2)  # [T_max, B, C]
    assert torch.equal(inputs[:3, 0], a) and torch.equal(inputs[3:, 0], torch.zeros(2, 2))
    assert torch.equal(inputs[:, 1], b)
    assert torch.equal(targets, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(3, 2\), \(4, 3\)"):
        time_major_collate([(a, 0), (torch.ones(4, 3), 1)])


def test_progress_prints_one_summary_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    trainer = make_trainer(None)
    trainer.progress = True
    data = loader(spike_trains(32, seed=0), shuffle=False)
    trainer.fit(data, epochs=2, val_loader=data, metrics={"accuracy": accuracy})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "train_loss" in lines[1] and "val_accuracy" in lines[1]


def test_plasticity_rules_apply_after_warm_up_and_resume(tmp_path: Path) -> None:
    """An SSDP rule on the readout, observed by hand through a wrapper model: with a zero
    learning rate only the rule moves the weight, and only once its warm-up epoch is over."""
    from axonal.learning import SSDP

    class Observed(nn.Module):
        def __init__(self, rule_holder: list) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(CHANNELS, HIDDEN), nn.Linear(HIDDEN, 2))
            self.rules = rule_holder

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            hidden = (self.net[0](x) > 0).float()
            out = self.net[1](hidden)
            for rule in self.rules:
                rule.observe(hidden, (out > 0).float())
            return out.mean(0)

    def trainer_with_rule(run_dir: Path) -> tuple[Trainer, SSDP, nn.Module]:
        holder: list = []
        model = Observed(holder)
        rule = SSDP(model.net[1], a_plus=1e-2, a_baseline=1e-3, start_epoch=1)
        holder.append(rule)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        trainer = Trainer(
            model, optimizer, nn.functional.cross_entropy, run_dir=run_dir,
            plasticity=[rule], progress=False,
        )  # fmt: skip
        return trainer, rule, model

    trainer, rule, model = trainer_with_rule(tmp_path)
    data = loader(spike_trains(64, seed=0))
    first = model.net[0].weight.clone()
    start = model.net[1].weight.clone()
    trainer.fit(data, epochs=1)
    assert torch.equal(model.net[1].weight, start)  # warm-up: nothing applied
    trainer.fit(data, epochs=2)
    assert not torch.equal(model.net[1].weight, start)
    assert torch.equal(model.net[0].weight, first)  # the rule touches only its weight
    assert rule.epoch == 2

    resumed, resumed_rule, _ = trainer_with_rule(tmp_path)
    assert resumed.resume()
    assert resumed_rule.epoch == 2
