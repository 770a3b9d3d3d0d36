"""Spiking layers over T steps: axonal against its peers (``python -m benchmarks.lif``).

Configurations: Linear(N, N) + LIF at three (T, B, N), and two convolution stages
Conv2d(2, 16, 3x3) + LIF, Conv2d(16, 32, 3x3) + LIF on 34x34 inputs (padding 1) at T = 20,
B = 16, the convolutions applied to all time steps at once. Every library runs the same network
(same weights, same input, the closest LIF it offers to axonal's ``v = beta v' + x``, fire above
1, subtract the threshold) on CPU float32, forward only (under ``no_grad``) and forward +
backward of ``out.sum()``. Times are medians of repeated runs after warm-up. "GEMM" is the
synapses alone (the Linear layer, or both convolutions); "neuron" times the neurons alone on
their inputs. Agreement is the fraction of output spike values equal to axonal's reference
scan. For the convolutions, "axonal-event" is axonal with :func:`axonal.nn.event_driven`
convolutions (their event path runs in the forward when its input is sparse enough).
"axonal-chunked" is axonal-cpu as one ``axonal.nn.Sequential`` inside
:class:`axonal.nn.TimeChunked`, "gemm-chunked" the synapses alone the same way: the forward
runs chunk by chunk (see :func:`chunk_steps` for the chunk size); with gradients it falls back
to the whole sequence, so their fwd+bwd is the unchunked path. Peak memory growth of one
forward + backward at (500, 16, 1024) is measured per library in a fresh process (peak RSS
minus RSS after set-up).

Writes ``benchmarks/results/lif.json`` (or ``--out PATH``) and prints a table. ``--quick`` runs
fewer repeats; ``--threads N`` sets torch's threads; ``--clock wall|cpu|user`` what is timed (see
:data:`CLOCKS`; on a loaded machine ``--threads 1 --clock cpu``).
"""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

import axonal.nn as ann
from axonal import kernels
from axonal.io import save_json_atomic

MEMORY_CONFIG = (500, 16, 1024)
BETA, THRESHOLD = 0.95, 1.0
CONV_CHANNELS = ((2, 16), (16, 32))  # the conv case: two 3x3 stages, padding 1
CONV_SIZE = (34, 34)
CONV_INPUT_RATE = 0.1  # fraction of input events that are on
RESULTS = Path(__file__).parent / "results" / "lif.json"
PEERS = ("snntorch", "spikingjelly", "norse", "sinabs")
CHUNKED = ("gemm-chunked", "axonal-chunked")  # forward chunk by chunk (axonal.nn.TimeChunked)
CHUNK_BYTES = 8 * 2**20  # the largest stage output of one chunk (see chunk_steps)
MODES = ("forward", "forward_backward", "neuron_forward", "neuron_forward_backward")


class Folded(nn.Module):
    """``inner`` (a convolution) applied to every time step of ``[T, B, ...]`` (or ``[B, T,
    ...]``) at once, time folded into the batch."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        return self.inner(x.flatten(0, 1)).unflatten(0, x.shape[:2])


@dataclass
class Layer:
    """One library's network: stages ``neuron_k(synapse_k(.))`` run in order on ``prepare(x)``
    give spikes, and ``to_time_major`` maps them back to ``[T, B, ...]``; ``note`` says how its
    neuron differs from axonal's."""

    synapses: list[nn.Module]
    neurons: list[Callable[[Tensor], Tensor]]
    note: str
    prepare: Callable[[Tensor], Tensor] = field(default=lambda x: x)
    to_time_major: Callable[[Tensor], Tensor] = field(default=lambda s: s)
    network: Callable[[Tensor], Tensor] | None = None  # runs all stages in one call, if given

    def stages(self) -> zip:
        return zip(self.synapses, self.neurons, strict=True)

    def run(self, x: Tensor) -> Tensor:
        if self.network is not None:
            return self.network(x)
        for synapse, neuron in self.stages():
            x = neuron(synapse(x))
        return x

    def neuron_inputs(self, x: Tensor) -> list[Tensor]:
        """What each stage's neuron gets when the network runs on ``x`` (no gradients)."""
        inputs = []
        with torch.no_grad():
            for synapse, neuron in self.stages():
                inputs.append(synapse(x))
                x = neuron(inputs[-1])
        return inputs

    def run_neurons(self, inputs: list[Tensor]) -> list[Tensor]:
        """The neurons alone, each on its stage's input."""
        return [neuron(h) for neuron, h in zip(self.neurons, inputs, strict=True)]

    def parameters(self) -> list[Tensor]:
        return [p for synapse in self.synapses for p in synapse.parameters()]


