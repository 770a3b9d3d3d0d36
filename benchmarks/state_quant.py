"""The cost of state quantisation in a LIF scan: ``python -m benchmarks.state_quant``.

One LIF layer alone (no synapse) on a fixed random input ``[T, B, N]`` (N(0, 0.5), seeded),
CPU float32, forward under ``no_grad`` and forward + backward of ``out.sum()``:

- axonal's fused CPU kernel without a quantiser, and with
  ``StateQuantizer.from_bits(bits, mode)`` for 2, 4 and 8 bits, uniform and threshold-centred
  levels;
- axonal's reference loop (``set_backend("reference")``) with 4-bit uniform levels;
- snnTorch 1.0's ``Leaky(state_quant=quant.state_quant(bits, uniform=True))`` in a Python loop
  over time, where snnTorch is installed (its levels are axonal's uniform levels; its neuron
  subtracts the threshold again while the reset membrane stays above it, so spikes may differ).

Times are medians of rounds that run every task once after a warm-up round
(``benchmarks.lif.round_robin``); ``--threads``/``--clock`` as in ``benchmarks.lif``. Prints a
table with each time over the unquantised kernel's and writes
``benchmarks/results/state_quant.json``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from axonal import kernels
from axonal import nn as snn
from axonal.io import save_json_atomic
from axonal.quant import StateQuantizer
from benchmarks.lif import (
    add_timing_arguments,
    machine,
    round_robin,
    step_loop,
    timing,
    versions,
)

BETA = 0.9
BITS = (2, 4, 8)
RESULTS = Path(__file__).parent / "results" / "state_quant.json"


def axonal_lif(quantizer: StateQuantizer | None, backend: str) -> Callable[[Tensor], Tensor]:
    lif = snn.LIF(beta=BETA, state_quant=quantizer)

    def run(x: Tensor) -> Tensor:
        kernels.set_backend(backend)
        try:
            return lif(x)
        finally:
            kernels.set_backend("auto")

    return run


def snntorch_lif(bits: int) -> Callable[[Tensor], Tensor]:
    import snntorch
    from snntorch.functional import quant

    leaky = snntorch.Leaky(beta=BETA, state_quant=quant.state_quant(bits, uniform=True))
    return lambda x: step_loop(leaky, x, leaky.init_leaky())


def candidates() -> dict[str, Callable[[Tensor], Tensor]]:
    found = {"axonal cpu, none": axonal_lif(None, "auto")}
    for bits in BITS:
        for mode in ("uniform", "threshold"):
            quantizer = StateQuantizer.from_bits(bits, mode)
            found[f"axonal cpu, {bits}-bit {mode}"] = axonal_lif(quantizer, "auto")
    reference = StateQuantizer.from_bits(4, "uniform")
    found["axonal reference, 4-bit uniform"] = axonal_lif(reference, "reference")
    try:
        for bits in BITS:
            found[f"snnTorch, {bits}-bit uniform"] = snntorch_lif(bits)
    except ImportError:
        pass
    return found


def bench(shape: tuple[int, int, int], repeats: int, clock: Callable[[], float]) -> dict:
    x = 0.5 * torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    leaf = x.clone().requires_grad_()

    def forward(fn: Callable[[Tensor], Tensor]) -> Callable[[], None]:
        def task() -> None:
            with torch.no_grad():
                fn(x)

        return task

    def forward_backward(fn: Callable[[Tensor], Tensor]) -> Callable[[], None]:
        def task() -> None:
            fn(leaf).sum().backward()
            leaf.grad = None

        return task

    found = candidates()
    tasks = {f"{name}|forward": forward(fn) for name, fn in found.items()}
    tasks |= {f"{name}|forward_backward": forward_backward(fn) for name, fn in found.items()}
    times = round_robin(tasks, repeats, clock)
    return {
        name: {mode: times[f"{name}|{mode}"] for mode in ("forward", "forward_backward")}
        for name in found
    }


def print_table(results: dict, shape: tuple[int, int, int]) -> None:
    base = results["axonal cpu, none"]
    print(f"\nLIF alone at (T, B, N) = {shape}: median ms (ratio to the unquantised kernel)")
    print(f"{'':34s} {'fwd':>8s} {'':>7s} {'fwd+bwd':>9s} {'':>7s}")
    for name, r in results.items():
        fwd, both = r["forward"], r["forward_backward"]
        print(f"{name:34s} {fwd:8.1f} {fwd / base['forward']:6.1f}x "
              f"{both:9.1f} {both / base['forward_backward']:6.1f}x")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(100, 16, 1024),
                        metavar=("T", "B", "N"), help="input shape (default 100 16 1024)")
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    add_timing_arguments(parser)
    args = parser.parse_args(argv)
    clock = timing(args)
    shape = tuple(args.shape)
    results = bench(shape, 3 if args.quick else 7, clock)
    print_table(results, shape)
    save_json_atomic(args.out, {
        "shape": shape, "clock": args.clock, "results_ms": results,
        "machine": machine(), "versions": versions(),
    })  # fmt: skip
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
