"""NIR export/import: exact round trips through files, the parameter mapping, reset semantics,
graph execution (skip, recurrent, delay), and one clear error for every kind of bad input."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
import torch
from nir.ir.graph import Identity
from torch import nn

import axonal.nn as ann
from axonal.functional.continuous import decay
from axonal.interop.nir import (
    NIRConversionError,
    NIRGraphModule,
    NIRSemanticsWarning,
    from_nir,
    to_nir,
)
from axonal.interop.nir.params import input_scale, leak_gain, resistance, time_constant

DT = 1e-4


def randomize(model: nn.Module, seed: int, scale: float = 0.8) -> nn.Module:
    """Overwrite every weight and bias with seeded normal values (no global RNG)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                for p in module.parameters(recurse=False):
                    p.copy_(torch.randn(p.shape, generator=g) * scale)
    return model


def spikes(shape: tuple[int, ...], seed: int, p: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


def quiet(fn: Callable, *args, **kwargs):
    """Call ``fn`` with the NIR semantics warnings silenced (they are tested on their own)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NIRSemanticsWarning)
        return fn(*args, **kwargs)


def through_file(graph: nir.NIRGraph, tmp_path: Path, **kwargs) -> NIRGraphModule:
    """Write with nir, read back with nir's own type checks, import the file with axonal."""
    path = tmp_path / "model.nir"
    nir.write(path, graph)
    nir.read(path, type_check=True)  # every node carries consistent input/output types
    return quiet(from_nir, path, **kwargs)


# ----------------------------------------------------------------------------- round trips
def ff_neurons():
    return ann.Sequential(
        nn.Linear(6, 12),
        ann.LIF(beta=torch.linspace(0.5, 0.97, 12), threshold=0.8),
        nn.Linear(12, 10),
        ann.IF(threshold=1.2, reset="zero", v_reset=-0.3),
        nn.Linear(10, 8, bias=False),
        ann.CubaLIF(alpha=0.6, beta=0.85, reset="none"),
        nn.Linear(8, 4),
        ann.LI(beta=0.9, v_leak=0.1),
    ), (30, 3, 6)


def ff_continuous():
    kw = {"dt": DT, "method": "euler"}
    return ann.Sequential(
        nn.Linear(6, 10),
        ann.LIF.from_continuous(tau=2e-3, r=3.0, v_leak=-0.05, v_threshold=0.4, **kw),
        nn.Linear(10, 5),
        ann.CubaLI.from_continuous(tau_syn=1e-3, tau_mem=4e-3, r=2.0, w_in=0.5, **kw),
        ann.Scale(torch.tensor([1.0, -2.0, 0.5, 3.0, 1.5])),
        ann.LI(beta=1.0, input_scale=0.25),  # an integrator: NIR's I
        ann.Threshold(0.05),
    ), (30, 3, 6)


def conv2d():
    return ann.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        ann.LIF(beta=torch.tensor([0.6, 0.7, 0.8, 0.9]).view(4, 1, 1), reset="zero"),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 4, 3, stride=2, padding=(1, 0), bias=False),
        ann.IF(),
        ann.SumPool2d(2, padding=1),
        nn.Flatten(),
        nn.Linear(16, 5),
        ann.LIF(beta=0.9),
    ), (12, 2, 2, 10, 10)


def conv1d():
    return ann.Sequential(
        nn.Conv1d(3, 4, 3, padding="same", dilation=2),
        ann.CubaLIF(alpha=0.5, beta=0.8),
        nn.Flatten(),
        nn.Linear(32, 5),
        ann.Delay(torch.tensor([0, 1, 2, 3, 5])),
        ann.LIF(beta=0.9),
    ), (20, 2, 3, 8)


def recurrent():
    return ann.Sequential(
        nn.Linear(5, 9),
        ann.RLIF(9, beta=0.85, threshold=0.9, reset="zero", bias=True),
        nn.Linear(9, 7),
        ann.RLIF(7, beta=0.7),
        nn.Linear(7, 3),
        ann.Sequential(ann.LI(beta=0.95)),
    ), (40, 2, 5)