def step_loop(cell: Callable, h: Tensor, state: object) -> Tensor:
    """Run a one-step cell ``(h_t, state) -> (spikes, state)`` over ``h.unbind(0)``."""
    out = []
    for h_t in h.unbind(0):
        s, state = cell(h_t, state)
        out.append(s)
    return torch.stack(out)


def gemm(synapses: list[nn.Module]) -> Layer:
    return Layer(synapses, [lambda h: h] * len(synapses),
                 "the synapses alone (Linear or convolutions, no neuron)")  # fmt: skip


def axonal(synapses: list[nn.Module], backend: str) -> Layer:
    def make() -> Callable[[Tensor], Tensor]:
        lif = ann.LIF(beta=BETA, threshold=THRESHOLD)

        def neuron(h: Tensor) -> Tensor:
            kernels.set_backend(backend)
            return lif(h)

        return neuron

    return Layer(synapses, [make() for _ in synapses], f"axonal.nn.LIF, backend {backend!r}")


def axonal_event(synapses: list[nn.Module]) -> Layer:
    """axonal-cpu with event-driven copies of the synapses (see :mod:`axonal.nn.event`)."""
    layer = axonal([ann.event_driven(copy.deepcopy(s)) for s in synapses], "cpu")
    layer.note = ("axonal.nn.LIF (cpu) after event_driven convolutions (event path in the "
                  "forward where the input is sparse enough; dense with gradients)")  # fmt: skip
    return layer


def chunk_steps(layer: Layer, x: Tensor) -> int:
    """The chunk size (time steps) for ``layer`` on ``x [T, B, ...]``: as many steps as keep
    the largest stage output of one chunk within :data:`CHUNK_BYTES`, at least 1."""
    largest = max(h.numel() * h.element_size() for h in layer.neuron_inputs(x[:1]))
    return max(1, CHUNK_BYTES // largest)


def _per_step(synapse: nn.Module) -> nn.Module:
    """The layer itself (``axonal.nn.Sequential`` folds time into the batch on its own)."""
    return synapse.inner if isinstance(synapse, Folded) else synapse


def chunked(layer: Layer, x: Tensor, name: str) -> Layer:
    """``layer``'s stages (same modules) as one eval-mode ``axonal.nn.Sequential`` inside
    ``axonal.nn.TimeChunked`` with :func:`chunk_steps` steps per chunk; the neurons are
    ``axonal.nn.LIF`` modules with the cpu backend."""
    steps = chunk_steps(layer, x)
    stages = [_per_step(s) for s in layer.synapses]
    if name == "axonal-chunked":
        stages = [m for s in stages for m in (s, ann.LIF(beta=BETA, threshold=THRESHOLD))]
    net = ann.TimeChunked(ann.Sequential(*stages), steps).eval()

    def run(x: Tensor) -> Tensor:
        kernels.set_backend("cpu")
        return net(x)

    what = "axonal-cpu" if name == "axonal-chunked" else "the synapses alone"
    return Layer(
        layer.synapses,
        layer.neurons,
        f"{what} as axonal.nn.TimeChunked(Sequential, steps={steps}): chunked forward, "
        "whole-sequence fwd+bwd (neuron rows: as the unchunked layer)",
        network=run,
    )


def snntorch(synapses: list[nn.Module]) -> Layer:
    import snntorch as snn

    def make() -> Callable[[Tensor], Tensor]:
        leaky = snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_delay=False)
        return lambda h: step_loop(leaky, h, leaky.init_leaky())

    return Layer(
        synapses,
        [make() for _ in synapses],
        "Leaky(reset_delay=False), Python loop over T; subtracts the threshold again while the "
        "reset membrane stays above it",
    )


