"""Lower views to `view` nodes: forward recomputes them with the same torch view call (torch worker).

A view node keeps its call as a format string over its operands (`"{0}.transpose(1, {1})"`), so a
Python value of forward used in it (`x[:, : self.k]`) is read at run time. Indexing with tensors,
`split`/`chunk` and attributes other than `.T`/`.mT` are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..ir import Node
from .builder import Args, Builder, Handler

# Methods and functions that return a view of their first argument, lowered by `view_method`.
VIEWS = {"view", "reshape", "permute", "transpose", "unsqueeze", "squeeze", "expand", "expand_as", "flatten", "unflatten",
         "movedim", "swapaxes", "view_as", "reshape_as", "narrow", "select", "unbind_"}


def view_method(b: Builder, name: str, a: Args) -> Node:
    src = a.get(0)
    if not isinstance(src, Node) or not src.is_tensor:
        raise b.unsupported(f"`{name}` on a non-tensor")
    rest = list(a.args[1:])
    kw = dict(a.kwargs)
    deps: list[Node] = []

    def render(v: Any) -> str:
        if isinstance(v, Node):
            deps.append(v)
            return "{" + str(len(deps)) + "}"
        if isinstance(v, (list, tuple)):
            inner = ", ".join(render(x) for x in v)
            return f"({inner},)" if isinstance(v, tuple) else f"[{inner}]"
        return repr(v)

    parts = [render(v) for v in rest] + [f"{k}={render(v)}" for k, v in kw.items()]
    code = "{0}." + name + "(" + ", ".join(parts) + ")"
    return b.view(code, src, *deps, label="view")


def _getitem(b: Builder, a: Args) -> Any:
    """Tuple results (torch.max with dim) and tensor indexing with ints, slices, None and `...`."""
    src, idx = a.args[0], a.args[1]
    if isinstance(src, (tuple, list)):
        return src[idx]
    if not isinstance(src, Node) or not src.is_tensor:
        raise b.unsupported("indexing a non-tensor")
    items = idx if isinstance(idx, tuple) else (idx,)
    deps: list[Node] = []

    def dep(v: Any) -> str:  # a Python value of forward (`x[:, : self.k]`) is read at run time
        if isinstance(v, Node):
            deps.append(v)
            return "{" + str(len(deps)) + "}"
        return "" if v is None else repr(v)

    for it in items:
        if isinstance(it, Node) and it.is_tensor or isinstance(it, (torch.Tensor, list)):
            raise b.unsupported("advanced (tensor) indexing")
    text = ", ".join(_render_index(it, dep) for it in items)
    return b.view("{0}[" + text + "]", src, *deps, label="view")


def _render_index(it: Any, dep: Callable[[Any], str]) -> str:
    if it is None:
        return "None"
    if it is Ellipsis:
        return "..."
    if isinstance(it, slice):
        parts = [dep(v) for v in (it.start, it.stop, it.step)]
        return ":".join(parts[:2]) + (":" + parts[2] if it.step is not None else "")
    return dep(it)


def _getattr(b: Builder, a: Args) -> Any:
    src, attr = a.args[0], a.args[1]
    if isinstance(src, tuple) and attr in ("values", "indices"):
        return src[0 if attr == "values" else 1]
    if attr in ("mT",) and isinstance(src, Node):
        return b.view("{0}.mT", src)
    if attr == "T" and isinstance(src, Node):
        return b.view("{0}.T", src)
    raise b.unsupported(f"attribute `.{attr}`")


def _flatten(b: Builder, a: Args) -> Any:
    return view_method(b, "flatten", a)


def _t(b: Builder, a: Args) -> Any:
    return b.view("{0}.t()", a.get(0))


def _split(b: Builder, a: Args) -> Any:
    raise b.unsupported("`split`/`chunk` (several outputs)")


HANDLERS: dict[str, Handler] = {
    "getitem": _getitem, "getattr": _getattr, "flatten": _flatten, "t": _t, "split": _split, "chunk": _split,
}