def adaptive():
    """The NeuroMorse shape with an adaptive layer: Linear, ALIF, Linear, LIF, Linear, LI."""
    return ann.Sequential(
        nn.Linear(2, 16),
        ann.ALIF(beta=0.9, adapt_decay=0.95, adapt_strength=0.3),
        nn.Linear(16, 16),
        ann.LIF(beta=0.85),
        nn.Linear(16, 5),
        ann.LI(beta=0.99),
    ), (60, 3, 2)


MODELS = {
    "feedforward": ff_neurons,
    "continuous": ff_continuous,
    "conv2d": conv2d,
    "conv1d": conv1d,
    "recurrent": recurrent,
}


@pytest.mark.parametrize("method", ["euler", "exp"])
@pytest.mark.parametrize("name", list(MODELS))
def test_round_trip_through_file_gives_identical_outputs(name, method, tmp_path):
    model, shape = MODELS[name]()
    model = randomize(model, seed=1)
    x = spikes(shape, seed=2)
    graph = quiet(to_nir, model, x, dt=DT, method=method)
    imported = through_file(graph, tmp_path, dt=DT, method=method)
    expected = model(x)
    assert expected.abs().sum() > 0
    assert torch.equal(imported(x), expected)
    # and back: the imported module exports the same parameters
    again = quiet(to_nir, imported, x, dt=DT, method=method)
    assert_same_graph(graph, again)


def assert_same_graph(a: nir.NIRGraph, b: nir.NIRGraph) -> None:
    assert set(a.nodes) == set(b.nodes)
    assert sorted(a.edges) == sorted(b.edges)
    for name, node in a.nodes.items():
        other = b.nodes[name]
        assert type(node) is type(other)
        if isinstance(node, nir.NIRGraph):
            assert_same_graph(node, other)
            continue
        fields = {k: v for k, v in node.to_dict().items() if k not in ("type", "metadata")}
        for key, value in fields.items():
            np.testing.assert_array_equal(np.asarray(other.to_dict()[key]), np.asarray(value))


def test_adaptive_model_exports_only_with_extensions(tmp_path):
    model, shape = adaptive()
    model = randomize(model, seed=3)
    x = spikes(shape, seed=4)
    with pytest.raises(NIRConversionError, match=r"alif_1 \(ALIF\).*extensions=True"):
        quiet(to_nir, model, x)
    with pytest.warns(NIRSemanticsWarning, match="alif_1: threshold adaptation"):
        graph = to_nir(model, x, extensions=True)
    assert isinstance(graph.nodes["alif_1"], nir.LIF)
    assert graph.nodes["alif_1"].metadata["axonal.neuron"] == "ALIF"
    assert torch.equal(through_file(graph, tmp_path)(x), model(x))
    plain = through_file(graph, tmp_path, extensions=False)  # what other tools run
    assert isinstance(plain.node("alif_1"), ann.LIF)
    assert not torch.equal(plain(x), model(x))


def test_neuromorse_model_exports_and_scores_the_same(tmp_path):
    from axonal.tasks.morse import build_model

    model = build_model(hidden=24, seed=5)
    x = spikes((80, 4, 2), seed=6, p=0.2)
    imported = through_file(quiet(to_nir, model, x), tmp_path)
    assert torch.equal(imported(x), model(x))


# ----------------------------------------------------------------------------- the mapping
def test_snntorch_convention_beta_0_9_is_tau_1ms_r_10():
    """papers.md: beta = 0.9 <-> tau = 1e-3 s, r = 10 (dt = 1e-4, Euler, unit input gain)."""
    graph = quiet(to_nir, ann.LIF(beta=0.9), torch.zeros(1, 1, 3), dt=1e-4, method="euler")
    lif = graph.nodes["lif"]
    np.testing.assert_allclose(lif.tau, 1e-3, rtol=1e-6)
    np.testing.assert_allclose(lif.r, 10.0, rtol=1e-6)
    np.testing.assert_array_equal(lif.v_leak, 0.0)
    assert lif.tau.shape == (3,)


