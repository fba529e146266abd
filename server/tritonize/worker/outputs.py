"""What a candidate hands back must be plain data before the verifier touches it.

A `torch.Tensor` subclass runs its own `__torch_function__` (or plain Python method overrides such as
`to()` and `detach()`) whenever the verifier compares it with the reference, with the reference in
hand: it can make wrong numbers compare equal, compute the answer lazily with torch after the recorder
stopped, or start a process outside the guard. A list subclass can do the same from `__iter__`. Even
an exact tensor can carry instance attributes that shadow its methods (`out.to = ...`).

So, before any comparison: every output must be an exact `torch.Tensor` (strided), or an exact tuple,
list or dict (string keys) of such, or a plain scalar; anything else is a `cheat`. The type test uses
`type(x) is ...` only (isinstance may consult a candidate's `__class__`), and each tensor is replaced by
a fresh alias of the same memory (`Tensor.detach` called through the class) that carries none of the
candidate's attributes. Nothing here runs candidate code.
"""

from __future__ import annotations

from typing import Any

import torch

from .errors import Verdict

MAX_DEPTH = 16  # nesting deeper than any real model output (and cyclic lists)
SCALARS = (int, float, bool, complex, str, type(None))


def plain(obj: Any, name: str = "out", what: str = "ModelNew.forward returned") -> Any:
    """`obj` with every tensor re-aliased, or Verdict('cheat') naming the first thing that is not
    plain data."""
    return _plain(obj, name, what, 0)


def _plain(obj: Any, name: str, what: str, depth: int) -> Any:
    kind = type(obj)
    if kind is torch.Tensor:
        if obj.layout != torch.strided:
            raise Verdict("cheat", f"{name} is not a plain tensor: {what} a {obj.layout} tensor")
        return torch.Tensor.detach(obj)
    if depth >= MAX_DEPTH:
        raise Verdict("cheat", f"{name} is not a plain tensor: {what} containers nested {MAX_DEPTH} deep")
    if kind is tuple or kind is list:
        items = [_plain(o, f"{name}[{i}]", what, depth + 1) for i, o in enumerate(obj)]
        return items if kind is list else tuple(items)
    if kind is dict:
        out = {}
        for key, value in obj.items():
            if type(key) is not str:
                raise Verdict("cheat", f"{name} is not a plain tensor: {what} a dict with a {type_name(key)} key")
            out[key] = _plain(value, f"{name}[{key!r}]", what, depth + 1)
        return out
    if kind in SCALARS:
        return obj
    raise Verdict("cheat", f"{name} is not a plain tensor: {what} {describe_type(obj)}")


def describe_type(obj: Any) -> str:
    """"an object of type Agreeable (a torch.Tensor subclass)", without touching the object's own
    attributes."""
    kind = type(obj)
    text = f"an object of type {type_name(obj)}"
    for base, label in ((torch.Tensor, "torch.Tensor"), (list, "list"), (tuple, "tuple"), (dict, "dict")):
        if issubclass(kind, base):
            return f"{text} (a {label} subclass)"
    return text


def type_name(obj: Any) -> str:
    """The class name from the type's own slot: a metaclass may define `__name__` as a property."""
    return type.__dict__["__name__"].__get__(type(obj))


def inputs_as_left(pristine: Any, given: Any, name: str = "input") -> Any:
    """The inputs after a call, re-aliased like outputs: wherever the recipe gave a tensor, the
    candidate's copy must still be an exact tensor (`x.__class__ = Subclass` would make the mutation
    check run its code). Other values are the recipe's own and are returned as they were."""
    if type(pristine) is torch.Tensor:
        return plain(given, name, "ModelNew.forward left")
    if type(pristine) in (list, tuple) and type(given) is type(pristine) and len(given) == len(pristine):
        items = [inputs_as_left(p, g, f"{name}[{i}]") for i, (p, g) in enumerate(zip(pristine, given, strict=True))]
        return items if type(pristine) is list else tuple(items)
    return pristine
