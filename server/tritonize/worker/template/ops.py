"""Element-wise primitives: how each one reads in Triton (computed in fp32) and in a docstring.

Each entry of PW maps an op name to (triton, formula): both take the argument expressions (already
atomic: a variable name or a literal) and the op's attributes; an attribute read at run time
(`self.act.negative_slope`) arrives as the name of the kernel's scalar argument. Triton code uses `tl.*` / `tl.math.*`
only, because `triton.language.extra.libdevice` is missing under the interpreter; tanh is written
through the sigmoid (`_tanh`, a helper emitted once per candidate).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Fmt = Callable[[list[str], dict[str, Any]], str]

TANH_HELPER = '''@triton.jit
def _tanh(x):
    """tanh(x) = 2 * sigmoid(2x) - 1 (tl.* only, so it also runs under the interpreter)."""
    return 2.0 * tl.sigmoid(2.0 * x) - 1.0
'''


def lit(v: Any) -> str:
    """A Python constant as a Triton literal (computation is fp32); a str is a scalar argument's name."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "True" if v else "False"
    f = float(v)
    if math.isinf(f):
        return 'float("inf")' if f > 0 else 'float("-inf")'
    if math.isnan(f):
        return 'float("nan")'
    return repr(f)


def num(v: Any) -> str:
    """A scalar attribute in a docstring formula: `0.2`, or the name of the run-time argument."""
    return v if isinstance(v, str) else f"{v:g}"


def _softplus(x: str, beta: Any = 1.0, threshold: Any = 20.0) -> str:
    bx = x if beta == 1.0 else f"{x} * {lit(beta)}"
    soft = f"tl.log(1.0 + tl.exp({bx}))" if beta == 1.0 else f"tl.log(1.0 + tl.exp({bx})) / {lit(beta)}"
    return f"tl.where({bx} > {lit(threshold)}, {x}, {soft})"


def _pow(x: str, p: float) -> str:
    if p == 0:
        return f"({x} * 0.0 + 1.0)"
    if p == 0.5:
        return f"tl.sqrt({x})"
    if p == -0.5:
        return f"tl.rsqrt({x})"
    if float(p).is_integer() and 1 <= abs(p) <= 4:
        prod = " * ".join([x] * int(abs(p)))
        return prod if p > 0 else f"1.0 / ({prod})"
    return f"tl.exp({lit(p)} * tl.log({x}))"


def _clamp(x: str, lo: Any, hi: Any) -> str:
    out = x
    if lo is not None:
        out = f"tl.maximum({out}, {lit(lo)})"
    if hi is not None:
        out = f"tl.minimum({out}, {lit(hi)})"
    return out


def _cast(x: str, dtype: Any) -> str:
    name = str(dtype).replace("torch.", "")
    if name in ("float16", "bfloat16"):
        return f"{x}.to(tl.{name}).to(tl.float32)"  # round like the original's cast, keep computing in fp32
    if name == "bool":
        return f"{x} != 0"
    return x


GELU_ERF = "0.5 * {x} * (1.0 + tl.math.erf({x} * 0.7071067811865476))"
GELU_TANH = "0.5 * {x} * (1.0 + _tanh(0.7978845608028654 * ({x} + 0.044715 * {x} * {x} * {x})))"

