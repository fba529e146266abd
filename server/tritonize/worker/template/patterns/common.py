"""What every kernel emitter shares: names, the emitted-kernel record, expression writing."""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..fuse import Group
from ..ir import Node
from ..ops import formula, lit, triton_expr

# Names the kernels and wrappers use themselves; leaves and temporaries never take them.
RESERVED = {
    "pid", "offs", "mask", "row", "cols", "rest", "col_rest", "start", "shape", "out", "out_ptr", "grid", "n_elements", "n_cols",
    "n_rows", "a", "b", "acc", "tl", "triton", "torch", "math", "nn", "self", "BLOCK", "k", "result", "batch",
    "out_shape", "input", "better", "best", "offs_m", "offs_n", "offs_k", "out3", "batch_shape", "M", "N", "K",
    "n_batch", "k_mask", "a_ptrs", "b_ptrs", "out_ptrs", "pid_m", "pid_n", "num_pid_m", "num_pid_n", "group_id",
    "first_pid_m", "group_size_m", "num_pid_in_group", "min", "row_strides", "sum", "max", "abs", "pow", "range", "float", "int", "len", "tanh", "_tanh",
}


class Namer:
    """Unique, readable identifiers within one kernel (or one forward)."""

    def __init__(self, reserved: set[str] | None = None):
        self.used = set(RESERVED if reserved is None else reserved)

    def __call__(self, base: str) -> str:
        base = re.sub(r"\W+", "_", base).strip("_") or "t"
        if base[0].isdigit():
            base = "t" + base
        name, i = base, 1
        while name in self.used or keyword.iskeyword(name) or re.fullmatch(r"i\d+", name):
            name = f"{base}_{i}"
            i += 1
        self.used.add(name)
        return name


@dataclass
class Emitted:
    """One fused step: its kernel, the wrapper that launches it, and what forward passes in."""

    name: str  # wrapper name; the kernel is f"{name}_kernel"
    kernel: str
    wrapper: str
    args: list[Node]  # leaves then scalars, in wrapper-parameter order
    uses_tanh: bool = False
    notes: list[str] = field(default_factory=list)


def tl_dtype_expr(dtype: torch.dtype) -> str:
    return "torch." + str(dtype).replace("torch.", "")


def out_dtype_expr(root: Node, leaves: list[Node], names: dict[Node, str]) -> str:
    """The output dtype, following an input's dtype where they agree (so fp16/bf16 inputs give fp16/bf16)."""
    for leaf in leaves:
        if leaf.dtype == root.dtype:
            return f"{names[leaf]}.dtype"
    return tl_dtype_expr(root.dtype)


def describe(group: Group, names: dict[Node, str]) -> str:
    """A one-line formula of what the kernel computes, for its docstring."""
    memo: dict[Node, str] = {}
    inside = set(group.nodes)

    def text(a: Any, depth: int = 0) -> str:
        if not isinstance(a, Node):
            return f"{a:g}" if isinstance(a, float) else repr(a)
        if a not in inside:
            return names.get(a, a.code or "?")
        if a in memo:
            return memo[a]
        if depth > 12:
            return "…"
        if a.kind == "reduce":
            dims = a.attrs["dims"]
            op = {"sum": "mean" if a.attrs.get("divisor") == 0 else "sum", "amax": "max", "amin": "min"}.get(a.op, a.op)
            if a.attrs.get("divisor") not in (None, 0):
                op = "var"
            s = f"{op}({text(a.args[0], depth + 1)}, dim={dims[0] if len(dims) == 1 else dims})"
        elif a.kind == "gemm":
            x, w = (text(v, depth + 1) for v in a.args)
            s = f"{x} @ {w}.T" if a.op == "linear" else f"{x} @ {w}"
        else:
            parts = [text(v, depth + 1) for v in a.args]
            if a.op in _INFIX:
                parts = [_paren(p) for p in parts]
            s = formula(a.op, parts, {k: text(v) if isinstance(v, Node) else v for k, v in a.attrs.items()})
        memo[a] = s
        return s

    s = text(group.root)
    return s if len(s) <= 100 else s[:97] + "…"


_INFIX = {"add", "sub", "mul", "div", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "pow", "pow_scalar", "square", "neg", "not"}


def _paren(s: str) -> str:
    """Parenthesise an operand unless it is a name, a literal or one call."""
    if re.fullmatch(r"[\w.]+", s) or re.fullmatch(r"[\w.]+\((?:[^()]|\([^()]*\))*\)", s):
        return s
    return f"({s})"


class ExprWriter:
    """Writes one kernel's element-wise / per-row statements, loading leaves through `load`."""

    def __init__(self, namer: Namer, scalar_names: dict[Node, str], load: Callable[[Node, Node], str]):
        self.namer = namer
        self.scalar_names = scalar_names
        self.load = load  # (leaf, consumer) → variable holding the loaded value
        self.vars: dict[Node, str] = {}
        self.uses_tanh = False

    def ref(self, a: Any, consumer: Node) -> str:
        if isinstance(a, Node):
            if a in self.vars:
                return self.vars[a]
            if a.kind == "py":
                return self.scalar_names[a]
            return self.load(a, consumer)
        return lit(a)

    def pointwise(self, n: Node, lines: list[str], indent: str) -> str:
        args = [self.ref(a, n) for a in n.args]
        attrs = {k: self.ref(v, n) if isinstance(v, Node) else v for k, v in n.attrs.items()}  # run-time scalars by name
        expr = triton_expr(n.op, args, attrs)
        if "_tanh(" in expr:
            self.uses_tanh = True
        name = self.namer(_temp_name(n))
        lines.append(f"{indent}{name} = {expr}")
        self.vars[n] = name
        return name


def _temp_name(n: Node) -> str:
    return {"pow_scalar": "pow", "gelu_tanh": "gelu", "identity": "copy"}.get(n.op, n.op)


@dataclass
class GroupNames:
    """Kernel-argument names for a fused group's tensor leaves and scalar arguments, plus its formula."""

    namer: Namer
    leaves: list[Node]
    scalars: list[Node]
    local: dict[Node, str]
    scalar_local: dict[Node, str]
    formula: str


def group_names(group: Group, forward_names: dict[Node, str]) -> GroupNames:
    leaves, scalars = group.leaves(), group.scalars()
    namer = Namer()
    local = {leaf: namer(leaf_base_name(leaf, forward_names[leaf])) for leaf in leaves}
    scalar_local = {s: namer(leaf_base_name(s, forward_names[s])) for s in scalars}
    return GroupNames(namer, leaves, scalars, local, scalar_local, describe(group, {**local, **scalar_local}))


def leaf_base_name(leaf: Node, forward_name: str) -> str:
    """`self.fc.weight` → `weight`, `x` → `x`."""
    return forward_name.split(".")[-1] if forward_name.startswith("self.") else forward_name


def indent_block(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else line for line in text.splitlines())
