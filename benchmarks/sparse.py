"""Dense against event-driven Linear / Conv2d over spike densities: ``python -m benchmarks.sparse``.

Each case runs one layer at inference (``no_grad``, CPU float32) on binary spikes of a given
density (fraction of ones, i.i.d. Bernoulli, seeded): "dense" is the ``nn`` layer, "event" the
:mod:`axonal.nn.event` layer forced onto its event path (``crossover = 1``), so that its time
includes what the automatic switch costs: one pass over the input to measure the density and
check that it is binary. A task calls the layer as often as takes the dense layer about 0.1 s;
times per call are medians of rounds that run every task once, after a warm-up round
(``benchmarks.lif.round_robin``). The crossover is the density where the two times meet
(interpolated in log density and log time ratio between the measured densities); it is what
``axonal.nn.event`` uses as ``LINEAR_CROSSOVER`` and ``CONV_CROSSOVER``.

Writes ``benchmarks/results/sparse.json`` and prints a table. ``--quick`` runs fewer repeats;
``--threads`` and ``--clock`` as in ``benchmarks.lif`` (``--threads 1 --clock user`` times
compute alone, without the page faults of fresh output memory, on a loaded machine).
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

from axonal.io import save_json_atomic
from axonal.nn import event
from benchmarks.lif import add_timing_arguments, machine, round_robin, timing, versions

DENSITIES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
T, B = 20, 16  # the conv case of issue 3; the Linear case has 100 steps
MIN_TASK_S = 0.1  # each timed task repeats the call to last about this long
RESULTS = Path(__file__).parent / "results" / "sparse.json"


@dataclass(frozen=True)
class Case:
    """One layer and the shape of the spikes it gets (rows first: time and batch folded)."""

    name: str
    dense: Callable[[], nn.Module]
    shape: tuple[int, ...]


CASES = (
    Case("Linear 1024->1024", partial(nn.Linear, 1024, 1024), (100 * B, 1024)),
    Case("Conv2d 2->16 3x3", partial(nn.Conv2d, 2, 16, 3, padding=1), (T * B, 2, 34, 34)),
    Case("Conv2d 16->32 3x3", partial(nn.Conv2d, 16, 32, 3, padding=1), (T * B, 16, 34, 34)),
)


def spikes(shape: tuple[int, ...], density: float, seed: int = 0) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen) < density).float()


def event_layer(dense: nn.Module) -> nn.Module:
    """An event-driven copy of ``dense`` (same weights), always on its event path."""
    layer = event.event_driven(copy.deepcopy(dense))
    layer.crossover = 1.0
    return layer


def run(layer: nn.Module, x: Tensor, calls: int) -> None:
    with torch.no_grad():
        for _ in range(calls):
            layer(x)


def calls_per_task(layer: nn.Module, x: Tensor) -> int:
    """Calls of ``layer(x)`` that take about :data:`MIN_TASK_S` (a CPU clock advances by
    scheduler ticks, so that a short task is timed coarsely)."""
    start = time.perf_counter()
    run(layer, x, 1)
    return max(1, round(MIN_TASK_S / (time.perf_counter() - start)))


def crossover(densities: list[float], dense: list[float], fast: list[float]) -> float | None:
    """The density where the event time reaches the dense time: 0 if the event path never
    wins, None if it wins at every measured density."""
    ratios = [f / d for f, d in zip(fast, dense, strict=True)]
    if ratios[0] >= 1:
        return 0.0
    for i in range(1, len(ratios)):
        if ratios[i] >= 1:
            d0, d1 = math.log(densities[i - 1]), math.log(densities[i])
            r0, r1 = math.log(ratios[i - 1]), math.log(ratios[i])
            return math.exp(d0 + (d1 - d0) * (0 - r0) / (r1 - r0))
    return None


def bench_case(case: Case, repeats: int, clock: Callable[[], float]) -> dict:
    torch.manual_seed(0)
    dense = case.dense()
    fast = event_layer(dense)
    inputs = {d: spikes(case.shape, d) for d in DENSITIES}
    errors = {}
    for d, x in inputs.items():  # also compiles the kernels before any timing
        with torch.no_grad():
            errors[d] = (fast(x) - dense(x)).abs().max().item()
        assert fast.last_path == "event", fast.last_path
    calls = calls_per_task(dense, inputs[DENSITIES[0]])
    tasks = {}
    for d, x in inputs.items():
        tasks[f"dense/{d}"] = partial(run, dense, x, calls)
        tasks[f"event/{d}"] = partial(run, fast, x, calls)
    times = {k: v / calls for k, v in round_robin(tasks, repeats, clock).items()}
    rows = [{"density": d, "dense_ms": times[f"dense/{d}"], "event_ms": times[f"event/{d}"],
             "max_abs_difference": errors[d]} for d in inputs]  # fmt: skip
    found = crossover(list(DENSITIES), [r["dense_ms"] for r in rows],
                      [r["event_ms"] for r in rows])  # fmt: skip
    return {"name": case.name, "input_shape": list(case.shape), "calls_per_task": calls,
            "rows": rows, "crossover": found}  # fmt: skip


def print_table(report: dict) -> None:
    for case in report["cases"]:
        print(f"\n{case['name']}, input {case['input_shape']}, median ms")
        print(f"{'density':>8s} {'dense':>8s} {'event':>8s} {'dense/event':>12s} "
              f"{'max |diff|':>11s}")  # fmt: skip
        for r in case["rows"]:
            speedup = r["dense_ms"] / r["event_ms"]
            print(f"{r['density']:8.3f} {r['dense_ms']:8.2f} {r['event_ms']:8.2f} "
                  f"{speedup:12.2f} {r['max_abs_difference']:11.1e}")  # fmt: skip
        c = case["crossover"]
        print("crossover: " + ("above every measured density" if c is None else f"{c:.4f}"))
    print(f"\naxonal.nn.event uses LINEAR_CROSSOVER = {event.LINEAR_CROSSOVER}, "
          f"CONV_CROSSOVER = {event.CONV_CROSSOVER}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    add_timing_arguments(parser)
    args = parser.parse_args(argv)
    clock = timing(args)
    repeats = 3 if args.quick else 7
    report: dict = {"command": " ".join(["python -m benchmarks.sparse", *(argv or sys.argv[1:])]),
                    "machine": machine(), "versions": versions(), "repeats": repeats,
                    "clock": args.clock, "cases": []}  # fmt: skip
    for case in CASES:
        print(case.name, flush=True)
        report["cases"].append(bench_case(case, repeats, clock))
    save_json_atomic(RESULTS, report)
    print_table(report)
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
