"""Decompose softmax, log_softmax and the norms into reductions and element-wise ops (torch worker).

softmax = amax, sub, exp, sum, div; layer norm = mean, sub, mean of squares, rsqrt, affine; RMS norm
and group norm likewise (group norm through views that put each group in its own row). The functions
are shared by the functional forms (`HANDLERS`) and the nn modules (`modules.py`).
"""

from __future__ import annotations

from typing import Any

import torch

from ..ir import Node
from .builder import Args, Builder, Handler


def softmax(b: Builder, x: Node, dim: Any, log: bool = False) -> Node:
    if dim is None:
        raise b.unsupported("softmax without an explicit dim")
    label = "log_softmax" if log else "softmax"
    dim = b.static(dim)
    m = b.reduce("amax", x, dim, True, label=label)
    shifted = b.pw("sub", x, m, label=label)
    e = b.pw("exp", shifted, label=label)
    z = b.reduce("sum", e, dim, True, label=label)
    if log:
        return b.pw("sub", shifted, b.pw("log", z, label=label), label=label)
    return b.pw("div", e, z, label=label)


def layer_norm(b: Builder, x: Node, k: int, w: Any, bias: Any, eps: float) -> Node:
    dims = tuple(range(len(x.shape) - k, len(x.shape)))
    lbl = "layernorm"
    mean = b.reduce("sum", x, dims, True, label=lbl, divisor=0)
    d = b.pw("sub", x, mean, label=lbl)
    var = b.reduce("sum", b.pw("mul", d, d, label=lbl), dims, True, label=lbl, divisor=0)
    r = b.pw("rsqrt", b.pw("add", var, b.num(eps), label=lbl), label=lbl)
    y = b.pw("mul", d, r, label=lbl)
    if w is not None:
        y = b.pw("mul", y, w, label=lbl)
    if bias is not None:
        y = b.pw("add", y, bias, label=lbl)
    return y


def rms_norm(b: Builder, x: Node, k: int, w: Any, eps: float | None) -> Node:
    if eps is None:
        eps = torch.finfo(x.dtype).eps
    dims = tuple(range(len(x.shape) - k, len(x.shape)))
    lbl = "rmsnorm"
    ms = b.reduce("sum", b.pw("mul", x, x, label=lbl), dims, True, label=lbl, divisor=0)
    y = b.pw("mul", x, b.pw("rsqrt", b.pw("add", ms, b.num(eps), label=lbl), label=lbl), label=lbl)
    return b.pw("mul", y, w, label=lbl) if w is not None else y


def group_norm(b: Builder, x: Node, groups: Any, w: Any, bias: Any, eps: Any) -> Node:
    """groups may be read in forward (`self.gn.num_groups`): the views below use it at run time."""
    n_groups = groups.value if isinstance(groups, Node) else int(groups)
    if len(x.shape) < 2 or x.shape[1] % n_groups:
        raise b.unsupported("group_norm with channels not divisible by groups")
    g_code, g_deps = ("{1}", [groups]) if isinstance(groups, Node) else (str(n_groups), [])
    lbl = "groupnorm"
    xv = b.view("{0}.reshape({0}.shape[0], " + f"{g_code}, {{0}}.shape[1] // {g_code}, -1)", x, *g_deps, label=lbl)
    dims = (2, 3)
    mean = b.reduce("sum", xv, dims, True, label=lbl, divisor=0)
    d = b.pw("sub", xv, mean, label=lbl)
    var = b.reduce("sum", b.pw("mul", d, d, label=lbl), dims, True, label=lbl, divisor=0)
    y = b.pw("mul", d, b.pw("rsqrt", b.pw("add", var, b.num(eps), label=lbl), label=lbl), label=lbl)
    if w is not None:
        y = b.pw("mul", y, b.view("{0}.view(" + f"{g_code}, -1, 1)", w, *g_deps, label=lbl), label=lbl)
    if bias is not None:
        y = b.pw("add", y, b.view("{0}.view(" + f"{g_code}, -1, 1)", bias, *g_deps, label=lbl), label=lbl)
    return b.view("{0}.view({1}.shape)", y, x, label=lbl)


def _softmax(b: Builder, a: Args) -> Any:
    return softmax(b, a.get(0), a.get(1, "dim"))


def _log_softmax(b: Builder, a: Args) -> Any:
    return softmax(b, a.get(0), a.get(1, "dim"), log=True)


def _normalized_dims(a: Args) -> int:
    """How many trailing dims `normalized_shape` covers."""
    shape = a.get(1, "normalized_shape")
    return len(shape) if isinstance(shape, (list, tuple)) else 1


def _layer_norm(b: Builder, a: Args) -> Any:
    k = _normalized_dims(a)
    return layer_norm(b, a.get(0), k, a.get(2, "weight", None), a.get(3, "bias", None), b.num(a.get(4, "eps", 1e-5)))


def _rms_norm(b: Builder, a: Args) -> Any:
    k = _normalized_dims(a)
    return rms_norm(b, a.get(0), k, a.get(2, "weight", None), a.get(3, "eps", None))


def _group_norm(b: Builder, a: Args) -> Any:
    return group_norm(b, a.get(0), a.get(1, "num_groups"), a.get(2, "weight", None), a.get(3, "bias", None), b.num(a.get(4, "eps", 1e-5)))


HANDLERS: dict[str, Handler] = {
    "softmax": _softmax, "log_softmax": _log_softmax, "layer_norm": _layer_norm, "rms_norm": _rms_norm,
    "group_norm": _group_norm,
}