def test_exp_method_inverts_the_exponential():
    beta = math.exp(-0.1)
    graph = quiet(to_nir, ann.LIF(beta=beta), torch.zeros(1, 1, 2), dt=1e-4, method="exp")
    np.testing.assert_allclose(graph.nodes["lif"].tau, 1e-3, rtol=1e-6)
    np.testing.assert_allclose(graph.nodes["lif"].r, 1 / (1 - beta), rtol=1e-6)


def test_continuous_parameters_come_back_out():
    neuron = ann.LIF.from_continuous(
        tau=5e-3, dt=1e-4, r=2.5, v_leak=-0.2, v_threshold=0.7, v_reset=0.1, reset="zero"
    )
    lif = to_nir(neuron, torch.zeros(1, 1, 4), dt=1e-4, method="exp").nodes["lif"]
    for value, expected in [(lif.tau, 5e-3), (lif.r, 2.5), (lif.v_leak, -0.2)]:
        np.testing.assert_allclose(value, expected, rtol=1e-6)
    np.testing.assert_allclose(lif.v_threshold, 0.7, rtol=1e-6)
    np.testing.assert_allclose(lif.v_reset, 0.1, rtol=1e-6)
    assert lif.metadata == {}


def test_if_and_cuba_gains():
    x = torch.zeros(1, 1, 2)
    node = to_nir(ann.IF(reset="zero", input_scale=0.5), x, dt=1e-3).nodes["if"]
    np.testing.assert_allclose(node.r, 500.0)  # dv = dt * r * I
    cuba = quiet(to_nir, ann.CubaLIF(alpha=0.8, beta=0.9), x, dt=1e-4).nodes["cubalif"]
    np.testing.assert_allclose(cuba.tau_syn, 5e-4, rtol=1e-6)  # Euler: dt / (1 - alpha)
    np.testing.assert_allclose(cuba.w_in, 5.0, rtol=1e-6)  # = tau_syn / dt (snnTorch's form)
    np.testing.assert_allclose(cuba.r, 10.0, rtol=1e-6)  # = tau_mem / dt


@pytest.mark.parametrize("method", ["exp", "euler"])
def test_mapping_inverts_exactly_in_float32(method):
    g = torch.Generator().manual_seed(7)
    beta = torch.rand(50_000, generator=g) * 0.9999 + 1e-5
    scale = torch.rand(50_000, generator=g) * 5 + 1e-6
    back = decay(time_constant(beta, 1e-4, method), 1e-4, method)
    assert torch.equal(back, beta)
    assert torch.equal(input_scale(leak_gain(back), resistance(scale, leak_gain(back))), scale)


def test_decay_outside_open_interval_has_no_time_constant():
    x = torch.zeros(1, 1, 2)
    with pytest.raises(NIRConversionError, match=r"lif \(LIF\).*strictly inside \(0, 1\)"):
        quiet(to_nir, ann.LIF(beta=0.0), x)
    with pytest.raises(NIRConversionError, match=r"beta = 1 .* only some neurons"):
        to_nir(ann.LI(beta=torch.tensor([1.0, 0.5])), x)


