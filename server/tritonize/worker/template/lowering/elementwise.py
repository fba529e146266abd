"""Lower element-wise calls to `pw` nodes: operators, activations, clamps, powers, casts (torch worker).

Plain unary and binary ops are table entries (`UNARY`, `BINARY`); ops with arguments have a handler
in `HANDLERS`. A scalar argument that forward reads from the module (`negative_slope`) stays a
run-time value (`Builder.num`); one that changes the formula (a pow exponent) is guarded.
"""

from __future__ import annotations

from typing import Any

import torch

from ..ir import Node
from .builder import Args, Builder, Handler

# name → (op, attrs)
UNARY: dict[str, tuple[str, dict[str, Any]]] = {
    "relu": ("relu", {}), "relu_": ("relu", {}), "sigmoid": ("sigmoid", {}), "sigmoid_": ("sigmoid", {}),
    "tanh": ("tanh", {}), "tanh_": ("tanh", {}), "exp": ("exp", {}), "exp_": ("exp", {}), "log": ("log", {}),
    "sqrt": ("sqrt", {}), "rsqrt": ("rsqrt", {}), "abs": ("abs", {}), "neg": ("neg", {}), "__neg__": ("neg", {}),
    "negative": ("neg", {}), "reciprocal": ("reciprocal", {}), "sin": ("sin", {}), "cos": ("cos", {}),
    "square": ("square", {}), "silu": ("silu", {}), "mish": ("mish", {}), "hardswish": ("hardswish", {}),
    "hardsigmoid": ("hardsigmoid", {}), "softsign": ("softsign", {}), "selu": ("selu", {}), "sign": ("sign", {}),
    "logical_not": ("not", {}), "erf": ("erf", {}), "log1p": ("log1p", {}), "expm1": ("expm1", {}),
    "float": ("cast", {"dtype": torch.float32}), "half": ("cast", {"dtype": torch.float16}),
    "bfloat16": ("cast", {"dtype": torch.bfloat16}), "sigmoid_approx": ("sigmoid", {}),
    "tanhshrink": ("tanhshrink", {}), "logsigmoid": ("logsigmoid", {}),
}

# name → (op, swap operands)
BINARY: dict[str, tuple[str, bool]] = {
    "add": ("add", False), "__add__": ("add", False), "iadd": ("add", False), "add_": ("add", False), "__radd__": ("add", True),
    "sub": ("sub", False), "__sub__": ("sub", False), "isub": ("sub", False), "sub_": ("sub", False), "subtract": ("sub", False),
    "__rsub__": ("sub", True), "rsub": ("sub", True),
    "mul": ("mul", False), "__mul__": ("mul", False), "imul": ("mul", False), "mul_": ("mul", False), "multiply": ("mul", False),
    "__rmul__": ("mul", True),
    "div": ("div", False), "truediv": ("div", False), "__truediv__": ("div", False), "itruediv": ("div", False), "div_": ("div", False),
    "divide": ("div", False), "true_divide": ("div", False), "__rtruediv__": ("div", True),
    "eq": ("eq", False), "ne": ("ne", False), "lt": ("lt", False), "le": ("le", False), "gt": ("gt", False), "ge": ("ge", False),
    "__eq__": ("eq", False), "__ne__": ("ne", False), "__lt__": ("lt", False), "__le__": ("le", False), "__gt__": ("gt", False),
    "__ge__": ("ge", False), "greater": ("gt", False), "less": ("lt", False),
    "and_": ("and", False), "__and__": ("and", False), "logical_and": ("and", False),
    "or_": ("or", False), "__or__": ("or", False), "logical_or": ("or", False),
}


def unary(b: Builder, name: str, a: Args) -> Node:
    op, attrs = UNARY[name]
    return b.pw(op, a.get(0, "input"), label=name.strip("_"), **attrs)


def binary(b: Builder, name: str, a: Args) -> Node:
    op, swap = BINARY[name]
    x, y = a.get(0, "input"), a.get(1, "other")
    if swap:
        x, y = y, x
    alpha = a.get(2, "alpha", None)
    if alpha is not None and op in ("add", "sub"):
        y = b.pw("mul", y, alpha)
    return b.pw(op, x, y, label=op)


# -- copies, casts and dropout --


def _contiguous(b: Builder, a: Args) -> Any:
    return a.get(0)


def _clone(b: Builder, a: Args) -> Any:
    return b.pw("identity", a.get(0), label="clone")


def _to(b: Builder, a: Args) -> Any:
    x = a.get(0)
    dtype = next((v for v in list(a.args[1:]) + list(a.kwargs.values()) if isinstance(v, torch.dtype)), None)
    if dtype is None:
        return x  # .to(device) and friends: the kernels run where the inputs are
    return b.pw("cast", x, label="cast", dtype=dtype)


def _type_as(b: Builder, a: Args) -> Any:
    return b.pw("cast", a.get(0), label="cast", dtype=a.get(1).dtype)


