"""Linear(N, N) + LIF on a CUDA device: axonal's Triton kernels against its reference scan and
SpikingJelly's GPU implementations (``python -m benchmarks.gpu``).

Configurations ``(T, B, N)``: the Open Neuromorphic benchmark's (500, 16, 16384) and the three
dense ones of ``benchmarks.lif``. Every library runs the same layer (same weights, same input,
float32, TF32 off as torch's default) with the closest LIF it has to axonal's ``v = beta v' +
x``, fire above 1, subtract 1: forward only (``no_grad``) and forward + backward of
``out.sum()`` (as the Open Neuromorphic benchmark), for the whole layer and for the neuron alone
on the Linear's output. Times are medians of repeated runs after warm-up, each between
``torch.cuda.synchronize()`` calls; "peak MB" is the growth of ``torch.cuda.max_memory_allocated``
over one layer forward + backward. Agreement is the fraction of spike values equal to axonal's
reference scan.

SpikingJelly 2.0 picks its CUDA implementation (``cuda``: its compiled extension, ``triton``,
``torch``) from ``SJ_LIF_CUDA_IMPLEMENTATION`` when it is imported, so each runs in its own
process; so does axonal. Writes ``benchmarks/results/gpu.json`` and prints a table. Exits with a
message where no CUDA device is present.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from benchmarks.lif import BETA, THRESHOLD, spikingjelly_lif

CONFIGS = ((500, 16, 16384), (100, 32, 512), (500, 16, 1024), (25, 128, 256))
RESULTS = Path(__file__).parent / "results" / "gpu.json"
RUNNERS = {  # process name -> (library, SpikingJelly implementation)
    "axonal": ("axonal", None),
    "spikingjelly-cuda": ("spikingjelly", "cuda"),
    "spikingjelly-triton": ("spikingjelly", "triton"),
    "spikingjelly-torch": ("spikingjelly", "torch"),
}
MODES = ("forward", "forward_backward", "neuron_forward", "neuron_forward_backward")


def make_linear(n: int, device: str, seed: int = 0) -> nn.Linear:
    """``Linear(n, n)`` with weights ``N(0, 1/n)`` drawn on the CPU (the same everywhere) and no
    bias."""
    linear = nn.Linear(n, n)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(n, n, generator=gen) / math.sqrt(n))
        linear.bias.zero_()
    return linear.to(device)


def make_input(t: int, b: int, n: int, device: str, seed: int = 1) -> Tensor:
    """Input ``[T, B, N]`` uniform in [0, 1), drawn on the CPU."""
    return torch.rand(t, b, n, generator=torch.Generator().manual_seed(seed)).to(device)


def axonal_neuron(backend: str, device: str) -> Callable[[Tensor], Tensor]:
    """axonal's LIF on ``backend``; fails if another implementation ran (e.g. a fallback)."""
    import axonal.nn as ann
    from axonal import kernels

    lif = ann.LIF(beta=BETA, threshold=THRESHOLD).to(device)

    def run(h: Tensor) -> Tensor:
        kernels.set_backend(backend)
        out = lif(h)
        if kernels.last_backend() != backend:
            raise RuntimeError(f"axonal ran {kernels.last_backend()!r}, not {backend!r}")
        return out

    return run


def timed(task: Callable[[], None], repeats: int) -> float:
    """Median milliseconds of ``task`` over ``repeats`` runs after two warm-up runs."""
    times = []
    for i in range(repeats + 2):
        torch.cuda.synchronize()
        start = time.perf_counter()
        task()
        torch.cuda.synchronize()
        if i >= 2:
            times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def forward(fn: Callable[[Tensor], Tensor], x: Tensor) -> None:
    with torch.no_grad():
        fn(x)


def forward_backward(fn: Callable[[Tensor], Tensor], x: Tensor, leaves: list[Tensor]) -> None:
    fn(x).sum().backward()
    for leaf in leaves:
        leaf.grad = None


