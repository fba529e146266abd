"""Where and how the chosen kernel goes into the user's code (DESIGN.md, candidate contract).

A candidate is a whole module defining `ModelNew`. What goes into the user's file is a marked block:

    # >>> tritonize: FusedGeluScaleTriton (generated; re-running replaces this block)
    @triton.jit
    def gelu_scale_kernel(...): ...

    class FusedGeluScaleTriton(nn.Module): ...
    # <<< tritonize: FusedGeluScaleTriton

`ModelNew` is renamed `<Name>Triton` (every reference, formatting and comments kept), the problem's
own definitions (`Model`, `get_inputs`, ...) are dropped, definitions the target file already has are
not repeated (a same-named but different one is renamed), and imports the file lacks are added once
at the top. Running again replaces the marked block instead of adding a second one.

Used by the CLI and the language server, so it is plain `ast` work with no LSP types:
`compute_edits` returns `TextEdit`s whose ranges are `positions.Range`s (0-based lines, UTF-16
columns, as LSP wants them), which the server maps 1:1.

Pure: no file is read or written here. The caller passes every text it needs — the document, and
for sibling placement the sibling module as the user has it (`SiblingFile`: an open editor
buffer's unsaved text, else the disk's, else none).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass, field

from . import dispatch, import_block
from .positions import Range, TextIndex, split_lines, str_index_from_bytes
from .problem import ModuleClass, Problem, list_modules
from .report import CandidateResult, Report

BEGIN = "# >>> tritonize: {name} (generated; re-running replaces this block)"
# With the hash of the original class's text, so a later change of that class shows (`stale_blocks`).
BEGIN_FROM = "# >>> tritonize: {name} (generated from {origin} {digest}; re-running replaces this block)"
END = "# <<< tritonize: {name}"
_BLOCK_RE = r"^[ \t]*# >>> tritonize: {name}\b.*?^[ \t]*# <<< tritonize: {name}[ \t]*(?:\r?\n|\Z)"
_BEGIN_RE = re.compile(r"^[ \t]*# >>> tritonize: (\w+)(?: \(generated from (\w+) ([0-9a-f]{12})\b)?", re.M)

# Names a candidate defines only to be runnable on its own: the problem's side, never exported.
_PROBLEM_NAMES = ("Model", "get_inputs", "get_init_inputs")
_NAME = re.compile(r"\w+")


@dataclass
class TextEdit:
    """Replace `range` (0-based lines/columns, end-exclusive) of a file with `new_text`.

    `path` None means the document being converted; otherwise another file (the sibling module),
    which `create` says does not exist yet.
    """

    range: Range
    new_text: str
    path: str | None = None
    create: bool = False


@dataclass(frozen=True)
class SiblingFile:
    """The sibling module (`sibling_path(problem.path)`) as the caller found it."""

    path: str
    text: str | None = None  # None: no such file yet, the edit creates it


@dataclass
class GeneratedBlock:
    name: str  # <Name>Triton
    imports: list[str] = field(default_factory=list)  # import statements the block needs, one per line
    body: str = ""  # the marked block, ending in a newline


def generated_name(problem_name: str) -> str:
    return f"{problem_name}Triton"


# ---- anchoring to content ------------------------------------------------------------------------
#
# An edit is computed for one text of the document; by the time it is applied the user may have
# typed elsewhere. Positions alone would then put the block in the wrong place, so the class is
# also known by content: its name and a hash of its text. `relocate` finds it again in a newer text.


def class_digest(class_text: str) -> str:
    """12 hex digits of the SHA-256 of a class's text (line ends and trailing blanks normalised,
    so a CRLF round trip or an editor trimming whitespace does not make a kernel stale)."""
    norm = "\n".join(line.rstrip() for line in split_lines(class_text)).strip("\n")
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Anchor:
    """A module class known by content: its name and the digest of its text."""

    name: str
    digest: str


def anchor_in(text: str, mod: ModuleClass) -> Anchor:
    return Anchor(mod.name, class_digest(TextIndex(text).slice(mod.range)))


def problem_anchor(text: str, problem: Problem) -> Anchor:
    """The anchor of the problem's class in `text`, the text it was extracted from."""
    return Anchor(problem.name, class_digest(TextIndex(text).slice(problem.class_range)))


