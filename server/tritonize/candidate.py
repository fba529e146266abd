"""Candidates: self-contained Python modules that define `ModelNew` (DESIGN.md, candidate contract).

Every generator returns `Candidate`s; the verifier only ever sees their `code`. Parsing of raw
language-model output into candidates lives in `parse_model_output` (see generate/llm.py).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from .report import CandidateResult


@dataclass
class Candidate:
    code: str  # a whole Python module defining ModelNew(nn.Module)
    origin: str  # llm:<model> | inductor:<mode> | template:<pattern>
    candidate_id: str = ""  # unique within one conversion; set by the pipeline when empty
    notes: list[str] = field(default_factory=list)  # e.g. "uses private torch APIs"
    # A model's own words outside the code block (llm candidates). Kept for the report, never sent to a
    # worker: the pipeline copies it into the candidate's CandidateResult.model_text.
    prose: str = ""

    def to_dict(self) -> dict:
        return {"code": self.code, "origin": self.origin, "candidate_id": self.candidate_id, "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: dict) -> Candidate:
        return cls(
            code=data["code"],
            origin=data["origin"],
            candidate_id=data.get("candidate_id", ""),
            notes=list(data.get("notes", [])),
        )

    def uses_private_apis(self) -> bool:
        """Relies on torch._inductor or other private runtime APIs (reported, not fatal)."""
        return "torch._inductor" in self.code or any("private" in n for n in self.notes)

    def result(self, *, passed: bool, **fields: Any) -> CandidateResult:
        """This candidate's verdict: id (its origin when unset), origin, code and private_apis filled in.
        The worker builds the verdicts it reaches with it, the pool those it reaches itself."""
        return CandidateResult(candidate_id=self.candidate_id or self.origin, origin=self.origin, passed=passed,
                               code=self.code, private_apis=self.uses_private_apis(), **fields)


# ---- parsing model output ----------------------------------------------------------------------
#
# A language model answers with prose and one or more fenced code blocks (or, now and then, bare
# code, a block cut off by the token limit, or a class with the wrong name). `parse_model_output`
# turns one sample into exactly one Candidate, so every sample is accounted for in the report:
#
# * usable code → Candidate(code=<the module>, notes=[what was repaired, e.g. "renamed ...")]);
# * unusable output → Candidate(code=<the raw text>, notes=["parse: <why>"]). The verifier reports
#   it as a `syntax` failure with that message and does not run it (`parse_failure`).
#
# Everything here is `ast` and string work: nothing from the model output is executed.

PARSE_PREFIX = "parse: "
PRIVATE_API_NOTE = "uses private torch APIs (torch._inductor)"

_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*$", re.MULTILINE)
_NON_PYTHON_LANGS = {"bash", "sh", "shell", "console", "text", "txt", "json", "yaml", "cpp", "c", "cuda", "diff", "output"}
# Names a model uses without importing them, and the import each one needs.
_KNOWN_IMPORTS = {
    "torch": "import torch",
    "nn": "import torch.nn as nn",
    "F": "import torch.nn.functional as F",
    "triton": "import triton",
    "tl": "import triton.language as tl",
    "math": "import math",
}


def parse_failure(candidate: Candidate) -> str | None:
    """Why this candidate's model output could not be turned into code (None: it could)."""
    for note in candidate.notes:
        if note.startswith(PARSE_PREFIX):
            return note[len(PARSE_PREFIX):]
    return None


def parse_model_output(text: str, origin: str, *, problem_name: str | None = None, candidate_id: str = "") -> Candidate:
    """One model sample → one Candidate (usable code, or the raw text with a `parse:` note). The words
    outside the code go to `prose`."""
    code, notes, error = extract_code(text, problem_name=problem_name)
    if error is not None:
        return Candidate(code=text, origin=origin, candidate_id=candidate_id, notes=[PARSE_PREFIX + error])
    return Candidate(code=code, origin=origin, candidate_id=candidate_id, notes=notes, prose=model_prose(text))


MAX_PROSE = 4000  # characters of a model's explanation kept in the report