# op → (triton expression, formula for the docstring)
PW: dict[str, tuple[Fmt, Fmt]] = {
    "identity": (lambda a, k: a[0], lambda a, k: a[0]),
    "add": (lambda a, k: f"{a[0]} + {a[1]}", lambda a, k: f"{a[0]} + {a[1]}"),
    "sub": (lambda a, k: f"{a[0]} - {a[1]}", lambda a, k: f"{a[0]} - {a[1]}"),
    "mul": (lambda a, k: f"{a[0]} * {a[1]}", lambda a, k: f"{a[0]} * {a[1]}"),
    "div": (lambda a, k: f"{a[0]} / {a[1]}", lambda a, k: f"{a[0]} / {a[1]}"),
    "maximum": (lambda a, k: f"tl.maximum({a[0]}, {a[1]})", lambda a, k: f"maximum({a[0]}, {a[1]})"),
    "minimum": (lambda a, k: f"tl.minimum({a[0]}, {a[1]})", lambda a, k: f"minimum({a[0]}, {a[1]})"),
    "eq": (lambda a, k: f"{a[0]} == {a[1]}", lambda a, k: f"{a[0]} == {a[1]}"),
    "ne": (lambda a, k: f"{a[0]} != {a[1]}", lambda a, k: f"{a[0]} != {a[1]}"),
    "lt": (lambda a, k: f"{a[0]} < {a[1]}", lambda a, k: f"{a[0]} < {a[1]}"),
    "le": (lambda a, k: f"{a[0]} <= {a[1]}", lambda a, k: f"{a[0]} <= {a[1]}"),
    "gt": (lambda a, k: f"{a[0]} > {a[1]}", lambda a, k: f"{a[0]} > {a[1]}"),
    "ge": (lambda a, k: f"{a[0]} >= {a[1]}", lambda a, k: f"{a[0]} >= {a[1]}"),
    "and": (lambda a, k: f"({a[0]} != 0) & ({a[1]} != 0)", lambda a, k: f"{a[0]} & {a[1]}"),
    "or": (lambda a, k: f"({a[0]} != 0) | ({a[1]} != 0)", lambda a, k: f"{a[0]} | {a[1]}"),
    "not": (lambda a, k: f"{a[0]} == 0", lambda a, k: f"~{a[0]}"),
    "where": (lambda a, k: f"tl.where({a[0]}, {a[1]}, {a[2]})", lambda a, k: f"where({a[0]}, {a[1]}, {a[2]})"),
    "pow": (lambda a, k: f"tl.exp({a[1]} * tl.log({a[0]}))", lambda a, k: f"{a[0]} ** {a[1]}"),
    "pow_scalar": (lambda a, k: _pow(a[0], k["p"]), lambda a, k: f"{a[0]} ** {k['p']:g}"),
    "rpow": (lambda a, k: f"tl.exp({a[0]} * {lit(math.log(k['base']))})", lambda a, k: f"{k['base']:g} ** {a[0]}"),
    "relu": (lambda a, k: f"tl.maximum({a[0]}, 0.0)", lambda a, k: f"relu({a[0]})"),
    "sigmoid": (lambda a, k: f"tl.sigmoid({a[0]})", lambda a, k: f"sigmoid({a[0]})"),
    "logsigmoid": (lambda a, k: f"-({_softplus('-' + a[0])})", lambda a, k: f"logsigmoid({a[0]})"),
    "tanh": (lambda a, k: f"_tanh({a[0]})", lambda a, k: f"tanh({a[0]})"),
    "tanhshrink": (lambda a, k: f"{a[0]} - _tanh({a[0]})", lambda a, k: f"tanhshrink({a[0]})"),
    "exp": (lambda a, k: f"tl.exp({a[0]})", lambda a, k: f"exp({a[0]})"),
    "expm1": (lambda a, k: f"tl.exp({a[0]}) - 1.0", lambda a, k: f"expm1({a[0]})"),
    "log": (lambda a, k: f"tl.log({a[0]})", lambda a, k: f"log({a[0]})"),
    "log1p": (lambda a, k: f"tl.log(1.0 + {a[0]})", lambda a, k: f"log1p({a[0]})"),
    "sqrt": (lambda a, k: f"tl.sqrt({a[0]})", lambda a, k: f"sqrt({a[0]})"),
    "rsqrt": (lambda a, k: f"tl.rsqrt({a[0]})", lambda a, k: f"rsqrt({a[0]})"),
    "abs": (lambda a, k: f"tl.abs({a[0]})", lambda a, k: f"abs({a[0]})"),
    "neg": (lambda a, k: f"-{a[0]}", lambda a, k: f"-{a[0]}"),
    "reciprocal": (lambda a, k: f"1.0 / {a[0]}", lambda a, k: f"1 / {a[0]}"),
    "square": (lambda a, k: f"{a[0]} * {a[0]}", lambda a, k: f"{a[0]} ** 2"),
    "sin": (lambda a, k: f"tl.sin({a[0]})", lambda a, k: f"sin({a[0]})"),
    "cos": (lambda a, k: f"tl.cos({a[0]})", lambda a, k: f"cos({a[0]})"),
    "erf": (lambda a, k: f"tl.math.erf({a[0]})", lambda a, k: f"erf({a[0]})"),
    "sign": (lambda a, k: f"tl.where({a[0]} > 0, 1.0, tl.where({a[0]} < 0, -1.0, 0.0))", lambda a, k: f"sign({a[0]})"),
    "gelu": (lambda a, k: GELU_ERF.format(x=a[0]), lambda a, k: f"gelu({a[0]})"),
    "gelu_tanh": (lambda a, k: GELU_TANH.format(x=a[0]), lambda a, k: f"gelu_tanh({a[0]})"),
    "silu": (lambda a, k: f"{a[0]} * tl.sigmoid({a[0]})", lambda a, k: f"silu({a[0]})"),
    "mish": (lambda a, k: f"{a[0]} * _tanh({_softplus(a[0])})", lambda a, k: f"mish({a[0]})"),
    "hardswish": (lambda a, k: f"{a[0]} * tl.minimum(tl.maximum({a[0]} + 3.0, 0.0), 6.0) / 6.0", lambda a, k: f"hardswish({a[0]})"),
    "hardsigmoid": (lambda a, k: f"tl.minimum(tl.maximum({a[0]} + 3.0, 0.0), 6.0) / 6.0", lambda a, k: f"hardsigmoid({a[0]})"),
    "softsign": (lambda a, k: f"{a[0]} / (1.0 + tl.abs({a[0]}))", lambda a, k: f"softsign({a[0]})"),
    "softplus": (lambda a, k: _softplus(a[0], k["beta"], k["threshold"]), lambda a, k: f"softplus({a[0]})"),
    "leaky_relu": (lambda a, k: f"tl.where({a[0]} > 0, {a[0]}, {a[0]} * {lit(k['slope'])})", lambda a, k: f"leaky_relu({a[0]}, {num(k['slope'])})"),
    "elu": (lambda a, k: f"tl.where({a[0]} > 0, {a[0]}, {lit(k['alpha'])} * (tl.exp({a[0]}) - 1.0))", lambda a, k: f"elu({a[0]})"),
    "celu": (
        lambda a, k: f"tl.where({a[0]} > 0, {a[0]}, {lit(k['alpha'])} * (tl.exp({a[0]} / {lit(k['alpha'])}) - 1.0))",
        lambda a, k: f"celu({a[0]})",
    ),
    "selu": (
        lambda a, k: f"1.0507009873554805 * tl.where({a[0]} > 0, {a[0]}, 1.6732632423543772 * (tl.exp({a[0]}) - 1.0))",
        lambda a, k: f"selu({a[0]})",
    ),
    "threshold": (
        lambda a, k: f"tl.where({a[0]} > {lit(k['threshold'])}, {a[0]}, {lit(k['value'])})",
        lambda a, k: f"threshold({a[0]})",
    ),
    "clamp": (lambda a, k: _clamp(a[0], k.get("lo"), k.get("hi")), lambda a, k: f"clamp({a[0]}, {_opt(k.get('lo'))}, {_opt(k.get('hi'))})"),
    "cast": (lambda a, k: _cast(a[0], k["dtype"]), lambda a, k: f"{a[0]}.to({str(k['dtype']).replace('torch.', '')})"),
}