def source_digest(problem: Problem) -> str | None:
    """The digest of the problem's class, read from `problem.source` (which holds the class's
    text verbatim), so callers that have no document text (the CLI) still mark the block."""
    for mod in list_modules(problem.source):
        if mod.name == problem.name:
            return class_digest(TextIndex(problem.source).slice(mod.range))
    return None


def relocate(text: str, anchor: Anchor, modules: list[ModuleClass] | None = None) -> ModuleClass | None:
    """The class `anchor` names in `text`, if its text is unchanged (it may have moved); else None."""
    index = TextIndex(text)
    for mod in modules if modules is not None else list_modules(text):
        if mod.name == anchor.name and class_digest(index.slice(mod.range)) == anchor.digest:
            return mod
    return None


def reanchored(problem: Problem, mod: ModuleClass) -> Problem:
    """The problem with its class where `mod` says it is now (same text, other lines)."""
    return dataclasses.replace(problem, class_range=mod.range, name_range=mod.name_range)


@dataclass(frozen=True)
class BlockMark:
    """A marked block's begin line: which class it holds and what it was generated from."""

    generated: str  # <Name>Triton
    origin: str | None  # <Name>; None for a block written before headers carried it
    digest: str | None  # the digest of <Name>'s text when the block was generated
    line: int  # 0-based line of the begin marker


def block_marks(text: str) -> list[BlockMark]:
    """The begin markers in `text`, in order."""
    marks: list[BlockMark] = []
    index: TextIndex | None = None
    at = text.find("# >>> tritonize: ")
    while at >= 0:
        line_start = text.rfind("\n", 0, at) + 1
        m = _BEGIN_RE.match(text, line_start)
        if m:
            index = index or TextIndex(text)
            marks.append(BlockMark(m.group(1), m.group(2), m.group(3), index.position(line_start)[0]))
        at = text.find("# >>> tritonize: ", at + 17)
    return marks


@dataclass(frozen=True)
class Staleness:
    mark: BlockMark
    original: ModuleClass | None  # None: the original class is gone from the file
    message: str


def stale_blocks(text: str, modules: list[ModuleClass], index: TextIndex | None = None) -> list[Staleness]:
    """Blocks whose original class changed (or is gone) since they were generated. (`index`: the
    text's, when the caller has one; a file without blocks costs one `str.find`.)"""
    marks = block_marks(text)
    if not marks:
        return []
    index = index or TextIndex(text)
    by_name = {m.name: m for m in modules}
    out: list[Staleness] = []
    for mark in marks:
        if mark.origin is None or mark.digest is None:
            continue
        mod = by_name.get(mark.origin)
        if mod is None:
            out.append(Staleness(mark, None, f"{mark.generated} is stale: its original class {mark.origin} "
                                             "is no longer in this file"))
        elif class_digest(index.slice(mod.range)) != mark.digest:
            out.append(Staleness(mark, mod, f"{mark.generated} is stale: {mark.origin} changed after it was "
                                            "generated; re-run the conversion"))
    return out


def removal_edit(text: str, generated: str) -> TextEdit | None:
    """The edit that deletes `generated`'s marked block and the blank lines that set it apart."""
    span = find_block(text, generated)
    if span is None:
        return None
    start, end = span
    # The blank lines before the block came with it; the class above keeps its own line end.
    head = text[:start].rstrip("\r\n")
    if head:
        start = len(head) + (2 if text[len(head):len(head) + 2] == "\r\n" else 1)
    else:
        start = 0
    return TextEdit(TextIndex(text).range(start, end), "")


# ---- public API ----------------------------------------------------------------------------------