def spikingjelly_lif() -> Callable[[Tensor], Tensor]:
    """SpikingJelly's multi-step LIFNode with axonal's LIF semantics here: ``v - v / tau + x``
    (beta = 1 - 1/tau), subtract reset, ATan surrogate, fires at ``v >= THRESHOLD``; its
    state is reset before every call. (Its backend is SpikingJelly's choice for the device.)"""
    from spikingjelly.activation_based import functional, neuron, surrogate

    node = neuron.LIFNode(
        tau=1 / (1 - BETA), decay_input=False, v_threshold=THRESHOLD, v_reset=None,
        surrogate_function=surrogate.ATan(), detach_reset=True, step_mode="m",
    )  # fmt: skip

    def run(h: Tensor) -> Tensor:
        functional.reset_net(node)
        return node(h)

    return run


def spikingjelly(synapses: list[nn.Module]) -> Layer:
    return Layer(
        synapses,
        [spikingjelly_lif() for _ in synapses],
        "LIFNode multi-step, v - v/tau + x (beta = 1 - 1/tau), fires at v >= 1",
    )


def norse(synapses: list[nn.Module]) -> Layer:
    import norse.torch as nt
    from norse.torch.functional.reset import reset_subtract

    dt = 1e-3
    p = nt.LIFBoxParameters(
        tau_mem_inv=torch.tensor((1 - BETA) / dt), v_th=torch.tensor(THRESHOLD),
        reset_method=reset_subtract,
    )  # fmt: skip
    scaled = copy.deepcopy(synapses)  # folds Norse's input gain into the weights
    with torch.no_grad():
        for synapse in scaled:
            for param in synapse.parameters():
                param.div_(1 - BETA)

    def make() -> Callable[[Tensor], Tensor]:
        cell = nt.LIFBoxCell(p, dt=dt)
        return lambda h: step_loop(cell, h, None)

    return Layer(
        scaled,
        [make() for _ in synapses],
        "LIFBoxCell (Euler: v + dt/tau (x - v)), SuperSpike surrogate, Python loop over T",
    )


def sinabs(synapses: list[nn.Module]) -> Layer:
    import sinabs.layers as sl
    from sinabs.activation import MembraneSubtract, SingleSpike

    def make() -> Callable[[Tensor], Tensor]:
        lif = sl.LIF(
            tau_mem=-1 / math.log(BETA), spike_threshold=torch.tensor(THRESHOLD),
            spike_fn=SingleSpike, reset_fn=MembraneSubtract(), norm_input=False,
        )  # fmt: skip

        def run(h: Tensor) -> Tensor:
            lif.reset_states()
            return lif(h)

        return run

    return Layer(
        synapses,
        [make() for _ in synapses],
        "LIF batch-major [B, T, ...] (input transposed before timing), fires at v >= 1",
        prepare=lambda x: x.transpose(0, 1).contiguous(),
        to_time_major=lambda s: s.transpose(0, 1),
    )


def layers(
    synapses: list[nn.Module], event: bool = False, sample: Tensor | None = None
) -> tuple[dict[str, Layer], dict[str, str]]:
    """Every available layer by name (with ``event``, also axonal-event; with a ``sample``
    input, the chunked rows sized for it), and why each unavailable peer is missing."""
    found = {
        "gemm": gemm(synapses),
        "axonal-reference": axonal(synapses, "reference"),
        "axonal-cpu": axonal(synapses, "cpu"),
    }
    if sample is not None:
        for name, base in zip(CHUNKED, ("gemm", "axonal-cpu"), strict=True):
            found[name] = chunked(found[base], sample, name)
    if event:
        found["axonal-event"] = axonal_event(synapses)
    missing = {}
    for name in PEERS:
        try:
            found[name] = globals()[name](synapses)
        except Exception as error:  # a peer that fails to import or build is reported, not fatal
            missing[name] = f"{type(error).__name__}: {error}"
    return found, missing


