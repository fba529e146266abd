"""Stress input families: the recipe's inputs bent into the shapes of data that `randn` never makes.

Runs in the torch worker. A kernel written by a model is often right on random normal inputs and
wrong on real data: a layer norm without `eps` divides by zero on a constant row, a softmax without
the max subtraction overflows on logits above ~88, a variance taken as E[x²] − E[x]² cancels away
under a large common offset. Each family below maps every floating-point input tensor of one seed's
inputs to a new tensor (integer and boolean inputs, such as class indices, are left as they are);
the candidate and the reference both run on the result and are compared as on the seeds. A family
that changes nothing (no floating-point input, or a shape it does not apply to) is not run; one
that makes the reference itself raise or return NaN/Inf is skipped and listed in the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

LARGE_OFFSET = 100.0  # fp32 keeps ~5 significant digits of randn data on top of this; fp16 still fits


def _scale(factor: float) -> Callable[[torch.Tensor], torch.Tensor | None]:
    return lambda x: x * factor


def _constant_rows(x: torch.Tensor) -> torch.Tensor | None:
    """Every row (the last dimension) holds one value: zero variance, ties everywhere."""
    if x.dim() == 0 or x.shape[-1] < 2:
        return None
    return x[..., :1].expand_as(x).contiguous()


def _constant_channels(x: torch.Tensor) -> torch.Tensor | None:
    """Every (sample, channel) plane of an N, C, ... tensor holds one value (a constant image)."""
    if x.dim() < 3 or x[0, 0].numel() < 2:
        return None
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    return flat[..., :1].expand_as(flat).reshape(x.shape).contiguous()


def _offset(x: torch.Tensor) -> torch.Tensor | None:
    return x + LARGE_OFFSET


def _negative(x: torch.Tensor) -> torch.Tensor | None:
    return -x.abs()


def _zeros(x: torch.Tensor) -> torch.Tensor | None:
    return torch.zeros_like(x)


@dataclass(frozen=True)
class Family:
    name: str  # as the failure message says it: "fails on constant rows: ..."
    transform: Callable[[torch.Tensor], torch.Tensor | None]


FAMILIES: tuple[Family, ...] = (
    Family("inputs scaled ×100", _scale(100.0)),
    Family("inputs scaled ×1e-3", _scale(1e-3)),
    Family("constant rows", _constant_rows),
    Family("constant channels", _constant_channels),
    Family(f"a large common offset (+{LARGE_OFFSET:g})", _offset),
    Family("all-negative inputs", _negative),
    Family("all zeros", _zeros),
)


def apply(family: Family, inputs: Any) -> Any | None:
    """`inputs` (a list/tuple/dict tree of tensors and other values) with the family's transform
    applied to each floating-point tensor; None when the family changes nothing."""
    changed = False

    def visit(obj: Any) -> Any:
        nonlocal changed
        if isinstance(obj, torch.Tensor):
            if not obj.is_floating_point() or obj.numel() == 0:
                return obj
            with torch.no_grad():
                new = family.transform(obj.detach())
            if new is None:
                return obj
            changed = True
            return new.to(obj.dtype).requires_grad_(obj.requires_grad)
        if isinstance(obj, (list, tuple)):
            items = [visit(o) for o in obj]
            return type(obj)(items) if isinstance(obj, list) else tuple(items)
        if isinstance(obj, dict):
            return {k: visit(v) for k, v in obj.items()}
        return obj

    out = visit(inputs)
    return out if changed else None
