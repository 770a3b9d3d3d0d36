"""NIR graph or file -> axonal module (:func:`from_nir`), with one error listing every problem."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import h5py
import nir
import numpy as np
import torch
from nir.ir.utils import ensure_str
from nir.serialization import hdf2dict
from torch import Tensor, nn
from torch.nn.utils import skip_init

from axonal.functional.continuous import decay
from axonal.interop.nir.errors import NIRConversionError, NIRSemanticsWarning
from axonal.interop.nir.graph import NIRGraphModule, Schedule, schedule
from axonal.interop.nir.params import check_discretisation, input_scale, leak_gain
from axonal.nn.base import SpikingModule
from axonal.nn.layers import CubaLI, Delay, Scale, SumPool2d, Threshold
from axonal.nn.neurons import ALIF, IF, LI, LIF, CubaLIF

__all__ = ["from_nir", "read_graph"]

Shape = tuple[int, ...]
_ELEMENTWISE = (
    nir.CubaLI, nir.CubaLIF, nir.Delay, nir.I, nir.IF, nir.LI, nir.LIF, nir.Scale, nir.Threshold,
)  # fmt: skip
_RESETS = ("subtract", "none")


def from_nir(
    graph_or_path: nir.NIRGraph | str | os.PathLike[str],
    dt: float = 1e-4,
    method: str = "euler",
    *,
    extensions: bool = True,
) -> NIRGraphModule:
    """Build an axonal module that runs a NIR graph: ``[T, B, *input] -> [T, B, *output]``.

    Args:
        graph_or_path: a ``nir.NIRGraph`` or the path of a NIR (HDF5) file.
        dt: the time step (seconds) at which the continuous graph is run.
        method: ``"euler"`` (``beta = 1 - dt/tau``) or ``"exp"`` (``beta = exp(-dt/tau)``);
            see :mod:`axonal.interop.nir.params` for the whole mapping.
        extensions: read axonal's metadata (``axonal.reset`` for subtract / no reset,
            ``axonal.neuron = "ALIF"``); ``False`` gives the plain NIR semantics other tools use.

    Raises :class:`NIRConversionError` listing every problem: an unreadable or corrupt file,
    unknown node types, malformed parameters, dangling edges, shape mismatches. Warns
    (:class:`NIRSemanticsWarning`) when the graph says axonal exported it with another
    ``dt``/``method``.
    """
    check_discretisation(dt, method)
    if isinstance(graph_or_path, (str, os.PathLike)):
        graph, problems = read_graph(graph_or_path)
        what = f"cannot import NIR file {os.fspath(graph_or_path)!r}"
    elif isinstance(graph_or_path, nir.NIRGraph):
        graph, problems, what = graph_or_path, [], "cannot import the NIR graph"
    else:
        raise TypeError(
            f"from_nir takes a nir.NIRGraph or a file path, got {type(graph_or_path).__name__}"
        )
    builder = _Builder(dt, method, extensions, problems)
    module = builder.graph(graph, "")
    if builder.problems or module is None:
        raise NIRConversionError(what, builder.problems)
    _check_provenance(graph.metadata, dt, method)
    return module


def read_graph(path: str | os.PathLike[str]) -> tuple[nir.NIRGraph, list[tuple[str, str]]]:
    """Read a NIR file node by node: the graph (unreadable nodes replaced by ``None``) and the
    ``(node, problem)`` pairs. Raises :class:`NIRConversionError` for a file that is not a
    readable NIR HDF5 file."""
    where = os.fspath(path)
    try:
        with h5py.File(where, "r") as f:
            data = hdf2dict(f["node"]) if "node" in f else None
    except (OSError, ValueError) as error:
        raise NIRConversionError(
            f"cannot read NIR file {where!r}", [("<file>", f"not a readable HDF5 file: {error}")]
        ) from error
    if data is None:
        raise NIRConversionError(f"cannot read NIR file {where!r}", [("<file>", "no 'node' group")])
    problems: list[tuple[str, str]] = []
    graph = _node_from_dict(data, "", problems)
    if not isinstance(graph, nir.NIRGraph):
        problems.append(("<root>", f"the file holds a {data.get('type')!r}, not a NIRGraph"))
        raise NIRConversionError(f"cannot read NIR file {where!r}", problems)
    return graph, problems


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _node_from_dict(data: dict, path: str, problems: list[tuple[str, str]]) -> nir.NIRNode | None:
    kind = data.get("type")
    where = path or "<root>"
    if kind == "NIRGraph":
        nodes = {
            str(name): _node_from_dict(sub, _join(path, str(name)), problems)
            for name, sub in dict(data.get("nodes", {})).items()
        }
        try:
            edges = [(ensure_str(a), ensure_str(b)) for a, b in data["edges"]]
        except (KeyError, TypeError, ValueError) as error:
            problems.append((where, f"unreadable edges: {error!r}"))
            edges = []
        metadata = dict(data.get("metadata", {}))
        return nir.NIRGraph(nodes, edges, metadata=metadata, type_check=False)
    node_type = getattr(nir, kind, None) if isinstance(kind, str) else None
    if not (isinstance(node_type, type) and issubclass(node_type, nir.NIRNode)):
        problems.append((where, f"unknown node type {kind!r}"))
        return None
    try:
        return nir.dict2NIRNode(dict(data))
    except (AssertionError, AttributeError, KeyError, TypeError, ValueError) as error:
        problems.append((where, f"malformed {kind} node: {error!r}"))
        return None


def _check_provenance(metadata: dict[str, Any], dt: float, method: str) -> None:
    saved_dt, saved_method = metadata.get("axonal.dt"), metadata.get("axonal.method")
    if saved_dt is None or saved_method is None:
        return
    if not np.isclose(float(saved_dt), dt, rtol=1e-9, atol=0) or str(saved_method) != method:
        warnings.warn(
            NIRSemanticsWarning(
                f"the graph was exported by axonal with dt={float(saved_dt)}, "
                f"method={str(saved_method)!r} and is imported with dt={dt}, method={method!r}: "
                "its discrete dynamics differ from the exported model's"
            ),
            stacklevel=3,
        )


def _tensor(value: Any) -> Tensor:
    """A float64 tensor of a NIR parameter (numpy array, tensor or number)."""
    if isinstance(value, Tensor):
        return value.detach().cpu().double()
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def _weight(value: Any) -> Tensor:
    return value.detach().cpu() if isinstance(value, Tensor) else torch.as_tensor(np.asarray(value))


def _compact(t: Tensor) -> Tensor:
    """A 0-dim tensor if every element of ``t`` is the same value, else ``t``."""
    flat = t.reshape(-1)
    return flat[0] if flat.numel() > 0 and bool((flat == flat[0]).all()) else t


def _uniform(value: Any, name: str) -> float:
    t = _tensor(value).reshape(-1)
    if t.numel() == 0 or not bool((t == t[0]).all()):
        raise ValueError(f"axonal neurons take one {name} per layer, got {t.tolist()}")
    return float(t[0])


def _ints(value: Any, n: int, name: str) -> tuple[int, ...]:
    flat = np.asarray(value).reshape(-1)
    if flat.size == 1:
        flat = np.repeat(flat, n)
    if flat.size != n or not np.all(flat == np.round(flat)):
        raise ValueError(f"{name} must be {n} whole number(s), got {value!r}")
    return tuple(int(v) for v in flat)


class _Builder:
    """Turns NIR nodes into modules, collecting every problem on the way."""

    def __init__(
        self, dt: float, method: str, extensions: bool, problems: list[tuple[str, str]]
    ) -> None:
        self.dt, self.method, self.extensions = dt, method, extensions
        self.problems = problems
        self.builders: dict[type, Callable[[Any], nn.Module]] = {
            nir.Affine: self._affine,
            nir.Linear: self._affine,
            nir.Scale: lambda n: Scale(_compact(_tensor(n.scale))),
            nir.Conv1d: self._conv,
            nir.Conv2d: self._conv,
            nir.SumPool2d: self._pool,
            nir.AvgPool2d: self._pool,
            nir.Flatten: self._flatten,
            nir.Delay: self._delay,
            nir.Threshold: lambda n: Threshold(_compact(_tensor(n.threshold))),
            nir.I: self._integrator,
            nir.IF: self._if,
            nir.LI: self._li,
            nir.LIF: self._lif,
            nir.CubaLI: self._cuba,
            nir.CubaLIF: self._cuba,
        }

    # ---------------------------------------------------------------- graphs
    def graph(self, graph: nir.NIRGraph, path: str) -> NIRGraphModule | None:
        """The module of ``graph``, or None after recording its problems."""
        before = len(self.problems)
        where = path or "<graph>"
        ends = self._ends(graph, where)
        modules, broken = self._modules(graph, path)
        if ends is None:
            return None
        input_name, output_name = ends
        stateful = {n for n, m in modules.items() if isinstance(m, SpikingModule)} | broken
        try:
            plan = schedule(list(graph.nodes), graph.edges, input_name, stateful)
        except ValueError as error:
            self.problems.append((where, str(error)))
            return None
        for name in plan.unreachable:
            if name not in broken:
                self.problems.append((_join(path, name), "no path from the Input reaches it"))
        shapes = self._shapes(graph, path, modules, plan, input_name)
        if len(self.problems) > before or output_name not in shapes:
            return None
        return NIRGraphModule(
            modules, graph.edges, plan, input_name=input_name, output_name=output_name,
            shapes=shapes,
        )  # fmt: skip

    def _ends(self, graph: nir.NIRGraph, where: str) -> tuple[str, str] | None:
        """The names of the single Input and Output; records structural problems."""
        problems = []
        inputs = [n for n, v in graph.nodes.items() if isinstance(v, nir.Input)]
        outputs = [n for n, v in graph.nodes.items() if isinstance(v, nir.Output)]
        for kind, found in (("Input", inputs), ("Output", outputs)):
            if len(found) != 1:
                problems.append(f"needs exactly one {kind} node, found {len(found)} {found}")
        seen: set[tuple[str, str]] = set()
        for edge in graph.edges:
            missing = [n for n in edge if n not in graph.nodes]
            if missing:
                problems.append(f"edge {edge} refers to missing node(s) {missing}")
            elif edge in seen:
                problems.append(f"edge {edge} appears twice")
            elif isinstance(graph.nodes[edge[1]], nir.Input):
                problems.append(f"edge {edge} leads into the Input node")
            elif isinstance(graph.nodes[edge[0]], nir.Output):
                problems.append(f"edge {edge} leaves the Output node")
            seen.add(edge)
        self.problems += [(where, p) for p in problems]
        return None if problems else (inputs[0], outputs[0])

    def _modules(self, graph: nir.NIRGraph, path: str) -> tuple[dict[str, nn.Module], set[str]]:
        """The module of every node but the Input and Output, and the nodes that have none."""
        modules, broken = {}, set()
        for name, node in graph.nodes.items():
            if isinstance(node, (nir.Input, nir.Output)):
                continue
            module = None if node is None else self._module(node, _join(path, name))
            if module is None:
                broken.add(name)
            else:
                modules[name] = module
        return modules, broken

    def _module(self, node: nir.NIRNode, where: str) -> nn.Module | None:
        if isinstance(node, nir.NIRGraph):
            return self.graph(node, where)
        build = self.builders.get(type(node))
        if build is None:
            supported = ", ".join(sorted(t.__name__ for t in self.builders))
            self.problems.append(
                (where, f"node type {type(node).__name__} is not supported ({supported}, NIRGraph)")
            )
            return None
        try:
            return build(node)
        except (ValueError, TypeError, RuntimeError) as error:
            self.problems.append((where, f"{type(node).__name__}: {error}"))
            return None

    # ---------------------------------------------------------------- shapes
    def _shapes(
        self,
        graph: nir.NIRGraph,
        path: str,
        modules: dict[str, nn.Module],
        plan: Schedule,
        input_name: str,
    ) -> dict[str, tuple[Shape, Shape]]:
        """Every node's (input, output) sample shape, from the Input's shape through the
        modules; records nodes whose inputs disagree or that reject their input."""
        declared = graph.nodes[input_name].input_type.get("input")
        if declared is None:
            self.problems.append((_join(path, input_name), "the Input node has no shape"))
            return {}
        start = tuple(int(v) for v in np.asarray(declared).reshape(-1))
        shapes: dict[str, tuple[Shape, Shape]] = {input_name: (start, start)}
        sources = {n: [s for s, d in graph.edges if d == n] for n in plan.order}
        failed: set[str] = set()
        for _ in range(len(plan.order)):
            for name in plan.order:
                known = [shapes[s][1] for s in sources[name] if s in shapes]
                if name in shapes or name in failed or not known:
                    continue
                node = graph.nodes[name]
                if isinstance(node, nir.Output) or name in modules:
                    result = self._node_shapes(node, modules.get(name), known[0])
                    if isinstance(result, str):
                        self.problems.append((_join(path, name), result))
                        failed.add(name)
                    else:
                        shapes[name] = result
        for name in plan.order:
            arriving = {s: shapes[s][1] for s in sources[name] if s in shapes}
            if name in shapes and any(s != shapes[name][0] for s in arriving.values()):
                listed = ", ".join(f"{list(v)} from {s!r}" for s, v in arriving.items())
                self.problems.append((_join(path, name), f"inputs of different shapes: {listed}"))
        return shapes

    def _node_shapes(
        self, node: nir.NIRNode, module: nn.Module | None, shape: Shape
    ) -> tuple[Shape, Shape] | str:
        """``(input, output)`` shapes of a node fed samples of ``shape``, or the problem."""
        expected = _declared_input(node)
        if expected is not None and expected != shape:
            lenient = isinstance(node, _ELEMENTWISE) and int(np.prod(expected)) == 1
            if not lenient:
                return f"takes samples of shape {list(expected)} but receives {list(shape)}"
        if module is None:
            return shape, shape
        try:
            with torch.no_grad():
                x = torch.zeros((1, *shape))
                y = module.step(x)[0] if isinstance(module, SpikingModule) else module(x)
        except (RuntimeError, ValueError) as error:
            return f"cannot take samples of shape {list(shape)}: {error}"
        out = tuple(y.shape[1:])
        if isinstance(node, _ELEMENTWISE) and out != shape:
            return f"parameters of shape {list(out)} do not fit samples of shape {list(shape)}"
        return shape, out

    # ---------------------------------------------------------------- synapses and shapes
    def _affine(self, node: nir.Affine | nir.Linear) -> nn.Linear:
        weight = _weight(node.weight)
        bias = _weight(node.bias) if isinstance(node, nir.Affine) else None
        if weight.dim() != 2:
            raise ValueError(f"weight must be 2-D [out, in], got shape {list(weight.shape)}")
        if bias is not None and tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"bias of shape {list(bias.shape)} for {weight.shape[0]} outputs")
        module = skip_init(nn.Linear, weight.shape[1], weight.shape[0], bias=bias is not None)
        return _load(module, weight, bias)

    def _conv(self, node: nir.Conv1d | nir.Conv2d) -> nn.Module:
        n = 1 if isinstance(node, nir.Conv1d) else 2
        weight, bias = _weight(node.weight), _weight(node.bias)
        if weight.dim() != n + 2:
            raise ValueError(f"weight must be {n + 2}-D, got shape {list(weight.shape)}")
        groups = _ints(node.groups, 1, "groups")[0]
        padding = node.padding if isinstance(node.padding, str) else _ints(node.padding, n, "pad")
        module = skip_init(
            nn.Conv1d if n == 1 else nn.Conv2d, weight.shape[1] * groups, weight.shape[0],
            tuple(weight.shape[2:]), stride=_ints(node.stride, n, "stride"), padding=padding,
            dilation=_ints(node.dilation, n, "dilation"), groups=groups, bias=True,
        )  # fmt: skip
        return _load(module, weight, bias)

    def _pool(self, node: nir.SumPool2d | nir.AvgPool2d) -> nn.Module:
        kind = SumPool2d if isinstance(node, nir.SumPool2d) else nn.AvgPool2d
        return kind(
            _ints(node.kernel_size, 2, "kernel_size"), _ints(node.stride, 2, "stride"),
            _ints(node.padding, 2, "padding"),
        )  # fmt: skip

    def _flatten(self, node: nir.Flatten) -> nn.Flatten:
        start, end = int(node.start_dim), int(node.end_dim)
        return nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)

    def _delay(self, node: nir.Delay) -> Delay:
        steps = _tensor(node.delay) / self.dt
        if not torch.allclose(steps, steps.round(), rtol=0, atol=1e-3):
            raise ValueError(
                f"delays must be whole multiples of dt={self.dt} s, got {steps * self.dt}"
            )
        return Delay(_compact(steps.round().long()))

    # ---------------------------------------------------------------- neurons
    def _decay(self, tau: Any) -> Tensor:
        return decay(_tensor(tau), self.dt, self.method)

    def _reset(self, node: nir.NIRNode) -> dict[str, Any]:
        """``reset`` and ``v_reset`` arguments of a spiking node (``axonal.reset`` metadata)."""
        mode = (node.metadata or {}).get("axonal.reset") if self.extensions else None
        if mode is not None and str(mode) not in _RESETS:
            raise ValueError(f"metadata axonal.reset must be one of {_RESETS}, got {mode!r}")
        return {
            "reset": "zero" if mode is None else str(mode),
            "v_reset": _uniform(node.v_reset, "v_reset"),
        }

    def _integrator(self, node: nir.I) -> LI:
        dt = torch.full_like(_tensor(node.r), self.dt)
        return LI(beta=1.0, input_scale=_compact(input_scale(dt, _tensor(node.r))))

    def _if(self, node: nir.IF) -> IF:
        dt = torch.full_like(_tensor(node.r), self.dt)
        return IF(
            threshold=_compact(_tensor(node.v_threshold)),
            input_scale=_compact(input_scale(dt, _tensor(node.r))),
            **self._reset(node),
        )

    def _li(self, node: nir.LI) -> LI:
        beta = self._decay(node.tau)
        return LI(
            beta=_compact(beta), v_leak=_uniform(node.v_leak, "v_leak"),
            input_scale=_compact(input_scale(leak_gain(beta), _tensor(node.r))),
        )  # fmt: skip

    def _lif(self, node: nir.LIF) -> LIF | ALIF:
        beta = self._decay(node.tau)
        common = {
            "beta": _compact(beta),
            "threshold": _compact(_tensor(node.v_threshold)),
            "v_leak": _uniform(node.v_leak, "v_leak"),
            "input_scale": _compact(input_scale(leak_gain(beta), _tensor(node.r))),
            **self._reset(node),
        }
        neuron = (node.metadata or {}).get("axonal.neuron") if self.extensions else None
        if neuron is None:
            return LIF(**common)
        if str(neuron) != "ALIF":
            raise ValueError(f"metadata axonal.neuron must be 'ALIF', got {neuron!r}")
        return ALIF(
            adapt_decay=_compact(self._decay(node.metadata["axonal.tau_adapt"])),
            adapt_strength=_compact(_tensor(node.metadata["axonal.adapt_strength"])),
            **common,
        )

    def _cuba(self, node: nir.CubaLI | nir.CubaLIF) -> CubaLI | CubaLIF:
        alpha, beta = self._decay(node.tau_syn), self._decay(node.tau_mem)
        gain = leak_gain(alpha) * _tensor(node.w_in) * leak_gain(beta)
        common = {
            "alpha": _compact(alpha),
            "beta": _compact(beta),
            "v_leak": _uniform(node.v_leak, "v_leak"),
            "input_scale": _compact(input_scale(gain, _tensor(node.r))),
        }
        if isinstance(node, nir.CubaLI):
            return CubaLI(**common)
        return CubaLIF(threshold=_compact(_tensor(node.v_threshold)), **common, **self._reset(node))


def _declared_input(node: nir.NIRNode) -> Shape | None:
    """The sample shape a node declares it takes (None where it does not say)."""
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):  # nir 1.0.8 forgets the groups here
        if node.input_shape is None:
            return None
        channels = int(np.asarray(node.weight).shape[1] * int(np.asarray(node.groups)))
        return (channels, *(int(v) for v in np.asarray(node.input_shape).reshape(-1)))
    types = node.input_type if isinstance(node.input_type, dict) else {}
    if isinstance(node, nir.NIRGraph):
        values = list(types.values())
        value = values[0] if len(values) == 1 else None
    else:
        value = types.get("input")
    return None if value is None else tuple(int(v) for v in np.asarray(value).reshape(-1))


def _load(module: nn.Module, weight: Tensor, bias: Tensor | None) -> nn.Module:
    with torch.no_grad():
        module.weight.copy_(weight)
        if bias is not None:
            module.bias.copy_(bias)
    return module
