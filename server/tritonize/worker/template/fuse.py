"""Partition the IR into fused steps: one Triton kernel per step.

A step ("group") computes one materialised value (its root) from leaves (forward arguments,
parameters, views, values of earlier steps). Three kinds:

- `pointwise`: element-wise ops only; the domain is the root's shape.
- `rows`: reductions over the same dims of one domain shape (the reduction input), with the
  element-wise ops before (prologue), between (softmax, norms) and after (epilogue) fused in. A value
  is either per element of the domain or per row (constant along the reduced dims).
- `gemm`: one matmul / linear with an element-wise epilogue on its output tile.

Materialised values start as: graph outputs and everything a view, a Python value or a matmul reads.
Building a step walks producers back from its root; when a rule is broken (a value also used outside
the step, two matmuls, reductions over different dims, shapes that do not line up), the offending
value is materialised too and partitioning starts again, so it always terminates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .ir import Graph, Node, Unsupported, operands


@dataclass
class Group:
    kind: str  # pointwise | rows | gemm
    root: Node
    nodes: list[Node]  # compute nodes in topological order (root last)
    domain: tuple[int, ...]
    red: tuple[int, ...] = ()  # rows: reduced dims of the domain
    gemm: Node | None = None
    row_level: set[Node] = field(default_factory=set)  # rows: values constant along the reduced dims
    squeezed: set[Node] = field(default_factory=set)  # rows: per-row values shaped without the reduced dims

    def leaves(self) -> list[Node]:
        """Tensor arguments read from memory, in first-use order."""
        inside = set(self.nodes)
        out: list[Node] = []
        for n in self.nodes:
            for a in n.args:
                if isinstance(a, Node) and a.is_tensor and a not in inside and a not in out:
                    out.append(a)
        return out

    def scalars(self) -> list[Node]:
        """Python values of forward passed to the kernel: sizes, `self.scale`, `self.act.negative_slope`."""
        out: list[Node] = []
        for n in self.nodes:
            for a in operands(n):
                if a.kind == "py" and a not in out:
                    out.append(a)
        return out


class _Fix(Exception):
    def __init__(self, nodes: set[Node]):
        self.nodes = nodes


def partition(graph: Graph) -> tuple[list[Group], set[Node]]:
    """Fused steps in execution order, and the set of materialised values."""
    users = graph.users()
    materialised: set[Node] = {n for n in graph.outputs() if n.is_compute}
    for n in graph.nodes:
        if n.kind in ("view", "py", "gemm"):
            materialised |= {a for a in n.args if isinstance(a, Node) and a.is_compute}
    for _ in range(10 * len(graph.nodes) + 10):
        try:
            groups = [_build(root, materialised, users) for root in sorted(materialised, key=lambda n: n.index)]
            return groups, materialised
        except _Fix as fix:
            new = {n for n in fix.nodes if n.is_compute} - materialised
            if not new:
                raise Unsupported("cannot split the graph into fusable steps") from None
            materialised |= new
    raise Unsupported("cannot split the graph into fusable steps")


def _build(root: Node, materialised: set[Node], users: dict[Node, list[Node]]) -> Group:
    nodes = _collect(root, materialised)
    inside = set(nodes)
    escaping = {n for n in nodes if n is not root and any(u not in inside for u in users[n])}
    if escaping:
        raise _Fix(escaping)
    gemms = [n for n in nodes if n.kind == "gemm"]
    reductions = [n for n in nodes if n.kind == "reduce"]
    if len(gemms) > 1:
        raise _Fix(set(gemms[:-1]))
    if gemms and reductions:
        raise _Fix({gemms[-1]} if gemms[-1] is not root else set(reductions))
    if gemms:
        return _gemm_group(root, nodes, gemms[0])
    if reductions:
        return _rows_group(root, nodes, reductions)
    return Group("pointwise", root, nodes, tuple(root.shape))


def _collect(root: Node, materialised: set[Node]) -> list[Node]:
    seen: set[Node] = set()
    stack = [root]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        for a in n.args:
            if isinstance(a, Node) and a.is_compute and a not in materialised:
                stack.append(a)
    return sorted(seen, key=lambda n: n.index)


def _gemm_group(root: Node, nodes: list[Node], gemm: Node) -> Group:
    domain = tuple(gemm.shape)
    if tuple(root.shape) != domain:
        raise _Fix({gemm})
    for n in nodes:
        if n is not gemm and not _broadcasts_to(n.shape, domain):
            raise _Fix({gemm})
    return Group("gemm", root, nodes, domain, gemm=gemm)


def _rows_group(root: Node, nodes: list[Node], reductions: list[Node]) -> Group:
    top = reductions[-1]
    domain = tuple(top.args[0].shape)
    red = tuple(top.attrs["dims"])
    mismatched = [r for r in reductions if tuple(r.args[0].shape) != domain or tuple(r.attrs["dims"]) != red]
    if mismatched:
        src = top.args[0]
        raise _Fix({src} if src in nodes else set(mismatched))
    keep_shape = tuple(1 if i in red else s for i, s in enumerate(domain))
    sq_shape = tuple(s for i, s in enumerate(domain) if i not in red)
    inside = set(nodes)
    row_level: set[Node] = set()
    squeezed: set[Node] = set()
    for n in nodes:
        ins = [a for a in n.args if isinstance(a, Node) and a in inside]
        if n.kind == "reduce":
            row_level.add(n)
            if not n.attrs["keepdim"] and len(red) and n.shape != keep_shape:
                squeezed.add(n)
            continue
        if any(a in squeezed for a in ins):
            if tuple(n.shape) != sq_shape or not all(a in squeezed for a in ins):
                raise _Fix({a for a in ins if a in squeezed})
            squeezed.add(n)
            row_level.add(n)
            continue
        if not _broadcasts_to(n.shape, domain):
            raise _Fix({a for a in ins if a.kind == "reduce" or a in row_level} or set(ins))
        if tuple(n.shape) != domain and _constant_along(n.shape, domain, red):
            row_level.add(n)
    root_ok = tuple(root.shape) == domain or root in squeezed or (root in row_level and tuple(root.shape) == keep_shape)
    if not root_ok:
        ins = {a for a in root.args if isinstance(a, Node) and a in inside}
        raise _Fix(ins)
    return Group("rows", root, nodes, domain, red=red, row_level=row_level, squeezed=squeezed)


def _broadcasts_to(shape: tuple[int, ...] | None, domain: tuple[int, ...]) -> bool:
    if shape is None:
        return True
    try:
        return tuple(torch.broadcast_shapes(tuple(shape), domain)) == tuple(domain)
    except RuntimeError:
        return False


def _constant_along(shape: tuple[int, ...], domain: tuple[int, ...], red: tuple[int, ...]) -> bool:
    """True when a value of `shape`, broadcast to `domain`, does not vary along the reduced dims."""
    offset = len(domain) - len(shape)
    for d in red:
        i = d - offset
        if 0 <= i < len(shape) and shape[i] != 1 and domain[d] != 1:
            return False
    return True
