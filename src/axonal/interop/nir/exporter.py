"""axonal model -> NIR graph (:func:`to_nir`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import nir
import numpy as np
import torch
from torch import Tensor, nn

from axonal.interop.nir.errors import NIRConversionError, NIRSemanticsWarning
from axonal.interop.nir.graph import NIRGraphModule, apply_over_time
from axonal.interop.nir.params import (
    check_discretisation,
    leak_gain,
    resistance,
    time_constant,
)
from axonal.nn.base import check_sequence
from axonal.nn.container import Sequential
from axonal.nn.layers import CubaLI, Delay, Scale, SumPool2d, Threshold
from axonal.nn.neurons import ALIF, IF, ILIF, LI, LIF, CubaLIF
from axonal.nn.recurrent import RLIF

__all__ = ["to_nir"]

Shape = tuple[int, ...]
Converter = Callable[[Any, Shape, Shape, str], nir.NIRNode]


def to_nir(
    model: nn.Module,
    sample_input: Tensor,
    dt: float = 1e-4,
    method: str = "euler",
    *,
    extensions: bool = False,
) -> nir.NIRGraph:
    """Convert an axonal model to a NIR graph.

    Args:
        model: an :class:`axonal.nn.Sequential` (nested ones are flattened), a graph module
            from :func:`from_nir`, or a single supported layer (see ``docs/nir.md``).
        sample_input: ``[T, B, ...]``; one run of the model on it fixes every node's shape.
        dt: the time step (seconds) that turns the discrete constants (``beta``, ``alpha``,
            ``input_scale``, delays in steps) into NIR's continuous ones.
        method: ``"euler"`` (``beta = 1 - dt/tau``, the convention of snnTorch, SpikingJelly
            and Norse) or ``"exp"`` (``beta = exp(-dt/tau)``); import with the same pair.
        extensions: also export ALIF, which NIR has no primitive for, as a ``LIF`` carrying
            its adaptation in axonal metadata (other tools run it without adaptation).

    Reset modes NIR cannot express (``"subtract"``, ``"none"``) are exported as NIR's reset to
    ``v_reset = 0`` plus the metadata ``axonal.reset``, with a :class:`NIRSemanticsWarning`.
    Raises :class:`NIRConversionError` listing every layer that has no NIR form.
    """
    check_discretisation(dt, method)
    check_sequence(sample_input, "to_nir")
    exporter = _Exporter(dt, method, extensions)
    with torch.no_grad():
        graph = exporter.model_graph(model, sample_input)
    if exporter.problems:
        raise NIRConversionError("cannot export the model to NIR", exporter.problems)
    if exporter.lossy:
        listed = "; ".join(f"{node}: {what}" for node, what in exporter.lossy)
        warnings.warn(
            NIRSemanticsWarning(
                f"{len(exporter.lossy)} node(s) behave in a way NIR cannot express ({listed}). "
                "The graph records it in axonal metadata, which axonal's from_nir reads back; "
                "other NIR tools run the plain primitive (reset to v_reset, no adaptation)."
            ),
            stacklevel=2,
        )
    graph.metadata = {"axonal.dt": float(dt), "axonal.method": method}
    return graph


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _node_path(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _array(t: Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy())


def _f64(t: Tensor) -> np.ndarray:
    """A neuron parameter as written to NIR: float64 (see :mod:`.params`)."""
    return _array(t.double())


def _fit(value: Tensor | float, shape: Shape, what: str) -> Tensor:
    """``value`` broadcast to one sample's ``shape`` (a ValueError names it if it cannot)."""
    t = torch.as_tensor(value).detach()
    try:
        return torch.broadcast_to(t, shape).contiguous()
    except RuntimeError:
        raise ValueError(
            f"{what} of shape {list(t.shape)} does not fit samples of shape {list(shape)}"
        ) from None


def _pair(value: int | tuple[int, ...]) -> np.ndarray:
    return np.array([value, value] if isinstance(value, int) else list(value), dtype=np.int64)


def _typed(node: nir.NIRNode, in_shape: Shape, out_shape: Shape) -> nir.NIRNode:
    node.input_type = {"input": np.array(in_shape, dtype=np.int64)}
    node.output_type = {"output": np.array(out_shape, dtype=np.int64)}
    return node


