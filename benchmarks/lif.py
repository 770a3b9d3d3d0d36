"""Linear(N, N) + LIF over T steps: axonal against its peers (``python -m benchmarks.lif``).

Every library runs the same layer (same weights, same input, the closest LIF it offers to
axonal's ``v = beta v' + x``, fire above 1, subtract the threshold) on CPU float32, forward only
(under ``no_grad``) and forward + backward of ``out.sum()``. Times are medians of repeated runs
after warm-up. "GEMM" is the Linear layer alone; a library's "neuron" time is its total minus
the GEMM's. Agreement is the fraction of spike values equal to axonal's reference scan. Peak
memory growth of one forward + backward at (500, 16, 1024) is measured per library in a fresh
process (peak RSS minus RSS after set-up).

Writes ``benchmarks/results/lif.json`` and prints a table. ``--quick`` runs fewer repeats.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import os
import platform
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

CONFIGS = ((100, 32, 512), (500, 16, 1024), (25, 128, 256))
MEMORY_CONFIG = (500, 16, 1024)
BETA, THRESHOLD = 0.95, 1.0
RESULTS = Path(__file__).parent / "results" / "lif.json"
PEERS = ("snntorch", "spikingjelly", "norse", "sinabs")
MODES = ("forward", "forward_backward", "neuron_forward", "neuron_forward_backward")


@dataclass
class Layer:
    """One library's Linear + LIF: ``neuron(linear(prepare(x)))`` gives spikes and
    ``to_time_major`` maps them back to ``[T, B, N]``; ``note`` says how its neuron differs from
    axonal's."""

    linear: nn.Linear
    neuron: Callable[[Tensor], Tensor]
    note: str
    prepare: Callable[[Tensor], Tensor] = field(default=lambda x: x)
    to_time_major: Callable[[Tensor], Tensor] = field(default=lambda s: s)

    def run(self, x: Tensor) -> Tensor:
        return self.neuron(self.linear(x))


def _loop(cell: Callable, h: Tensor, state: object) -> Tensor:
    """Run a one-step cell ``(h_t, state) -> (spikes, state)`` over ``h.unbind(0)``."""
    out = []
    for h_t in h.unbind(0):
        s, state = cell(h_t, state)
        out.append(s)
    return torch.stack(out)


def gemm(linear: nn.Linear) -> Layer:
    return Layer(linear, lambda h: h, "the Linear layer alone (no neuron)")


def axonal(linear: nn.Linear, backend: str) -> Layer:
    lif = ann.LIF(beta=BETA, threshold=THRESHOLD)

    def neuron(h: Tensor) -> Tensor:
        kernels.set_backend(backend)
        return lif(h)

    return Layer(linear, neuron, f"axonal.nn.LIF, backend {backend!r}")


def snntorch(linear: nn.Linear) -> Layer:
    import snntorch as snn

    leaky = snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_delay=False)
    return Layer(
        linear,
        lambda h: _loop(leaky, h, leaky.init_leaky()),
        "Leaky(reset_delay=False), Python loop over T; subtracts the threshold again while the "
        "reset membrane stays above it",
    )


def spikingjelly(linear: nn.Linear) -> Layer:
    from spikingjelly.activation_based import functional, neuron, surrogate

    node = neuron.LIFNode(
        tau=1 / (1 - BETA), decay_input=False, v_threshold=THRESHOLD, v_reset=None,
        surrogate_function=surrogate.ATan(), detach_reset=True, step_mode="m",
    )  # fmt: skip

    def run(h: Tensor) -> Tensor:
        functional.reset_net(node)
        return node(h)

    return Layer(
        linear, run, "LIFNode multi-step, v - v/tau + x (beta = 1 - 1/tau), fires at v >= 1"
    )


def norse(linear: nn.Linear) -> Layer:
    import norse.torch as nt
    from norse.torch.functional.reset import reset_subtract

    dt = 1e-3
    p = nt.LIFBoxParameters(
        tau_mem_inv=torch.tensor((1 - BETA) / dt), v_th=torch.tensor(THRESHOLD),
        reset_method=reset_subtract,
    )  # fmt: skip
    cell = nt.LIFBoxCell(p, dt=dt)
    scaled = nn.Linear(linear.in_features, linear.out_features)  # folds Norse's input gain
    with torch.no_grad():
        scaled.weight.copy_(linear.weight / (1 - BETA))
        scaled.bias.copy_(linear.bias / (1 - BETA))
    return Layer(
        scaled,
        lambda h: _loop(cell, h, None),
        "LIFBoxCell (Euler: v + dt/tau (x - v)), SuperSpike surrogate, Python loop over T",
    )


def sinabs(linear: nn.Linear) -> Layer:
    import sinabs.layers as sl
    from sinabs.activation import MembraneSubtract, SingleSpike

    lif = sl.LIF(
        tau_mem=-1 / math.log(BETA), spike_threshold=torch.tensor(THRESHOLD),
        spike_fn=SingleSpike, reset_fn=MembraneSubtract(), norm_input=False,
    )  # fmt: skip

    def run(h: Tensor) -> Tensor:
        lif.reset_states()
        return lif(h)

    return Layer(
        linear,
        run,
        "LIF batch-major [B, T, N] (input transposed before timing), fires at v >= 1",
        prepare=lambda x: x.transpose(0, 1).contiguous(),
        to_time_major=lambda s: s.transpose(0, 1),
    )