def inserted_code(problem: Problem, best: CandidateResult, *, sibling: bool = False) -> str:
    """The module text that goes into the file for `best`: its code, or, for a kernel made for the
    recipe's shapes alone (chosen with shape_specialised), its code with a class that runs the kernels
    for those shapes and the original module on the same weights for any other (dispatch.py). A
    candidate that is not drop-in (its state_dict is not the original's) cannot share the weights: it
    goes in as it is."""
    shapes = best.shapes
    table = dispatch.parse_shapes(shapes.recipe) if shapes is not None and not shapes.all_ok else None
    if table is None or best.drop_in is not True:
        return best.code
    kernels = dispatch.kernels_name(generated_name(problem.name))
    code = rename_identifiers(best.code, {"ModelNew": kernels}).rstrip("\n") + "\n"
    if sibling and problem.path:
        module = os.path.splitext(os.path.basename(problem.path))[0]
        code = f"from {module} import {problem.name}\n" + code
    return code + dispatch.wrapper_class(problem.name, table, kernels=kernels)


def generated_class_code(problem: Problem, candidate_code: str, *, note: str | None = None) -> str:
    """The block for `candidate_code`, preceded by the imports it needs beyond the problem's own."""
    block = build_block(problem, candidate_code, problem.source, note=note)
    head = "\n".join(block.imports)
    return (head + "\n\n\n" if head else "") + block.body.rstrip("\n")


def compute_edits(
    text: str, problem: Problem, report: Report, placement: str = "inline", *, sibling: SiblingFile | None = None
) -> list[TextEdit]:
    """Edits that put the report's chosen candidate into `text` (or, with placement "sibling", into
    `sibling`, which the caller must pass: this module reads no files).

    Raises ValueError when the report has no chosen candidate, or sibling placement has no sibling.
    """
    best = report.best_result()
    if best is None:
        raise ValueError(f"no candidate passed for {problem.name}; nothing to insert")
    if placement == "sibling":
        if sibling is None:
            raise ValueError("sibling placement needs the sibling module: pass SiblingFile(path, text)")
        return [_sibling_edit(sibling, problem, report)]
    return _inline_edits(text, problem, inserted_code(problem, best), _provenance(report))


