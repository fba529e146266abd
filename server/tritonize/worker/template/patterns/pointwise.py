"""Element-wise chains over broadcastable tensors: one program per BLOCK output elements.

Operands are read through per-dimension strides (0 along broadcast dims), so a bias of shape [C]
over [N, C], a [N, 1] column, or a transposed input all work. Operands that are contiguous and of the
output's full shape take the fast path (`<NAME>_CONTIG`), which reads with plain offsets. When some
operand is broadcast or strided and rows are long, programs are tiled by rows (`ROW_TILED`): the
row's coordinates are then per-program scalars and the columns contiguous, so no per-element
integer division and vector loads for the bias.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fuse import Group
from ..ir import Node
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

    if rank > 1:
        params.insert(params.index("BLOCK: tl.constexpr"), "ROW_TILED: tl.constexpr")
        params.insert(params.index("n_elements") + 1, "n_col_blocks")
        last = rank - 1
        # Row-tiled: a program covers BLOCK columns of one row, so the row's coordinates are scalars (one
        # integer division per program, not per element) and the columns stay contiguous: broadcast and
        # strided operands are read with vector loads. Flat: BLOCK consecutive elements anywhere.
        start = [
            "    if ROW_TILED:",
            "        row = pid // n_col_blocks",
            "        cols = (pid % n_col_blocks) * BLOCK + tl.arange(0, BLOCK)",
            f"        mask = cols < size_{last}",
            f"        offs = row * size_{last} + cols",
            f"        i{last} = cols",
            "        rest = row",
            *[line for d in range(last - 1, 0, -1) for line in (f"        i{d} = rest % size_{d}", f"        rest = rest // size_{d}")],
            "        i0 = rest",
            "    else:",
            "        offs = pid * BLOCK + tl.arange(0, BLOCK)",
            "        mask = offs < n_elements",
            "        # Coordinates of each output element, for broadcast or strided operands.",
            "        rest = offs",
            *[line for d in range(last, 0, -1) for line in (f"        i{d} = rest % size_{d}", f"        rest = rest // size_{d}")],
            "        i0 = rest",
        ]
        one_program = "BLOCK columns of one row, or BLOCK elements"
    else:
        start = ["    offs = pid * BLOCK + tl.arange(0, BLOCK)", "    mask = offs < n_elements"]
        if rank == 1:
            start.append("    i0 = offs")
        one_program = "BLOCK elements"

    kernel = "\n".join(
        [
            "@triton.jit",
            f"def {name}_kernel(",
            *[f"    {p}," for p in params],
            "):",
            f'    """out = {formula}, element-wise; one program per {one_program}."""',
            "    pid = tl.program_id(axis=0)",
            *start,
            *body,
            f"    tl.store(out_ptr + offs, {result}.to(out_ptr.dtype.element_ty), mask=mask)",
        ]
    )

    names = [local[x] for x in leaves]
    first = names[0]
    shape_expr = f"torch.broadcast_shapes({', '.join(n + '.shape' for n in names)})" if len(names) > 1 else f"{first}.shape"
    dtype = out_dtype_expr(group.root, leaves, local)
    launch = [f"{x}" for x in names] + ["out", "n_elements"] + (["n_col_blocks"] if rank > 1 else []) + ["*shape"]
    launch += [f"*{x}.expand(shape).stride()" for x in names]
    launch += [scalar_local[s] for s in scalars]
    launch += [f"{x.upper()}_CONTIG={x.upper()}_CONTIG" for x in names]
    if rank > 1:
        launch += ["ROW_TILED=row_tiled"]
    launch += [f"BLOCK={cfg.block}", f"num_warps={cfg.num_warps}"]
    contig = [f"    {x.upper()}_CONTIG = {x}.shape == shape and {x}.is_contiguous()" for x in names]
    if rank > 1:
        grid = [
            *contig,
            "    # Rows of at least half a block, and an operand that is broadcast or strided: tile by rows.",
            f"    row_tiled = shape[-1] >= {cfg.block // 2} and not ({' and '.join(x.upper() + '_CONTIG' for x in names)})",
            f"    n_col_blocks = triton.cdiv(shape[-1], {cfg.block})",
            "    grid = (n_elements // max(shape[-1], 1) * n_col_blocks,) if row_tiled else "
            f"(triton.cdiv(n_elements, {cfg.block}),)",
        ]
    else:
        grid = [*contig, f"    grid = (triton.cdiv(n_elements, {cfg.block}),)"]
    wrapper = "\n".join(
        [
            f"def {name}({', '.join(names + [scalar_local[s] for s in scalars])}):",
            f'    """out = {formula} (launches {name}_kernel; owns the output and the grid)."""',
            f"    shape = {shape_expr}",
            f"    out = torch.empty(shape, device={first}.device, dtype={dtype})",
            "    n_elements = out.numel()",
            *grid,
            f"    {name}_kernel[grid](",
            *[f"        {p}," for p in launch],
            "    )",
            "    return out",
        ]
    )
    return Emitted(name, kernel, wrapper, leaves + scalars, uses_tanh=writer.uses_tanh)