class _Exporter:
    """Walks a model, collecting NIR nodes, the problems and the lossy nodes."""

    def __init__(self, dt: float, method: str, extensions: bool) -> None:
        self.dt, self.method, self.extensions = dt, method, extensions
        self.problems: list[tuple[str, str]] = []
        self.lossy: list[tuple[str, str]] = []
        self.converters: list[tuple[type, Converter]] = [
            (RLIF, self._rlif),
            (nn.Linear, self._linear),
            (nn.Conv1d, self._conv),
            (nn.Conv2d, self._conv),
            (nn.AvgPool2d, self._pool),
            (SumPool2d, self._pool),
            (nn.Flatten, self._flatten),
            (Scale, self._scale),
            (Threshold, self._threshold),
            (Delay, self._delay),
            (LIF, self._lif),
            (ALIF, self._alif),
            (ILIF, self._ilif),
            (CubaLIF, self._cuba),
            (CubaLI, self._cuba),
            (IF, self._if),
            (LI, self._li),
        ]

    # ---------------------------------------------------------------- graphs and chains
    def model_graph(self, model: nn.Module, x: Tensor) -> nir.NIRGraph:
        if isinstance(model, NIRGraphModule):
            if tuple(x.shape[2:]) != model.input_shape:
                self.problems.append(
                    ("<input>", f"the graph takes {list(model.input_shape)}, got {list(x.shape)}")
                )
            return self._graph_module(model, "")
        nodes: dict[str, nir.NIRNode] = {"input": nir.Input(np.array(x.shape[2:]))}
        edges: list[tuple[str, str]] = []
        y, last = self._chain(model, x, "", nodes, edges, "input")
        nodes["output"] = nir.Output(np.array(y.shape[2:]))
        edges.append((last, "output"))
        return nir.NIRGraph(nodes, edges, type_check=False)

    def _chain(
        self,
        module: nn.Module,
        x: Tensor,
        path: str,
        nodes: dict[str, nir.NIRNode],
        edges: list[tuple[str, str]],
        source: str,
    ) -> tuple[Tensor, str]:
        """Add ``module`` (run on ``x`` coming from node ``source``) to the graph; returns its
        output and the node that gives it."""
        if isinstance(module, Sequential):
            for name, layer in module.named_children():
                x, source = self._chain(layer, x, _join(path, name), nodes, edges, source)
            return x, source
        y = apply_over_time(module, x)
        if isinstance(module, nn.Identity):
            return y, source
        kind = type(module).__name__.lower()
        name = f"{kind}_{path.replace('.', '_')}" if path else kind
        node = self._node(module, tuple(x.shape[2:]), tuple(y.shape[2:]), name)
        if node is None:
            return y, source
        nodes[name] = node
        edges.append((source, name))
        return y, name

    def _graph_module(self, graph: NIRGraphModule, where: str) -> nir.NIRGraph:
        nodes: dict[str, nir.NIRNode] = {graph.input_name: nir.Input(np.array(graph.input_shape))}
        for name in graph.node_names:
            in_shape, out_shape = graph.shapes[name]
            node = self._node(graph.node(name), in_shape, out_shape, _node_path(where, name))
            if node is not None:
                nodes[name] = node
        nodes[graph.output_name] = nir.Output(np.array(graph.output_shape))
        return nir.NIRGraph(nodes, list(graph.edges), type_check=False)

    def _node(
        self, module: nn.Module, in_shape: Shape, out_shape: Shape, where: str
    ) -> nir.NIRNode | None:
        """The NIR node of ``module`` (``where``: its node path), or None after noting why."""
        if isinstance(module, NIRGraphModule):
            return self._graph_module(module, where)
        label = f"{where} ({type(module).__name__})"
        convert = next((c for kind, c in self.converters if isinstance(module, kind)), None)
        if convert is None:
            self.problems.append((label, "no NIR form (docs/nir.md lists the layers with one)"))
            return None
        try:
            node = convert(module, in_shape, out_shape, where)
        except ValueError as error:
            self.problems.append((label, str(error)))
            return None
        return node if isinstance(node, nir.NIRGraph) else _typed(node, in_shape, out_shape)

    # ---------------------------------------------------------------- synapses and shapes
    def _linear(self, m: nn.Linear, i: Shape, o: Shape, where: str) -> nir.NIRNode:
        if len(i) != 1:
            raise ValueError(
                f"applied to samples of shape {list(i)}, but NIR's Affine/Linear take vectors "
                "(flatten first)"
            )
        weight = _array(m.weight)
        return nir.Linear(weight) if m.bias is None else nir.Affine(weight, _array(m.bias))

    def _conv(self, m: nn.Conv1d | nn.Conv2d, i: Shape, o: Shape, where: str) -> nir.NIRNode:
        if m.padding_mode != "zeros":
            raise ValueError(f"padding_mode={m.padding_mode!r}; NIR convolutions pad with zeros")
        weight = _array(m.weight)
        bias = np.zeros(m.out_channels, weight.dtype) if m.bias is None else _array(m.bias)
        padding = m.padding if isinstance(m.padding, str) else tuple(m.padding)
        if isinstance(m, nn.Conv2d):
            return nir.Conv2d(
                (i[1], i[2]), weight, tuple(m.stride), padding, tuple(m.dilation), m.groups, bias
            )
        padding = padding if isinstance(padding, str) else padding[0]
        return nir.Conv1d(i[1], weight, m.stride[0], padding, m.dilation[0], m.groups, bias)

    def _pool(self, m: nn.AvgPool2d | SumPool2d, i: Shape, o: Shape, where: str) -> nir.NIRNode:
        if isinstance(m, SumPool2d):
            return nir.SumPool2d(_pair(m.kernel_size), _pair(m.stride), _pair(m.padding))
        if m.ceil_mode or m.divisor_override is not None:
            raise ValueError("ceil_mode and divisor_override have no NIR form")
        if not m.count_include_pad and _pair(m.padding).any():
            raise ValueError("NIR's AvgPool2d divides by the whole window (count_include_pad)")
        return nir.AvgPool2d(_pair(m.kernel_size), _pair(m.stride), _pair(m.padding))

    def _flatten(self, m: nn.Flatten, i: Shape, o: Shape, where: str) -> nir.NIRNode:
        ndim = len(i) + 1  # the module runs on [T*B, *i]; NIR counts dims without the batch
        start, end = m.start_dim % ndim, m.end_dim % ndim
        return nir.Flatten(np.array(i), start - 1, -1 if end == ndim - 1 else end - 1)

    def _scale(self, m: Scale, i: Shape, o: Shape, where: str) -> nir.NIRNode:
        return nir.Scale(_array(_fit(m.scale, i, "scale")))

    def _threshold(self, m: Threshold, i: Shape, o: Shape, where: str) -> nir.NIRNode:
        return nir.Threshold(_array(_fit(m.threshold, i, "threshold")))

    def _delay(self, m: Delay, i: Shape, o: Shape, where: str) -> nir.NIRNode:
        return nir.Delay(_f64(_fit(m.steps, i, "steps").double() * self.dt))

    # ---------------------------------------------------------------- neurons
    def _tau(self, decay_factor: Tensor) -> Tensor:
        return time_constant(decay_factor, self.dt, self.method)

    def _drive(self, m: nn.Module, shape: Shape) -> Tensor:
        scale = m.input_scale if m.input_scale is not None else torch.ones(())
        return _fit(scale, shape, "input_scale")

    def _reset(self, m: LIF | IF | CubaLIF | ALIF, shape: Shape, where: str) -> dict[str, Any]:
        """``v_reset`` and ``metadata`` of a spiking node; notes a reset NIR cannot express."""
        if m.reset_mode == "zero":
            return {"v_reset": np.full(shape, m.v_reset, np.float64), "metadata": {}}
        self.lossy.append((where, f"reset={m.reset_mode!r}"))
        return {"v_reset": np.zeros(shape, np.float64), "metadata": {"axonal.reset": m.reset_mode}}

    def _lif(self, m: LIF | ALIF, i: Shape, o: Shape, where: str) -> nir.LIF:
        p = m.parameters_for(torch.get_default_dtype())
        beta = _fit(p.beta, i, "beta")
        return nir.LIF(
            tau=_f64(self._tau(beta)),
            r=_f64(resistance(self._drive(m, i), leak_gain(beta))),
            v_leak=np.full(i, m.v_leak, np.float64),
            v_threshold=_f64(_fit(p.threshold, i, "threshold")),
            **self._reset(m, i, where),
        )

    def _alif(self, m: ALIF, i: Shape, o: Shape, where: str) -> nir.LIF:
        if not self.extensions:
            raise ValueError(
                "ALIF (adaptive threshold) has no NIR primitive; to_nir(..., extensions=True) "
                "exports it as a LIF carrying the adaptation in axonal metadata (other tools "
                "then run it without adaptation)"
            )
        node = self._lif(m, i, o, where)
        p = m.parameters_for(torch.get_default_dtype())
        node.metadata.update({
            "axonal.neuron": "ALIF",
            "axonal.tau_adapt": _f64(self._tau(_fit(p.adapt_decay, i, "adapt_decay"))),
            "axonal.adapt_strength": _f64(_fit(p.adapt_strength, i, "adapt_strength")),
        })  # fmt: skip
        self.lossy.append((where, "threshold adaptation"))
        return node

    def _ilif(self, m: ILIF, i: Shape, o: Shape, where: str) -> nir.NIRNode:
        raise ValueError("I-LIF emits integer spike counts; NIR has no such neuron")

    def _if(self, m: IF, i: Shape, o: Shape, where: str) -> nir.IF:
        p = m.parameters_for(torch.get_default_dtype())
        dt = torch.full(i, self.dt, dtype=torch.float64)
        return nir.IF(
            r=_f64(resistance(self._drive(m, i), dt)),
            v_threshold=_f64(_fit(p.threshold, i, "threshold")),
            **self._reset(m, i, where),
        )

    def _li(self, m: LI, i: Shape, o: Shape, where: str) -> nir.NIRNode:
        beta = _fit(m.parameters_for(torch.get_default_dtype()).beta, i, "beta")
        if (beta == 1).all():
            dt = torch.full(i, self.dt, dtype=torch.float64)
            return nir.I(_f64(resistance(self._drive(m, i), dt)))
        if (beta == 1).any():
            raise ValueError("beta = 1 (an integrator, NIR's I) for only some neurons of an LI")
        return nir.LI(
            tau=_f64(self._tau(beta)),
            r=_f64(resistance(self._drive(m, i), leak_gain(beta))),
            v_leak=np.full(i, m.v_leak, np.float64),
        )

    def _cuba(self, m: CubaLIF | CubaLI, i: Shape, o: Shape, where: str) -> nir.NIRNode:
        p = m.parameters_for(torch.get_default_dtype())
        alpha, beta = _fit(p.alpha, i, "alpha"), _fit(p.beta, i, "beta")
        w_in = 1 / leak_gain(alpha)
        gain = leak_gain(alpha) * w_in * leak_gain(beta)
        fields = {
            "tau_syn": _f64(self._tau(alpha)),
            "tau_mem": _f64(self._tau(beta)),
            "r": _f64(resistance(self._drive(m, i), gain)),
            "v_leak": np.full(i, m.v_leak, np.float64),
            "w_in": _f64(w_in),
        }
        if isinstance(m, CubaLI):
            return nir.CubaLI(**fields)
        threshold = _f64(_fit(p.threshold, i, "threshold"))
        return nir.CubaLIF(**fields, v_threshold=threshold, **self._reset(m, i, where))

    def _rlif(self, m: RLIF, i: Shape, o: Shape, where: str) -> nir.NIRGraph:
        """A sub-graph ``input -> lif <-> rec``, ``lif -> output`` (snnTorch's RLeaky form)."""
        nodes = {
            "input": nir.Input(np.array(i)),
            "lif": _typed(self._lif(m.neuron, i, o, f"{where}/lif"), i, o),
            "rec": _typed(self._linear(m.recurrent, o, i, f"{where}/rec"), o, i),
            "output": nir.Output(np.array(o)),
        }
        edges = [("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
        return nir.NIRGraph(nodes, edges, type_check=False)
