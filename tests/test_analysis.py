"""Tests of axonal.analysis: spike monitors, operation counts against hand counts, plots."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from axonal.analysis import (
    SpikeMonitor,
    count_operations,
    plot_curves,
    plot_raster,
    spiking_layers,
)
from axonal.analysis.operations import event_quantum
from axonal.nn import ILIF, LI, LIF, RLIF, LIFCell, Sequential

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def gated_lif() -> LIF:
    """A LIF that spikes exactly at the steps whose input is 2 when inputs are in {0, 2}."""
    return LIF(beta=0.5, threshold=1.0, reset="zero")


def one_spike(shape: tuple[int, ...], *index: int) -> torch.Tensor:
    """A [1, 1, *shape] input holding a single spike at ``index``."""
    x = torch.zeros(1, 1, *shape)
    x[(0, 0, *index)] = 1.0
    return x


def sops(model: nn.Module, x: torch.Tensor) -> float:
    return count_operations(model, x).total_sops


# --- SpikeMonitor ---------------------------------------------------------------------------


def test_monitor_counts_spikes_and_rates() -> None:
    net = Sequential(gated_lif())
    x = torch.zeros(4, 2, 3)
    x[0, 0, 0] = x[1, 0, 2] = x[3, 1, 1] = 2.0  # three spikes
    with SpikeMonitor(net) as monitor:
        out = net(x)
    assert out.sum() == 3  # the gated neuron behaves as assumed
    (row,) = monitor.summary()
    assert (row.name, row.layer, row.neurons, row.samples, row.time_steps) == ("0", "LIF", 3, 2, 4)
    assert row.spikes == 3
    assert monitor.firing_rates() == {"0": pytest.approx(3 / (4 * 2 * 3))}
    assert monitor.total_spikes() == 3
    assert monitor.spikes_per_sample() == pytest.approx(1.5)


def test_monitor_accumulates_calls_and_resets() -> None:
    net = Sequential(gated_lif())
    x = torch.full((5, 2, 4), 2.0)
    with SpikeMonitor(net) as monitor:
        net(x)
        net(x)
        (row,) = monitor.summary()
        assert (row.samples, row.time_steps, row.spikes) == (4, 5, 80)
        assert row.firing_rate == 1.0
        monitor.reset()
        assert monitor.summary() == []


def test_monitor_counts_integer_neurons_by_value() -> None:
    net = Sequential(ILIF(max_spikes=4))
    x = torch.tensor([0.2, 1.0, 2.6, 7.0]).reshape(1, 1, 4)  # k = 0, 1, 3, 4 at T = 1
    with SpikeMonitor(net) as monitor:
        net(x)
    (row,) = monitor.summary()
    assert (row.quantum, row.spikes) == (4, 8)
    assert monitor.firing_rates() == {"0": 2.0}
    assert monitor.firing_rates(binary_equivalent=True) == {"0": 0.5}


def test_spiking_layers_selection_and_names() -> None:
    net = Sequential(
        Sequential(nn.Linear(2, 3), LIF()), RLIF(3), nn.Linear(3, 2), ILIF(), nn.Linear(2, 2), LI()
    )
    # LI is a readout; the RLIF counts as one layer, its inner neuron is not listed
    assert list(spiking_layers(net)) == ["0.1", "1", "3"]
    assert list(spiking_layers(LIF())) == ["LIF"]
    with pytest.raises(TypeError, match="Module"):
        spiking_layers("not a model")  # type: ignore[arg-type]


def test_monitor_counts_rlif_at_layer_level() -> None:
    net = Sequential(RLIF(3))
    x = torch.full((6, 2, 3), 1.5)
    with SpikeMonitor(net) as monitor:
        out = net(x)
    assert monitor.layer_names == ["0"]
    (row,) = monitor.summary()
    assert row.spikes == out.sum().item() > 0
    assert (row.samples, row.time_steps, row.neurons) == (2, 6, 3)


def test_monitor_removes_hooks() -> None:
    neuron = gated_lif()
    net = Sequential(neuron)
    x = torch.full((2, 1, 3), 2.0)
    with SpikeMonitor(net) as monitor:
        net(x)
    assert len(neuron._forward_hooks) == 0
    net(x)
    assert monitor.total_spikes() == 6
    plain = SpikeMonitor(net)
    assert len(neuron._forward_hooks) == 1
    plain.remove()
    assert len(neuron._forward_hooks) == 0


def test_monitor_cells_are_successive_steps() -> None:
    cell = LIFCell(beta=0.5, reset="zero")
    with SpikeMonitor(cell) as monitor:
        state = None
        for value in (2.0, 0.0, 2.0):
            _, state = cell(torch.full((3, 2), value), state)
    (row,) = monitor.summary()
    assert (row.samples, row.time_steps, row.spikes) == (3, 3, 12)
    assert row.firing_rate == pytest.approx(2 / 3)


def test_monitor_records_and_keeps_graph_intact() -> None:
    net = Sequential(nn.Linear(3, 4), LIF())
    x = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(1)) * 3
    with SpikeMonitor(net, record=True) as monitor:
        out1 = net(x)
        out2 = net(x[:, :1])
        out1.sum().backward()  # hooks must not break autograd
    recorded = monitor.records("1")
    assert recorded.shape == (5, 3, 4)
    torch.testing.assert_close(recorded, torch.cat([out1, out2], dim=1).detach())
    assert not recorded.requires_grad
    with pytest.raises(ValueError, match="no spiking layer"):
        monitor.records("0")
    with pytest.raises(ValueError, match="record=True"):
        SpikeMonitor(net).records("1")


# --- event detection ------------------------------------------------------------------------


def test_event_quantum_rule() -> None:
    assert event_quantum(torch.tensor([0.0, 1.0, 1.0]), [1, 4]) == 1
    assert event_quantum(torch.tensor([0.0, 0.25, 0.75]), [1, 4]) == 4
    assert event_quantum(torch.tensor([0.0, 0.3]), [1, 4]) is None
    assert event_quantum(torch.tensor([0.0, -1.0]), [1, 4]) is None
    assert event_quantum(torch.zeros(3), [1]) == 1


# --- operation counts against hand counts ---------------------------------------------------


def test_linear_sops_are_spikes_times_fan_out() -> None:
    layer = nn.Linear(5, 3)
    x = torch.tensor([[[1.0, 0, 1, 0, 0]], [[0, 1, 0, 0, 1]]])  # [T=2, B=1, 5], 4 spikes
    report = count_operations(Sequential(layer, LIF()), x, e_mac=2.0, e_ac=0.5)
    (row,) = report.rows
    assert (row.name, row.input_kind, row.quantum) == ("0", "event", 1)
    assert (row.sops, row.macs, row.ann_macs) == (4 * 3, 0, 2 * 5 * 3)
    assert report.energy_joules == 0.5 * 12
    assert (row.params, row.param_bytes) == (18, 18 * 4)


@pytest.mark.parametrize(
    ("index", "reach"),
    [((0, 0, 0), 4), ((0, 2, 2), 9), ((0, 0, 2), 6), ((0, 4, 4), 4)],
)
def test_conv_sops_handle_borders(index: tuple[int, ...], reach: int) -> None:
    conv = nn.Conv2d(1, 5, 3, stride=1, padding=1)
    assert sops(Sequential(conv), one_spike((1, 5, 5), *index)) == reach * 5


@pytest.mark.parametrize(("index", "reach"), [((0, 0, 0), 1), ((0, 1, 1), 4), ((0, 2, 2), 1)])
def test_conv_sops_with_stride(index: tuple[int, ...], reach: int) -> None:
    # 5x5 input, padding 1, stride 2: output i covers input rows 2i-1 .. 2i+1
    conv = nn.Conv2d(1, 3, 3, stride=2, padding=1)
    assert sops(Sequential(conv), one_spike((1, 5, 5), *index)) == reach * 3


def test_conv_sops_with_groups_and_dilation() -> None:
    grouped = nn.Conv2d(2, 4, 3, padding=1, groups=2)  # channel 0 feeds out channels 0, 1
    assert sops(Sequential(grouped), one_spike((2, 5, 5), 0, 2, 2)) == 9 * 2
    dilated = nn.Conv1d(1, 2, 3, dilation=2)  # L=7 -> 3 outputs, output j reads j, j+2, j+4
    assert sops(Sequential(dilated), one_spike((1, 7), 0, 4)) == 2 * 2  # from j = 0 and 2
    assert sops(Sequential(dilated), one_spike((1, 7), 0, 3)) == 1 * 2  # from j = 1


def test_integer_spikes_counted_by_value() -> None:
    x = torch.tensor([0.2, 1.0, 2.6, 7.0]).reshape(1, 1, 4)  # ILIF k = 0, 1, 3, 4
    report = count_operations(Sequential(ILIF(max_spikes=4), nn.Linear(4, 3)), x)
    assert (report.rows[0].input_kind, report.rows[0].quantum) == ("event", 4)
    assert report.total_sops == 8 * 3
    # saturated outputs read {0, 1}: the quantum must come from the producing ILIF
    x = torch.tensor([0.0, 7.0, 9.0, 0.1]).reshape(1, 1, 4)  # k = 0, 4, 4, 0
    assert sops(Sequential(ILIF(max_spikes=4), nn.Linear(4, 3)), x) == 8 * 3
    x = torch.zeros(1, 1, 1, 5, 5)
    x[0, 0, 0, 2, 2] = 2.6  # k = 3 in the centre of a 3x3 padded conv with 2 out channels
    assert sops(Sequential(ILIF(max_spikes=4), nn.Conv2d(1, 2, 3, padding=1)), x) == 3 * 9 * 2


def test_dense_macs_equal_ann_count() -> None:
    time, batch, c_in, c_out, k, size = 2, 3, 2, 3, 3, 7
    net = Sequential(nn.Conv2d(c_in, c_out, k), LIF(), nn.Flatten(), nn.Linear(c_out * 25, 4))
    x = torch.rand(time, batch, c_in, size, size, generator=torch.Generator().manual_seed(2))
    report = count_operations(net, x, e_mac=2.0, e_ac=1.0)
    conv, linear = report.rows
    h_out = size - k + 1
    expected = c_out * c_in * k * k * h_out * h_out * time * batch
    assert (conv.input_kind, conv.macs, conv.sops, conv.ann_macs) == (
        "dense",
        expected,
        0,
        expected,
    )
    spikes = report.neurons[0].spikes
    assert (linear.input_kind, linear.macs, linear.sops) == ("event", 0, spikes * 4)
    assert report.energy_joules == 2.0 * expected + 1.0 * spikes * 4
    assert report.total_ann_macs == expected + c_out * 25 * 4 * time * batch
    assert report.firing_rates["1"] == spikes / (time * batch * c_out * h_out * h_out)


def test_rlif_recurrent_weight_counts_fed_back_spikes() -> None:
    net = Sequential(RLIF(3))
    x = torch.rand(6, 2, 3, generator=torch.Generator().manual_seed(3)) * 3
    with torch.no_grad():
        out = net(x)
    report = count_operations(net, x)
    (row,) = report.rows
    assert (row.name, row.input_kind) == ("0.recurrent", "event")
    # step t receives the spikes of step t - 1 (none at t = 0)
    assert row.sops == out[:-1].sum().item() * 3 > 0
    assert [a.name for a in report.neurons] == ["0"]


def test_per_sample_divides_by_batch_and_table() -> None:
    net = Sequential(nn.Linear(4, 6), LIF(), nn.Linear(6, 2))
    x = torch.rand(3, 4, 4, generator=torch.Generator().manual_seed(4)) * 4
    report = count_operations(net, x)
    single = report.per_sample()
    assert single.samples == 1
    assert single.total_macs == report.total_macs / 4
    assert single.total_sops == report.total_sops / 4
    assert single.energy_joules == pytest.approx(report.energy_joules / 4)
    assert single.neurons[0].spikes == report.neurons[0].spikes / 4
    assert single.params == report.params == 4 * 6 + 6 + 6 * 2 + 2
    text = report.table()
    assert "per run of 4 samples" in text and "per sample" in single.table()
    assert all(name in text for name in ("0", "2", "total", "LIF"))


def test_count_operations_runs_in_eval_mode_and_restores_modes() -> None:
    norm = nn.BatchNorm1d(3)
    net = Sequential(norm, nn.Dropout(0.9), gated_lif())
    x = torch.full((2, 4, 3), 2.0)
    report = count_operations(net, x)
    # eval mode: batch norm uses its initial running stats (identity) and dropout is off
    assert report.neurons[0].spikes == x.numel()
    assert torch.equal(norm.running_mean, torch.zeros(3))
    assert int(norm.num_batches_tracked) == 0
    assert all(m.training for m in net.modules())


def test_count_operations_validates() -> None:
    net = Sequential(nn.Linear(3, 3), LIF())
    with pytest.raises(ValueError, match="T, B"):
        count_operations(net, torch.ones(3))
    with pytest.raises(ValueError, match="e_ac"):
        count_operations(net, torch.ones(2, 1, 3), e_ac=-1.0)
    with pytest.raises(TypeError, match="Module"):
        count_operations("net", torch.ones(2, 1, 3))  # type: ignore[arg-type]


# --- plots ----------------------------------------------------------------------------------


def test_plot_raster_points_and_png(tmp_path) -> None:
    spikes = (torch.rand(20, 2, 15, generator=torch.Generator().manual_seed(5)) < 0.2).float()
    path = tmp_path / "raster.png"
    ax = plot_raster(spikes, title="raster", path=path)
    offsets = ax.collections[0].get_offsets()
    assert len(offsets) == int(spikes[:, 0].sum())  # sample 0 of [T, B, N]
    t, n = np.nonzero(spikes[:, 0].numpy())
    assert sorted(map(tuple, np.asarray(offsets).tolist())) == sorted(zip(t, n, strict=True))
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    limited = plot_raster(spikes[:, 0], max_neurons=5)
    assert len(limited.collections[0].get_offsets()) == int(spikes[:, 0, :5].sum())
    with pytest.raises(ValueError, match="T, N"):
        plot_raster(torch.ones(5))


def test_plot_curves_png(tmp_path) -> None:
    history = {"loss": [1.0, 0.5, 0.25], "accuracy": [0.2, 0.6, 0.9]}
    path = tmp_path / "curves.png"
    figure = plot_curves(history, path=path, title="training")
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["loss", "accuracy"]
    assert visible[1].lines[0].get_ydata().tolist() == history["accuracy"]
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="non-empty"):
        plot_curves({})


def test_import_leaves_pyplot_alone() -> None:
    code = "import sys, axonal.analysis; assert 'matplotlib.pyplot' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