def _init(layer: nn.Module, gen: torch.Generator) -> nn.Module:
    """Weights ~ N(0, 1 / fan-in), bias 0."""
    with torch.no_grad():
        w = layer.weight
        w.copy_(torch.randn(w.shape, generator=gen) / math.sqrt(w[0].numel()))
        layer.bias.zero_()
    return layer


def make_linear(n: int, seed: int = 0) -> nn.Linear:
    return _init(nn.Linear(n, n), torch.Generator().manual_seed(seed))


def make_convs(seed: int = 0) -> list[nn.Module]:
    """The conv case: Conv2d(2, 16, 3x3) and Conv2d(16, 32, 3x3), padding 1, over time."""
    gen = torch.Generator().manual_seed(seed)
    return [Folded(_init(nn.Conv2d(c_in, c_out, 3, padding=1), gen))
            for c_in, c_out in CONV_CHANNELS]  # fmt: skip


def make_input(t: int, b: int, n: int, seed: int = 1) -> Tensor:
    return torch.rand(t, b, n, generator=torch.Generator().manual_seed(seed))


def make_events(t: int, b: int, seed: int = 1) -> Tensor:
    """Binary events ``[T, B, 2, 34, 34]`` (two polarities), each on with CONV_INPUT_RATE."""
    gen = torch.Generator().manual_seed(seed)
    shape = (t, b, CONV_CHANNELS[0][0], *CONV_SIZE)
    return (torch.rand(shape, generator=gen) < CONV_INPUT_RATE).float()


@dataclass(frozen=True)
class Config:
    """One benchmark configuration: its label and JSON fields, synapses and input."""

    fields: dict
    synapses: Callable[[], list[nn.Module]]
    input: Callable[[], Tensor]
    event: bool = False  # also time axonal-event (the synapses see spikes)

    @property
    def label(self) -> str:
        return ", ".join(f"{k} = {v}" for k, v in self.fields.items())


def dense_config(t: int, b: int, n: int) -> Config:
    return Config({"T": t, "B": b, "N": n}, lambda: [make_linear(n)], partial(make_input, t, b, n))


def conv_config(t: int, b: int) -> Config:
    layers_ = " -> ".join(str(c) for c in (CONV_CHANNELS[0][0], *(c for _, c in CONV_CHANNELS)))
    fields = {"T": t, "B": b, "conv": f"{layers_} channels, 3x3, {CONV_SIZE[0]}x{CONV_SIZE[1]}"}
    return Config(fields, make_convs, partial(make_events, t, b), event=True)


CONFIGS = (
    dense_config(100, 32, 512),
    dense_config(500, 16, 1024),
    dense_config(25, 128, 256),
    conv_config(20, 16),
)


Tensors = Tensor | list[Tensor]  # a network's input or output, or one per stage


def _loss(out: Tensors) -> Tensor:
    return out.sum() if isinstance(out, Tensor) else sum(o.sum() for o in out)


def forward(fn: Callable[[Tensors], Tensors], x: Tensors) -> None:
    with torch.no_grad():
        fn(x)


def forward_backward(fn: Callable[[Tensors], Tensors], x: Tensors, leaves: list[Tensor]) -> None:
    _loss(fn(x)).backward()
    for leaf in leaves:
        leaf.grad = None


