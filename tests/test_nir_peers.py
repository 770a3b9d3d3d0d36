"""NIR exchange with the real peer libraries (snnTorch, Norse, SpikingJelly, Sinabs).

axonal -> peer: axonal writes a file, the peer's own importer reads it (``nir.read``; every
peer gets a fresh copy because several modify the graph they are given) and runs it; the
spikes must equal axonal's. peer -> axonal: the peer's own exporter writes the graph, axonal
imports it and must reproduce the peer model's spikes. Where a peer's NIR code is wrong, the
test states the exact difference (docs/nir.md lists them all).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from pathlib import Path

import nir
import pytest
import torch
from torch import Tensor, nn

import axonal.nn as ann
from axonal.interop.nir import NIRConversionError, NIRSemanticsWarning, from_nir, to_nir

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # peers use old nirtorch

DT = 1e-4
T, B = 30, 2


def randomize(model: nn.Module, seed: int, scale: float = 0.8, positive: bool = False):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                for p in module.parameters(recurse=False):
                    noise = (
                        torch.rand(p.shape, generator=g)
                        if positive
                        else torch.randn(p.shape, generator=g)
                    )
                    p.copy_(noise * scale)
    return model


def spikes(shape: tuple[int, ...], seed: int, p: float = 0.3) -> Tensor:
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < p).float()


def export_file(model: nn.Module, x: Tensor, tmp_path: Path, **kwargs) -> Path:
    path = tmp_path / "axonal.nir"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NIRSemanticsWarning)
        nir.write(path, to_nir(model, x, **kwargs))
    return path


def per_step(module: Callable, x: Tensor) -> Tensor:
    """Run a peer module that takes one step and returns ``(out, state)``."""
    state, out = None, []
    for x_t in x:
        y_t, state = module(x_t, state)
        out.append(y_t)
    return torch.stack(out)


# ----------------------------------------------------------------------------- peer importers
def snntorch_runs(path: Path, x: Tensor) -> Tensor:
    import_nir = importlib.import_module("snntorch.import_nir")
    return per_step(import_nir.import_from_nir(nir.read(path)), x)


def norse_runs(path: Path, x: Tensor) -> Tensor:
    norse = importlib.import_module("norse.torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # norse uses nirtorch.load
        return per_step(norse.from_nir(nir.read(path), dt=DT), x)


def spikingjelly_runs(path: Path, x: Tensor) -> Tensor:
    exchange = importlib.import_module("spikingjelly.activation_based.nir_exchange")
    return per_step(exchange.import_from_nir(nir.read(path), dt=DT, step_mode="s"), x)


def sinabs_runs(path: Path, x: Tensor) -> Tensor:
    sinabs = importlib.import_module("sinabs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        net = sinabs.from_nir(nir.read(path), batch_size=x.shape[1])
    steps, batch = x.shape[:2]  # sinabs layers take [B*T, ...], batch-major
    out, _ = net(x.transpose(0, 1).flatten(0, 1))
    return out.unflatten(0, (batch, steps)).transpose(0, 1)


PEERS = {
    "snntorch": snntorch_runs,
    "norse": norse_runs,
    "spikingjelly": spikingjelly_runs,
    "sinabs": sinabs_runs,
}


# ----------------------------------------------------------------------------- axonal models
def lif_unit_gain():
    """snnTorch's/SpikingJelly's form: Euler, input gain 1 (r = tau / dt)."""
    model = ann.Sequential(
        nn.Linear(4, 8),
        ann.LIF(beta=0.9, reset="zero"),
        nn.Linear(8, 3),
        ann.LIF(0.8, reset="zero"),
    )
    return model, (T, B, 4)


def lif_r_one():
    """Norse's form: r = 1 (input gain dt / tau)."""
    lif = {"dt": DT, "method": "euler", "reset": "zero"}
    model = ann.Sequential(
        nn.Linear(4, 8), ann.LIF.from_continuous(tau=1e-3, **lif), nn.Linear(8, 3),
        ann.LIF.from_continuous(tau=2e-3, v_threshold=0.5, **lif),
    )  # fmt: skip
    return randomize(model, seed=0, scale=4.0), (T, B, 4)