# ----------------------------------------------------------------------------- resets
def test_zero_reset_exports_silently_with_v_reset():
    model = ann.Sequential(nn.Linear(3, 4), ann.LIF(reset="zero", v_reset=-0.4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        graph = to_nir(model, torch.zeros(2, 1, 3))
    np.testing.assert_allclose(graph.nodes["lif_1"].v_reset, -0.4, rtol=1e-6)


def test_subtract_reset_warns_and_travels_as_metadata(tmp_path):
    model = randomize(ann.Sequential(nn.Linear(3, 6), ann.LIF(beta=0.9)), seed=8, scale=3.0)
    x = spikes((50, 2, 3), seed=9, p=0.7)
    with pytest.warns(NIRSemanticsWarning, match="lif_1: reset='subtract'"):
        graph = to_nir(model, x)
    node = graph.nodes["lif_1"]
    np.testing.assert_array_equal(node.v_reset, 0.0)  # the nearest plain NIR form
    assert node.metadata == {"axonal.reset": "subtract"}
    assert torch.equal(through_file(graph, tmp_path)(x), model(x))
    plain = through_file(graph, tmp_path, extensions=False)
    assert plain.node("lif_1").reset_mode == "zero"
    assert not torch.equal(plain(x), model(x))


# ----------------------------------------------------------------------------- execution
def lif_node(n: int, threshold: float = 1.0) -> nir.LIF:
    """An NIR LIF with beta = 0.5 and unit input gain at dt = 1e-4 (Euler)."""
    ones = np.ones(n)
    return nir.LIF(
        tau=2e-4 * ones, r=2 * ones, v_leak=0 * ones, v_threshold=threshold * ones,
        v_reset=0 * ones,
    )  # fmt: skip


def test_skip_connection_sums_inputs():
    g = torch.Generator().manual_seed(10)
    w1, w2 = torch.randn(3, 2, generator=g).numpy(), torch.randn(3, 2, generator=g).numpy()
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(np.array([2])), "a": nir.Linear(w1), "b": nir.Linear(w2),
            "lif": lif_node(3), "out": nir.Output(np.array([3])),
        },
        edges=[("in", "a"), ("in", "b"), ("a", "lif"), ("b", "lif"), ("lif", "out")],
    )  # fmt: skip
    x = spikes((20, 2, 2), seed=11, p=0.6)
    current = nn.functional.linear(x, torch.from_numpy(w1)) + nn.functional.linear(
        x, torch.from_numpy(w2)
    )
    expected = ann.LIF(beta=0.5, reset="zero")(current)
    assert torch.equal(from_nir(graph)(x), expected)


def flat_rnn(bias: bool, seed: int = 12) -> tuple[nir.NIRGraph, ann.Sequential]:
    """input -> affine -> lif <-> rec -> output, and the same network as axonal layers."""
    model = randomize(
        ann.Sequential(nn.Linear(3, 5), ann.RLIF(5, beta=0.5, reset="zero", bias=bias)), seed
    )
    rec = model[1].recurrent
    w_rec = rec.weight.detach().numpy()
    nodes = {
        "input": nir.Input(np.array([3])),
        "affine": nir.Affine(model[0].weight.detach().numpy(), model[0].bias.detach().numpy()),
        "lif": lif_node(5),
        "rec": nir.Affine(w_rec, rec.bias.detach().numpy()) if bias else nir.Linear(w_rec),
        "output": nir.Output(np.array([5])),
    }
    edges = [("input", "affine"), ("affine", "lif"), ("lif", "rec"), ("rec", "lif")]
    return nir.NIRGraph(nodes, [*edges, ("lif", "output")]), model


@pytest.mark.parametrize("bias", [False, True])
def test_recurrent_edges_read_the_previous_step(bias):
    graph, model = flat_rnn(bias)
    imported = from_nir(graph)
    assert imported.recurrent == [("lif", "rec")]  # cut after the neuron: rec's bias is instant
    x = spikes((40, 2, 3), seed=13, p=0.5)
    expected = model(x)
    assert expected.sum() > 0
    assert torch.equal(imported(x), expected)


def test_step_and_state_continuation_match_run():
    graph, _ = flat_rnn(bias=True)
    net = from_nir(graph)
    x = spikes((30, 2, 3), seed=14, p=0.5)
    full = net(x)
    state, steps = None, []
    for x_t in x:
        y_t, state = net.step(x_t, state)
        steps.append(y_t)
    assert torch.equal(torch.stack(steps), full)
    head, state = net(x[:11], return_state=True)
    assert torch.equal(torch.cat([head, net(x[11:], state)]), full)


def test_feedforward_graph_runs_whole_sequences_and_continues_state():
    model = randomize(ann.Sequential(nn.Linear(3, 4), ann.CubaLIF(), ann.Delay(2)), seed=15)
    net = quiet(from_nir, quiet(to_nir, model, torch.zeros(1, 1, 3)))
    assert net.recurrent == []
    x = spikes((25, 2, 3), seed=16, p=0.5)
    head, state = net(x[:9], return_state=True)
    assert torch.equal(torch.cat([head, net(x[9:], state)]), model(x))