def model_prose(text: str) -> str:
    """A model's own words around its code: everything outside fenced code blocks, or, for unfenced
    output, the lines before the first line of code. Empty when the answer is code alone."""
    fences = list(_FENCE.finditer(text))
    if fences:
        parts, pos = [], 0
        for i in range(0, len(fences), 2):
            parts.append(text[pos:fences[i].start()])
            pos = fences[i + 1].end() if i + 1 < len(fences) else len(text)
        parts.append(text[pos:])
        words = "\n".join(p.strip() for p in parts if p.strip())
    else:
        lines = text.splitlines()
        start = next((i for i, line in enumerate(lines) if re.match(r"(import |from \S+ import |@|def |class )", line)),
                     len(lines))
        words = "\n".join(lines[:start]).strip()
    return words if len(words) <= MAX_PROSE else words[: MAX_PROSE - 1] + "…"


def extract_code(text: str, *, problem_name: str | None = None) -> tuple[str, list[str], str | None]:
    """(code, notes, error): the ModelNew module inside a model's answer, repaired where safe."""
    if not text.strip():
        return "", [], "the model produced no output"
    notes: list[str] = []
    blocks, unterminated = _code_blocks(text)
    if blocks:
        if unterminated:
            notes.append("the last code block was not closed (output cut off?)")
        code, why = _choose_blocks(blocks, problem_name, notes)
        if code is None:
            return "", notes, why
    else:
        code, why = _bare_code(text, notes)
        if code is None:
            return "", notes, why
    tree = ast.parse(code)
    code, tree, why = _ensure_model_new(code, tree, problem_name, notes)
    if why is not None:
        return "", notes, why
    code = _add_missing_imports(code, tree, notes)
    if _uses_private_apis(code):
        notes.append(PRIVATE_API_NOTE)
    return code.strip() + "\n", notes, None


def _code_blocks(text: str) -> tuple[list[tuple[str, str]], bool]:
    """Fenced blocks as (language, body); True when the last one never closes."""
    fences = list(_FENCE.finditer(text))
    blocks: list[tuple[str, str]] = []
    i = 0
    while i < len(fences):
        opening = fences[i]
        lang = opening.group(1).lower()
        start = opening.end() + 1
        if i + 1 < len(fences):
            blocks.append((lang, text[start:fences[i + 1].start()]))
            i += 2
        else:
            blocks.append((lang, text[start:]))
            return blocks, True
    return blocks, False