def peak_mb(task: Callable[[], None]) -> float:
    """Growth of the peak CUDA memory allocated during ``task`` (MB)."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    task()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - before) / 2**20


def measure(neuron: Callable[[Tensor], Tensor] | None, t: int, b: int, n: int,
            repeats: int) -> dict:  # fmt: skip
    """Times, peak memory, spike agreement with axonal's reference scan and firing rate of
    ``Linear + neuron`` at one configuration (``neuron=None``: the Linear alone)."""
    linear, x = make_linear(n, "cuda"), make_input(t, b, n, "cuda")
    weights = list(linear.parameters())
    neuron_or_identity = neuron or (lambda h: h)

    def layer(inp: Tensor) -> Tensor:
        return neuron_or_identity(linear(inp))

    with torch.no_grad():
        h = linear(x)
    h_leaf = h.clone().requires_grad_()
    tasks = {
        "forward": lambda: forward(layer, x),
        "forward_backward": lambda: forward_backward(layer, x, weights),
        "neuron_forward": lambda: forward(neuron_or_identity, h),
        "neuron_forward_backward": lambda: forward_backward(neuron_or_identity, h_leaf, [h_leaf]),
    }
    result: dict = {f"{mode}_ms": timed(task, repeats) for mode, task in tasks.items()}
    result["peak_mb"] = peak_mb(tasks["forward_backward"])
    result["spike_agreement"] = result["firing_rate"] = None
    if neuron is not None:
        with torch.no_grad():
            spikes, reference = layer(x), axonal_neuron("reference", "cuda")(h)
        result["spike_agreement"] = (spikes == reference).float().mean().item()
        result["firing_rate"] = spikes.mean().item()
    return result


def run_library(name: str, repeats: int) -> dict[str, dict]:
    """Every configuration for the libraries of one process, by ``"library/config"``."""
    library, _ = RUNNERS[name]
    if library == "axonal":
        neurons = {"gemm": None, "axonal-triton": axonal_neuron("triton", "cuda"),
                   "axonal-reference": axonal_neuron("reference", "cuda")}  # fmt: skip
    else:
        neurons = {name: spikingjelly_lif()}
    out = {}
    for t, b, n in CONFIGS:
        for label, neuron in neurons.items():
            out[f"{label}/{t},{b},{n}"] = measure(neuron, t, b, n, repeats)
            torch.cuda.empty_cache()
    return out


def in_process(name: str, repeats: int) -> tuple[dict, str | None]:
    """Run one process of :data:`RUNNERS`; its results, or why it could not run."""
    _, implementation = RUNNERS[name]
    env = dict(os.environ)
    if implementation is not None:
        env["SJ_LIF_CUDA_IMPLEMENTATION"] = implementation
    cmd = [sys.executable, "-m", "benchmarks.gpu", "--process", name, "--repeats", str(repeats)]
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {}, (done.stderr.strip().splitlines() or ["no output"])[-1][-300:]
    return json.loads(lines[-1]), None


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "torch": torch.__version__,
           "cuda": str(torch.version.cuda)}  # fmt: skip
    for name in ("axonal", "triton", "spikingjelly"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def print_table(report: dict) -> None:
    rows = report["results"]
    for t, b, n in CONFIGS:
        print(f"\n(T, B, N) = ({t}, {b}, {n}), median ms; neuron = the neuron alone")
        print(f"{'library':22s} {'fwd':>8s} {'fwd+bwd':>9s} {'neuron fwd':>11s} "
              f"{'neuron f+b':>11s} {'peak MB':>9s} {'agree':>7s} {'rate':>6s}")  # fmt: skip
        for key, r in rows.items():
            label, config = key.split("/")
            if config != f"{t},{b},{n}":
                continue
            agree, rate = r["spike_agreement"], r["firing_rate"]
            print(f"{label:22s} {r['forward_ms']:8.2f} {r['forward_backward_ms']:9.2f} "
                  f"{r['neuron_forward_ms']:11.3f} {r['neuron_forward_backward_ms']:11.3f} "
                  f"{r['peak_mb']:9.0f} {'' if agree is None else f'{agree:.4f}':>7s} "
                  f"{'' if rate is None else f'{rate:.3f}':>6s}")  # fmt: skip
    for name, why in report["unavailable"].items():
        print(f"unavailable: {name}: {why}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measure")
    parser.add_argument("--process", choices=list(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit(
            f"benchmarks.gpu needs a CUDA device; torch {torch.__version__} sees none "
            f"(CUDA build: {torch.version.cuda})."
        )
    if args.process:
        torch.backends.cuda.matmul.allow_tf32 = False
        print(json.dumps(run_library(args.process, args.repeats)))
        return
    from axonal.io import save_json_atomic

    report: dict = {
        "command": " ".join(["python -m benchmarks.gpu", *(argv or sys.argv[1:])]),
        "device": torch.cuda.get_device_name(), "versions": versions(),
        "repeats": args.repeats, "configs": [list(c) for c in CONFIGS], "results": {},
        "unavailable": {},
    }  # fmt: skip
    for name in RUNNERS:
        print(f"running {name} ...", flush=True)
        results, why = in_process(name, args.repeats)
        report["results"].update(results)
        if why is not None:
            report["unavailable"][name] = why
    save_json_atomic(RESULTS, report)
    print_table(report)
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