def integrate_and_fire():
    layers = [nn.Linear(4, 8), ann.IF(reset="zero"), nn.Linear(8, 3), ann.IF(reset="zero")]
    return ann.Sequential(*layers), (T, B, 4)


def current_based():
    return ann.Sequential(nn.Linear(4, 8), ann.CubaLIF(alpha=0.7, beta=0.9, reset="zero")), (
        T,
        B,
        4,
    )


def conv_avgpool():
    model = ann.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), ann.LIF(beta=0.9, reset="zero"), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(32, 3), ann.LIF(beta=0.8, reset="zero"),
    )  # fmt: skip
    return model, (T, B, 1, 8, 8)


def conv_sumpool():
    model = ann.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), ann.IF(reset="zero"), ann.SumPool2d(2), nn.Flatten(),
        nn.Linear(32, 3), ann.IF(reset="zero"),
    )  # fmt: skip
    return model, (T, B, 1, 8, 8)


def conv1d():
    model = ann.Sequential(
        nn.Conv1d(2, 3, 3), ann.IF(reset="zero"), nn.Flatten(), nn.Linear(30, 3),
        ann.IF(reset="zero"),
    )  # fmt: skip
    return model, (T, B, 2, 12)


def recurrent():
    return ann.Sequential(nn.Linear(4, 8), ann.RLIF(8, beta=0.9, reset="zero")), (T, B, 4)


MODELS = {
    "lif": lif_unit_gain,
    "lif_r1": lif_r_one,
    "if": integrate_and_fire,
    "cubalif": current_based,
    "conv_avgpool": conv_avgpool,
    "conv_sumpool": conv_sumpool,
    "conv1d": conv1d,
    "rlif": recurrent,
}
VERIFIED = [
    ("snntorch", "lif"),
    ("snntorch", "lif_r1"),
    ("snntorch", "cubalif"),
    ("snntorch", "rlif"),
    ("norse", "lif_r1"),
    ("norse", "if"),
    ("norse", "cubalif"),
    ("spikingjelly", "lif"),
    ("spikingjelly", "lif_r1"),
    ("spikingjelly", "if"),
    ("spikingjelly", "cubalif"),
    ("spikingjelly", "conv_avgpool"),
    ("spikingjelly", "conv_sumpool"),
    ("spikingjelly", "conv1d"),
    ("spikingjelly", "rlif"),
]


@pytest.mark.parametrize(("peer", "model_name"), VERIFIED)
def test_axonal_graph_runs_in_peer_with_the_same_spikes(peer, model_name, tmp_path):
    model, shape = MODELS[model_name]()
    if model_name != "lif_r1":
        randomize(model, seed=1)
    x = spikes(shape, seed=2)
    path = export_file(model, x, tmp_path, dt=DT, method="euler")
    expected = model(x)
    assert expected.sum() > 0
    assert torch.equal(PEERS[peer](path, x), expected)


@pytest.mark.parametrize("peer", ["snntorch", "spikingjelly"])
def test_nirtorch_peers_drop_the_recurrent_bias_on_the_first_step(peer, tmp_path):
    """Both import through nirtorch's interpreter, which reads a recurrent edge from the
    previous step's cache and finds nothing at t = 0: the recurrent Affine's bias b is missing
    from the first step (axonal, and snnTorch's own RLeaky, add it). The difference is exactly
    that: the peer equals axonal fed ``x - b`` at t = 0."""
    model = randomize(ann.Sequential(ann.RLIF(6, beta=0.9, reset="zero", bias=True)), seed=3)
    x = spikes((T, B, 6), seed=4, p=0.5) * 1.5
    path = export_file(model, x, tmp_path)
    theirs = PEERS[peer](path, x)
    assert not torch.equal(theirs, model(x))
    shifted = x.clone()
    shifted[0] -= model[0].recurrent.bias.detach()
    assert torch.equal(theirs, model(shifted))