def _parses(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _trim_to_valid(code: str) -> tuple[str | None, int]:
    """The longest prefix (whole lines) of `code` that parses, and how many lines were dropped."""
    lines = code.rstrip().splitlines()
    for dropped in range(len(lines)):
        candidate = "\n".join(lines[: len(lines) - dropped])
        if candidate.strip() and _parses(candidate) is not None:
            return candidate, dropped
    return None, len(lines)


def _syntax_error(code: str) -> str:
    try:
        ast.parse(code)
    except SyntaxError as e:
        return f"line {e.lineno}: {e.msg}"
    return "unknown error"


def _classes(tree: ast.Module) -> list[ast.ClassDef]:
    return [n for n in tree.body if isinstance(n, ast.ClassDef)]


def _has_jit_kernel(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if ast.unparse(target) in ("triton.jit", "jit", "triton.autotune", "autotune", "triton.heuristics"):
                    return True
    return False


def _is_module_class(cls: ast.ClassDef) -> bool:
    return any(ast.unparse(b).split(".")[-1] == "Module" for b in cls.bases)


def _score(tree: ast.Module) -> int:
    names = {c.name for c in _classes(tree)}
    score = 0
    if "ModelNew" in names:
        score += 4
    elif any(_is_module_class(c) for c in _classes(tree)):
        score += 1
    if _has_jit_kernel(tree):
        score += 2
    return score


def _choose_blocks(blocks: list[tuple[str, str]], problem_name: str | None, notes: list[str]) -> tuple[str | None, str]:
    """The block that holds the kernel and ModelNew; blocks joined when the answer split them."""
    parsed: list[tuple[str, ast.Module]] = []
    errors: list[str] = []
    for index, (lang, body) in enumerate(blocks):
        if lang in _NON_PYTHON_LANGS or not body.strip():
            continue
        tree = _parses(body)
        if tree is None:
            trimmed, dropped = _trim_to_valid(body)
            tree = _parses(trimmed) if trimmed else None
            if tree is None or (index == len(blocks) - 1 and _score(tree) == 0):
                errors.append(_syntax_error(body))
                continue
            notes.append(f"dropped {dropped} trailing line(s) that were not valid Python")
            body = trimmed
        parsed.append((body, tree))
    if not parsed:
        if errors:
            return None, f"the code block is not valid Python ({errors[0]})"
        return None, "no Python code block in the output"
    best_body, best_tree = max(parsed, key=lambda p: _score(p[1]))
    if _score(best_tree) >= 6 or len(parsed) == 1:
        return best_body, ""
    # ModelNew in one block and its kernels in another: join the blocks that contribute.
    useful = [body for body, tree in parsed if _score(tree) > 0]
    joined = "\n\n".join(useful)
    if len(useful) > 1 and _parses(joined) is not None and _score(ast.parse(joined)) > _score(best_tree):
        notes.append(f"joined {len(useful)} code blocks")
        return joined, ""
    return best_body, ""


def _bare_code(text: str, notes: list[str]) -> tuple[str | None, str]:
    """Unfenced output: the code from its first import/def/class/decorator line on."""
    if _parses(text) is not None and _has_code(text):
        return text, ""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"(import |from \S+ import |@|def |class )", line)]
    for start in starts[:3]:
        body = "\n".join(lines[start:])
        if _parses(body) is None:
            trimmed, dropped = _trim_to_valid(body)
            if trimmed is None or not _has_code(trimmed):
                continue
            notes.append(f"dropped {dropped} trailing line(s) that were not valid Python")
            body = trimmed
        if start:
            notes.append(f"skipped {start} line(s) of prose before the code")
        return body, ""
    return None, "no Python code in the output"


def _has_code(text: str) -> bool:
    tree = _parses(text)
    return tree is not None and any(isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.Import, ast.ImportFrom)) for n in tree.body)


def _ensure_model_new(code: str, tree: ast.Module, problem_name: str | None, notes: list[str]) -> tuple[str, ast.Module, str | None]:
    classes = _classes(tree)
    names = [c.name for c in classes]
    if "ModelNew" in names:
        return code, tree, None
    modules = [c for c in classes if _is_module_class(c)]
    original = {"Model", problem_name}
    preferred = [c for c in modules if c.name.endswith("New")]
    preferred += [c for c in modules if "triton" in c.name.lower() and c not in preferred]
    preferred += [c for c in modules if c.name not in original and c not in preferred]
    if not preferred and _has_jit_kernel(tree):
        # The model rewrote the original class in place (kernels + a class still named Model).
        preferred = [c for c in modules if c.name in original]
    if not preferred:
        return code, tree, "no ModelNew class (nor another nn.Module class) in the code"
    old = preferred[-1].name
    code = re.sub(rf"\b{re.escape(old)}\b", "ModelNew", code)
    notes.append(f"renamed class {old} to ModelNew")
    return code, ast.parse(code), None


def _add_missing_imports(code: str, tree: ast.Module, notes: list[str]) -> str:
    bound: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else used).add(node.id)
    missing = [name for name in _KNOWN_IMPORTS if name in used and name not in bound]
    if not missing:
        return code
    notes.append("added missing imports: " + ", ".join(missing))
    header = "\n".join(_KNOWN_IMPORTS[name] for name in missing)
    # After a leading `from __future__` import, which must stay first.
    lines = code.splitlines()
    insert_at = 0
    for i, line in enumerate(lines):
        if line.startswith("from __future__"):
            insert_at = i + 1
    return "\n".join(lines[:insert_at] + [header] + lines[insert_at:])


def _uses_private_apis(code: str) -> bool:
    return bool(re.search(r"\btorch\._inductor\b|\btorch\._C\._dynamo\b|\bextern_kernels\b", code))
