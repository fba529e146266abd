"""Lower calls of nn.* leaf modules (Linear, LayerNorm, Softmax, activations, ...) (runs in the torch worker).

A module's constructor arguments are read from `self.<path>` in forward, so a ModelNew built with other
arguments computes with them (numeric attributes become run-time values) or, where they decide
structure (a softmax dim, GELU's approximation), raises instead of computing something else (guards).
"""

from __future__ import annotations

from typing import Any

import torch.nn as nn

from ..ir import Guard, Node
from .builder import Args, Builder
from .matmul import gemm
from .norms import group_norm, layer_norm, rms_norm, softmax
from .views import view_method


def lower_module(b: Builder, mod: nn.Module, path: str, args: tuple, kwargs: dict) -> Any:
    """The IR for `self.<path>(*args, **kwargs)`; raises Unsupported for modules outside the library."""
    x = args[0] if args else kwargs.get("input")
    kind = type(mod).__name__
    p = f"self.{path}"

    def at(name: str) -> Node:
        return b.mod_attr(path, name)

    if isinstance(mod, (nn.Identity,)):
        return x
    if isinstance(mod, nn.Dropout):
        if mod.p == 0 or not mod.training:
            # The kernel is the identity: forward refuses a module that would really drop.
            b.guards.append(Guard(f"{p}.training and " + "{0} != 0", [at("p")], "{0} == 0 or eval mode"))
            return x
        raise b.unsupported(f"nn.Dropout in training mode ({p}); call model.eval() or use p=0")
    if isinstance(mod, nn.Linear):
        w = b.param(f"{path}.weight")
        y = gemm(b, "linear", x, w, label="linear")
        if mod.bias is not None:
            y = b.pw("add", y, b.param(f"{path}.bias"), label="linear")
        return y
    if isinstance(mod, nn.Flatten):
        return view_method(b, "flatten", Args((x, at("start_dim"), at("end_dim")), {}))
    if isinstance(mod, (nn.Softmax, nn.LogSoftmax)):
        return softmax(b, x, at("dim"), log=isinstance(mod, nn.LogSoftmax))
    if isinstance(mod, nn.LayerNorm) or kind == "RMSNorm":
        k = b.static(b.attr(f"len({p}.normalized_shape)", len(mod.normalized_shape)))
        w = b.optional_param(path, "weight")
        if kind == "RMSNorm":
            eps = b.static(at("eps")) if mod.eps is None else at("eps")
            return rms_norm(b, x, k, w, eps)
        return layer_norm(b, x, k, w, b.optional_param(path, "bias"), at("eps"))
    if isinstance(mod, nn.GroupNorm):
        affine = b.static(at("affine"))
        w = b.param(f"{path}.weight") if affine else None
        bias = b.param(f"{path}.bias") if affine else None
        return group_norm(b, x, at("num_groups"), w, bias, at("eps"))
    if isinstance(mod, nn.GELU):
        approx = b.static(at("approximate"))
        return b.pw("gelu_tanh" if approx == "tanh" else "gelu", x, label="gelu")
    act = _activation(mod)
    if act is not None:
        op, attrs = act
        return b.pw(op, x, label=op, **{k: at(v) if isinstance(v, str) else v for k, v in attrs.items()})
    raise b.unsupported(f"nn.{kind} ({p})")


def _activation(mod: nn.Module) -> tuple[str, dict] | None:
    """(op, attrs) for an nn.* activation; a str attr names the module attribute forward reads."""
    simple = {
        nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "silu", nn.Mish: "mish", nn.Hardswish: "hardswish",
        nn.Hardsigmoid: "hardsigmoid", nn.Softsign: "softsign", nn.SELU: "selu", nn.Tanhshrink: "tanhshrink",
        nn.LogSigmoid: "logsigmoid",
    }
    for cls, op in simple.items():
        if type(mod) is cls:
            return op, {}
    if isinstance(mod, nn.ReLU6):
        return "clamp", {"lo": 0.0, "hi": 6.0}
    scalars = {
        nn.LeakyReLU: ("leaky_relu", {"slope": "negative_slope"}),
        nn.ELU: ("elu", {"alpha": "alpha"}),
        nn.CELU: ("celu", {"alpha": "alpha"}),
        nn.Hardtanh: ("clamp", {"lo": "min_val", "hi": "max_val"}),
        nn.Softplus: ("softplus", {"beta": "beta", "threshold": "threshold"}),
        nn.Threshold: ("threshold", {"threshold": "threshold", "value": "value"}),
    }
    for cls, (op, attrs) in scalars.items():
        if isinstance(mod, cls):
            return op, dict(attrs)
    return None
