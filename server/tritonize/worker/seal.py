"""The reference's weights, sealed: a private copy of its parameters and buffers taken before any
candidate code runs, compared with the live ones after every step of candidate code.

A candidate never gets the reference's own tensors (load_state_dict receives a deep copy), but it may
find another way to them (a global module hook, a pre-hook that expected shared storage): zeroing the
reference's weights and then returning zeros would pass every comparison. Equality is exact
(`torch.equal`, NaN equal to NaN through a bitwise view). The copy handed to load_state_dict is checked
too: a candidate that writes into the weights it was given is after the reference's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


def tensors_of(model: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    """(name, tensor) of the model's parameters and buffers, read without running its code: the
    reference's own `named_parameters` is trusted, but this runs on the copy a candidate saw too."""
    out = [(f"parameter {n}", p) for n, p in model.named_parameters(remove_duplicate=False)]
    return out + [(f"buffer {n}", b) for n, b in model.named_buffers(remove_duplicate=False) if b is not None]


class Seal:
    """A copy of the reference's parameters and buffers to compare against."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.kept: dict[str, torch.Tensor] = {}
        self.given: list[tuple[str, torch.Tensor]] = []  # (state_dict key, tensor) handed to load_state_dict
        self.renew()

    def renew(self) -> None:
        """Take the copy again: after the reference's own forward (BatchNorm running statistics)."""
        self.kept = {name: t.detach().clone() for name, t in tensors_of(self.model)}

    def hand_over(self, state: dict[str, Any]) -> None:
        """Also watch the state dict given to the candidate (its entries start equal to the reference)."""
        self.given = [(k, v) for k, v in state.items() if type(k) is str and type(v) is torch.Tensor]

    def broken(self) -> str | None:
        """The first reference tensor (or handed-over copy) that is not what it was, or None."""
        live = tensors_of(self.model)
        if [n for n, _ in live] != list(self.kept):
            return "the reference's list of parameters and buffers"
        for name, t in live:
            if not _identical(self.kept[name], t):
                return f"the reference's {name}"
        by_key = {name.split(" ", 1)[1]: t for name, t in self.kept.items()}
        for key, t in self.given:
            ref = by_key.get(key)
            if ref is not None and not _identical(ref, t):
                return f"the weights handed to load_state_dict ({key!r}, a copy of the reference's)"
        return None


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(torch.equal(_bits(a), _bits(b)))
    return bool(torch.equal(a, b))


def _bits(t: torch.Tensor) -> torch.Tensor:
    """The raw bits, so NaN compares equal to the same NaN."""
    t = t.detach().contiguous()
    size = t.element_size()
    kind = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}.get(size)
    return t.view(kind) if kind is not None else t.view(torch.uint8)


def unchanged(seals: Iterable[Seal]) -> str | None:
    for seal in seals:
        broken = seal.broken()
        if broken is not None:
            return broken
    return None
