"""Lower a traced torch.fx graph to the template IR (ir.py). Runs in the torch worker.

`lower(model, gm, values, baked)` walks the fx graph in order with every node's concrete result from
one recorded run (`values`): placeholders and `get_attr`s become leaves, each call is dispatched by
name to its op family in `lowering/` (element-wise, reductions, norms, matmul, views, nn modules,
Python values), and in-place ops are functionalised (`lowering/inplace.py`). Composite ops are
decomposed into primitives there (softmax = amax, sub, exp, sum, div; layer norm = mean, sub,
mean of squares, rsqrt, ...), so the fusion pass sees one vocabulary. Anything else raises
`Unsupported` naming the construct and its source line; there is never a torch fallback inside a
candidate. Finally only the nodes the outputs and guards need are kept.
"""

from __future__ import annotations

from typing import Any

import torch.fx as fx
import torch.nn as nn

from .ir import Graph, Node, Placeholder, flatten, operands
from .lowering import elementwise, matmul, norms, reductions, views
from .lowering.builder import Args, Builder, Handler
from .lowering.fx_nodes import fn_name, holds_tensor
from .lowering.inplace import Functionaliser
from .lowering.modules import lower_module
from .lowering.python_values import python_value


def lower(model: nn.Module, gm: fx.GraphModule, values: dict[fx.Node, Any], baked: list[tuple[str, Any]]) -> Graph:
    """The IR of `gm` (traced from `model`). `baked`: (path, value) of the module attributes forward
    read as plain values while tracing; the kernels assume them, so forward checks them (guards)."""
    return _Lowering(model, gm, values).run(baked)


class _Lowering:
    def __init__(self, model: nn.Module, gm: fx.GraphModule, values: dict[fx.Node, Any]):
        self.model = model
        self.gm = gm
        self.values = values
        self.b = Builder(model)
        self.env: dict[fx.Node, Any] = {}  # fx node → what it lowered to (Node, tuple of Nodes or a value)

    def run(self, baked: list[tuple[str, Any]]) -> Graph:
        b = self.b
        placeholders: list[Placeholder] = []
        output: Any = None
        for path, value in baked:
            b.guard(b.attr("self." + path, value), value)
        inplace = Functionaliser(b, self.model, self.values, {n: i for i, n in enumerate(self.gm.graph.nodes)})
        for n in self.gm.graph.nodes:
            b.cur = n
            if n.op == "placeholder":
                node = b.leaf("input", n.target, self.values.get(n))
                ph = Placeholder(n.target, node)
                if n.args:
                    ph.default, ph.has_default = n.args[0], True
                placeholders.append(ph)
                self.env[n] = node
            elif n.op == "get_attr":
                self.env[n] = b.param(n.target)
            elif n.op == "output":
                output = self._map(n.args[0])
            else:
                target = inplace.target(n)
                self.env[n] = self._convert(n)
                if target is not None:
                    inplace.rebind(n, target, self.env)
        b.cur = None
        return Graph(self._live(output), placeholders, output, b.guards)

    def _live(self, output: Any) -> list[Node]:
        """The nodes the outputs and guards read (and every input), renumbered in order."""
        keep: set[Node] = set()
        stack = [x for x in flatten(output) if isinstance(x, Node)] + [d for g in self.b.guards for d in g.deps]
        while stack:
            n = stack.pop()
            if n in keep:
                continue
            keep.add(n)
            stack.extend(operands(n))
        live = [n for n in self.b.nodes if n in keep or n.kind == "input"]
        for i, n in enumerate(live):
            n.index = i
        return live

    def _map(self, obj: Any) -> Any:
        return fx.node.map_arg(obj, lambda a: self.env[a]) if obj is not None else None

    def _convert(self, n: fx.Node) -> Any:
        args = self._map(tuple(n.args))
        kwargs = self._map(dict(n.kwargs))
        if n.op == "call_module":
            return lower_module(self.b, self.model.get_submodule(n.target), n.target, args, kwargs)
        name = n.target if n.op == "call_method" else fn_name(n.target)
        # Python values (sizes, arithmetic on them) are computed in forward; their value is known.
        if not holds_tensor(self.values.get(n)):
            return python_value(self.b, name, args, kwargs, self.values.get(n))
        return self._call(name, args, kwargs)

    def _call(self, name: str, args: tuple, kwargs: dict) -> Any:
        a = Args(args, kwargs)
        handler = HANDLERS.get(name)
        if handler is not None:
            return handler(self.b, a)
        if name in elementwise.UNARY:
            return elementwise.unary(self.b, name, a)
        if name in elementwise.BINARY:
            return elementwise.binary(self.b, name, a)
        if name in views.VIEWS:
            return views.view_method(self.b, name, a)
        if name.endswith("_") and not name.endswith("__") and name[:-1]:
            # In-place spelling: `clamp_` computes `clamp` out of place; run() rebinds the mutated tensor.
            return self._call(name[:-1], args, kwargs)
        raise self.b.unsupported(f"`{name}`")


# ---- dispatch tables ------------------------------------------------------------------------------


def _merged(*tables: dict[str, Handler]) -> dict[str, Handler]:
    out: dict[str, Handler] = {}
    for table in tables:
        clash = out.keys() & table.keys()
        assert not clash, f"two op families lower {sorted(clash)}"
        out.update(table)
    return out


# Calls with their own handler, by function or method name; plain unary/binary ops and views are
# looked up after these (a handler wins).
HANDLERS = _merged(elementwise.HANDLERS, reductions.HANDLERS, norms.HANDLERS, matmul.HANDLERS, views.HANDLERS)
