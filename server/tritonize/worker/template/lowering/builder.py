"""Make IR nodes with their shape and dtype, and the module values forward reads (runs in the torch worker).

`Builder` is what every op family writes through: `pw`, `reduce` and `view` infer shapes and dtypes
(views by running the view on a meta tensor), `attr`/`param` make leaves for `self.<path>`, and
`guard`/`static` record the values the kernels are specialised on. `Args` gives positional-or-keyword
access to an fx call's arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from ..ir import FLOATS, Guard, Node, Unsupported
from ..ops import UnsupportedOp, check_pw
from ..source_lines import where
from .fx_nodes import label_of

_MISSING = object()


class Args:
    """Positional-or-keyword access to an fx call's arguments."""

    def __init__(self, args: tuple, kwargs: dict):
        self.args = tuple(args)
        self.kwargs = dict(kwargs)

    def get(self, i: int, name: str | None = None, default: Any = _MISSING) -> Any:
        if i < len(self.args):
            return self.args[i]
        if name is not None and name in self.kwargs:
            return self.kwargs[name]
        for alt in ("input", "self"):
            if i == 0 and alt in self.kwargs:
                return self.kwargs[alt]
        if default is _MISSING:
            raise Unsupported(f"missing argument {name or i}")
        return default


class Builder:
    """The IR nodes made so far, and the leaves and guards for the module's attributes."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.nodes: list[Node] = []
        self.params: dict[str, Node] = {}
        self.attr_nodes: dict[str, Node] = {}
        self.guards: list[Guard] = []
        self.cur: fx.Node | None = None  # the fx node being lowered: new nodes take its line and label

    # -- nodes --

    def add(self, node: Node) -> Node:
        node.index = len(self.nodes)
        if self.cur is not None:
            node.where = node.where or where(self.cur)
            node.label = node.label or label_of(self.cur)
        self.nodes.append(node)
        return node

    def pw(self, op: str, *args: Any, label: str = "", **attrs: Any) -> Node:
        try:
            check_pw(op, attrs)
        except UnsupportedOp as why:
            raise self.unsupported(str(why)) from None
        for a in args:
            if isinstance(a, Node) and a.is_tensor and a.dtype not in FLOATS and a.dtype != torch.bool:
                raise self.unsupported(f"`{op}` on a {str(a.dtype).replace('torch.', '')} tensor")
        tensors = [a for a in args if isinstance(a, Node) and a.is_tensor]
        shape = tuple(torch.broadcast_shapes(*[a.shape for a in tensors])) if tensors else ()
        if op in ("eq", "ne", "lt", "le", "gt", "ge", "not"):
            dtype = torch.bool
        elif op == "cast":
            dtype = attrs["dtype"]
        else:
            floats = [a.dtype for a in tensors if a.dtype in FLOATS]
            dtype = floats[0] if floats else torch.float32
            for d in floats[1:]:
                dtype = torch.promote_types(dtype, d)
        return self.add(Node("pw", op, list(args), attrs, shape, dtype, label=label))

    def reduce(self, op: str, x: Node, dims: Any, keepdim: bool, label: str = "", divisor: int | None = None) -> Node:
        rank = len(x.shape)
        dims = self.static(dims)
        if dims is None or dims == () or dims == []:
            red = tuple(range(rank))
        else:
            dims = dims if isinstance(dims, (list, tuple)) else [dims]
            red = tuple(sorted({int(d) % max(rank, 1) for d in dims}))
        if op in ("argmax", "argmin") and len(red) > 1 and keepdim:
            raise Unsupported(f"{op} over several dims with keepdim at {self.here()}")
        if keepdim:
            shape = tuple(1 if i in red else s for i, s in enumerate(x.shape))
        else:
            shape = tuple(s for i, s in enumerate(x.shape) if i not in red)
        dtype = torch.int64 if op in ("argmax", "argmin") else x.dtype
        attrs = {"dims": red, "keepdim": keepdim, "divisor": divisor}
        return self.add(Node("reduce", op, [x], attrs, shape, dtype, label=label))

    def view(self, code: str, src: Node, *extra: Any, label: str = "view") -> Node:
        """A view computed in forward; its shape comes from running `code` on a meta tensor."""
        meta = _meta(src)
        extra_vals = [(_meta(e) if e.is_tensor else e.value) if isinstance(e, Node) else e for e in extra]
        env = {"torch": torch}
        vals = [meta, *extra_vals]
        result = eval(code.format(*[f"_v{i}" for i in range(len(vals))]), env, {f"_v{i}": v for i, v in enumerate(vals)})
        return self.add(Node("view", "view", [src, *extra], {}, tuple(result.shape), src.dtype, label=label, code=code, value=result))

    def here(self) -> str:
        return where(self.cur) if self.cur is not None else ""

    def unsupported(self, what: str) -> Unsupported:
        here = self.here()
        return Unsupported(f"no pattern for {what}{' at ' + here if here else ''}")

    # -- leaves: forward arguments, parameters and buffers --

    def leaf(self, kind: str, code: str, val: Any) -> Node:
        if isinstance(val, torch.Tensor):
            return self.add(Node(kind, kind, [], {}, tuple(val.shape), val.dtype, code=code, value=_meta_like(val)))
        return self.add(Node("py", "const", [], {}, None, None, code=code, value=val))

    def param(self, target: str) -> Node:
        if target in self.params:
            return self.params[target]
        owner, _, name = target.rpartition(".")
        value = getattr(self.model.get_submodule(owner), name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.attr("self." + target, value)  # a numeric attribute capture's tracer kept symbolic
        try:
            val = self.model.get_submodule("").get_parameter(target)
        except AttributeError:
            try:
                val = self.model.get_buffer(target)
            except AttributeError:
                raise self.unsupported(f"tensor attribute `{target}` that is neither a parameter nor a buffer") from None
        node = self.leaf("param", "self." + target, val)
        self.params[target] = node
        return node

    def optional_param(self, path: str, name: str) -> Node | None:
        """`self.ln.weight`, or None (guarded: a module built with a weight must not be ignored)."""
        if getattr(self.model.get_submodule(path), name, None) is None:
            self.static(self.mod_attr(path, name))
            return None
        return self.param(f"{path}.{name}")

    # -- module attributes read at run time, and the values the kernels are specialised on --

    def attr(self, code: str, value: Any) -> Node:
        """A Python value ModelNew.forward reads from the module (`self.scale`, `self.act.negative_slope`)."""
        if code not in self.attr_nodes:
            self.attr_nodes[code] = self.add(Node("py", "const", [], {}, None, None, code=code, value=value))
        return self.attr_nodes[code]

    def mod_attr(self, path: str, name: str) -> Node:
        return self.attr(f"self.{path}.{name}", getattr(self.model.get_submodule(path), name))

    def guard(self, node: Node, value: Any) -> None:
        """Forward raises if `node` (an attribute or a Python value) differs from `value` at run time."""
        if value is None:
            cond = "{0} is not None"
        elif isinstance(value, bool):
            cond = "not {0}" if value else "{0}"
        else:
            cond = "{0} != " + repr(value)
        if not any(g.deps == [node] and g.cond == cond for g in self.guards):
            self.guards.append(Guard(cond, [node], "{0} == " + repr(value)))

    def static(self, v: Any) -> Any:
        """The traced value of `v` where it decides structure (a reduction dim); forward checks it."""
        if isinstance(v, Node) and v.kind == "py":
            self.guard(v, v.value)
            return v.value
        if isinstance(v, (list, tuple)):
            return type(v)(self.static(x) for x in v)
        return v

    @staticmethod
    def num(v: Any) -> Any:
        """A scalar operand of a kernel: a Python value of forward stays a run-time argument."""
        return v if isinstance(v, Node) and v.kind == "py" else float(v)


# An op family's lowering of one call: (builder, the call's arguments) → Node, tuple of Nodes, or a value.
Handler = Callable[[Builder, Args], Any]


def _strides(n: Node) -> tuple[int, ...]:
    if isinstance(n.value, torch.Tensor):
        return tuple(n.value.stride())
    strides, acc = [], 1
    for s in reversed(n.shape):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


def _meta(n: Node) -> torch.Tensor:
    return torch.empty_strided(n.shape, _strides(n), device="meta", dtype=n.dtype)


def _meta_like(t: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(tuple(t.shape), tuple(t.stride()), dtype=t.dtype, device="meta")
