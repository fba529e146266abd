"""Row kernels: reductions with their element-wise prologue / epilogue, softmax, layer/RMS/group norm.

The domain (the reduction input's shape) splits into kept dims (one program per "row", i.e. per
combination of kept coordinates) and reduced dims (the "columns" of that row). Every value in the
kernel is either per element of the row (a BLOCK vector) or per row (a scalar: a reduction, or
something computed from reductions and per-row operands).

Every program handles ROWS rows at once: per-element values are [ROWS, BLOCK] tiles, per-row values
[ROWS, 1] columns (reductions keep their dim, so they broadcast against the tile). Short rows take
many rows per program; a reduction over a dim that is not innermost (x.sum(1) of [B, N, M]) takes
a tile of ROWS neighbouring kept positions (contiguous in memory, so loads coalesce along them) and
loops over the reduced dim in BLOCK steps, accumulating one value per kept position.

Two shapes of kernel, chosen per variant:
- single pass: BLOCK = next_power_of_2(n_cols); the rows are loaded once and stay in registers.
- looped: one pass over the row per reduction (in dependency order: max, then sum of exp, ...) and a
  last pass that writes the output; the element-wise work is recomputed in each pass. Rows of any
  length work with a fixed BLOCK. A max followed by a sum of exp(x - max) (softmax, log_softmax,
  logsumexp) is one online pass (running max, sum rescaled when the max grows), so a looped
  softmax reads the row twice, not three times.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fuse import Group
from ..ir import Node
from .common import Emitted, ExprWriter, group_names, out_dtype_expr


@dataclass(frozen=True)
class RowsConfig:
    looped: bool
    num_warps: int
    block: int = 0  # looped only; single pass uses next_power_of_2(n_cols)
    rows: int = 1  # rows per program

    @property
    def tag(self) -> str:
        r = f"_r{self.rows}" if self.rows > 1 else ""
        return f"loop{self.block}{r}_w{self.num_warps}" if self.looped else f"onepass{r}_w{self.num_warps}"


def configs_for(n_cols: int, n_rows: int = 1 << 20, inner_kept: bool = False) -> list[RowsConfig]:
    """Launch configurations, most promising on Hopper first (the generator keeps the first n).

    inner_kept: the innermost dim of the domain is kept (a reduction over a dim that is not last), so
    rows next to each other are next to each other in memory: tile many rows and loop over the columns.
    """
    pow2 = 1 << max(n_cols - 1, 0).bit_length()
    rows_pow2 = 1 << max(n_rows - 1, 0).bit_length()
    out: list[RowsConfig] = []
    if inner_kept:
        # [ROWS, BLOCK] tiles: ROWS contiguous kept positions (>= 128 bytes per reduced coordinate).
        out += [RowsConfig(True, 4, min(32, pow2), min(64, rows_pow2)), RowsConfig(True, 4, min(64, pow2), min(32, rows_pow2))]
        out += [RowsConfig(True, 8, min(32, pow2), min(128, rows_pow2))]
        if pow2 <= 64:
            out += [RowsConfig(False, 4, 0, min(32, rows_pow2))]
        out += [RowsConfig(True, 4, min(16, pow2), min(256, rows_pow2))]
    elif pow2 <= 1024:
        # Short rows: several rows per program so each program moves 8-16 KB.
        def rows_for(elems: int) -> int:
            return max(1, min(rows_pow2, elems // pow2, 128))

        out += [RowsConfig(False, 4, 0, rows_for(2048)), RowsConfig(False, 8, 0, rows_for(4096)), RowsConfig(False, 4)]
        out += [RowsConfig(True, 4, max(16, pow2 // 2), rows_for(1024))]
    elif pow2 <= 16384:
        # The row in registers (one read, one write); 2-32 elements per thread.
        if pow2 <= 2048:
            out += [RowsConfig(False, 4), RowsConfig(False, 8), RowsConfig(False, 4, 0, 2)]
        elif pow2 <= 4096:
            out += [RowsConfig(False, 8), RowsConfig(False, 16), RowsConfig(False, 4)]
        else:
            out += [RowsConfig(False, 16), RowsConfig(False, 8), RowsConfig(False, 32)]
        out += [RowsConfig(True, 8, min(4096, pow2 // 2))]
    else:
        # Long rows: looped passes re-read the row from L2; a 32k row still fits registers at 16-32 warps.
        out += [RowsConfig(True, 8, 4096), RowsConfig(True, 16, 8192)]
        if pow2 <= 32768:
            out += [RowsConfig(False, 32)]
        out += [RowsConfig(True, 4, 2048), RowsConfig(True, 16, 4096)]
    seen: list[RowsConfig] = []
    for c in out:
        if c not in seen:
            seen.append(c)
    return seen


_RED_IDENTITY = {"sum": "0.0", "amax": 'float("-inf")', "amin": 'float("inf")', "argmax": 'float("-inf")', "argmin": 'float("inf")'}


def emit_rows(group: Group, name: str, forward_names: dict[Node, str], cfg: RowsConfig) -> Emitted:
    domain, red = group.domain, group.red
    rank = len(domain)
    kept = [d for d in range(rank) if d not in red]
    names = group_names(group, forward_names)
    leaves, scalars, namer = names.leaves, names.scalars, names.namer
    local, scalar_local, formula = names.local, names.scalar_local, names.formula
    root_elem = group.root not in group.row_level

    # A leaf read per row by a squeezed value needs its own strides (see row_strides in the wrapper).
    sq_users = [n for n in group.nodes if n in group.squeezed and n.kind != "reduce"]
    other_users = [n for n in group.nodes if n not in sq_users]
    sq_leaves = [x for x in leaves if any(x in n.args for n in sq_users)]
    elem_leaves = [x for x in leaves if any(x in n.args for n in other_users)]
    ptr = {x: local[x] for x in leaves}
    sq_ptr = {x: (local[x] + "_sq" if x in elem_leaves else local[x]) for x in sq_leaves}

    def row_offset(base: str) -> str:
        return " + ".join(f"i{d} * {base}_stride_{d}" for d in kept) or "row * 0"

    def col_offset(base: str) -> str:
        return " + ".join(f"i{d} * {base}_stride_{d}" for d in red) or "0"

    lines: list[str] = []
    loaded: dict[tuple[Node, bool], str] = {}
    row_loaded: dict[Node, str] = {}

    def load(leaf: Node, consumer: Node) -> str:
        per_row = consumer in group.row_level and consumer.kind != "reduce"
        key = (leaf, per_row)
        if key in loaded:
            return loaded[key]
        other = "0" if str(leaf.dtype) == "torch.bool" else "0.0"
        conv = "" if str(leaf.dtype) == "torch.bool" else ".to(tl.float32)"
        if per_row:
            base = sq_ptr[leaf] if consumer in group.squeezed else ptr[leaf]
            var = namer(local[leaf] + "_row")
            row_lines.append(f"    {var} = tl.load({base}_ptr + {row_offset(base)}, mask=row_mask, other={other}){conv}")
            row_loaded[leaf] = var
        else:
            var = local[leaf]
            cur_lines.append(f"{cur_indent}{var} = tl.load({var}_ptr + {row_offset(var)} + {col_offset(var)}, mask=mask, other={other}){conv}")
        loaded[key] = var
        return var

    writer = ExprWriter(namer, scalar_local, load)
    # Statements go to `cur_lines` (inside or outside a pass); per-row loads go before them.
    row_lines: list[str] = []
    cur_lines: list[str] = lines
    cur_indent = "    "

    def cols_block(indent: str, start: str) -> list[str]:
        out = [f"{indent}cols = {start}tl.arange(0, BLOCK)[None, :]", f"{indent}mask = row_mask & (cols < n_cols)"]
        if len(red) == 1:
            out.append(f"{indent}i{red[0]} = cols")
        else:
            # Not `rest`: the row's scalar `rest` must keep its type across the loop (compiled Triton checks it).
            out.append(f"{indent}col_rest = cols")
            for d in reversed(red[1:]):
                out.append(f"{indent}i{d} = col_rest % size_{d}")
                out.append(f"{indent}col_rest = col_rest // size_{d}")
            out.append(f"{indent}i{red[0]} = col_rest")
        return out

    def flush_rows() -> None:
        lines.extend(row_lines)
        row_lines.clear()

    elem_nodes = [n for n in group.nodes if n not in group.row_level]
    reductions = [n for n in group.nodes if n.kind == "reduce"]
    row_nodes = [n for n in group.nodes if n in group.row_level and n.kind != "reduce"]

    def emit_row_node(n: Node) -> None:
        nonlocal cur_lines, cur_indent
        cur_lines, cur_indent = lines, "    "
        stmts: list[str] = []
        writer.pointwise(n, stmts, "    ")
        flush_rows()
        lines.extend(stmts)

    def divisor(r: Node) -> str:
        d = r.attrs.get("divisor")
        if d is None:
            return ""
        return " / n_cols" if d == 0 else f" / (n_cols - {d})"

    def reduce_name(r: Node) -> str:
        base = {"sum": "row_mean" if r.attrs.get("divisor") == 0 else "row_sum", "amax": "row_max", "amin": "row_min"}.get(r.op, "row_" + r.op)
        if r.attrs.get("divisor") not in (None, 0):
            base = "row_var"
        return namer(base)

    def one_pass_reduce(r: Node, v: str) -> None:
        ident = _RED_IDENTITY[r.op]
        masked = f"tl.where(mask, {v}, {ident})"
        fn = {"sum": "tl.sum", "amax": "tl.max", "amin": "tl.min", "argmax": "tl.argmax", "argmin": "tl.argmin"}[r.op]
        var = reduce_name(r)
        lines.append(f"    {var} = {fn}({masked}, axis=1, keep_dims=True){divisor(r)}")
        writer.vars[r] = var

    def deps_within(target: Node, pool: list[Node]) -> list[Node]:
        need: set[Node] = set()
        stack = [target]
        pool_set = set(pool)
        while stack:
            n = stack.pop()
            if n in need or n not in pool_set:
                continue
            need.add(n)
            stack.extend(a for a in n.args if isinstance(a, Node))
        return [n for n in pool if n in need]

    def emit_pass(target: Node, consumer: Node) -> str:
        """Element-wise statements for `target` inside the current loop body; returns its variable."""
        nonlocal cur_lines, cur_indent
        body: list[str] = []
        cur_lines, cur_indent = body, "        "
        for n in elem_nodes:  # element values are recomputed in every pass
            writer.vars.pop(n, None)
        for key in [k for k in loaded if not k[1]]:
            loaded.pop(key)
        for n in deps_within(target, elem_nodes):
            writer.pointwise(n, body, "        ")
        var = writer.ref(target, consumer)
        flush_rows()
        lines.extend(body)
        cur_lines, cur_indent = lines, "    "
        return var

    def emit_online(r_max: Node, r_sum: Node) -> None:
        """max(f) and sum(exp(f - max(f))) in one pass: the running sum is rescaled when the max grows."""
        m_acc, s_acc = namer("max_acc"), namer("sum_acc")
        # A finite start (not -inf) keeps exp(m_old - m_new) a number in lanes that have seen nothing yet.
        lines.append(f"    {m_acc} = tl.full([ROWS, BLOCK], -3.4028234663852886e38, tl.float32)")
        lines.append(f"    {s_acc} = tl.zeros([ROWS, BLOCK], dtype=tl.float32)")
        lines.append("    for start in range(0, n_cols, BLOCK):")
        lines.extend(cols_block("        ", "start + "))
        v = emit_pass(r_max.args[0], r_max)
        vm, new_max = namer(v + "_masked"), namer("new_max")
        lines.append(f'        {vm} = tl.where(mask, {v}, float("-inf"))')
        lines.append(f"        {new_max} = tl.maximum({m_acc}, {vm})")
        lines.append(f"        {s_acc} = {s_acc} * tl.exp({m_acc} - {new_max}) + tl.exp({vm} - {new_max})")
        lines.append(f"        {m_acc} = {new_max}")
        mx, sm = reduce_name(r_max), reduce_name(r_sum)
        lines.append(f"    {mx} = tl.max({m_acc}, axis=1, keep_dims=True)")
        lines.append(f"    {sm} = tl.sum({s_acc} * tl.exp({m_acc} - {mx}), axis=1, keep_dims=True)")
        writer.vars[r_max], writer.vars[r_sum] = mx, sm

    if not cfg.looped:
        lines.extend(cols_block("    ", ""))
        # Every element operand is read up front, so the loads of a weight or a bias are in flight
        # with the row's, instead of waiting behind the reductions.
        for leaf in elem_leaves:
            consumer = next((n for n in group.nodes if leaf in n.args and n not in group.row_level), None)
            if consumer is not None:
                load(leaf, consumer)
        for n in group.nodes:
            if n.kind == "reduce":
                flush_rows()
                one_pass_reduce(n, writer.ref(n.args[0], n))
            elif n in group.row_level:
                emit_row_node(n)
            else:
                stmts: list[str] = []
                writer.pointwise(n, stmts, "    ")
                flush_rows()
                lines.extend(stmts)
        result = writer.vars[group.root]
        flush_rows()
    else:
        done: set[Node] = set()
        for r in reductions:
            for n in row_nodes:
                if n not in done and all(not isinstance(a, Node) or a.kind not in ("pw", "reduce") or a in writer.vars or a not in group.nodes for a in n.args):
                    emit_row_node(n)
                    done.add(n)
            if r in done:
                continue
            partner = _online_sum(r, group)
            if partner is not None:
                emit_online(r, partner)
                done.add(partner)
                continue
            acc = namer("acc")
            lines.append(f"    {acc} = tl.full([ROWS, BLOCK], {_RED_IDENTITY[r.op]}, tl.float32)")
            if r.op in ("argmax", "argmin"):
                lines.append(f"    {acc}_idx = tl.zeros([ROWS, BLOCK], dtype=tl.int32)")
            lines.append("    for start in range(0, n_cols, BLOCK):")
            lines.extend(cols_block("        ", "start + "))
            v = emit_pass(r.args[0], r)
            masked = f"tl.where(mask, {v}, {_RED_IDENTITY[r.op]})"
            var = reduce_name(r)
            if r.op == "sum":
                lines.append(f"        {acc} += {masked}")
                lines.append(f"    {var} = tl.sum({acc}, axis=1, keep_dims=True){divisor(r)}")
            elif r.op in ("amax", "amin"):
                fn = "maximum" if r.op == "amax" else "minimum"
                lines.append(f"        {acc} = tl.{fn}({acc}, {masked})")
                lines.append(f"    {var} = tl.{'max' if r.op == 'amax' else 'min'}({acc}, axis=1, keep_dims=True)")
            else:
                cmp = ">" if r.op == "argmax" else "<"
                lines.append(f"        better = {masked} {cmp} {acc}  # strict: the first index wins ties, as in torch")
                lines.append(f"        {acc}_idx = tl.where(better, cols, {acc}_idx)")
                lines.append(f"        {acc} = tl.where(better, {masked}, {acc})")
                best = "tl.max" if r.op == "argmax" else "tl.min"
                lines.append(f"    best = {best}({acc}, axis=1, keep_dims=True)")
                lines.append(f"    {var} = tl.min(tl.where({acc} == best, {acc}_idx, n_cols), axis=1, keep_dims=True)")
            writer.vars[r] = var
        for n in row_nodes:
            if n not in done:
                emit_row_node(n)
        result = ""
        if root_elem:
            lines.append("    for start in range(0, n_cols, BLOCK):")
            lines.extend(cols_block("        ", "start + "))
            result = emit_pass(group.root, group.root)
        else:
            result = writer.vars[group.root]
    indent = "        " if cfg.looped and root_elem else "    "
    if root_elem:
        lines.append(f"{indent}tl.store(out_ptr + {row_offset('out')} + {col_offset('out')}, {result}.to(out_ptr.dtype.element_ty), mask=mask)")
    else:
        lines.append(f"    tl.store(out_ptr + row, {result}.to(out_ptr.dtype.element_ty), mask=row_mask)")

    # ---- signature, prologue, wrapper ----
    row_coords = [
        "    pid = tl.program_id(axis=0)",
        "    row = pid * ROWS + tl.arange(0, ROWS)[:, None]  # this program's rows, a [ROWS, 1] column",
        "    row_mask = row < n_rows",
        "    # Coordinates of these rows in the kept dims.",
    ]
    if not kept:
        row_coords[-1] = "    # The whole tensor is one row."
    elif len(kept) == 1:
        row_coords.append(f"    i{kept[0]} = row")
    else:
        row_coords.append("    rest = row")
        for d in reversed(kept[1:]):
            row_coords += [f"    i{d} = rest % size_{d}", f"    rest = rest // size_{d}"]
        row_coords.append(f"    i{kept[0]} = rest")

    bases = [ptr[x] for x in elem_leaves] + [sq_ptr[x] for x in sq_leaves]
    out_strides = [f"out_stride_{d}" for d in range(rank)] if root_elem else []
    params = [f"{b}_ptr" for b in bases] + ["out_ptr", "n_rows", "n_cols"] + [f"size_{d}" for d in range(rank)]
    params += [f"{b}_stride_{d}" for b in bases for d in range(rank)] + out_strides
    params += [scalar_local[s] for s in scalars] + ["ROWS: tl.constexpr", "BLOCK: tl.constexpr"]
    how = "looping over the row in BLOCK chunks" if cfg.looped else "the whole row in one BLOCK"
    kernel = "\n".join(
        ["@triton.jit", f"def {name}_kernel(", *[f"    {p}," for p in params], "):",
         f'    """out = {formula}; one program per ROWS rows, {how}."""', *row_coords, *lines]
    )

    names = [local[x] for x in leaves]
    elem_names = [local[x] for x in elem_leaves]
    shape_src = elem_names or names
    shape_expr = f"torch.broadcast_shapes({', '.join(n + '.shape' for n in shape_src)})" if len(shape_src) > 1 else f"{shape_src[0]}.shape"
    if len(domain) and not elem_names:
        shape_expr = repr(tuple(domain))
    if root_elem:
        out_shape = "shape"
    elif group.root in group.squeezed:
        out_shape = "(" + "".join(f"shape[{d}], " for d in kept) + ")"
    else:
        out_shape = "(" + "".join(f"shape[{d}], " if d in kept else "1, " for d in range(rank)) + ")"
    prod = lambda ds: " * ".join(f"shape[{d}]" for d in ds) or "1"  # noqa: E731
    dtype = out_dtype_expr(group.root, leaves, local)
    block = "triton.next_power_of_2(n_cols)" if not cfg.looped else str(cfg.block)
    launch = [*[ptr[x] for x in elem_leaves], *[local[x] for x in sq_leaves], "out", "n_rows", "n_cols", "*shape"]
    launch += [f"*{ptr[x]}.expand(shape).stride()" for x in elem_leaves]
    launch += [f"*row_strides({local[x]}, shape, {tuple(red)!r})" for x in sq_leaves]
    if root_elem:
        launch.append("*out.stride()")
    launch += [scalar_local[s] for s in scalars] + [f"ROWS={cfg.rows}", f"BLOCK={block}", f"num_warps={cfg.num_warps}"]
    wrapper = "\n".join(
        [
            f"def {name}({', '.join(names + [scalar_local[s] for s in scalars])}):",
            f'    """out = {formula} (launches {name}_kernel, one program per {cfg.rows} row(s))."""',
            f"    shape = {shape_expr}",
            f"    n_rows, n_cols = {prod(kept)}, {prod(red)}",
            f"    out = torch.empty({out_shape}, device={names[0]}.device, dtype={dtype})",
            f"    {name}_kernel[(triton.cdiv(n_rows, {cfg.rows}),)](",
            *[f"        {p}," for p in launch],
            "    )",
            "    return out",
        ]
    )
    uses_row_strides = bool(sq_leaves)
    em = Emitted(name, kernel, wrapper, leaves + scalars, uses_tanh=writer.uses_tanh)
    if uses_row_strides:
        em.notes.append("row_strides")
    return em


def _online_sum(r_max: Node, group: Group) -> Node | None:
    """The sum(exp(f - r_max)) reduction that follows r_max = max(f) (softmax and friends), if any."""
    if r_max.op != "amax" or r_max.args[0] in group.row_level:
        return None
    f = r_max.args[0]
    for r in group.nodes:
        if r.kind != "reduce" or r.op != "sum" or r.attrs.get("divisor") is not None:
            continue
        e = r.args[0]
        if not isinstance(e, Node) or e.op != "exp" or e not in group.nodes or e in group.row_level:
            continue
        sub = e.args[0]
        if isinstance(sub, Node) and sub.op == "sub" and sub in group.nodes and list(sub.args) == [f, r_max]:
            return r
    return None
