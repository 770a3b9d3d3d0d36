"""``axonal ...``: the command line, a thin layer over :mod:`axonal.tasks` and :mod:`axonal.data`.

Commands:
    axonal demo                       train + evaluate the NeuroMorse network (`make demo`)
    axonal train morse [options]      the same job with every option exposed
    axonal train morse-stdp [options] the paper's unsupervised STDP network (2 -> 50 WTA LIF)
    axonal data neuromorse --out DIR  write the 27 noise variants per split as HDF5 files
    axonal export RUN --nir FILE      a trained run's network as a NIR graph
    axonal import FILE                read a NIR graph, print it, run it on a sample
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from axonal import __version__

__all__ = ["main"]


def _add_run_options(
    parser: argparse.ArgumentParser, defaults: Any, numbers: Sequence[tuple[str, type, str]] = ()
) -> None:
    """The options every task run has (name, folder, seed, progress) and one ``--flag`` per
    numeric config field in ``numbers`` (``(field, type, help)``), defaulting to ``defaults``."""
    parser.add_argument("--name", default=defaults.name, help="run name: writes runs/<name>/")
    parser.add_argument("--runs-dir", default=defaults.runs_dir, help="parent folder of runs")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of everything")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    for name, kind, help_text in numbers:
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=kind, default=getattr(defaults, name), help=help_text)


def _add_conditions(parser: argparse.ArgumentParser, flag: str, default: Sequence[str],
                    help_text: str) -> None:
    """A ``--flag`` taking one or more NeuroMorse noise conditions."""
    from axonal.tasks.morse import CONDITIONS

    parser.add_argument(flag, nargs="+", choices=list(CONDITIONS), default=list(default),
                        help=help_text)  # fmt: skip


def _config(cls: type, args: argparse.Namespace) -> Any:
    """The task config ``cls`` from the parsed options named like its fields (lists become
    tuples)."""
    names = {f.name for f in fields(cls)}
    options = {k: tuple(v) if isinstance(v, list) else v
               for k, v in vars(args).items() if k in names}  # fmt: skip
    return cls(**options, progress=not args.no_progress)


def _report(results: dict[str, Any], summary: Callable[[dict[str, Any]], str], folder: str,
            files: str) -> int:
    print()
    print(summary(results))
    print(f"\nwrote {folder}/ ({files})")
    return 0


def _add_morse_options(parser: argparse.ArgumentParser, *, demo: bool) -> None:
    from axonal.tasks.morse import ARCHITECTURES, PLASTICITY, MorseConfig

    defaults = MorseConfig()
    if demo:
        _add_run_options(parser, defaults)
        return
    _add_run_options(parser, defaults, [
        ("hidden", int, "neurons per hidden layer"),
        ("epochs", int, "training epochs"),
        ("train_samples", int, "noisy training words per epoch"),
        ("batch_size", int, "words per batch"),
        ("lr", float, "Adam learning rate"),
        ("keyword_fraction", float, "share of keywords among training words (rest: 'other')"),
        ("test_samples_per_word", int, "test samples per keyword and noise condition"),
        ("stream_words", int, "words of running text in the keyword-spotting stream"),
        ("detection_window", int, "steps after a keyword's end time that still count as a hit"),
    ])  # fmt: skip
    parser.add_argument(
        "--plasticity", choices=list(PLASTICITY), default=defaults.plasticity,
        help="a local rule beside gradient training: SSDP or STDP (see docs/plasticity.md)",
    )  # fmt: skip
    parser.add_argument(
        "--architecture", choices=list(ARCHITECTURES), default=defaults.architecture,
        help="the network: two LIF layers, a residual spiking MLP or a spike-driven "
             "transformer (see docs/neuromorse.md)",
    )  # fmt: skip
    _add_conditions(parser, "--train-conditions", defaults.train_conditions,
                    "noise conditions mixed in training")  # fmt: skip
    _add_conditions(parser, "--test-conditions", defaults.test_conditions,
                    "noise conditions evaluated")  # fmt: skip


def _run_morse(args: argparse.Namespace) -> int:
    from axonal.tasks.morse import MorseConfig, run, summary_table

    config = _config(MorseConfig, args)
    folder = f"{config.runs_dir}/{config.name}"
    print(f"NeuroMorse: training a spiking network, run folder {folder}/")
    return _report(run(config), summary_table, folder, "config.json, metrics.json, raster.png, "
                   "training_curve.png, train/checkpoint.safetensors")  # fmt: skip


def _add_morse_stdp_options(parser: argparse.ArgumentParser) -> None:
    from axonal.tasks.morse import CONDITIONS
    from axonal.tasks.morse_stdp import MorseSTDPConfig

    defaults = MorseSTDPConfig()
    _add_run_options(parser, defaults, [
        ("neurons", int, "winner-take-all LIF neurons"),
        ("epochs", int, "passes over the 50 keywords"),
        ("test_samples_per_word", int, "test samples per keyword and noise condition"),
        ("stream_words", int, "words of running text in the keyword-spotting stream"),
        ("detection_window", int, "steps after a keyword's end time that still count as a hit"),
    ])  # fmt: skip
    parser.add_argument(
        "--train-condition", choices=list(CONDITIONS), default=defaults.train_condition,
        help="noise of the training words (fresh every epoch)",
    )  # fmt: skip
    _add_conditions(parser, "--test-conditions", defaults.test_conditions,
                    "noise conditions evaluated")  # fmt: skip


def _run_morse_stdp(args: argparse.Namespace) -> int:
    from axonal.tasks.morse_stdp import MorseSTDPConfig, run, summary_table

    config = _config(MorseSTDPConfig, args)
    folder = f"{config.runs_dir}/{config.name}"
    print(f"NeuroMorse STDP network: unsupervised training, run folder {folder}/")
    return _report(run(config), summary_table, folder,
                   "config.json, metrics.json, model.safetensors")  # fmt: skip


def _write_neuromorse(args: argparse.Namespace) -> int:
    from axonal.data.neuromorse import write_h5

    words = None if args.stream_words == 0 else args.stream_words
    paths = write_h5(args.out, num_stream_words=words, seed=args.seed)
    print(f"wrote {len(paths)} files under {args.out}/ (Train/ and Test/)")
    return 0


def _export(args: argparse.Namespace) -> int:
    import nir
    import torch

    from axonal.interop.nir import to_nir
    from axonal.io import atomic_path
    from axonal.tasks.morse import load_model

    model = load_model(args.run)
    sample = torch.zeros(args.steps, 1, 2)
    graph = to_nir(model, sample, dt=args.dt, method=args.method)
    with atomic_path(args.nir) as tmp:
        nir.write(tmp, graph)
    print(f"wrote {args.nir}: {len(graph.nodes)} nodes, {len(graph.edges)} edges "
          f"(dt={args.dt}, method={args.method})")  # fmt: skip
    return 0


def _import(args: argparse.Namespace) -> int:
    import torch

    from axonal.interop.nir import from_nir

    module = from_nir(args.file, dt=args.dt, method=args.method)
    print(f"{args.file}: {len(module.node_names)} nodes")
    for name in module.node_names:
        print(f"  {name:24s} {type(module.node(name)).__name__}")
    shape = module.input_shape
    generator = torch.Generator().manual_seed(args.seed)
    x = (torch.rand(args.steps, args.batch, *shape, generator=generator) < args.rate).float()
    with torch.no_grad():
        out = module(x)
    print(f"ran {tuple(x.shape)} random spikes (rate {args.rate}) -> output {tuple(out.shape)}, "
          f"mean {out.mean().item():.4f}, non-zero {int((out != 0).sum())}")  # fmt: skip
    return 0


def _add_nir_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dt", type=float, default=1e-4, help="time step in seconds")
    parser.add_argument(
        "--method", choices=["euler", "exp"], default="euler",
        help="discretisation: beta = 1 - dt/tau (euler) or exp(-dt/tau)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The ``axonal`` argument parser (every command has ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="axonal",
        description="Spiking neural networks: train, measure, make small, move to hardware.",
    )
    parser.add_argument("--version", action="version", version=f"axonal {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="train and evaluate the NeuroMorse keyword network (the main job)",
        description="Builds NeuroMorse, trains a spiking network for word classification and "
        "keyword spotting, evaluates it under each noise condition and writes runs/<name>/.",
    )
    _add_morse_options(demo, demo=True)
    demo.set_defaults(handler=_run_morse)

    train = commands.add_parser("train", help="train a task with all its options")
    tasks = train.add_subparsers(dest="task", required=True, metavar="TASK")
    morse = tasks.add_parser("morse", help="NeuroMorse word classification + keyword spotting")
    _add_morse_options(morse, demo=False)
    morse.set_defaults(handler=_run_morse)
    morse_stdp = tasks.add_parser(
        "morse-stdp",
        help="NeuroMorse's unsupervised STDP baseline (2 -> 50 winner-take-all LIF)",
        description="Trains the NeuroMorse paper's STDP network without labels (winner-take-all, "
        "adaptive thresholds, causal 15-step STDP window), labels each neuron with its "
        "keyword, then evaluates word classification and keyword spotting per noise condition.",
    )
    _add_morse_stdp_options(morse_stdp)
    morse_stdp.set_defaults(handler=_run_morse_stdp)

    data = commands.add_parser("data", help="build datasets as files")
    sets = data.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    neuromorse = sets.add_parser(
        "neuromorse",
        help="write NeuroMorse in the paper's HDF5 layout",
        description="Writes Train/ and Test/ with Clean.h5 and the 27 noise variants "
        "'Dropout-{None,Low,High} Jitter-{..} Poisson-{..}.h5'.",
    )
    neuromorse.add_argument("--out", required=True, help="output folder")
    neuromorse.add_argument(
        "--stream-words", type=int, default=10_000,
        help="words of running text in each test stream (0: the whole text)",
    )  # fmt: skip
    neuromorse.add_argument("--seed", type=int, default=0, help="noise seed")
    neuromorse.set_defaults(handler=_write_neuromorse)

    export = commands.add_parser(
        "export",
        help="export a trained run as a NIR graph",
        description="Loads runs/<name>/ (config.json and its checkpoint) and writes a NIR file.",
    )
    export.add_argument("run", help="run folder, e.g. runs/morse")
    export.add_argument("--nir", required=True, help="NIR file to write")
    export.add_argument("--steps", type=int, default=4, help="steps of the shape-tracing sample")
    _add_nir_options(export)
    export.set_defaults(handler=_export)

    imports = commands.add_parser(
        "import", help="read a NIR graph, list its nodes and run it on random spikes"
    )
    imports.add_argument("file", help="NIR file")
    imports.add_argument("--steps", type=int, default=20, help="time steps of the sample")
    imports.add_argument("--batch", type=int, default=1, help="batch size of the sample")
    imports.add_argument("--rate", type=float, default=0.2, help="input spike probability")
    imports.add_argument("--seed", type=int, default=0, help="seed of the sample")
    _add_nir_options(imports)
    imports.set_defaults(handler=_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``axonal`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, OSError) as error:
        print(f"axonal: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
