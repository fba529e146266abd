"""Source text → Problem: the selected nn.Module class, what it needs from its file, its input recipe.

Runs in the server/CLI process, so it is pure `ast`/`symtable` work: nothing from the user's file is
executed here. Running the recipe (and finding that it raises) happens in a verify worker (`probe`).

- `list_modules` / `module_at` are called by the language server on every code-action request: they
  parse once per distinct text (cached), never raise, and recover from syntax errors elsewhere in the file.
- `extract` builds the standalone problem module (imports, dependencies in file order, the class,
  `Model = <Name>`, `get_inputs()` / `get_init_inputs()`), or raises `ProblemError`.

Only top-level classes are considered (a class nested in another class or a function is part of its
parent). docs/PROBLEMS.md describes the rules for users.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
import symtable
from dataclasses import dataclass, field

from .positions import Range, split_lines, utf16_col, utf16_col_from_bytes, utf16_len


@dataclass
class ModuleClass:
    """An nn.Module subclass found in a file."""

    name: str
    range: Range  # whole class statement, decorators included
    name_range: Range  # the class name token
    bases: list[str] = field(default_factory=list)


@dataclass
class Problem:
    name: str  # the selected class's name
    source: str  # standalone module: defines Model, get_inputs, get_init_inputs
    class_range: Range
    name_range: Range
    path: str | None = None
    recipe: str = "get_inputs"  # get_inputs | comment | settings
    dependencies: list[str] = field(default_factory=list)  # names pulled in from the file
    # For each line of `source`, the 0-based line of the user's file it was copied from (-1: made up
    # here, like `Model = <Name>`). Messages about `source` lines are told in the user's lines.
    file_lines: list[int] = field(default_factory=list)

    def file_line(self, source_line: int) -> int | None:
        """The user's 1-based line for a 1-based line of `source`, or None when it has none."""
        if 0 < source_line <= len(self.file_lines) and self.file_lines[source_line - 1] >= 0:
            return self.file_lines[source_line - 1] + 1
        return None

    def key(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "class_range": self.class_range.to_dict(),
            "name_range": self.name_range.to_dict(),
            "path": self.path,
            "recipe": self.recipe,
            "dependencies": list(self.dependencies),
            "file_lines": list(self.file_lines),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Problem:
        return cls(
            name=d["name"],
            source=d["source"],
            class_range=Range.from_dict(d["class_range"]),
            name_range=Range.from_dict(d["name_range"]),
            path=d.get("path"),
            recipe=d.get("recipe", "get_inputs"),
            dependencies=list(d.get("dependencies", [])),
            file_lines=list(d.get("file_lines", [])),
        )


class ProblemError(Exception):
    """Bad input, reported to the user with a kind, a message and a source range."""

    KINDS = ("syntax", "not_found", "not_module", "no_recipe", "recipe_error", "no_classes", "read_error")

    def __init__(self, kind: str, message: str, range: Range | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.range = range


# ---------------------------------------------------------------------------------------------------
# Text positions: ast columns are UTF-8 byte offsets, Range columns UTF-16 (positions.py converts).


def _pos(lines: list[str], lineno: int, byte_col: int) -> tuple[int, int]:
    """ast (1-based line, byte column) → LSP (0-based line, UTF-16 column)."""
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    return lineno - 1, utf16_col_from_bytes(line, byte_col)


def _node_range(lines: list[str], node: ast.AST) -> Range:
    start = _pos(lines, node.lineno, node.col_offset)
    end = _pos(lines, node.end_lineno or node.lineno, node.end_col_offset or node.col_offset)
    return Range(*start, *end)


# ---------------------------------------------------------------------------------------------------
# Parsing. `list_modules`/`module_at` must work while the user types, so a file with a syntax error
# is split into top-level chunks and each chunk is parsed on its own.

_CONTINUATION = re.compile(r"(else|elif|except|finally)\b|[)\]}]")
_CLASS_HEADER = re.compile(r"class\s+\w+")


def _parse_chunks(text: str) -> list[ast.stmt]:
    """Top-level statements of the chunks that parse; a broken class keeps its header (body `pass`)."""
    lines = split_lines(text)
    starts: list[int] = []
    for i, line in enumerate(lines):
        if not line or line[0] in " \t#" or _CONTINUATION.match(line):
            continue
        if starts and lines[starts[-1]].startswith("@") and all(
            lines[j].startswith("@") or not lines[j].strip() for j in range(starts[-1], i)
        ):
            continue  # decorators stay with the def/class they decorate
        starts.append(i)
    stmts: list[ast.stmt] = []
    for k, first in enumerate(starts):
        last = starts[k + 1] if k + 1 < len(starts) else len(lines)
        chunk = "\n".join(lines[first:last])
        try:
            tree = ast.parse(chunk)
        except (SyntaxError, ValueError):
            tree = _broken_class(chunk)
            if tree is None:
                continue
        ast.increment_lineno(tree, first)
        stmts.extend(tree.body)
    return stmts


def _broken_class(chunk: str) -> ast.Module | None:
    """`class X(bases):` with an unparseable body: keep the header so the class is still found."""
    body_lines = chunk.split("\n")
    head = 0
    while head < len(body_lines) and body_lines[head].startswith("@"):
        head += 1
    if head >= len(body_lines) or not _CLASS_HEADER.match(body_lines[head]):
        return None
    for colon in range(head, min(head + 12, len(body_lines))):  # the header may span lines
        try:
            tree = ast.parse("\n".join(body_lines[: colon + 1]) + " pass")
        except (SyntaxError, ValueError):
            continue
        if not (tree.body and isinstance(tree.body[0], ast.ClassDef)):
            return None
        cls = tree.body[0]
        # The class extends to the last non-blank line of the chunk.
        last = max((i for i, line in enumerate(body_lines) if line.strip()), default=colon)
        cls.end_lineno = last + 1
        cls.end_col_offset = len(body_lines[last].encode("utf-8"))
        return tree
    return None


def _parse_tolerant(text: str) -> list[ast.stmt]:
    try:
        return ast.parse(text).body
    except (SyntaxError, ValueError):
        return _parse_chunks(text)


# ---------------------------------------------------------------------------------------------------
# Which classes are nn.Modules: bases resolved through the file's imports, no execution.

# torch.nn names starting uppercase that are not Modules, and subpackages that hold no Modules.
_NOT_MODULES = {"Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"}
_NOT_MODULE_PACKAGES = {"functional", "init", "utils", "attention", "parameter", "common_types"}


def _import_aliases(stmts: list[ast.stmt]) -> dict[str, str]:
    """Local name → dotted path it is bound to by top-level imports (`nn` → `torch.nn`)."""
    # Without imports (a snippet), `nn` and `torch` still mean what everyone means by them.
    aliases = {"torch": "torch", "nn": "torch.nn"}
    for node in stmts:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                if a.name != "*":
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _is_torch_module_path(path: str) -> bool:
    parts = path.split(".")
    if len(parts) < 3 or parts[:2] != ["torch", "nn"]:
        return False
    last = parts[-1]
    return last[:1].isupper() and last not in _NOT_MODULES and not (set(parts[2:-1]) & _NOT_MODULE_PACKAGES)


def _resolve(base: ast.expr, aliases: dict[str, str]) -> str | None:
    """`tnn.Linear` → `torch.nn.Linear` through the import aliases; None for anything else."""
    dotted = _dotted(base)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    if head not in aliases:
        return None
    return aliases[head] + ("." + rest if rest else "")


def _module_class_names(classes: list[ast.ClassDef], aliases: dict[str, str]) -> set[str]:
    """Names of the classes that derive from torch.nn (directly or through other classes here)."""
    found: set[str] = set()
    changed = True
    while changed:  # fixpoint: a derived class may come before its base in the text
        changed = False
        for cls in classes:
            if cls.name in found:
                continue
            for base in cls.bases:
                path = _resolve(base, aliases)
                if (isinstance(base, ast.Name) and base.id in found) or (path and _is_torch_module_path(path)):
                    found.add(cls.name)
                    changed = True
                    break
    return found


def _class_start(lines: list[str], cls: ast.ClassDef) -> tuple[int, int]:
    """Position of the first decorator's `@` (or the `class` keyword)."""
    if not cls.decorator_list:
        return _pos(lines, cls.lineno, cls.col_offset)
    first = min(cls.decorator_list, key=lambda d: (d.lineno, d.col_offset))
    line = lines[first.lineno - 1].encode("utf-8")
    at = line[: first.col_offset].rfind(b"@")
    return _pos(lines, first.lineno, at if at >= 0 else first.col_offset)


def _name_range(lines: list[str], cls: ast.ClassDef) -> Range:
    line = lines[cls.lineno - 1] if cls.lineno <= len(lines) else ""
    raw = line.encode("utf-8")
    m = re.compile(rb"class\s+").match(raw, cls.col_offset)
    if m and raw[m.end() :].decode("utf-8", errors="replace").startswith(cls.name):
        start = m.end()
        end = start + len(cls.name.encode("utf-8"))
        return Range(*_pos(lines, cls.lineno, start), *_pos(lines, cls.lineno, end))
    # The name is on a continuation line: point at the `class` keyword instead.
    return Range(*_pos(lines, cls.lineno, cls.col_offset), *_pos(lines, cls.lineno, cls.col_offset + 5))


@dataclass(frozen=True)
class _Scan:
    modules: tuple[ModuleClass, ...]
    others: tuple[ModuleClass, ...]  # top-level classes that are not nn.Modules


def _describe(lines: list[str], cls: ast.ClassDef) -> ModuleClass:
    start = _class_start(lines, cls)
    end = _pos(lines, cls.end_lineno or cls.lineno, cls.end_col_offset or 0)
    bases = [ast.unparse(b) for b in cls.bases]
    return ModuleClass(cls.name, Range(*start, *end), _name_range(lines, cls), bases)


def _scan_stmts(text: str, stmts: list[ast.stmt]) -> _Scan:
    lines = split_lines(text)
    classes = [s for s in stmts if isinstance(s, ast.ClassDef)]
    names = _module_class_names(classes, _import_aliases(stmts))
    described = [(c.name in names, _describe(lines, c)) for c in classes]
    return _Scan(tuple(d for m, d in described if m), tuple(d for m, d in described if not m))


@functools.lru_cache(maxsize=16)
def _scan(text: str) -> _Scan:
    """Cached: the language server asks about the same document text many times."""
    try:
        return _scan_stmts(text, _parse_tolerant(text))
    except (RecursionError, MemoryError):  # absurdly nested input
        return _Scan((), ())


def list_modules(text: str) -> list[ModuleClass]:
    """Every top-level nn.Module subclass in `text` (direct, via aliases, or via other module classes).

    Never raises: with a syntax error, the classes in the parts of the file that parse are returned.
    """
    return list(_scan(text).modules)


def _at(classes: tuple[ModuleClass, ...], line: int, col: int, end_line: int | None, end_col: int | None) -> ModuleClass | None:
    containing = [c for c in classes if c.range.contains(line, col)]
    if containing:  # innermost = smallest (top-level classes don't nest, but be exact anyway)
        return min(containing, key=lambda c: (c.range.end_line - c.range.start_line, c.range.end_col))
    if end_line is None:
        return None
    end = (end_line, end_col if end_col is not None else 0)
    for c in classes:  # a selection that starts before the class and reaches into it
        if (line, col) <= (c.range.end_line, c.range.end_col) and end >= (c.range.start_line, c.range.start_col):
            return c
    return None


def module_at(text: str, line: int, col: int, end_line: int | None = None, end_col: int | None = None) -> ModuleClass | None:
    """The module class containing the position (or overlapping the range), innermost first.

    Positions are 0-based LSP positions (UTF-16 columns). Never raises; None outside module classes.
    """
    return _at(_scan(text).modules, line, col, end_line, end_col)


# ---------------------------------------------------------------------------------------------------
# Extraction: the statements the class needs, found through symbol tables (no execution).


@dataclass
class _Stmt:
    index: int
    node: ast.stmt
    text: str
    binds: set[str]
    uses: set[str]
    is_import: bool
    mutates: str | None = None  # `NAME.attr = ...` / `NAME[k] = ...`: the root NAME


def _segment(lines_b: list[bytes], node: ast.stmt) -> str:
    """The statement's source text, decorators included (byte slicing: ast columns are bytes)."""
    start_line, start_col = node.lineno, node.col_offset
    decorators = getattr(node, "decorator_list", None) or []
    if decorators:
        start_line, start_col = min(d.lineno for d in decorators), 0
    end_line, end_col = node.end_lineno or node.lineno, node.end_col_offset or 0
    if start_line == end_line:
        return lines_b[start_line - 1][start_col:end_col].decode("utf-8")
    parts = [lines_b[start_line - 1][start_col:]]
    parts += lines_b[start_line : end_line - 1]
    parts.append(lines_b[end_line - 1][:end_col])
    return b"\n".join(parts).decode("utf-8")


def _global_uses(table: symtable.SymbolTable, top: bool) -> set[str]:
    if top:
        names = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    else:
        names = {s.get_name() for s in table.get_symbols() if s.is_global()}
    for child in table.get_children():
        names |= _global_uses(child, False)
    return names


def _symbols(text: str, node: ast.stmt) -> tuple[set[str], set[str]]:
    """(names the statement binds at module level, module-level names it reads, at any depth)."""
    try:
        table = symtable.symtable(text, "<problem>", "exec")
    except (SyntaxError, ValueError):  # not expected for a statement of a parsed file; be safe
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        return names, names
    binds = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    return binds, _global_uses(table, True)


def _is_main_guard(node: ast.stmt) -> bool:
    test = getattr(node, "test", None)
    return (
        isinstance(node, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
    )


def _mutation_root(node: ast.stmt) -> str | None:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    for t in targets:
        while isinstance(t, (ast.Attribute, ast.Subscript)):
            t = t.value
        if isinstance(t, ast.Name):
            return t.id
    return None


def _statements(text: str, body: list[ast.stmt]) -> list[_Stmt]:
    """Top-level statements that define something. Expressions (prints, seeding) and the
    `if __name__ == "__main__":` block are never copied: they don't define what the class needs."""
    lines_b = [line.encode("utf-8") for line in split_lines(text)]
    out: list[_Stmt] = []
    for i, node in enumerate(body):
        if isinstance(node, ast.Expr) or _is_main_guard(node):
            continue
        seg = _segment(lines_b, node)
        binds, uses = _symbols(seg, node)
        is_import = isinstance(node, (ast.Import, ast.ImportFrom))
        stmt = _Stmt(i, node, seg, binds, uses, is_import)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and not binds:
            stmt.mutates = _mutation_root(node)
        out.append(stmt)
    return out


def _needed(stmts: list[_Stmt], roots: list[_Stmt], names: set[str]) -> set[int]:
    """Indices of the statements `roots` (and the extra `names`) need, transitively."""
    binders: dict[str, list[_Stmt]] = {}
    mutators: dict[str, list[_Stmt]] = {}
    for s in stmts:
        for n in s.binds:
            binders.setdefault(n, []).append(s)
        if s.mutates:
            mutators.setdefault(s.mutates, []).append(s)
    imported = {n for s in stmts if s.is_import for n in s.binds}
    seen: set[int] = set()
    seen_names: set[str] = set()
    todo = list(roots)
    wanted = list(names)
    while todo or wanted:
        while wanted:
            n = wanted.pop()
            if n not in seen_names:
                seen_names.add(n)
                todo.extend(binders.get(n, []))
        if not todo:
            continue
        s = todo.pop()
        if s.index in seen:
            continue
        seen.add(s.index)
        wanted.extend(s.uses)
        # Statements that modify something defined here (`CONFIG["k"] = v`, `Block.scale = 2`) come
        # along; those that configure an imported module (`torch.backends... = True`) do not.
        for n in s.binds - imported:
            todo.extend(mutators.get(n, []))
    return seen


# ---------------------------------------------------------------------------------------------------
# Input recipes.

_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)#\s*tritonize\s*:\s*(?P<rest>.*)$")
_RECIPE = re.compile(r"^(?P<key>\w+)\s*=\s*(?P<expr>.*\S)\s*$")
_KEYS = {"inputs": "inputs", "init": "init", "init_inputs": "init"}


@dataclass
class _Recipe:
    expr: str
    line: int  # 0-based
    col: int  # UTF-16 column of the expression


def _comment_recipes(lines: list[str], mod: ModuleClass) -> dict[str, _Recipe]:
    """`# tritonize: inputs = ...` / `# tritonize: init = ...` inside the class or right above it."""
    above: list[int] = []
    i = mod.range.start_line - 1
    while i >= 0 and lines[i].startswith("#"):  # contiguous comment block at the class's indentation
        above.append(i)
        i -= 1
    found: dict[str, _Recipe] = {}
    for i in sorted(above) + list(range(mod.range.start_line, mod.range.end_line + 1)):
        m = _DIRECTIVE.match(lines[i]) if i < len(lines) else None
        if not m:
            continue
        rest = m.group("rest")
        r = _RECIPE.match(rest)
        rest_col = m.start("rest")
        if not r or r.group("key") not in _KEYS:
            got = r.group("key") if r else rest.strip()
            raise ProblemError(
                "syntax",
                f"line {i + 1}: unknown tritonize comment {got!r}; write `# tritonize: inputs = [torch.randn(8, 64)]` "
                "or `# tritonize: init = [64]`",
                Range(i, utf16_col(lines[i], rest_col), i, utf16_col(lines[i], len(lines[i]))),
            )
        key = _KEYS[r.group("key")]
        expr_col = rest_col + r.start("expr")
        recipe = _Recipe(r.group("expr"), i, utf16_col(lines[i], expr_col))
        _check_expr(recipe.expr, f"the tritonize {key} comment on line {i + 1}", lines[i], i, expr_col)
        if key in found:
            raise ProblemError(
                "syntax",
                f"{mod.name} has two `{key}` recipes (lines {found[key].line + 1} and {i + 1}); keep one",
                Range(i, 0, i, utf16_len(lines[i])),
            )
        found[key] = recipe
    return found


def _check_expr(
    expr: str, what: str, line_text: str | None = None, line: int | None = None, col: int = 0, rng: Range | None = None
) -> None:
    """A recipe must be one Python expression; report where it is not (in a comment: the column)."""
    try:
        ast.parse(expr, mode="eval")
    except SyntaxError as e:
        where = ""
        if line is not None and line_text is not None:
            at = col + max((e.offset or 1) - 1, 0)
            rng = Range(line, utf16_col(line_text, at), line, utf16_col(line_text, len(line_text)))
            where = f"line {line + 1}:{at + 1}: "
        raise ProblemError("syntax", f"{where}{what} is not a Python expression: {e.msg}: {expr}", rng) from None


def _expr_names(expr: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)}


def _recipe_function(name: str, expr: str) -> str:
    return f"def {name}():\n    return {expr}"


def _no_recipe(mod: ModuleClass, cls: ast.ClassDef) -> ProblemError:
    """A message with a recipe the user can paste, shaped like the class's forward/__init__."""
    fwd = _method_params(cls, "forward")
    init = _method_params(cls, "__init__", required=True)
    tensors = ", ".join("torch.randn(16, 1024)" for _ in (fwd or ["x"]))
    lines = [f"    # tritonize: inputs = [{tensors}]"]
    if init:
        lines.append(f"    # tritonize: init = [{', '.join('1024' for _ in init)}]  # {', '.join(init)}")
    example = "\n".join(lines)
    msg = (
        f"{mod.name} has no input recipe: tritonize needs example inputs to verify kernels against it. "
        f"Add comments inside the class (or directly above it), e.g.\n{example}\n"
        "or define get_inputs() (and get_init_inputs()) in the file, as KernelBench does, "
        f"or set tritonize.inputs (CLI: --inputs '[{tensors}]')."
    )
    return ProblemError("no_recipe", msg, mod.name_range)


def _method_params(cls: ast.ClassDef, method: str, required: bool = False) -> list[str]:
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == method:
            args = node.args.posonlyargs + node.args.args
            if required:
                args = args[: len(args) - len(node.args.defaults)]
            return [a.arg for a in args[1:]]
    return []


# ---------------------------------------------------------------------------------------------------
# Selection and assembly.

# Recipe expressions are written with these names in mind; a file that binds them differently
# (`import torch as T`) still gets a recipe that runs.
_STANDARD_IMPORTS = {
    "torch": "import torch",
    "nn": "import torch.nn as nn",
    "F": "import torch.nn.functional as F",
    "math": "import math",
}


def _syntax_error(text: str, e: Exception) -> ProblemError:
    if not isinstance(e, SyntaxError) or not e.lineno:
        return ProblemError("syntax", f"cannot parse the file: {e}")
    lines = split_lines(text)
    line = e.lineno - 1
    line_text = lines[line] if line < len(lines) else ""
    col = utf16_col(line_text, max((e.offset or 1) - 1, 0))
    end_col = col + 1
    if e.end_lineno == e.lineno and e.end_offset and e.end_offset > (e.offset or 0):
        end_col = utf16_col(line_text, e.end_offset - 1)
    return ProblemError("syntax", f"line {e.lineno}:{col + 1}: {e.msg}", Range(line, col, line, end_col))


def _names(classes: tuple[ModuleClass, ...]) -> str:
    return ", ".join(c.name for c in classes) if classes else "none"


def _select(scan: _Scan, class_name: str | None, line: int | None, col: int | None) -> ModuleClass:
    here = "nn.Module classes in this file: " + _names(scan.modules)
    if class_name is not None:
        for mod in scan.modules:
            if mod.name == class_name:
                return mod
        for other in scan.others:
            if other.name == class_name:
                raise ProblemError(
                    "not_module",
                    f"{class_name} is not an nn.Module subclass (bases: {', '.join(other.bases) or 'object'}); {here}",
                    other.name_range,
                )
        raise ProblemError("not_found", f"no class named {class_name!r}; {here}")
    if line is not None:
        mod = _at(scan.modules, line, col or 0, None, None)
        if mod:
            return mod
        other = _at(scan.others, line, col or 0, None, None)
        if other:
            raise ProblemError("not_module", f"{other.name} is not an nn.Module subclass; {here}", other.name_range)
        raise ProblemError("no_classes", f"no nn.Module class at line {line + 1}; {here}")
    if not scan.modules:
        raise ProblemError("no_classes", "this file has no nn.Module class")
    for mod in scan.modules:
        if mod.name == "Model":
            return mod
    if len(scan.modules) == 1:
        return scan.modules[0]
    raise ProblemError("not_found", f"several nn.Module classes and none is named Model; choose one: {_names(scan.modules)}")


def extract(
    text: str,
    class_name: str | None = None,
    *,
    line: int | None = None,
    col: int | None = None,
    path: str | None = None,
    inputs: str | None = None,
    init_inputs: str | None = None,
) -> Problem:
    """Build the Problem for one class, chosen by name or by position. Raises ProblemError.

    Recipe per function, first found wins: `inputs`/`init_inputs` arguments (settings, CLI) →
    `# tritonize:` comments of the class → `get_inputs()`/`get_init_inputs()` in the file. A class
    with an `inputs` comment never borrows the file's get_init_inputs (it belongs to another class);
    a missing init recipe means no constructor arguments.
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as e:
        raise _syntax_error(text, e) from None
    scan = _scan_stmts(text, tree.body)
    mod = _select(scan, class_name, line, col)
    lines = split_lines(text)
    cls = next(
        s for s in tree.body if isinstance(s, ast.ClassDef) and s.name == mod.name and s.lineno - 1 == mod.name_range.start_line
    )

    stmts = _statements(text, tree.body)
    comments = _comment_recipes(lines, mod)
    for what, expr in (("tritonize.inputs", inputs), ("tritonize.init_inputs", init_inputs)):
        if expr is not None:
            _check_expr(expr, f"the {what} setting", rng=mod.name_range)

    def file_function(name: str) -> _Stmt | None:
        found = [s for s in stmts if name in s.binds]
        return found[-1] if found else None

    # Where each recipe function comes from: (origin, expression or file statement).
    if inputs is not None:
        in_origin, in_src = "settings", inputs
    elif "inputs" in comments:
        in_origin, in_src = "comment", comments["inputs"].expr
    elif file_function("get_inputs"):
        in_origin, in_src = "get_inputs", file_function("get_inputs")
    else:
        raise _no_recipe(mod, cls)
    if init_inputs is not None:
        init_src: str | _Stmt | None = init_inputs
    elif "init" in comments:
        init_src = comments["init"].expr
    elif in_origin != "comment":
        init_src = file_function("get_init_inputs")
    else:
        init_src = None
    init_src = init_src if init_src is not None else "[]"

    class_stmt = next(s for s in stmts if s.node is cls)
    recipe_stmts = [s for s in (in_src, init_src) if isinstance(s, _Stmt)]
    recipe_exprs = [s for s in (in_src, init_src) if isinstance(s, str)]
    extra = set().union(*(_expr_names(e) for e in recipe_exprs)) if recipe_exprs else set()
    needed = _needed(stmts, [class_stmt, *recipe_stmts], extra)
    recipe_idx = {s.index for s in recipe_stmts}

    future = [s for s in stmts if isinstance(s.node, ast.ImportFrom) and s.node.module == "__future__"]
    imports = [s for s in stmts if s.index in needed and s.is_import and s not in future]
    body = [s for s in stmts if s.index in needed and not s.is_import and s.index not in recipe_idx]
    bound = {n for s in stmts if s.index in needed for n in s.binds}
    missing = [_STANDARD_IMPORTS[n] for n in sorted(extra - bound) if n in _STANDARD_IMPORTS]

    # (text, kind, the 0-based file line it starts at or -1)
    blocks: list[tuple[str, str, int]] = [(s.text, "import", _start_line(s.node)) for s in future]
    blocks += [(t, "import", -1) for t in missing]
    blocks += [(s.text, "import", _start_line(s.node)) for s in imports]
    blocks += [(s.text, "def" if isinstance(s.node, _DEFS) else "simple", _start_line(s.node)) for s in body]
    if mod.name != "Model":
        blocks.append((f"Model = {mod.name}", "simple", -1))
    for fn, src, comment in (("get_inputs", in_src, "inputs"), ("get_init_inputs", init_src, "init")):
        if isinstance(src, _Stmt):
            blocks.append((src.text, "def", _start_line(src.node)))
        else:  # an expression from a `# tritonize:` comment (its line) or from settings (no line)
            recipe = comments.get(comment)
            at = recipe.line if recipe is not None and recipe.expr == src else -1
            blocks.append((_recipe_function(fn, src), "def", at))

    source, file_lines = _join(blocks)
    deps = [n for s in body if s is not class_stmt for n in _ordered(s.binds, s.text)]
    return Problem(
        name=mod.name,
        source=source,
        file_lines=file_lines,
        class_range=mod.range,
        name_range=mod.name_range,
        path=path,
        recipe=in_origin,
        dependencies=deps,
    )


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _start_line(node: ast.stmt) -> int:
    """0-based first line of a statement as `_segment` copies it (decorators included)."""
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno] + [d.lineno for d in decorators]) - 1


def _join(blocks: list[tuple[str, str, int]]) -> tuple[str, list[int]]:
    """PEP 8 layout: two blank lines around defs and classes, one after the imports. Returns the
    text and, per line of it, the file line it came from (-1 for blank and made-up lines)."""
    out: list[str] = []
    file_lines: list[int] = []
    prev = ""
    for i, (text, kind, first) in enumerate(blocks):
        if i:
            sep = "\n\n\n" if "def" in (kind, prev) else "\n\n" if kind != prev else "\n"
            out.append(sep)
            file_lines += [-1] * (len(sep) - 1)
        body = text.rstrip()
        out.append(body)
        n = body.count("\n") + 1
        file_lines += list(range(first, first + n)) if first >= 0 else [-1] * n
        prev = kind
    return "".join(out) + "\n", file_lines


_SOURCE_LINE = re.compile(r"\b(line )(\d+)\b")


def problem_lines(problem: Problem, message: str) -> str:
    """`message` (from code that ran `problem.source`: a template refusal, a recipe's traceback) with
    each "line N" told as the user's file line. Lines with no file counterpart are left as they are."""
    if not problem.file_lines:
        return message

    def file_line(m: re.Match[str]) -> str:
        line = problem.file_line(int(m.group(2)))
        return f"{m.group(1)}{line}" if line is not None else m.group(0)

    return _SOURCE_LINE.sub(file_line, message)


def _ordered(names: set[str], text: str) -> list[str]:
    """Names in the order they first appear in the statement's text (stable dependency lists)."""
    return sorted(names, key=lambda n: (text.find(n), n))
