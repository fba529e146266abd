"""Imports that a generated block brings into a file, laid out the way isort (and ruff's `I` rules)
lays them out, so a file tritonize wrote passes the linters its owner runs.

- `used_imports`: only the import lines whose name the block's code uses (a candidate may import
  `math` and never call it).
- `sorted_lines`: import lines in isort's order: sections (`__future__`, standard library, third
  party, relative) one blank line apart; in each, `import x` lines before `from x import y` lines,
  by module name; `from` lines of one module combined, names ordered constants, classes, the rest.
- `merged_block`: the file's leading import block with new lines merged in, when that block is
  already in this order (a block laid out some other way is never rewritten: None).

Pure text and `ast` work; runs in the server/CLI process.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}
LINE_LENGTH = 110  # pyproject.toml [tool.ruff]; a longer `from` line is wrapped by isort, so not merged here


def _bound(stmt: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [a.asname or a.name.split(".")[0] for a in stmt.names]
    return [a.asname or a.name for a in stmt.names]


def used_imports(lines: list[str], code: str) -> list[str]:
    """The import lines (one name each) whose bound name `code` refers to."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return list(lines)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    out = []
    for line in lines:
        try:
            stmt = ast.parse(line).body[0]
        except (SyntaxError, IndexError):
            out.append(line)
            continue
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)) or any(name in used for name in _bound(stmt)):
            out.append(line)
    return out


@dataclass
class _Section:
    straight: set[tuple[str, str | None]] = field(default_factory=set)  # (module, alias)
    froms: dict[str, set[tuple[str, str | None]]] = field(default_factory=dict)  # module → {(name, alias)}


def _section(module: str, level: int) -> int:
    if level:
        return 3
    top = module.split(".")[0]
    if module == "__future__":
        return 0
    return 1 if top in _STDLIB else 2


def _module_key(module: str) -> tuple[str, str]:
    return module.lower(), module


def _member_key(member: tuple[str, str | None]) -> tuple[int, str, str, str]:
    name, alias = member
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name.lower(), name, alias or ""


def _alias(name: str, alias: str | None) -> str:
    return f"{name} as {alias}" if alias else name


def sorted_lines(statements: list[ast.Import | ast.ImportFrom]) -> list[str] | None:
    """The statements laid out in isort's order (blank lines between sections as ""), or None when
    a combined `from` line would need wrapping."""
    sections: dict[int, _Section] = {}
    for stmt in statements:
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                sections.setdefault(_section(a.name, 0), _Section()).straight.add((a.name, a.asname))
        else:
            module = "." * stmt.level + (stmt.module or "")
            sec = sections.setdefault(_section(stmt.module or "", stmt.level), _Section())
            sec.froms.setdefault(module, set()).update((a.name, a.asname) for a in stmt.names)
    out: list[str] = []
    for index in sorted(sections):
        sec = sections[index]
        if out:
            out.append("")
        for module, alias in sorted(sec.straight, key=lambda m: (*_module_key(m[0]), m[1] or "")):
            out.append(f"import {_alias(module, alias)}")
        for module in sorted(sec.froms, key=lambda m: _module_key(m.lstrip(".")) if index != 3 else (m, m)):
            if len(sec.froms[module]) > 1 and any(alias for _, alias in sec.froms[module]):
                return None  # isort keeps `as` imports on lines of their own: not laid out here
            names = ", ".join(_alias(*m) for m in sorted(sec.froms[module], key=_member_key))
            line = f"from {module} import {names}"
            if len(line) > LINE_LENGTH:
                return None
            out.append(line)
    return out


def parse_lines(lines: list[str]) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []
    for line in lines:
        out += [s for s in ast.parse(line).body if isinstance(s, (ast.Import, ast.ImportFrom))]
    return out


def layout(lines: list[str]) -> str:
    """New import lines on their own, in isort's order (for a file that has no import block)."""
    ordered = sorted_lines(parse_lines(lines))
    return "\n".join(ordered if ordered is not None else lines) + "\n"


def leading_block(text: str) -> tuple[int, int, list[ast.Import | ast.ImportFrom]] | None:
    """(start, end, statements) of the file's leading import block: the import statements after the
    docstring, up to the first other statement; `end` is the end of the last import's line."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    stmts: list[ast.Import | ast.ImportFrom] = []
    for stmt in body:
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            break
        stmts.append(stmt)
    if not stmts:
        return None
    lines = text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: stmts[0].lineno - 1])
    last = stmts[-1].end_lineno or stmts[-1].lineno
    end = sum(len(line) for line in lines[:last])
    return start, end, stmts


def merged_block(text: str, new_lines: list[str]) -> tuple[int, int, str] | None:
    """(start, end, replacement) for the file's leading import block with `new_lines` merged in, or
    None when the file has no such block or lays it out otherwise than isort would (then it is left
    alone and the caller inserts the new lines as a group of their own)."""
    found = leading_block(text)
    if found is None:
        return None
    start, end, stmts = found
    current = text[start:end].replace("\r\n", "\n")
    existing = sorted_lines(stmts)
    if existing is None or "\n".join(existing) + "\n" != current:
        return None
    merged = sorted_lines(stmts + parse_lines(new_lines))
    if merged is None:
        return None
    return start, end, "\n".join(merged) + "\n"


def space_after_block(text: str) -> str:
    """`text` with the blank lines after its leading import block as isort wants them: two before a
    function or class (decorators and comments above it included), one before anything else. For
    modules tritonize writes whole (a sibling `<module>_triton.py`, the module `convert` prints)."""
    found = leading_block(text)
    if found is None:
        return text
    _start, end, _stmts = found
    tree = ast.parse(text)
    after = [s for s in tree.body if s.lineno > (_stmts[-1].end_lineno or _stmts[-1].lineno)]
    if not after:
        return text
    rest = text[end:]
    gap = len(rest) - len(rest.lstrip("\r\n"))
    nl = "\r\n" if "\r\n" in text else "\n"
    blank = 2 if isinstance(after[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else 1
    return text[:end] + nl * blank + rest[gap:]