def test_delay_threshold_and_integrator_primitives():
    graph = nir.NIRGraph.from_list(
        nir.Delay(np.array([0.0, 3e-4])),  # 0 and 3 steps of dt = 1e-4
        nir.I(np.array([2e4, 2e4])),  # dv/dt = r x: + dt r x = 2 x per step
        nir.Threshold(np.array([3.0, 3.0])),  # fires strictly above 3
    )
    x = torch.zeros(8, 1, 2)
    x[0] = 1.0  # one pulse on both channels: v = 2 after the pulse
    x[2] = 0.5  # v = 3 (not above) after the second pulse, then 4 after a third
    x[5] = 0.5
    out = from_nir(graph)(x)[:, 0]
    # channel 0 (no delay): v = 2, 2, 3, 3, 3, 4 ... ; channel 1 sees the pulses 3 steps late
    assert out[:, 0].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert out[:, 1].tolist() == [0, 0, 0, 0, 0, 0, 0, 0]


def test_import_warns_when_dt_differs_from_the_export():
    graph = quiet(to_nir, ann.LIF(beta=0.9), torch.zeros(1, 1, 2), dt=1e-4, method="exp")
    with pytest.warns(NIRSemanticsWarning, match="dt=0.0001, method='exp'"):
        from_nir(graph, dt=1e-3, method="exp")
    with pytest.warns(NIRSemanticsWarning, match="method='euler'"):
        from_nir(graph, dt=1e-4, method="euler")


def test_grouped_convolution_round_trips_although_nir_mistypes_it(tmp_path):
    """nir 1.0.8 types a grouped Conv2d's input as weight.shape[1] channels (C_in / groups), so
    nir.read(type_check=True) rejects a correct graph; axonal writes and reads it correctly."""
    model = randomize(ann.Sequential(nn.Conv2d(4, 6, 3, groups=2), ann.IF()), seed=20)
    x = spikes((6, 2, 4, 5, 5), seed=21)
    graph = quiet(to_nir, model, x)
    assert graph.nodes["conv2d_0"].input_type["input"].tolist() == [4, 5, 5]
    path = tmp_path / "grouped.nir"
    nir.write(path, graph)
    with pytest.raises(ValueError, match="type mismatch"):
        nir.read(path)
    assert torch.equal(quiet(from_nir, path)(x), model(x))


def test_wrong_sample_shape_is_rejected():
    net = quiet(from_nir, quiet(to_nir, ann.LIF(), torch.zeros(1, 1, 4)))
    with pytest.raises(ValueError, match=r"samples of shape \[4\]"):
        net(torch.zeros(5, 2, 3))


# ----------------------------------------------------------------------------- errors
def test_every_unsupported_layer_is_listed_in_one_error():
    model = ann.Sequential(
        nn.Linear(2, 4), ann.ILIF(), nn.ReLU(), ann.ALIF(), nn.Linear(4, 3), nn.Dropout()
    )
    with pytest.raises(NIRConversionError) as caught:
        quiet(to_nir, model, torch.zeros(2, 1, 2))
    listed = [node for node, _ in caught.value.problems]
    assert listed == ["ilif_1 (ILIF)", "relu_2 (ReLU)", "alif_3 (ALIF)", "dropout_5 (Dropout)"]
    assert "integer spike counts" in str(caught.value)


def test_export_rejects_forms_nir_cannot_hold():
    x = torch.zeros(1, 1, 2, 6, 6)
    cases = [
        (ann.Sequential(nn.Conv2d(2, 2, 3, padding_mode="circular")), "pad with zeros"),
        (ann.Sequential(nn.AvgPool2d(2, ceil_mode=True)), "ceil_mode"),
        (ann.Sequential(nn.Linear(6, 2)), "take vectors"),
    ]
    for model, message in cases:
        with pytest.raises(NIRConversionError, match=message):
            to_nir(model, x)
    with pytest.raises(ValueError, match="dt must be"):
        to_nir(ann.LIF(), torch.zeros(1, 1, 2), dt=0.0)
    with pytest.raises(ValueError, match="method must be"):
        to_nir(ann.LIF(), torch.zeros(1, 1, 2), method="rk4")