def test_sinabs_runs_axonal_subtract_reset_graphs(tmp_path):
    """Sinabs reads tau in steps (dt = 1, exp), ignores r (input gain 1) and v_reset, always
    subtracts the threshold, clamps IAF membranes at -threshold and emits several spikes per
    step above twice the threshold. With axonal's subtract reset, non-negative drive and less
    than two thresholds per step, the spikes are the same."""
    model = ann.Sequential(
        nn.Linear(4, 8), ann.LIF(beta=0.9), nn.Linear(8, 3), ann.IF(threshold=1.0)
    )
    randomize(model[0], seed=5, scale=0.25, positive=True)
    randomize(model[2], seed=6, scale=0.1, positive=True)
    x = spikes((T, B, 4), seed=7, p=0.5)
    path = export_file(model, x, tmp_path, dt=1.0, method="exp")
    expected = model(x)
    assert expected.sum() > 0
    assert torch.equal(sinabs_runs(path, x), expected)


# ----------------------------------------------------------------------------- peer exporters
def test_snntorch_graphs_run_in_axonal(tmp_path):
    """Leaky, Synaptic and RLeaky with zero reset; snnTorch's exporter needs per-neuron beta
    and threshold tensors and an unbatched sample, and Synaptic/RLeaky ``reset_delay=False``
    (the default resets one step late, which NIR cannot say)."""
    snn = importlib.import_module("snntorch")
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    def per_neuron(n: int, value: float) -> Tensor:
        return torch.full((n,), value)

    net = nn.Sequential(
        nn.Linear(4, 8),
        snn.Leaky(beta=per_neuron(8, 0.9), threshold=per_neuron(8, 1.0), init_hidden=True,
                  reset_mechanism="zero"),
        nn.Linear(8, 6),
        snn.Synaptic(alpha=per_neuron(6, 0.7), beta=per_neuron(6, 0.85),
                     threshold=per_neuron(6, 1.0), init_hidden=True, reset_mechanism="zero",
                     reset_delay=False),
        nn.Linear(6, 5),
        snn.RLeaky(beta=per_neuron(5, 0.8), threshold=per_neuron(5, 1.0), linear_features=5,
                   init_hidden=True, reset_mechanism="zero", reset_delay=False, output=True),
    )  # fmt: skip
    randomize(net, seed=8, scale=1.2)
    x = spikes((T, B, 4), seed=9, p=0.5)
    path = tmp_path / "snntorch.nir"
    nir.write(path, export_to_nir(net, x[0, 0]))
    utils.reset(net)
    expected = torch.stack([net(x_t)[0] for x_t in x])
    imported = from_nir(path, dt=DT, method="euler")
    assert expected.sum() > 0
    assert torch.equal(imported(x), expected)


@pytest.mark.parametrize("failure", ["scalar_beta", "batched_sample", "subtract_reset"])
def test_snntorch_exporter_failures(failure):
    snn = importlib.import_module("snntorch")
    from snntorch.export_nir import export_to_nir

    if failure == "subtract_reset":  # exported as a zero reset, without any marker
        leaky = snn.Leaky(beta=torch.full((3,), 0.9), threshold=torch.ones(3), init_hidden=True)
        graph = export_to_nir(nn.Sequential(nn.Linear(2, 3), leaky), torch.zeros(2))
        assert leaky.reset_mechanism == "subtract"
        assert graph.nodes["1"].v_reset.tolist() == [0, 0, 0]
        assert graph.nodes["1"].metadata == {}
        return
    beta = 0.9 if failure == "scalar_beta" else torch.full((3,), 0.9)
    threshold = 1.0 if failure == "scalar_beta" else torch.ones(3)
    leaky = snn.Leaky(beta=beta, threshold=threshold, init_hidden=True)
    sample = torch.zeros(2) if failure == "scalar_beta" else torch.zeros(1, 2)
    with pytest.raises(ValueError, match="type mismatch"):
        export_to_nir(nn.Sequential(nn.Linear(2, 3), leaky), sample)


