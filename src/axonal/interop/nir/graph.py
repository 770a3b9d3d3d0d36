"""Running a NIR graph over time: the module that :func:`axonal.interop.nir.from_nir` returns.

Execution model (one time step):

- nodes run in a fixed order in which every node comes after the sources of its edges, except
  for *recurrent* edges; a node's input is the sum of what arrives on its edges;
- a recurrent edge delivers its source's output of the previous step (zero before the first);
- the recurrent edges are found by a depth-first walk from the ``Input`` node (following edges
  in the order the graph lists them): each cycle is cut at the edge leaving the last stateful
  node (neuron, delay, sub-graph) on it, so instantaneous layers such as an ``Affine`` stay
  instantaneous (its bias reaches the neuron from the first step on); a cycle without a
  stateful node is an error.

A graph without recurrent edges runs every node over the whole sequence at once (neurons use
their multi-step scan); a recurrent graph runs step by step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import reduce
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from axonal.kernels import reference
from axonal.nn.base import SpikingModule, check_sequence, check_step

__all__ = ["Edge", "GraphState", "NIRGraphModule", "Schedule", "apply_over_time", "schedule"]

Shape = tuple[int, ...]
Edge = tuple[str, str]


def apply_over_time(module: nn.Module, x: Tensor) -> Tensor:
    """Run ``module`` over a sequence ``x`` ``[T, B, ...]`` as :class:`axonal.nn.Sequential`
    does: a spiking module sees the sequence, any other module every step at once (time folded
    into the batch)."""
    if isinstance(module, SpikingModule):
        return module(x)
    time, batch = x.shape[:2]
    return module(x.flatten(0, 1)).unflatten(0, (time, batch))


class Schedule(NamedTuple):
    """How a graph runs: ``order`` (the nodes after the input, each after the sources of its
    non-recurrent edges), the ``recurrent`` edges, and the ``unreachable`` nodes (no path from
    the input reaches them)."""

    order: list[str]
    recurrent: list[Edge]
    unreachable: list[str]


def _successors(edges: Sequence[Edge]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for src, dst in edges:
        out.setdefault(src, []).append(dst)
    return out


def _find_cycle(source: str, edges: Sequence[Edge]) -> list[str] | None:
    """The first cycle a depth-first walk from ``source`` meets, as its nodes in path order
    (the last one leads back to the first), or None."""
    successors = _successors(edges)
    on_path: list[str] = [source]
    seen = {source}
    stack: list[Iterator[str]] = [iter(successors.get(source, []))]
    while stack:
        nxt = next(stack[-1], None)
        if nxt is None:
            stack.pop()
            on_path.pop()
        elif nxt in on_path:
            return on_path[on_path.index(nxt) :]
        elif nxt not in seen:
            seen.add(nxt)
            on_path.append(nxt)
            stack.append(iter(successors.get(nxt, [])))
    return None


def _cut(cycle: list[str], stateful: set[str]) -> Edge:
    for i in reversed(range(len(cycle))):
        if cycle[i] in stateful:
            return cycle[i], cycle[(i + 1) % len(cycle)]
    loop = " -> ".join([*cycle, cycle[0]])
    raise ValueError(
        f"the cycle {loop} has no stateful node (neuron, delay or sub-graph), so it has no "
        "step-by-step meaning"
    )


def _reachable(source: str, edges: Sequence[Edge]) -> set[str]:
    successors = _successors(edges)
    seen, todo = {source}, [source]
    while todo:
        for nxt in successors.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _topological(nodes: list[str], edges: Sequence[Edge]) -> list[str]:
    """``nodes`` ordered so that every edge among them points forward (stable: ties keep the
    given order). The edges among ``nodes`` must be acyclic."""
    waiting = {n: {s for s, d in edges if d == n and s in nodes and s != n} for n in nodes}
    order: list[str] = []
    while len(order) < len(nodes):
        ready = next(n for n in nodes if n not in order and not waiting[n] - set(order))
        order.append(ready)
    return order


def schedule(
    nodes: Sequence[str], edges: Sequence[Edge], source: str, stateful: set[str]
) -> Schedule:
    """Plan the execution of a graph from its input node ``source`` (see the module docstring).

    Raises ValueError for a cycle without a stateful node.
    """
    recurrent: list[Edge] = []
    while (cycle := _find_cycle(source, [e for e in edges if e not in recurrent])) is not None:
        recurrent.append(_cut(cycle, stateful))
    reached = _reachable(source, edges)
    forward = [e for e in edges if e not in recurrent]
    order = _topological([n for n in nodes if n in reached and n != source], forward)
    return Schedule(order, recurrent, [n for n in nodes if n not in reached])


class GraphState(NamedTuple):
    """State of a graph between calls: ``nodes`` maps each stateful node to its state,
    ``delayed`` each source of a recurrent edge to its last output ``[B, ...]``."""

    nodes: dict[str, Any]
    delayed: dict[str, Tensor]


def _module_key(name: str, taken: set[str]) -> str:
    key = name.replace(".", "_") or "_"
    while key in taken:
        key += "_"
    return key


class NIRGraphModule(SpikingModule):
    """A NIR graph as a spiking module: ``[T, B, *input_shape] -> [T, B, *output_shape]``.

    Built by :func:`axonal.interop.nir.from_nir` (which validates the graph first); see the
    module docstring for the execution model. ``node_names`` lists the nodes (input and output
    aside) and ``node(name)`` returns a node's module.
    ``step(x_t, state)`` runs one step; like every axonal module, calls are stateless unless a
    state is passed in.

    Args:
        modules: the module of every node except the input and the output, by node name.
        edges: ``(source, destination)`` node names, in the graph's order.
        plan: the :func:`schedule` of the graph.
        input_name, output_name: the names of the graph's ``Input`` and ``Output`` nodes.
        shapes: per node (input and output nodes included), the shapes of one sample it takes
            and gives, ``(input_shape, output_shape)``.
    """

    def __init__(
        self,
        modules: dict[str, nn.Module],
        edges: Sequence[Edge],
        plan: Schedule,
        *,
        input_name: str,
        output_name: str,
        shapes: dict[str, tuple[Shape, Shape]],
    ) -> None:
        super().__init__()
        self.node_names = list(modules)
        self._keys: dict[str, str] = {}
        for name in modules:
            self._keys[name] = _module_key(name, set(self._keys.values()))
        self.layers = nn.ModuleDict({self._keys[n]: m for n, m in modules.items()})
        self.edges = list(edges)
        self.order = [n for n in plan.order if n != output_name]
        self.recurrent = list(plan.recurrent)
        self.input_name, self.output_name = input_name, output_name
        self.shapes = dict(shapes)
        self.input_shape = self.shapes[input_name][0]
        self.output_shape = self.shapes[output_name][1]
        forward = [e for e in self.edges if e not in self.recurrent]
        receivers = [*self.order, output_name]
        self._inputs = {n: [s for s, d in forward if d == n] for n in receivers}
        self._delayed_inputs = {n: [s for s, d in self.recurrent if d == n] for n in receivers}
        self._delayed_sources = sorted({s for s, _ in self.recurrent})

    def node(self, name: str) -> nn.Module:
        """The module of the node called ``name`` in the NIR graph."""
        return self.layers[self._keys[name]]

    def run(self, x: Tensor, state: GraphState | None = None) -> tuple[Tensor, GraphState]:
        check_sequence(x, "NIRGraphModule")
        self._check_sample(x.shape[2:])
        if self.recurrent:
            return reference.scan(lambda x_t, st, _: self._step(x_t, st), x, state, None)
        return self._run_sequence(x, state)

    def step(self, x_t: Tensor, state: GraphState | None = None) -> tuple[Tensor, GraphState]:
        check_step(x_t, "NIRGraphModule")
        self._check_sample(x_t.shape[1:])
        return self._step(x_t, state)

    def _check_sample(self, shape: torch.Size) -> None:
        if tuple(shape) != self.input_shape:
            raise ValueError(
                f"the graph takes samples of shape {list(self.input_shape)} ([T, B, *shape] or "
                f"[B, *shape] for one step), got {list(shape)}"
            )

    def _gather(self, name: str, values: dict[str, Tensor], delayed: dict[str, Tensor]) -> Tensor:
        terms = [values[s] for s in self._inputs[name]]
        terms += [delayed[s] for s in self._delayed_inputs[name]]
        return reduce(torch.add, terms)

    def _run_sequence(self, x: Tensor, state: GraphState | None) -> tuple[Tensor, GraphState]:
        old = {} if state is None else state.nodes
        values, new = {self.input_name: x}, {}
        for name in self.order:
            module, inp = self.node(name), self._gather(name, values, {})
            if isinstance(module, SpikingModule):
                values[name], new[name] = module.run(inp, old.get(name))
            else:
                values[name] = apply_over_time(module, inp)
        return self._gather(self.output_name, values, {}), GraphState(new, {})

    def _step(self, x_t: Tensor, state: GraphState | None) -> tuple[Tensor, GraphState]:
        old = {} if state is None else state.nodes
        delayed = self._rest(x_t) if state is None else state.delayed
        values, new = {self.input_name: x_t}, {}
        for name in self.order:
            module, inp = self.node(name), self._gather(name, values, delayed)
            if isinstance(module, SpikingModule):
                values[name], new[name] = module.step(inp, old.get(name))
            else:
                values[name] = module(inp)
        out = self._gather(self.output_name, values, delayed)
        return out, GraphState(new, {s: values[s] for s in self._delayed_sources})

    def _rest(self, x_t: Tensor) -> dict[str, Tensor]:
        """Outputs before the first step: zeros of each delayed source's output shape."""
        batch = x_t.shape[0]
        return {s: x_t.new_zeros((batch, *self.shapes[s][1])) for s in self._delayed_sources}

    def extra_repr(self) -> str:
        return (
            f"input_shape={list(self.input_shape)}, output_shape={list(self.output_shape)}, "
            f"recurrent={self.recurrent}"
        )