def apply_to_text(text: str, problem: Problem, report: Report) -> str:
    """`text` with the chosen candidate inserted after the original class (inline placement)."""
    return apply_edits(text, compute_edits(text, problem, report, "inline"))


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    """Apply non-overlapping edits that all refer to the original `text`."""
    index = TextIndex(text)
    spans = sorted(((*index.span(e.range), e.new_text) for e in edits), key=lambda s: (s[0], s[1]), reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


def sibling_path(path: str) -> str:
    """`pkg/model.py` → `pkg/model_triton.py`."""
    root, ext = os.path.splitext(path)
    return f"{root}_triton{ext or '.py'}"


def sibling_text(existing: str | None, problem: Problem, report: Report) -> str:
    """The whole sibling module after inserting (or replacing) the class's block."""
    best = report.best_result()
    if best is None:
        raise ValueError(f"no candidate passed for {problem.name}; nothing to insert")
    base = existing if existing is not None else _sibling_header(problem)
    text = apply_edits(base, _inline_edits(base, problem, inserted_code(problem, best, sibling=True),
                                           _provenance(report), anchor=None))
    return import_block.space_after_block(text) if existing is None else text


def find_block(text: str, generated: str) -> tuple[int, int] | None:
    """(start, end) character offsets of the marked block for class `generated`, or None."""
    m = re.search(_BLOCK_RE.format(name=re.escape(generated)), text, re.M | re.S)
    return (m.start(), m.end()) if m else None


def block_names(text: str) -> list[str]:
    """Generated class names that have a marked block in `text`."""
    # str.find hops between markers; a multiline regex would try every line of a big file.
    names: list[str] = []
    marker = "# >>> tritonize: "
    at = text.find(marker)
    while at >= 0:
        line_start = text.rfind("\n", 0, at) + 1
        if not text[line_start:at].strip(" \t"):
            m = _NAME.match(text, at + len(marker))
            if m:
                names.append(m.group(0))
        at = text.find(marker, at + len(marker))
    return names


# ---- building the block --------------------------------------------------------------------------


def build_block(problem: Problem, candidate_code: str, target_text: str, *, note: str | None = None,
                digest: str | None = None) -> GeneratedBlock:
    """Turn a candidate module into the block for `target_text` (a file without this block).

    `digest`: of the original class's text, for the marker (default: read from the problem)."""
    new_name = generated_name(problem.name)
    digest = digest or source_digest(problem)
    tree = ast.parse(candidate_code)
    existing = _top_level_definitions(target_text)
    skip = set(_PROBLEM_NAMES) | {problem.name}

    renames = {"ModelNew": new_name}
    for stmt in tree.body:
        for name in _bound_names(stmt):
            if name in skip or name == "ModelNew":
                continue
            if name in existing and _dump(existing[name]) != _dump(stmt):
                renames[name] = _fresh_name(f"{name}_triton", existing, tree)
    code = rename_identifiers(candidate_code, renames)
    tree = ast.parse(code)
    lines = code.splitlines()

    imports: list[str] = []
    have, bound = _import_bindings(target_text)
    segments: list[str] = []
    prev_end = 0
    for stmt in tree.body:
        start = _first_line(stmt)
        seg_start = _comment_start(lines, prev_end, start)
        prev_end = stmt.end_lineno or start
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for line, name in zip(_import_lines(stmt), _import_names(stmt), strict=True):
                # A name the file already imports (maybe spelled differently) is not imported twice.
                if line in have or name in bound or line in imports or line.startswith("from __future__"):
                    continue
                imports.append(line)
            continue
        if not _keep(stmt, skip, existing, new_name):
            continue
        segments.append("\n".join(lines[seg_start:prev_end]).strip("\n"))
    imports = import_block.used_imports(imports, "\n\n".join(segments))  # what the block never uses goes

    head = [BEGIN_FROM.format(name=new_name, origin=problem.name, digest=digest) if digest
            else BEGIN.format(name=new_name)]
    if note:
        head.append(f"# {note}")
    body = "\n".join(head) + "\n" + "\n\n\n".join(segments) + "\n" + END.format(name=new_name) + "\n"
    return GeneratedBlock(name=new_name, imports=imports, body=body)


def _keep(stmt: ast.stmt, skip: set[str], existing: dict[str, ast.stmt], new_name: str) -> bool:
    """Definitions and constants stay; scripts, docstrings and what the file already has go."""
    if isinstance(stmt, ast.If) and _is_main_guard(stmt):
        return False
    if isinstance(stmt, ast.Expr):  # docstrings, prints, torch.manual_seed(...)
        return False
    names = _bound_names(stmt)
    if not names:
        return not isinstance(stmt, (ast.Pass,))
    if any(n in skip for n in names) and new_name not in names:
        return False
    # Same name and the same definition as the file's: the file's one serves both.
    return not all(n in existing and _dump(existing[n]) == _dump(stmt) for n in names)


def _is_main_guard(stmt: ast.If) -> bool:
    t = stmt.test
    return (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "__name__")


def _bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    names: list[str] = []
    for t in targets:
        for node in ast.walk(t):
            if isinstance(node, ast.Name):
                names.append(node.id)
    return names


def _top_level_definitions(text: str) -> dict[str, ast.stmt]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    out: dict[str, ast.stmt] = {}
    for stmt in tree.body:
        for name in _bound_names(stmt):
            out.setdefault(name, stmt)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                out.setdefault((alias.asname or alias.name).split(".")[0], stmt)
    return out


def _dump(stmt: ast.stmt) -> str:
    return ast.dump(stmt, annotate_fields=False, include_attributes=False)


def _fresh_name(base: str, existing: dict, tree: ast.Module) -> str:
    used = set(existing) | {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    name, i = base, 2
    while name in used:
        name, i = f"{base}{i}", i + 1
    return name


def _first_line(stmt: ast.stmt) -> int:
    """0-based first line of a statement, decorators included."""
    decos = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno] + [d.lineno for d in decos]) - 1


def _comment_start(lines: list[str], prev_end: int, start: int) -> int:
    """Comment lines directly above a statement belong to it."""
    i = start
    while i - 1 >= prev_end and lines[i - 1].lstrip().startswith("#"):
        i -= 1
    return i


