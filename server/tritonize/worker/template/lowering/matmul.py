"""Lower linear, matmul, mm, bmm, `@` and addmm to `gemm` nodes with an element-wise epilogue (torch worker).

A `gemm` node is `x @ w.t()` (mode "linear", weight `[N, K]`) or `x @ w` with broadcast batch dims
(mode "matmul"); bias, alpha and beta become `pw` ops the GEMM pattern fuses into its epilogue.
"""

from __future__ import annotations

from typing import Any

import torch

from ..ir import FLOATS, Node
from .builder import Args, Builder, Handler


def gemm(b: Builder, mode: str, x: Any, w: Any, label: str) -> Node:
    for t in (x, w):
        if not isinstance(t, Node) or not t.is_tensor:
            raise b.unsupported(f"{label} of a non-tensor")
        if t.dtype not in FLOATS:
            raise b.unsupported(f"{label} on {t.dtype}")
    if mode == "linear":
        if len(x.shape) < 1 or len(w.shape) != 2:
            raise b.unsupported("linear with a weight that is not 2-D")
        shape = (*x.shape[:-1], w.shape[0])
    else:
        if len(x.shape) < 2 or len(w.shape) < 2:
            raise b.unsupported(f"{label} with a 1-D operand")
        batch = tuple(torch.broadcast_shapes(x.shape[:-2], w.shape[:-2]))
        shape = (*batch, x.shape[-2], w.shape[-1])
    return b.add(Node("gemm", mode, [x, w], {}, shape, torch.promote_types(x.dtype, w.dtype), label=label))


def _linear(b: Builder, a: Args) -> Any:
    y = gemm(b, "linear", a.get(0), a.get(1, "weight"), label="linear")
    bias = a.get(2, "bias", None)
    return b.pw("add", y, bias, label="linear") if bias is not None else y


def _matmul(b: Builder, a: Args) -> Any:
    return gemm(b, "matmul", a.get(0), a.get(1, "other"), label="matmul")


def _addmm(b: Builder, a: Args) -> Any:
    bias, m1, m2 = a.get(0), a.get(1, "mat1"), a.get(2, "mat2")
    beta, alpha = a.kwargs.get("beta", 1), a.kwargs.get("alpha", 1)
    y = gemm(b, "matmul", m1, m2, label="addmm")
    if isinstance(alpha, Node) or alpha != 1:
        y = b.pw("mul", y, b.num(alpha), label="addmm")
    if isinstance(beta, Node) or beta != 1:
        bias = b.pw("mul", bias, b.num(beta), label="addmm")
    return b.pw("add", y, bias, label="addmm")


HANDLERS: dict[str, Handler] = {
    "linear": _linear, "matmul": _matmul, "mm": _matmul, "bmm": _matmul, "__matmul__": _matmul, "addmm": _addmm,
}