def good_graph() -> nir.NIRGraph:
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([3])),
            "fc": nir.Affine(np.ones((4, 3), np.float32), np.zeros(4, np.float32)),
            "lif": lif_node(4),
            "output": nir.Output(np.array([4])),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        type_check=False,
    )


def test_malformed_graph_lists_every_offending_node():
    graph = good_graph()
    graph.nodes["lif"] = lif_node(5)  # 4 inputs arrive at a layer of 5
    graph.nodes["bad_tau"] = nir.LI(-np.ones(4), np.ones(4), np.zeros(4))
    graph.nodes["odd"] = Identity(np.array([4]))
    graph.edges += [("fc", "bad_tau"), ("bad_tau", "output"), ("ghost", "lif"), ("fc", "odd")]
    with pytest.raises(NIRConversionError) as caught:
        from_nir(graph)
    problems = dict(caught.value.problems)
    assert "tau must be finite and > 0" in problems["bad_tau"]
    assert "Identity is not supported" in problems["odd"]
    assert "refers to missing node(s) ['ghost']" in problems["<graph>"]
    assert len(caught.value.problems) == 3  # structure problems stop the shape checks


def test_shape_mismatch_is_reported_per_node():
    graph = good_graph()
    graph.nodes["lif"] = lif_node(5)
    graph.nodes["output"] = nir.Output(np.array([7]))
    with pytest.raises(NIRConversionError) as caught:
        from_nir(graph)
    assert caught.value.problems == [
        ("lif", "takes samples of shape [5] but receives [4]"),
    ]
    graph.nodes["lif"] = lif_node(4)
    with pytest.raises(NIRConversionError, match=r"output: takes samples of shape \[7\] but"):
        from_nir(graph)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: g.nodes.update(extra=nir.Input(np.array([3]))), "exactly one Input node"),
        (lambda g: g.edges.append(("lif", "fc")), r"different shapes: \[3\] from 'input'"),
        (lambda g: g.edges.append(("fc", "lif")), "appears twice"),
        (lambda g: g.nodes.update(lone=lif_node(4)), "lone: no path from the Input"),
        (lambda g: setattr(g.nodes["lif"], "v_leak", np.arange(4.0)), "one v_leak per layer"),
        (lambda g: g.nodes.update(fc=nir.Delay(np.full(3, 1.5e-4))), "whole multiples of dt"),
    ],
)
def test_malformed_graphs(change, message):
    graph = good_graph()
    change(graph)
    with pytest.raises(NIRConversionError, match=message):
        from_nir(graph)


def test_cycle_without_state_is_an_error():
    graph = good_graph()
    graph.nodes["fc2"] = nir.Linear(np.ones((3, 4), np.float32))
    graph.edges += [("fc", "fc2"), ("fc2", "fc")]
    with pytest.raises(NIRConversionError, match="cycle fc -> fc2 -> fc has no stateful node"):
        from_nir(graph)


def test_corrupt_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"\x89HDF\r\n not really" * 10)
    with pytest.raises(NIRConversionError, match=r"(?s)junk\.nir.*not a readable HDF5 file"):
        from_nir(junk)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.arange(3)
    with pytest.raises(NIRConversionError, match="no 'node' group"):
        from_nir(other)
    single = tmp_path / "single.nir"
    nir.write(single, lif_node(2))
    with pytest.raises(NIRConversionError, match="holds a 'LIF', not a NIRGraph"):
        from_nir(single)
    with pytest.raises(TypeError, match=r"nir\.NIRGraph or a file path"):
        from_nir(42)


def test_file_with_unknown_and_broken_nodes(tmp_path):
    path = tmp_path / "edited.nir"
    nir.write(path, good_graph())
    with h5py.File(path, "r+") as f:
        del f["node/nodes/fc/type"]
        f["node/nodes/fc/type"] = "Quantum"
        del f["node/nodes/lif/tau"]
    with pytest.raises(NIRConversionError) as caught:
        from_nir(path)
    problems = dict(caught.value.problems)
    assert problems["fc"] == "unknown node type 'Quantum'"
    assert problems["lif"].startswith("malformed LIF node")
