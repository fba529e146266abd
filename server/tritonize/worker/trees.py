"""Nested inputs and outputs (tensors inside lists, tuples and dicts): walk, copy, move, describe."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import torch


def tree_map(fn: Callable[[Any], Any], obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, (list, tuple)):
        mapped = [tree_map(fn, o) for o in obj]
        return type(obj)(mapped) if isinstance(obj, list) else tuple(mapped)
    if isinstance(obj, dict):
        return {k: tree_map(fn, v) for k, v in obj.items()}
    return obj


def tensors(obj: Any, prefix: str = "out") -> Iterator[tuple[str, torch.Tensor]]:
    """(`out[0]`-style name, tensor) for every tensor in a nested output."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, (list, tuple)):
        for i, o in enumerate(obj):
            yield from tensors(o, f"{prefix}[{i}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from tensors(v, f"{prefix}[{k!r}]")


def describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"{str(x.dtype).replace('torch.', '')}[{', '.join(str(s) for s in x.shape)}]"
    text = f"{type(x).__name__} {x!r}"
    return text if len(text) <= 40 else text[:37] + "..."


def to_device(obj: Any, device: torch.device) -> Any:
    return tree_map(lambda t: t.to(device), obj)


def clone_tree(obj: Any) -> Any:
    """An equal, independent copy (tensors cloned with their strides, other values deep-copied)."""
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, (list, tuple, dict)):
        return tree_map(lambda t: t.clone(), obj) if _only_tensors(obj) else copy.deepcopy(obj)
    return copy.deepcopy(obj)


def _only_tensors(obj: Any) -> bool:
    if isinstance(obj, torch.Tensor):
        return True
    if isinstance(obj, (list, tuple)):
        return all(_only_tensors(o) for o in obj)
    if isinstance(obj, dict):
        return all(_only_tensors(o) for o in obj.values())
    return isinstance(obj, (int, float, bool, str, type(None)))


def nbytes(obj: Any) -> int:
    return sum(t.numel() * t.element_size() for _, t in tensors(obj))