def _dropout(b: Builder, a: Args) -> Any:
    p = a.get(1, "p", 0.5)
    training = a.get(2, "training", True)
    if p == 0 or not training:
        return a.get(0)
    raise b.unsupported("dropout with training=True (random)")


# -- selection, clamps and powers --


def _where(b: Builder, a: Args) -> Any:
    return b.pw("where", a.get(0, "condition"), a.get(1, "input"), a.get(2, "other"), label="where")


def _clamp(b: Builder, a: Args) -> Any:
    lo, hi = a.get(1, "min", None), a.get(2, "max", None)
    if isinstance(lo, Node) and lo.is_tensor or isinstance(hi, Node) and hi.is_tensor:
        x = a.get(0)
        if lo is not None:
            x = b.pw("maximum", x, lo, label="clamp")
        if hi is not None:
            x = b.pw("minimum", x, hi, label="clamp")
        return x
    return b.pw("clamp", a.get(0), label="clamp", lo=lo, hi=hi)


def _clamp_min(b: Builder, a: Args) -> Any:
    return b.pw("clamp", a.get(0), label="clamp", lo=a.get(1, "min"), hi=None)


def _clamp_max(b: Builder, a: Args) -> Any:
    return b.pw("clamp", a.get(0), label="clamp", lo=None, hi=a.get(1, "max"))


def _maximum(b: Builder, a: Args) -> Any:
    return b.pw("maximum", a.get(0), a.get(1, "other"), label="maximum")


def _minimum(b: Builder, a: Args) -> Any:
    return b.pw("minimum", a.get(0), a.get(1, "other"), label="minimum")


def _pow(b: Builder, a: Args) -> Any:
    x, e = a.get(0, "input" if "input" in a.kwargs else "self"), a.get(1, "exponent")
    if isinstance(x, Node) and x.is_tensor and not (isinstance(e, Node) and e.is_tensor):
        # The exponent decides the formula (x*x for 2, exp/log otherwise): a Python value of forward is guarded.
        return b.pw("pow_scalar", x, label="pow", p=float(b.static(e)))
    if not isinstance(x, Node) or x.kind == "py":
        return _rpow(b, e, x)
    return b.pw("pow", x, e, label="pow")


def _rpow(b: Builder, x: Node, base: Any) -> Node:
    """base ** x for a Python base; a base read from the module stays a run-time value."""
    if isinstance(base, Node):
        return b.pw("pow", base, x, label="pow")  # exp(x * log(base)): base > 0, as for rpow
    return b.pw("rpow", x, label="pow", base=float(base))


def _reflected_pow(b: Builder, a: Args) -> Any:
    return _rpow(b, a.get(0), a.get(1))


# -- activations with arguments --


def _gelu(b: Builder, a: Args) -> Any:
    approx = a.get(1, "approximate", "none")
    return b.pw("gelu_tanh" if approx == "tanh" else "gelu", a.get(0), label="gelu")


def _leaky_relu(b: Builder, a: Args) -> Any:
    return b.pw("leaky_relu", a.get(0), label="leaky_relu", slope=b.num(a.get(1, "negative_slope", 0.01)))


def _elu(b: Builder, a: Args) -> Any:
    return b.pw("elu", a.get(0), label="elu", alpha=b.num(a.get(1, "alpha", 1.0)))


def _celu(b: Builder, a: Args) -> Any:
    return b.pw("celu", a.get(0), label="celu", alpha=b.num(a.get(1, "alpha", 1.0)))


def _softplus(b: Builder, a: Args) -> Any:
    return b.pw("softplus", a.get(0), label="softplus", beta=b.num(a.get(1, "beta", 1.0)), threshold=b.num(a.get(2, "threshold", 20.0)))


def _hardtanh(b: Builder, a: Args) -> Any:
    return b.pw("clamp", a.get(0), label="hardtanh", lo=b.num(a.get(1, "min_val", -1.0)), hi=b.num(a.get(2, "max_val", 1.0)))


def _relu6(b: Builder, a: Args) -> Any:
    return b.pw("clamp", a.get(0), label="relu6", lo=0.0, hi=6.0)


def _threshold(b: Builder, a: Args) -> Any:
    return b.pw("threshold", a.get(0), label="threshold", threshold=b.num(a.get(1, "threshold")), value=b.num(a.get(2, "value")))


HANDLERS: dict[str, Handler] = {
    "contiguous": _contiguous, "clone": _clone, "to": _to, "type_as": _type_as, "dropout": _dropout,
    "where": _where, "clamp": _clamp, "clip": _clamp, "clamp_min": _clamp_min, "clamp_max": _clamp_max,
    "maximum": _maximum, "minimum": _minimum, "pow": _pow, "__pow__": _pow, "__rpow__": _reflected_pow,
    "gelu": _gelu, "leaky_relu": _leaky_relu, "elu": _elu, "celu": _celu, "softplus": _softplus,
    "hardtanh": _hardtanh, "relu6": _relu6, "threshold": _threshold,
}