def spikingjelly_net(case: str) -> tuple[nn.Module, tuple[int, ...]]:
    pytest.importorskip("spikingjelly.activation_based.nir_exchange")
    from spikingjelly.activation_based import layer, neuron

    if case == "lif_if":
        return nn.Sequential(
            layer.Linear(4, 8), neuron.LIFNode(tau=5.0), layer.Linear(8, 6),
            neuron.LIFNode(tau=3.0, decay_input=False), layer.Linear(6, 3), neuron.IFNode(),
        ), (T, B, 4)  # fmt: skip
    if case == "cubalif":
        return nn.Sequential(
            layer.Linear(4, 8), neuron.CUBALIFNode(c_decay=0.6, v_decay=0.8)
        ), (T, B, 4)  # fmt: skip
    if case == "conv2d":
        return nn.Sequential(
            layer.Conv2d(1, 2, 3, padding=1), neuron.IFNode(), layer.AvgPool2d(2),
            layer.Flatten(), layer.Linear(32, 3), neuron.LIFNode(tau=2.0),
        ), (T, B, 1, 8, 8)  # fmt: skip
    return nn.Sequential(
        layer.Conv1d(2, 3, 3), neuron.IFNode(), layer.Flatten(), layer.Linear(30, 3),
        neuron.IFNode(),
    ), (T, B, 2, 12)  # fmt: skip


@pytest.mark.parametrize("case", ["lif_if", "cubalif", "conv2d", "conv1d"])
def test_spikingjelly_graphs_run_in_axonal(case, tmp_path):
    """SpikingJelly's exporter (Euler, dt = 1e-4). Its neurons start at v_reset, axonal's at 0:
    the graphs here keep v_reset = 0, where both agree."""
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    net, shape = spikingjelly_net(case)
    randomize(net, seed=15, scale=2.0)
    x = spikes(shape, seed=11, p=0.5)
    path = tmp_path / "sj.nir"
    nir.write(path, export_to_nir(net, x[0], dt=DT))
    functional.reset_net(net)
    expected = torch.stack([net(x_t) for x_t in x])
    assert expected.sum() > 0
    assert torch.equal(from_nir(path, dt=DT, method="euler")(x), expected)


def norse_model(cell: str, dt: float) -> nn.Module:
    norse = importlib.import_module("norse.torch")
    net = norse.SequentialState(
        nn.Linear(4, 8), getattr(norse, cell)(dt=dt), nn.Linear(8, 3), getattr(norse, cell)(dt=dt)
    )
    return randomize(net, seed=13, scale=6.0)


def test_norse_lif_box_graph_runs_in_axonal_with_dt_one(tmp_path):
    """Norse writes tau = dt / tau_mem_inv, i.e. dt * tau: right only for to_nir(dt=1.0)."""
    norse = importlib.import_module("norse.torch")
    net, dt = norse_model("LIFBoxCell", 1e-3), 1e-3
    x = spikes((T, B, 4), seed=13)
    expected = per_step(net, x)
    path = tmp_path / "norse.nir"
    nir.write(path, norse.to_nir(net, x[0, 0], dt=1.0), compression=None)  # 0-d params: see doc
    assert expected.sum() > 0
    assert torch.equal(from_nir(path, dt=dt, method="euler")(x), expected)
    with pytest.raises(NIRConversionError, match="euler needs dt <= tau"):
        from_nir(norse.to_nir(net, x[0, 0], dt=dt), dt=dt)  # its default: tau = 1e-5 s