def layers(linear: nn.Linear) -> tuple[dict[str, Layer], dict[str, str]]:
    """Every available layer by name, and why each unavailable peer is missing."""
    found = {
        "gemm": gemm(linear),
        "axonal-reference": axonal(linear, "reference"),
        "axonal-cpu": axonal(linear, "cpu"),
    }
    missing = {}
    for name in PEERS:
        try:
            found[name] = globals()[name](linear)
        except Exception as error:  # a peer that fails to import or build is reported, not fatal
            missing[name] = f"{type(error).__name__}: {error}"
    return found, missing


def make_linear(n: int, seed: int = 0) -> nn.Linear:
    linear = nn.Linear(n, n)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(n, n, generator=gen) / math.sqrt(n))
        linear.bias.zero_()
    return linear


def make_input(t: int, b: int, n: int, seed: int = 1) -> Tensor:
    return torch.rand(t, b, n, generator=torch.Generator().manual_seed(seed))


def forward(fn: Callable[[Tensor], Tensor], x: Tensor) -> None:
    with torch.no_grad():
        fn(x)


def forward_backward(fn: Callable[[Tensor], Tensor], x: Tensor, leaves: list[Tensor]) -> None:
    fn(x).sum().backward()
    for leaf in leaves:
        leaf.grad = None


def round_robin(tasks: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median time (ms) of each task over ``repeats`` rounds that run every task once, after a
    warm-up round (so that load from other processes hits all tasks alike). A task slower than
    2 s is timed once."""
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for round_ in range(repeats + 1):
        for name, task in tasks.items():
            if round_ > 1 and times[name] and times[name][0] > 2.0:
                continue
            start = time.perf_counter()
            task()
            elapsed = time.perf_counter() - start
            if round_ > 0 or elapsed > 2.0:
                times[name].append(elapsed)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def bench_config(t: int, b: int, n: int, repeats: int) -> tuple[dict, dict[str, str]]:
    """Times (ms), spike agreement and firing rate of every available layer at one config."""
    found, missing = layers(make_linear(n))
    x = make_input(t, b, n)
    with torch.no_grad():
        reference = found["axonal-reference"].run(x)
    tasks = {}
    for name, layer in found.items():
        xp = layer.prepare(x)
        weights = list(layer.linear.parameters())
        with torch.no_grad():
            h = layer.linear(xp)
        h_leaf = h.clone().requires_grad_()
        tasks[f"{name}/forward"] = partial(forward, layer.run, xp)
        tasks[f"{name}/forward_backward"] = partial(forward_backward, layer.run, xp, weights)
        tasks[f"{name}/neuron_forward"] = partial(forward, layer.neuron, h)
        tasks[f"{name}/neuron_forward_backward"] = partial(
            forward_backward, layer.neuron, h_leaf, [h_leaf]
        )
    times = round_robin(tasks, repeats)
    results = {}
    for name, layer in found.items():
        r = {"note": layer.note}
        for what in MODES:
            r[f"{what}_ms"] = times[f"{name}/{what}"]
        if name != "gemm":
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
    layer = layers(make_linear(n))[0][name]
    weights = list(layer.linear.parameters())
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
    out = {"forward_over_gemm": ours["forward_ms"] / gemm_ms["forward_ms"]}
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
        print(f"\n(T, B, N) = ({config['T']}, {config['B']}, {config['N']}), median ms; "
              "neuron = the neuron alone on the Linear's output")  # fmt: skip
        print(f"{'library':18s} {'fwd':>8s} {'fwd+bwd':>9s} {'neuron fwd':>11s} "
              f"{'neuron f+b':>11s} {'agree':>7s} {'rate':>6s}")  # fmt: skip
        for name, r in res.items():
            agree = f"{r['spike_agreement']:.4f}" if "spike_agreement" in r else ""
            rate = f"{r['firing_rate']:.3f}" if "firing_rate" in r else ""
            print(f"{name:18s} {r['forward_ms']:8.1f} {r['forward_backward_ms']:9.1f} "
                  f"{r['neuron_forward_ms']:11.1f} {r['neuron_forward_backward_ms']:11.1f} "
                  f"{agree:>7s} {rate:>6s}")  # fmt: skip
        s = config["summary"]
        line = f"axonal-cpu forward = {s['forward_over_gemm']:.2f}x the GEMM alone"
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--memory", metavar="LIBRARY", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory:
        print(measure_memory(args.memory))
        return
    repeats = 3 if args.quick else 7
    report: dict = {"command": " ".join(["python -m benchmarks.lif", *(argv or sys.argv[1:])]),
                    "machine": machine(), "versions": versions(), "repeats": repeats,
                    "configs": [], "unavailable": {}}  # fmt: skip
    for t, b, n in CONFIGS:
        print(f"(T, B, N) = ({t}, {b}, {n})", flush=True)
        results, missing = bench_config(t, b, n, repeats)
        report["unavailable"] = missing
        report["configs"].append(
            {"T": t, "B": b, "N": n, "results": results, "summary": summary(results)}
        )
    if not args.no_memory:
        names = list(report["configs"][0]["results"])
        report["memory_mb"] = memory_in_fresh_processes(names)
    save_json_atomic(RESULTS, report)
    print_table(report)
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
