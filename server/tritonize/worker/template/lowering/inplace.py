"""Functionalise in-place ops (`add_`, `relu_()`, `x += y`, `inplace=True`) (runs in the torch worker).

The op is lowered out of place; afterwards every later read of the mutated tensor, and of earlier
in-place results aliasing it, sees the new value. Writes the caller would see (to a forward argument,
a parameter or a buffer) and writes to a tensor another view of which is read later are refused:
kernels that return new tensors would silently change what the caller observes.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from ..ir import Node, Unsupported
from .builder import Builder
from .fx_nodes import bound_arg, fn_name

_INPLACE_OPERATORS = {operator.iadd, operator.isub, operator.imul, operator.itruediv, operator.iand, operator.ior}


class Functionaliser:
    """Tracks which fx values alias a mutated tensor while the lowering walks the graph in order."""

    def __init__(self, b: Builder, model: nn.Module, values: dict[fx.Node, Any], order: dict[fx.Node, int]):
        self.b = b
        self.model = model
        self.values = values  # every fx node's concrete result, from the recorded run
        self.order = order  # fx node → position in the graph
        self.aliases: dict[fx.Node, fx.Node] = {}  # an in-place result → the tensor it mutated

    def target(self, n: fx.Node) -> fx.Node | None:
        """The tensor `n` writes to when it is an in-place op (`add_`, `relu_`, `inplace=True`, `x += y`)."""
        if n.op == "call_method":
            inplace = n.target.endswith("_") and not n.target.endswith("__")
        elif n.op == "call_function":
            inplace = n.target in _INPLACE_OPERATORS or (fn_name(n.target).endswith("_") and not fn_name(n.target).endswith("__"))
            inplace = inplace or bound_arg(n, "inplace") is True
        elif n.op == "call_module":
            inplace = getattr(self.model.get_submodule(n.target), "inplace", False) is True
        else:
            inplace = False
        target = (n.args[0] if n.args else n.kwargs.get("input")) if inplace else None
        if not isinstance(target, fx.Node) or not isinstance(self.values.get(target), torch.Tensor):
            return None
        self._check_mutation(n, target)
        return target

    def _check_mutation(self, n: fx.Node, target: fx.Node) -> None:
        storage = _storage(self.values[target])
        here = f" at {self.b.here()}" if self.b.here() else ""
        root = self.alias_root(target)
        for other, v in self.values.items():
            if self.order.get(other, len(self.order)) >= self.order[n] or not isinstance(v, torch.Tensor) or _storage(v) != storage:
                continue
            if other.op == "placeholder":
                raise Unsupported(f"forward mutates its input {other.target} in place{here}; not supported")
            if other.op == "get_attr":
                raise Unsupported(f"forward mutates self.{other.target} in place{here}; not supported")
            if other is target or self.alias_root(other) is root:
                continue
            if any(self.order[u] > self.order[n] for u in other.users):
                raise Unsupported(f"an in-place op on a tensor whose other view is read later{here}; not supported")

    def alias_root(self, n: fx.Node) -> fx.Node:
        while n in self.aliases:
            n = self.aliases[n]
        return n

    def rebind(self, n: fx.Node, target: fx.Node, env: dict[fx.Node, Any]) -> None:
        """After `x.relu_()`, every later read of x (or of an earlier in-place result) sees the new value."""
        root = self.alias_root(target)
        self.aliases[n] = root
        result = env[n]
        want = self.values[target].dtype
        if isinstance(result, Node) and result.is_tensor and result.dtype != want:
            result = env[n] = self.b.pw("cast", result, label="cast", dtype=want)  # in-place keeps x's dtype
        for k in [root, *[a for a in self.aliases if self.alias_root(a) is root]]:
            env[k] = result


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr() or id(t)  # empty tensors have no memory to share