def _import_lines(stmt: ast.Import | ast.ImportFrom) -> list[str]:
    """One normalised line per imported name, so comparing with the file's imports is exact."""
    out = []
    if isinstance(stmt, ast.Import):
        for a in stmt.names:
            out.append(f"import {a.name}" + (f" as {a.asname}" if a.asname else ""))
    else:
        mod = "." * stmt.level + (stmt.module or "")
        for a in stmt.names:
            out.append(f"from {mod} import {a.name}" + (f" as {a.asname}" if a.asname else ""))
    return out


def _import_names(stmt: ast.Import | ast.ImportFrom) -> list[str]:
    """The name each imported alias binds: `import a.b` binds `a`, `import a.b as c` binds `c`."""
    return [a.asname or (a.name.split(".")[0] if isinstance(stmt, ast.Import) else a.name) for a in stmt.names]


def _import_bindings(text: str) -> tuple[set[str], set[str]]:
    """The file's top-level imports as normalised lines, and the names they bind."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set(), set()
    have: set[str] = set()
    bound: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            have.update(_import_lines(stmt))
            bound.update(_import_names(stmt))
    return have, bound


def rename_identifiers(code: str, renames: dict[str, str]) -> str:
    """Rename module-level names: definitions and the references that resolve to them.

    Scope-aware, so a function parameter, a local or a keyword argument that happens to share the
    name (`BLOCK: tl.constexpr`, `dim=dim`) is left alone; layout and comments are kept.
    """
    if not renames:
        return code
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    hits: list[tuple[int, int, int, str]] = []

    def char_col(row: int, byte_col: int) -> int:
        return str_index_from_bytes(lines[row], byte_col)

    def add_def_name(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        row = node.lineno - 1
        start = char_col(row, node.col_offset)
        m = re.compile(rf"\b{re.escape(node.name)}\b").search(lines[row], start)
        if m:
            hits.append((row, m.start(), m.end(), renames[node.name]))

    def visit(node: ast.AST, shadowed: frozenset[str], top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                if top and not isinstance(child, ast.Lambda) and child.name in renames:
                    add_def_name(child)
                outer = [*getattr(child, "decorator_list", []), *child.args.defaults,
                         *[d for d in child.args.kw_defaults if d is not None]]
                for a in _all_args(child.args):
                    if a.annotation is not None:
                        outer.append(a.annotation)
                if getattr(child, "returns", None) is not None:
                    outer.append(child.returns)
                for n in outer:
                    visit_node(n, shadowed)
                local = _locals(child)
                body = child.body if isinstance(child.body, list) else [child.body]
                for stmt in body:
                    visit_node(stmt, shadowed | local, top=False)
            elif isinstance(child, ast.ClassDef):
                if top and child.name in renames:
                    add_def_name(child)
                visit(child, shadowed, top=False)
            elif isinstance(child, ast.Name):
                if child.id in renames and child.id not in shadowed:
                    row = child.lineno - 1
                    col = char_col(row, child.col_offset)
                    hits.append((row, col, col + len(child.id), renames[child.id]))
            else:
                visit(child, shadowed, top=False)

    def visit_node(n: ast.AST, shadowed: frozenset[str], top: bool = False) -> None:
        wrapper = ast.Module(body=[], type_ignores=[])
        wrapper.body = [n]  # type: ignore[list-item]
        visit(wrapper, shadowed, top)

    visit(tree, frozenset(), top=True)
    for row, col, end_col, new in sorted(set(hits), reverse=True):
        line = lines[row]
        lines[row] = line[:col] + new + line[end_col:]
    return "".join(lines)


def _all_args(args: ast.arguments) -> list[ast.arg]:
    out = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    out += [a for a in (args.vararg, args.kwarg) if a is not None]
    return out


def _locals(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> frozenset[str]:
    """Names local to a function: its parameters and what it assigns, minus `global` ones."""
    names = {a.arg for a in _all_args(fn.args)}
    declared_global: set[str] = set()
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    stack: list[ast.AST] = list(body)
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.Global, ast.Nonlocal)):
            declared_global.update(n.names)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
            stack.extend(getattr(n, "decorator_list", []))
            continue  # nested scopes have their own locals
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in n.names)
        stack.extend(ast.iter_child_nodes(n))
    return frozenset(names - declared_global)


# ---- placing the block ---------------------------------------------------------------------------


def _inline_edits(text: str, problem: Problem, code: str, note: str | None, anchor: Range | None | bool = True) -> list[TextEdit]:
    """Edits for `text`: replace this class's block if present, else insert it after the class.

    `anchor=None` appends at the end of the file (sibling modules have no original class).
    """
    nl = "\r\n" if "\r\n" in text else "\n"
    generated = generated_name(problem.name)
    old = find_block(text, generated)
    without_block = text[: old[0]] + text[old[1]:] if old else text
    digest = problem_anchor(text, problem).digest if anchor is not None else None
    block = build_block(problem, code, without_block, note=note, digest=digest)
    body = block.body.replace("\n", nl)
    index = TextIndex(text)
    edits: list[TextEdit] = []

    if old:
        edits.append(TextEdit(index.range(old[0], old[1]), body))
    else:
        if anchor is None:
            at = len(text)
        else:
            at = index.line_start(problem.class_range.end_line + 1)
        lead = nl if at > 0 and not text[:at].endswith(("\n", "\r")) else ""
        following = text[at:]
        blank = len(following) - len(following.lstrip("\r\n"))
        blank = following[:blank].count("\n") or following[:blank].count("\r")
        tail = nl * max(0, 2 - blank) if following.strip() else ""
        sep = nl * 2 if at > 0 else ""
        edits.append(TextEdit(index.range(at, at), lead + sep + body + tail))

    # The file's import block, re-laid out with the new lines where isort would put them; a block laid
    # out otherwise is left alone and the new lines go after it, in isort's order among themselves.
    merged = import_block.merged_block(text, block.imports) if block.imports else None
    if merged is not None and (not old or merged[1] <= old[0]):
        edits.append(TextEdit(index.range(merged[0], merged[1]), merged[2].replace("\n", nl)))
    elif block.imports:
        at = _import_insert_offset(without_block if not old else text)
        at = min(at, old[0]) if old else at
        imports = import_block.layout(block.imports).replace("\n", nl)
        if at > 0 and not text[:at].endswith(("\n", "\r")):
            imports = nl + imports
        edits.append(TextEdit(index.range(at, at), imports))
    return edits


def _import_insert_offset(text: str) -> int:
    """After the last top-level import of the file's leading import section (or its docstring)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return 0
    last = None
    for i, stmt in enumerate(tree.body):
        is_doc = i == 0 and isinstance(stmt, ast.Expr) and isinstance(getattr(stmt, "value", None), ast.Constant) and isinstance(stmt.value.value, str)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) or is_doc:
            last = stmt
        elif last is not None or not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            break
    if last is None:
        return 0
    return TextIndex(text).line_start(last.end_lineno or last.lineno)


def _sibling_edit(sibling: SiblingFile, problem: Problem, report: Report) -> TextEdit:
    """The whole sibling module, replaced by itself with the block inserted (or replaced)."""
    existing = sibling.text or ""
    new_text = sibling_text(sibling.text, problem, report)
    return TextEdit(TextIndex(existing).range(0, len(existing)), new_text, path=sibling.path, create=sibling.text is None)


def _sibling_header(problem: Problem) -> str:
    module = os.path.splitext(os.path.basename(problem.path or "module.py"))[0]
    return (
        f'"""Triton versions of module classes from {module}.py, generated by tritonize.\n\n'
        f"Use: from {module}_triton import {generated_name(problem.name)}\n"
        '"""\n'
    )


def _provenance(report: Report) -> str:
    best = report.best_result()
    if best is None:
        return ""
    if report.timed and best.timing and best.timing.speedup_eager:
        speed = f"{best.timing.ms:.4f} ms, {best.timing.speedup_eager:.2f}x eager"
        if best.timing.speedup_compile:
            speed += f", {best.timing.speedup_compile:.2f}x torch.compile"
    else:
        speed = "correctness checked, not timed"
    return f"chosen: {best.candidate_id} · {speed} · {report.device or 'unknown device'}"
