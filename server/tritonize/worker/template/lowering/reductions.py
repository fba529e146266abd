"""Lower reductions to `reduce` nodes plus element-wise ops (runs in the torch worker).

sum/amax/amin/argmax/argmin map to one node each; mean and var/std are sums with a divisor
(`divisor=0`: the number of reduced elements; var's divisor is its correction); norms, `normalize` and
`logsumexp` are decomposed into reductions and element-wise ops so the fusion pass sees one vocabulary.
"""

from __future__ import annotations

from typing import Any

from ..ir import Node
from .builder import Args, Builder, Handler


def _red_args(a: Args, dim_default: Any = None) -> tuple[Node, Any, bool]:
    return a.get(0), a.get(1, "dim", dim_default), bool(a.get(2, "keepdim", False))


def _sum(b: Builder, a: Args) -> Any:
    x, dims, keep = _red_args(a)
    return b.reduce("sum", x, dims, keep, label="sum")


def _mean(b: Builder, a: Args) -> Any:
    x, dims, keep = _red_args(a)
    return b.reduce("sum", x, dims, keep, label="mean", divisor=0)


def _amax(b: Builder, a: Args) -> Any:
    x, dims, keep = _red_args(a)
    return b.reduce("amax", x, dims, keep, label="max")


def _amin(b: Builder, a: Args) -> Any:
    x, dims, keep = _red_args(a)
    return b.reduce("amin", x, dims, keep, label="min")


def _argmax(b: Builder, a: Args) -> Any:
    x, dims, keep = _red_args(a)
    return b.reduce("argmax", x, dims, keep, label="argmax")


def _argmin(b: Builder, a: Args) -> Any:
    x, dims, keep = _red_args(a)
    return b.reduce("argmin", x, dims, keep, label="argmin")


def _maxmin(b: Builder, a: Args, which: str) -> Any:
    """torch.max/min: element-wise with a tensor, the whole reduction without a dim, else (values, indices)."""
    other = a.get(1, "dim", None)
    if isinstance(other, Node) and other.is_tensor:
        return b.pw("maximum" if which == "max" else "minimum", a.get(0), other, label=which)
    x, dims, keep = _red_args(a)
    if dims is None:
        return b.reduce("a" + which, x, None, False, label=which)
    vals = b.reduce("a" + which, x, dims, keep, label=which)
    idx = b.reduce("arg" + which, x, dims, keep, label="arg" + which)
    return (vals, idx)


def _max(b: Builder, a: Args) -> Any:
    return _maxmin(b, a, "max")


def _min(b: Builder, a: Args) -> Any:
    return _maxmin(b, a, "min")


def _var(b: Builder, a: Args, std: bool = False) -> Any:
    x = a.get(0)
    dims = a.get(1, "dim", None)
    correction = a.kwargs.get("correction")
    unbiased = a.kwargs.get("unbiased", a.args[2] if len(a.args) > 2 and isinstance(a.args[2], bool) else True)
    if correction is None:
        correction = 1 if unbiased else 0
    keep = bool(a.kwargs.get("keepdim", a.args[3] if len(a.args) > 3 else False))
    label = "std" if std else "var"
    mean = b.reduce("sum", x, dims, True, label=label, divisor=0)
    d = b.pw("sub", x, mean, label=label)
    v = b.reduce("sum", b.pw("mul", d, d, label=label), dims, keep, label=label, divisor=int(b.static(correction)))
    return b.pw("sqrt", v, label=label) if std else v


def _std(b: Builder, a: Args) -> Any:
    return _var(b, a, std=True)


def vector_norm(b: Builder, x: Node, ord_: Any, dims: Any, keep: bool) -> Node:
    ord_ = b.static(ord_)
    if ord_ in (2, 2.0, "fro", None):
        return b.pw("sqrt", b.reduce("sum", b.pw("mul", x, x, label="norm"), dims, keep, label="norm"), label="norm")
    if ord_ in (1, 1.0):
        return b.reduce("sum", b.pw("abs", x, label="norm"), dims, keep, label="norm")
    if ord_ == float("inf"):
        return b.reduce("amax", b.pw("abs", x, label="norm"), dims, keep, label="norm")
    raise b.unsupported(f"norm with ord={ord_!r}")


def _norm(b: Builder, a: Args) -> Any:
    return vector_norm(b, a.get(0), a.get(1, "p", "fro"), a.get(2, "dim", None), bool(a.get(3, "keepdim", False)))


def _vector_norm(b: Builder, a: Args) -> Any:
    return vector_norm(b, a.get(0), a.get(1, "ord", 2), a.get(2, "dim", None), bool(a.get(3, "keepdim", False)))


def _normalize(b: Builder, a: Args) -> Any:
    x, p, dim, eps = a.get(0), b.static(a.get(1, "p", 2.0)), a.get(2, "dim", 1), b.num(a.get(3, "eps", 1e-12))
    n = vector_norm(b, x, p, dim, True)
    return b.pw("div", x, b.pw("clamp", n, label="normalize", lo=eps, hi=None), label="normalize")


def _logsumexp(b: Builder, a: Args) -> Any:
    x, dims, keep = a.get(0), a.get(1, "dim"), bool(a.get(2, "keepdim", False))
    m = b.reduce("amax", x, dims, True, label="logsumexp")
    s = b.reduce("sum", b.pw("exp", b.pw("sub", x, m, label="logsumexp"), label="logsumexp"), dims, keep, label="logsumexp")
    m_out = m if keep else b.reduce("amax", x, dims, False, label="logsumexp")
    return b.pw("add", b.pw("log", s, label="logsumexp"), m_out, label="logsumexp")


HANDLERS: dict[str, Handler] = {
    "sum": _sum, "mean": _mean, "amax": _amax, "amin": _amin, "argmax": _argmax, "argmin": _argmin,
    "max": _max, "min": _min, "var": _var, "std": _std, "norm": _norm, "vector_norm": _vector_norm,
    "linalg_vector_norm": _vector_norm, "normalize": _normalize, "logsumexp": _logsumexp,
}