def _opt(v: Any) -> str:
    return "None" if v is None else num(v)


_NEEDS_SCALAR = {"leaky_relu": ("slope",), "elu": ("alpha",), "celu": ("alpha",), "softplus": ("beta", "threshold"),
                 "threshold": ("threshold", "value"), "pow_scalar": ("p",), "rpow": ("base",)}


class UnsupportedOp(Exception):
    pass


def check_pw(op: str, attrs: dict[str, Any]) -> None:
    """Reject element-wise ops we cannot express, and attributes that are not plain numbers."""
    if op not in PW:
        raise UnsupportedOp(f"element-wise op `{op}`")
    for key in _NEEDS_SCALAR.get(op, ()):
        if not _scalar(attrs.get(key), runtime=op not in ("pow_scalar", "rpow")):
            raise UnsupportedOp(f"`{op}` with a non-constant {key}")
    if op == "clamp":
        for key in ("lo", "hi"):
            if attrs.get(key) is not None and not _scalar(attrs[key]):
                raise UnsupportedOp(f"`clamp` with a non-constant {key}")
    if op == "cast" and str(attrs.get("dtype")).replace("torch.", "") not in ("float32", "float16", "bfloat16", "bool", "float64"):
        raise UnsupportedOp(f"cast to {attrs.get('dtype')}")


def _scalar(v: Any, runtime: bool = True) -> bool:
    """A number, or (where the formula allows it) a Python value of forward passed to the kernel."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return True
    return runtime and getattr(v, "kind", None) == "py"


def triton_expr(op: str, args: list[str], attrs: dict[str, Any]) -> str:
    return PW[op][0](args, attrs)


def formula(op: str, args: list[str], attrs: dict[str, Any]) -> str:
    return PW[op][1](args, attrs)