@pytest.mark.parametrize("cell", ["IAFCell", "LIFCell"])
def test_norse_graphs_need_their_gain_fixed(cell):
    """Norse's IAFCell adds its input to v (NIR r = 1/dt) and its LIFCell adds its input to
    the current (NIR w_in = tau_syn/dt), but both are exported with r = w_in = 1. With exactly
    that correction axonal reproduces them."""
    norse = importlib.import_module("norse.torch")
    dt = 1e-3
    net = norse_model(cell, dt)
    x = spikes((T, B, 4), seed=14)
    expected = per_step(net, x)
    assert expected.sum() > 0
    graph = norse.to_nir(net, x[0, 0], dt=1.0)
    assert not torch.equal(from_nir(graph, dt=dt)(x), expected)
    for name in ("1", "3"):
        node = graph.nodes[name]
        if isinstance(node, nir.IF):
            node.r = node.r / dt
        else:
            node.w_in = node.w_in * node.tau_syn / dt
    assert torch.equal(from_nir(graph, dt=dt)(x), expected)


def test_sinabs_graphs_run_in_axonal_with_subtract_reset(tmp_path):
    """Sinabs exports no reset mode (it subtracts) and r = 1 whatever its input gain; with
    norm_input=True (gain 1 - alpha, which is NIR's r = 1) and the reset set to subtract on the
    axonal side, the spikes match (non-negative drive, below two thresholds per step)."""
    sinabs = importlib.import_module("sinabs")
    import sinabs.layers as sl

    net = nn.Sequential(
        nn.Linear(4, 8), sl.LIFSqueeze(tau_mem=10.0, batch_size=B, norm_input=True),
        nn.Linear(8, 3), sl.IAFSqueeze(batch_size=B),
    )  # fmt: skip
    randomize(net[0], seed=15, scale=0.25, positive=True)
    randomize(net[2], seed=16, scale=0.1, positive=True)
    x = spikes((T, B, 4), seed=17, p=0.5)
    path = tmp_path / "sinabs.nir"
    nir.write(path, sinabs.to_nir(net, x[0]), compression=None)  # 0-d params: see doc
    for layer in (net[1], net[3]):
        layer.reset_states()  # to_nir ran the network on the sample
    expected = net(x.transpose(0, 1).flatten(0, 1)).unflatten(0, (B, T)).transpose(0, 1)
    imported = from_nir(path, dt=1.0, method="exp")
    assert not torch.equal(imported(x), expected)  # NIR semantics: reset to v_reset = 0
    for name in ("1", "3"):
        imported.node(name).reset_mode = "subtract"
    assert expected.sum() > 0
    assert torch.equal(imported(x), expected)


def test_peer_importers_that_fail_on_axonal_graphs(tmp_path):
    """The errors of the peers' own NIR code, recorded in docs/nir.md."""
    x = spikes((4, B, 1, 8, 8), seed=18)
    path = export_file(randomize(conv_avgpool()[0], seed=19), x, tmp_path)
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        snntorch_runs(path, x)  # its Flatten keeps NIR's start_dim and flattens the batch
    with pytest.raises(ValueError, match="truth value of an array"):
        sinabs_runs(path, x)  # `if any(node.v_leak) != 0` on a [C, H, W] LIF
    path = export_file(randomize(integrate_and_fire()[0], seed=20), spikes((4, B, 4), 21), tmp_path)
    with pytest.raises(AssertionError, match="r != 1 not supported"):
        snntorch_runs(path, spikes((4, B, 4), 21))
    li = export_file(ann.Sequential(nn.Linear(4, 3), ann.LI(0.9)), spikes((4, B, 4), 22), tmp_path)
    for runs in (snntorch_runs, spikingjelly_runs):
        with pytest.raises(ValueError, match=r"Unknown node type <class 'nir\.ir\.neuron\.LI'>"):
            runs(li, spikes((4, B, 4), 22))
    x = spikes((4, B, 4), 22)
    affine = from_nir(li).node("linear_0")
    assert torch.equal(norse_runs(li, x), affine(x))  # norse silently drops the LI node