def round_robin(
    tasks: dict[str, Callable[[], None]],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median time (ms) of each task over ``repeats`` rounds that run every task once, after a
    warm-up round (so that load from other processes hits all tasks alike). A task slower than
    2 s is timed once after its warm-up. ``clock`` (seconds): see :data:`CLOCKS`."""
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for round_ in range(repeats + 1):
        for name, task in tasks.items():
            if round_ > 1 and times[name][0] > 2.0:
                continue
            start = clock()
            task()
            elapsed = clock() - start
            if round_ > 0:
                times[name].append(elapsed)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def bench_config(
    config: Config, repeats: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[dict, dict[str, str]]:
    """Times (ms), spike agreement and firing rate of every available layer at one config."""
    x = config.input()
    found, missing = layers(config.synapses(), config.event, x)
    with torch.no_grad():
        reference = found["axonal-reference"].run(x)
    tasks = {}
    for name, layer in found.items():
        xp = layer.prepare(x)
        h = layer.neuron_inputs(xp)
        h_leaves = [h_k.clone().requires_grad_() for h_k in h]
        tasks[f"{name}/forward"] = partial(forward, layer.run, xp)
        tasks[f"{name}/forward_backward"] = partial(
            forward_backward, layer.run, xp, layer.parameters()
        )
        tasks[f"{name}/neuron_forward"] = partial(forward, layer.run_neurons, h)
        tasks[f"{name}/neuron_forward_backward"] = partial(
            forward_backward, layer.run_neurons, h_leaves, h_leaves
        )
    times = round_robin(tasks, repeats, clock)
    results = {}
    for name, layer in found.items():
        r = {"note": layer.note}
        for what in MODES:
            r[f"{what}_ms"] = times[f"{name}/{what}"]
        if name not in ("gemm", "gemm-chunked"):  # no spikes to compare
            with torch.no_grad():
                spikes = layer.to_time_major(layer.run(layer.prepare(x)))
            r["spike_agreement"] = (spikes == reference).float().mean().item()
            r["firing_rate"] = spikes.mean().item()
        results[name] = r
    return results, missing


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def measure_memory(name: str) -> float:
    """Peak RSS growth (MB) of one forward + backward of ``name`` at :data:`MEMORY_CONFIG`, after
    a small warm-up (imports, compiled code) that counts as set-up. Linux only."""
    t, b, n = MEMORY_CONFIG
    layer = layers([make_linear(n)])[0][name]
    weights = layer.parameters()
    forward_backward(layer.run, layer.prepare(make_input(2, 1, n)), weights)
    x = layer.prepare(make_input(t, b, n))
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    before = _status_kb("VmRSS")
    forward_backward(layer.run, x, weights)
    return (_status_kb("VmHWM") - before) / 1024


def memory_in_fresh_processes(names: list[str]) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    for name in names:
        cmd = [sys.executable, "-m", "benchmarks.lif", "--memory", name]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = done.stdout.strip().splitlines()
        out[name] = float(lines[-1]) if done.returncode == 0 and lines else done.stderr[-300:]
        print(f"  {name:18s} peak RSS growth (MB) {out[name]}", flush=True)
    return out


def summary(results: dict) -> dict[str, float]:
    """Fastest peer's time over axonal-cpu's, per measure (> 1: axonal is faster); "neuron" is
    the neuron timed alone, "total_minus_gemm" the layer minus the GEMM alone."""
    ours, gemm_ms = results["axonal-cpu"], results["gemm"]
    peers = [r for name, r in results.items() if name in PEERS]
    out = {f"{mode}_over_gemm": ours[f"{mode}_ms"] / gemm_ms[f"{mode}_ms"]
           for mode in ("forward", "forward_backward")}  # fmt: skip
    if "axonal-event" in results:
        event_ms = results["axonal-event"]["forward_ms"]
        out["event_forward_over_gemm"] = event_ms / gemm_ms["forward_ms"]
    if "axonal-chunked" in results:
        chunked_ms = results["axonal-chunked"]["forward_ms"]
        out["chunked_forward_over_gemm"] = chunked_ms / gemm_ms["forward_ms"]
        out["chunked_forward_over_chunked_gemm"] = (
            chunked_ms / results["gemm-chunked"]["forward_ms"]
        )
    if not peers:
        return out
    for mode in MODES:
        out[f"{mode}_speedup"] = min(r[f"{mode}_ms"] for r in peers) / ours[f"{mode}_ms"]
    for mode in ("forward", "forward_backward"):
        minus = [r[f"{mode}_ms"] - gemm_ms[f"{mode}_ms"] for r in peers]
        out[f"{mode}_total_minus_gemm_speedup"] = min(minus) / (
            ours[f"{mode}_ms"] - gemm_ms[f"{mode}_ms"]
        )
    return out


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("axonal", "numba", *PEERS):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict[str, object]:
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def print_table(report: dict) -> None:
    for config in report["configs"]:
        res = config["results"]
        print(f"\n{config['label']}: median ms; neuron = the neurons alone on their inputs")
        print(f"{'library':18s} {'fwd':>8s} {'fwd+bwd':>9s} {'neuron fwd':>11s} "
              f"{'neuron f+b':>11s} {'agree':>7s} {'rate':>6s}")  # fmt: skip
        for name, r in res.items():
            agree = f"{r['spike_agreement']:.4f}" if "spike_agreement" in r else ""
            rate = f"{r['firing_rate']:.3f}" if "firing_rate" in r else ""
            print(f"{name:18s} {r['forward_ms']:8.1f} {r['forward_backward_ms']:9.1f} "
                  f"{r['neuron_forward_ms']:11.1f} {r['neuron_forward_backward_ms']:11.1f} "
                  f"{agree:>7s} {rate:>6s}")  # fmt: skip
        s = config["summary"]
        line = (f"axonal-cpu = {s['forward_over_gemm']:.2f}x (fwd), "
                f"{s['forward_backward_over_gemm']:.2f}x (fwd+bwd) the GEMM alone")  # fmt: skip
        if "event_forward_over_gemm" in s:
            line += f"; axonal-event fwd {s['event_forward_over_gemm']:.2f}x"
        if "chunked_forward_over_gemm" in s:
            line += (f"; axonal-chunked fwd {s['chunked_forward_over_gemm']:.2f}x the GEMM, "
                     f"{s['chunked_forward_over_chunked_gemm']:.2f}x the chunked GEMM")  # fmt: skip
        if "forward_backward_speedup" in s:
            line += (f"; vs the fastest peer, fwd+bwd: layer {s['forward_backward_speedup']:.2f}x"
                     f", neuron alone {s['neuron_forward_backward_speedup']:.1f}x, total minus "
                     f"GEMM {s['forward_backward_total_minus_gemm_speedup']:.1f}x")  # fmt: skip
        print(line)
    if report.get("memory_mb"):
        print(f"\npeak RSS growth (MB), one fwd+bwd at {MEMORY_CONFIG} in a fresh process:")
        for name, mb in report["memory_mb"].items():
            print(f"  {name:18s} {mb if isinstance(mb, str) else f'{mb:.0f}'}")
    for name, why in report["unavailable"].items():
        print(f"unavailable: {name}: {why}")


def _user_time() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


# wall: elapsed time; cpu: the process's CPU time (user + system, e.g. page faults); user: its
# user time only. The CPU clocks count every thread of the process: with --threads 1 they are
# less sensitive to other processes on a loaded machine than the wall clock.
CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,
    "cpu": time.process_time,
    "user": _user_time,
}


def add_timing_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--clock", choices=CLOCKS, default="wall",
                        help="what is timed (default: wall; cpu or user with --threads 1 on a "
                             "loaded machine)")  # fmt: skip


def timing(args: argparse.Namespace) -> Callable[[], float]:
    """Apply ``--threads``; the clock that ``--clock`` selects."""
    if args.threads:
        torch.set_num_threads(args.threads)
    return CLOCKS[args.clock]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help=f"where the JSON goes (default {RESULTS})")  # fmt: skip
    add_timing_arguments(parser)
    parser.add_argument("--memory", metavar="LIBRARY", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    clock = timing(args)
    if args.memory:
        print(measure_memory(args.memory))
        return
    repeats = 3 if args.quick else 7
    report: dict = {"command": " ".join(["python -m benchmarks.lif", *(argv or sys.argv[1:])]),
                    "machine": machine(), "versions": versions(), "repeats": repeats,
                    "clock": args.clock, "configs": [], "unavailable": {}}  # fmt: skip
    for config in CONFIGS:
        print(config.label, flush=True)
        results, missing = bench_config(config, repeats, clock)
        report["unavailable"] = missing
        report["configs"].append({**config.fields, "label": config.label, "results": results,
                                  "summary": summary(results)})  # fmt: skip
    if not args.no_memory:
        names = [n for n in report["configs"][0]["results"] if n not in CHUNKED]
        report["memory_mb"] = memory_in_fresh_processes(names)
    save_json_atomic(args.out, report)
    print_table(report)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
