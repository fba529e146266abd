"""Lower Python values computed in forward (`x.size(0)`, `x.shape[-1] ** 0.5`) to `py` nodes (torch worker).

Their traced value is known (fx ran the graph once); the node keeps how forward computes it, as a
format string over its operand nodes, so the candidate recomputes it at run time.
"""

from __future__ import annotations

from typing import Any

import torch

from ..ir import Node, Unsupported, flatten
from .builder import Builder

_PY_BINOPS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**"}
_PY_CALLS = {"size", "dim", "numel", "getattr", "getitem", "sqrt", "floor", "ceil", "neg"}


def python_value(b: Builder, name: str, args: tuple, kwargs: dict, val: Any) -> Node:
    """The `py` node for a call whose traced result `val` is not a tensor."""
    if isinstance(val, torch.Tensor):
        raise b.unsupported(f"tensor creation `{name}`")
    if name not in _PY_CALLS and name not in _PY_BINOPS:
        raise b.unsupported(f"Python operation `{name}` on shapes")
    deps = [a for a in flatten([args, kwargs]) if isinstance(a, Node)]
    return b.add(Node("py", name, deps, {}, None, None, code=_py_code(name, args, deps), value=val))


def _py_code(name: str, args: tuple, deps: list[Node]) -> str:
    """How forward computes the value, as a format string over `deps` ({0}, {1}, ...)."""
    idx = {id(d): i for i, d in enumerate(deps)}

    def r(v: Any) -> str:
        if isinstance(v, Node):
            return "{" + str(idx[id(v)]) + "}"
        if isinstance(v, (list, tuple)):
            return "(" + ", ".join(r(x) for x in v) + ("," if len(v) == 1 else "") + ")"
        return repr(v)

    if name == "size":
        return f"{r(args[0])}.size({', '.join(r(a) for a in args[1:])})"
    if name in ("dim", "numel"):
        return f"{r(args[0])}.{name}()"
    if name == "getattr":
        return f"{r(args[0])}.{args[1]}"
    if name == "getitem":
        return f"{r(args[0])}[{r(args[1])}]"
    if name in _PY_BINOPS:
        return f"({r(args[0])} {_PY_BINOPS[name]} {r(args[1])})"
    if name in ("sqrt", "floor", "ceil"):
        return f"math.{name}({r(args[0])})"
    if name == "neg":
        return f"(-{r(args[0])})"
    raise Unsupported(f"no pattern for the Python operation `{name}`")
