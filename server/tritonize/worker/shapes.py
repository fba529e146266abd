"""Shape families: the recipe's inputs at other sizes of the dimensions a user varies (batch, sequence,
image size), so a kernel that is right only for the recipe's one shape is known for what it is.

Runs in the torch worker (the verifier, and the Inductor capture that marks these dimensions dynamic).

- **Which dimensions.** A problem may say: `get_dynamic_dims()` returns one entry per input of
  `get_inputs()`: a sequence of names, one per dimension of that tensor (None for a fixed one), or None
  for an input with nothing dynamic. Dimensions that share a name take the same size together
  (`[["batch", "seq", None], ["batch", "seq"]]`: x[B, S, D] and mask[B, S]). An empty list means the
  problem has no dynamic dimension. Otherwise the defaults: "batch" is dimension 0 of every tensor whose
  dimension 0 has the first tensor's size; "seq" the middle dimension of a rank-3 tensor (B, S, D);
  "spatial" the trailing dimensions of a rank-4/5 tensor (N, C, H, W); each default group ties every
  other dimension of the same size too (a mask's S; never the channels of an N, C, ... tensor), and falls back to the one dimension alone when the
  module rejects the tied sizes.
- **Which sizes.** 1, an odd size (no kernel block divides it), half, and double where the inputs stay
  small; at most `MAX_VARIANTS` in all.
- **Which variants run.** Those the module itself accepts: checked once per problem on the meta device
  (shapes only, no data, no GPU memory; a module that cannot run on meta is checked on the real device
  before any candidate code is loaded). A variant the module rejects is "skipped", not held against a
  candidate.
- **The inputs.** A fresh draw of the recipe under a new seed, cut to the smaller size along the group's
  dimensions (the leading part: a causal mask stays causal), or grown by repeating randomly chosen
  indices of it. Values are new: a candidate cannot answer from outputs it saw before.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .errors import RecipeError, exc_line

DYNAMIC_DIMS = "get_dynamic_dims"
MAX_VARIANTS = 6
GROW_BYTES = 256 << 20  # a variant may be larger than the recipe's inputs only while it stays under this
MAX_EXTRA_GROUPS = 2  # dynamic groups besides "batch" tried by default


@dataclass(frozen=True)
class DimGroup:
    """Dimensions that take one size together: (input index, dimension) pairs."""

    name: str
    members: tuple[tuple[int, int], ...]
    size: int  # the recipe's size

    def describe(self) -> str:
        where = ", ".join(f"input{i}.{d}" for i, d in self.members)
        return f"{self.name}: {where} (recipe {self.size})"


@dataclass(frozen=True)
class Variant:
    group: DimGroup
    size: int

    @property
    def label(self) -> str:
        return f"{self.group.name}={self.size}"


@dataclass
class ShapePlan:
    """What a problem's candidates are run on: the groups the module accepts at other sizes, their
    variants, and what was skipped and why."""

    groups: list[DimGroup] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    declared: bool = False
    checked_on: str = "meta"  # meta | device | none


# ---- which dimensions --------------------------------------------------------------------------------


def declared_dims(module: Any, inputs: Sequence[Any]) -> list[list[DimGroup]] | None:
    """The problem's own `get_dynamic_dims()` as one choice per group (a group has no fallback then);
    None when the problem does not define it. RecipeError when it is malformed."""
    fn = getattr(module, DYNAMIC_DIMS, None)
    if fn is None:
        return None
    if not callable(fn):
        raise RecipeError(f"{DYNAMIC_DIMS} is not a function")
    try:
        spec = fn()
    except Exception as e:
        raise RecipeError(f"{DYNAMIC_DIMS}() raised {exc_line(e)}") from None
    if spec is None:
        return []
    if not isinstance(spec, (list, tuple)) or len(spec) > len(inputs):
        raise RecipeError(f"{DYNAMIC_DIMS}() must return a list with one entry per input of get_inputs() "
                          f"({len(inputs)}), got {spec!r}")
    members: dict[str, list[tuple[int, int]]] = {}
    for i, entry in enumerate(spec):
        if entry is None:
            continue
        x = inputs[i]
        if not isinstance(x, torch.Tensor) or not isinstance(entry, (list, tuple)) or len(entry) != x.dim():
            shape = f"a tensor of rank {x.dim()}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise RecipeError(f"{DYNAMIC_DIMS}()[{i}] must name each dimension of input {i} ({shape}) "
                              f"or be None, got {entry!r}")
        for d, name in enumerate(entry):
            if name is None:
                continue
            if not isinstance(name, str) or not name:
                raise RecipeError(f"{DYNAMIC_DIMS}()[{i}][{d}] must be a name or None, got {name!r}")
            members.setdefault(name, []).append((i, d))
    groups: list[list[DimGroup]] = []
    for name, dims in members.items():
        sizes = {int(inputs[i].shape[d]) for i, d in dims}
        if len(sizes) != 1:
            raise RecipeError(f"{DYNAMIC_DIMS}() names dimensions of different sizes {sorted(sizes)} '{name}'")
        groups.append([DimGroup(name, tuple(dims), sizes.pop())])
    return groups


def default_dims(inputs: Sequence[Any]) -> list[list[DimGroup]]:
    """The default dynamic groups, each a list of choices: the tied dimensions first, then the seed
    dimension(s) alone (the first choice the module accepts is used)."""
    ts = [(i, x) for i, x in enumerate(inputs) if isinstance(x, torch.Tensor) and x.dim() >= 1]
    if not ts:
        return []
    out: list[list[DimGroup]] = []
    first_i, first = ts[0]
    b = int(first.shape[0])
    tied = tuple((i, 0) for i, x in ts if int(x.shape[0]) == b)
    out.append(_choices("batch", tied, ((first_i, 0),), b))
    used = set(tied)
    seen_sizes: set[int] = set()
    extra = 0
    for i, x in ts:
        if x.dim() == 3:
            seeds, name = [1], "seq"
        elif x.dim() in (4, 5):
            seeds, name = list(range(2, x.dim())), "spatial"
        else:
            continue
        for d in seeds:
            size = int(x.shape[d])
            if (i, d) in used or size in seen_sizes or size == b:
                continue
            seen_sizes.add(size)
            same = tuple((j, e) for j, y in ts for e in range(1, y.dim())
                         if int(y.shape[e]) == size and (j, e) not in used and not (e == 1 and y.dim() >= 4))
            own = tuple((i, e) for e in seeds if int(x.shape[e]) == size)  # H and W of a square image together
            used.update(same)
            out.append(_choices(name if extra == 0 else f"{name}{extra + 1}", same, own, size))
            extra += 1
            if extra >= MAX_EXTRA_GROUPS:
                return out
    return out


def _choices(name: str, tied: tuple[tuple[int, int], ...], alone: tuple[tuple[int, int], ...],
             size: int) -> list[DimGroup]:
    first = DimGroup(name, tied, size)
    return [first] if set(tied) == set(alone) else [first, DimGroup(name, alone, size)]


# ---- which sizes -------------------------------------------------------------------------------------


def sizes_for(size: int, grow: bool) -> list[int]:
    """1, an odd size, half, double (when `grow`); never the recipe's own size."""
    odd = 3 if size <= 2 else (size - 1 if size % 2 == 0 else size - 2)
    out = [1, odd]
    if size >= 4:
        out.append(size // 2)
    if grow:
        out.append(2 * size)
    return [s for s in dict.fromkeys(out) if s != size and s >= 1]


def variant_shape(shape: Sequence[int], index: int, variant: Variant) -> list[int]:
    new = list(shape)
    for i, d in variant.group.members:
        if i == index:
            new[d] = variant.size
    return new


def variant_bytes(inputs: Sequence[Any], variant: Variant) -> int:
    total = 0
    for i, x in enumerate(inputs):
        if isinstance(x, torch.Tensor):
            n = 1
            for s in variant_shape(x.shape, i, variant):
                n *= s
            total += n * x.element_size()
    return total


def candidate_variants(groups: list[DimGroup], inputs: Sequence[Any]) -> list[Variant]:
    """At most MAX_VARIANTS, batch sizes first, then one or two per other group."""
    recipe_bytes = sum(x.numel() * x.element_size() for x in inputs if isinstance(x, torch.Tensor))
    per_group: list[list[Variant]] = []
    for g in groups:
        grow_ok = variant_bytes(inputs, Variant(g, 2 * g.size)) <= max(GROW_BYTES, recipe_bytes)
        per_group.append([Variant(g, s) for s in sizes_for(g.size, grow_ok)])
    out: list[Variant] = []
    # round robin: every group gets its most telling sizes (odd, then 1) before any gets a third
    order = [[v for v in vs if v.size % 2 == 1 and v.size != 1] + [v for v in vs if v.size == 1]
             + [v for v in vs if v.size % 2 == 0] for vs in per_group]
    for tier in itertools.zip_longest(*order):
        for v in tier:
            if v is not None and len(out) < MAX_VARIANTS:
                out.append(v)
    return out


# ---- which variants the module accepts ---------------------------------------------------------------


def plan(model_cls: type, init: list, inputs: Sequence[Any], module: Any,
         run_on_device: Callable[[list], str | None] | None = None) -> ShapePlan:
    """The shape plan of a problem: its dynamic groups (declared or default), the first choice of each
    that the module accepts, and the variants. `run_on_device(inputs)` runs the reference on real inputs
    and returns why it failed (None: it ran); it is used only when the module cannot run on meta."""
    declared = declared_dims(module, inputs)
    choices = declared if declared is not None else default_dims(inputs)
    result = ShapePlan(declared=declared is not None)
    if not choices:
        result.checked_on = "none"
        return result
    accepts = _meta_check(model_cls, init)
    if accepts(list(inputs), None) is not None:  # the recipe's own shapes do not run on meta
        if run_on_device is None:
            result.checked_on = "none"
            result.skipped.append("the module does not run on the meta device")
            return result
        result.checked_on = "device"

        def accepts(real: list, variant: Variant | None) -> str | None:
            return run_on_device(variant_inputs(real, variant, torch.Generator(device="cpu").manual_seed(0))
                                 if variant is not None else real)
    for options in choices:
        chosen = None
        for group in options:
            probe = candidate_variants([group], inputs)
            if probe and accepts(list(inputs), probe[0]) is None:
                chosen = group
                break
        if chosen is None:
            result.skipped.append(f"{options[0].name} (the module rejects other sizes)")
            continue
        result.groups.append(chosen)
    for v in candidate_variants(result.groups, inputs):
        why = accepts(list(inputs), v)
        if why is None:
            result.variants.append(v)
        else:
            result.skipped.append(f"{v.label} (the module raises: {why})")
    return result


def _meta_check(model_cls: type, init: list) -> Callable[[list, Variant | None], str | None]:
    model: list[Any] = []

    def accepts(inputs: list, variant: Variant | None) -> str | None:
        try:
            if not model:
                with torch.device("meta"):
                    model.append(model_cls(*copy.deepcopy(init)))
            meta = [torch.empty(variant_shape(x.shape, i, variant) if variant else list(x.shape), dtype=x.dtype,
                                device="meta") if isinstance(x, torch.Tensor) else x for i, x in enumerate(inputs)]
            with torch.no_grad():
                model[0](*meta)
        except Exception as e:  # noqa: BLE001 - any failure means "not this shape"
            return exc_line(e)
        return None

    return accepts


# ---- the inputs --------------------------------------------------------------------------------------


def variant_inputs(fresh: list, variant: Variant | None, gen: torch.Generator) -> list:
    """`fresh` (a new draw of the recipe) at the variant's sizes: the leading part along each of the
    group's dimensions, or grown by repeating randomly chosen indices (the same indices for every
    member, so tied dimensions stay aligned)."""
    if variant is None:
        return fresh
    size, old = variant.size, variant.group.size
    if size <= old:
        index = None
    else:
        extra = torch.randint(0, old, (size - old,), generator=gen)
        index = torch.cat([torch.arange(old), extra])
    out = list(fresh)
    for i, d in variant.group.members:
        x = out[i]
        if index is None:
            out[i] = x.narrow(d, 0, size).contiguous()
        else:
            out[i] = x.index_select(d, index.to(x.device)).contiguous()
    return out
