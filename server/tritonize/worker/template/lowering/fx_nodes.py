"""What the lowering reads off an fx node besides its arguments: the called name, a label, a bound
argument, whether its value is a tensor. Runs in the torch worker."""

from __future__ import annotations

import builtins
import inspect
import operator
import re
from typing import Any

import torch
import torch.fx as fx


def fn_name(target: Any) -> str:
    """The name a call_function target is dispatched under (`operator.getitem` → "getitem")."""
    name = getattr(target, "__name__", str(target))
    if target is operator.getitem:
        return "getitem"
    if target is builtins.getattr:
        return "getattr"
    return name


def label_of(n: fx.Node) -> str:
    """A default label for the IR nodes made from `n` (kernel names are built from labels)."""
    if n.op == "call_module":
        return _snake(n.target.split(".")[-1])
    name = n.target if isinstance(n.target, str) else fn_name(n.target)
    return name.strip("_").replace("true", "").strip("_") or "op"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def bound_arg(n: fx.Node, name: str) -> Any:
    """An argument of a call_function node by parameter name (`F.relu(x, True)` → inplace=True)."""
    try:
        return inspect.signature(n.target).bind(*n.args, **n.kwargs).arguments.get(name)
    except (TypeError, ValueError):
        return n.kwargs.get(name)


def holds_tensor(val: Any) -> bool:
    """A tensor or a tuple/list with one (torch.max(x, dim)); anything else is a Python value."""
    if isinstance(val, torch.Tensor):
        return True
    return isinstance(val, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in val)
