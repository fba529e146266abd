"""Element-wise chains over broadcastable tensors: one program per BLOCK output elements.

Operands are read through per-dimension strides (0 along broadcast dims), so a bias of shape [C]
over [N, C], a [N, 1] column, or a transposed input all work. Operands that are contiguous and of the
output's full shape take the fast path (`<NAME>_CONTIG`), which reads with plain offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fuse import Group
from ..graph import Node
from .common import Emitted, ExprWriter, group_names, out_dtype_expr


@dataclass(frozen=True)
class PointwiseConfig:
    block: int
    num_warps: int

    @property
    def tag(self) -> str:
        return f"block{self.block}_w{self.num_warps}"


# Large blocks for bandwidth on big tensors (H100: 2048-4096 x 4-8 warps), a small one for small ones.
CONFIGS = [PointwiseConfig(1024, 4), PointwiseConfig(2048, 8), PointwiseConfig(4096, 8), PointwiseConfig(512, 4)]


def emit_pointwise(group: Group, name: str, forward_names: dict[Node, str], cfg: PointwiseConfig) -> Emitted:
    rank = len(group.domain)
    names = group_names(group, forward_names)
    leaves, scalars, namer = names.leaves, names.scalars, names.namer
    local, scalar_local, formula = names.local, names.scalar_local, names.formula

    body: list[str] = []
    loaded: dict[Node, str] = {}

    def load(leaf: Node, _consumer: Node) -> str:
        if leaf in loaded:
            return loaded[leaf]
        v = local[leaf]
        strided = " + ".join(f"i{d} * {v}_stride_{d}" for d in range(rank)) or "0"
        other = "0" if str(leaf.dtype) == "torch.bool" else "0.0"
        conv = "" if str(leaf.dtype) == "torch.bool" else ".to(tl.float32)"
        body.append(f"    if {v.upper()}_CONTIG:")
        body.append(f"        {v} = tl.load({v}_ptr + offs, mask=mask, other={other})")
        body.append("    else:")
        body.append(f"        {v} = tl.load({v}_ptr + {strided}, mask=mask, other={other})")
        if conv:
            body.append(f"    {v} = {v}{conv}")
        loaded[leaf] = v
        return v

    writer = ExprWriter(namer, scalar_local, load)
    for n in group.nodes:
        writer.pointwise(n, body, "    ")
    result = writer.vars[group.root]

    params = [f"{local[x]}_ptr" for x in leaves] + ["out_ptr", "n_elements"]
    params += [f"size_{d}" for d in range(rank)]
    params += [f"{local[x]}_stride_{d}" for x in leaves for d in range(rank)]
    params += [scalar_local[s] for s in scalars]
    params += [f"{local[x].upper()}_CONTIG: tl.constexpr" for x in leaves] + ["BLOCK: tl.constexpr"]

    coords = ["    # Coordinates of each output element, for broadcast or strided operands."]
    if rank == 1:
        coords.append("    i0 = offs")
    elif rank > 1:
        coords.append("    rest = offs")
        for d in range(rank - 1, 0, -1):
            coords.append(f"    i{d} = rest % size_{d}")
            coords.append(f"    rest = rest // size_{d}")
        coords.append("    i0 = rest")
    else:
        coords = []

    kernel = "\n".join(
        [
            "@triton.jit",
            f"def {name}_kernel(",
            *[f"    {p}," for p in params],
            "):",
            f'    """out = {formula}, element-wise; one program per BLOCK elements."""',
            "    pid = tl.program_id(axis=0)",
            "    offs = pid * BLOCK + tl.arange(0, BLOCK)",
            "    mask = offs < n_elements",
            *coords,
            *body,
            f"    tl.store(out_ptr + offs, {result}.to(out_ptr.dtype.element_ty), mask=mask)",
        ]
    )

    names = [local[x] for x in leaves]
    first = names[0]
    shape_expr = f"torch.broadcast_shapes({', '.join(n + '.shape' for n in names)})" if len(names) > 1 else f"{first}.shape"
    dtype = out_dtype_expr(group.root, leaves, local)
    launch = [f"{x}" for x in names] + ["out", "n_elements", "*shape"]
    launch += [f"*{x}.expand(shape).stride()" for x in names]
    launch += [scalar_local[s] for s in scalars]
    launch += [f"{x.upper()}_CONTIG={x}.shape == shape and {x}.is_contiguous()" for x in names]
    launch += [f"BLOCK={cfg.block}", f"num_warps={cfg.num_warps}"]
    wrapper = "\n".join(
        [
            f"def {name}({', '.join(names + [scalar_local[s] for s in scalars])}):",
            f'    """out = {formula} (launches {name}_kernel; owns the output and the grid)."""',
            f"    shape = {shape_expr}",
            f"    out = torch.empty(shape, device={first}.device, dtype={dtype})",
            "    n_elements = out.numel()",
            f"    grid = (triton.cdiv(n_elements, {cfg.block}),)",
            f"    {name}_kernel[grid](",
            *[f"        {p}," for p in launch],
            "    )",
            "    return out",
        ]
    )
    return Emitted(name, kernel, wrapper, leaves + scalars, uses_tanh=writer.uses_tanh)
