"""The template generator's IR: the normalised op graph the fusion pass and the emitters read.

Runs in the torch worker (node shapes carry torch dtypes). `lower.py` builds it from a traced
`torch.fx` graph; nothing here knows about fx. Node kinds:

- `pw`     element-wise primitive (ops.PW): relu, gelu, add, where, ...
- `reduce` reduction over dims: sum (mean/var via a divisor), amax, amin, argmax, argmin
- `gemm`   matmul / linear (batched), accumulation in fp32
- `view`   a view computed in `forward` with torch view methods (view, transpose, [..., None], ...)
- `py`     a Python value computed in `forward` (x.size(0), x.shape[-1] ** 0.5, ...)
- `input` / `param` leaves (forward arguments; parameters and buffers as `self.<path>`)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

# The dtypes the kernels compute on (in fp32); anything else is refused by the lowering.
FLOATS = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


class Unsupported(Exception):
    """The graph (or one construct in it) is outside the pattern library; the message says which."""


@dataclass(eq=False)
class Node:
    kind: str  # input | param | pw | reduce | gemm | view | py
    op: str
    args: list[Any] = field(default_factory=list)  # Node | Python constant
    attrs: dict[str, Any] = field(default_factory=dict)
    shape: tuple[int, ...] | None = None
    dtype: torch.dtype | None = None
    label: str = ""  # what it came from, for kernel names ("softmax", "linear", "gelu")
    where: str = ""  # "line 12: `x = self.conv(x)`"
    value: Any = None  # concrete value (py nodes) or an example tensor (views)
    code: str = ""  # input: arg name; param: `self.fc.weight`; view/py: format with {0}, {1}, ...
    index: int = 0  # position in Graph.nodes (topological order)

    @property
    def is_tensor(self) -> bool:
        return self.kind in ("input", "param", "pw", "reduce", "gemm", "view")

    @property
    def is_compute(self) -> bool:
        return self.kind in ("pw", "reduce", "gemm")

    def __repr__(self) -> str:
        return f"<{self.kind}:{self.op}#{self.index} {self.shape}>"


@dataclass
class Placeholder:
    """A forward argument: its name, its leaf node and its default value, if any."""

    name: str
    node: Node
    default: Any = None
    has_default: bool = False


@dataclass
class Guard:
    """A value the kernels were specialised on; ModelNew.forward raises ValueError when it differs.

    `cond` (true when the value differs) and `want` (what the kernels assume, for the message) are
    format strings over the forward names of `deps`.
    """

    cond: str
    deps: list[Node]
    want: str


@dataclass
class Graph:
    nodes: list[Node]
    placeholders: list[Placeholder]
    output: Any  # the structure forward returns, with Nodes and constants
    guards: list[Guard] = field(default_factory=list)

    def users(self) -> dict[Node, list[Node]]:
        out: dict[Node, list[Node]] = {n: [] for n in self.nodes}
        for n in self.nodes:
            for a in operands(n):
                if n not in out[a]:
                    out[a].append(n)
        return out

    def outputs(self) -> list[Node]:
        return [n for n in flatten(self.output) if isinstance(n, Node)]


def operands(n: Node) -> list[Node]:
    """The Nodes `n` reads: its arguments and run-time scalar attributes (`leaky_relu`'s slope)."""
    return [a for a in n.args if isinstance(a, Node)] + [v for v in n.attrs.values() if isinstance(v, Node)]


def flatten(obj: Any) -> list[Any]:
    """The leaves of nested lists, tuples and dict values, in order."""
    if isinstance(obj, (list, tuple)):
        return [y for x in obj for y in flatten(x)]
    if isinstance(obj, dict):
        return [y for x in obj.values() for y in flatten(x)]
    return [obj]
