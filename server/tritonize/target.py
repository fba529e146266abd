"""Which module class of a file to convert or verify, and the Problem for it.

Runs in the server/CLI process (no torch). One rule for every front door — `tritonize convert`,
`tritonize verify`, `tritonize bench` and the language server's verify command: the class the user
named, else the file's `Model` (the KernelBench convention), else its only nn.Module class, else a
ProblemError that says how to choose. (worker/runtime.py's `load_problem` is something else: it
imports an already extracted Problem inside a worker.)
"""

from __future__ import annotations

import os

from .problem import Problem, ProblemError, extract, list_modules
from .settings import Settings


def read_source(path: str) -> str:
    """The file's text; ProblemError("read_error") when it cannot be read as UTF-8."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ProblemError("read_error", f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None


def choose_class(text: str, class_name: str | None, *, where: str, how_to_choose: str) -> str | None:
    """The class to use. None when the file has no module class at all: `extract` then explains
    what it looked for. `where` names the file and `how_to_choose` is the fix-it sentence of the
    caller's interface (e.g. "choose one with FILE::CLASS") when several classes compete."""
    if class_name is not None:
        return class_name
    names = [m.name for m in list_modules(text)]
    if "Model" in names:
        return "Model"
    if len(names) > 1:
        raise ProblemError("not_found", f"{where} has several nn.Module classes ({', '.join(names)}); {how_to_choose}")
    return names[0] if names else None


def load_problem(text: str, class_name: str | None, path: str | None, settings: Settings, *,
                 how_to_choose: str, where: str | None = None) -> Problem:
    """The Problem for the chosen class of `text` (the file at `path`, if it is one), with the
    input recipe from `settings` when given there. `where` names the file in messages (default:
    `path`). Raises ProblemError."""
    cls = choose_class(text, class_name, where=where or path or "the file", how_to_choose=how_to_choose)
    return extract(text, cls, path=path, inputs=settings.inputs, init_inputs=settings.init_inputs)


def load_file(path: str, class_name: str | None, settings: Settings) -> tuple[Problem, str]:
    """Read a problem file from disk: (problem, the file's text). Raises ProblemError."""
    text = read_source(path)
    problem = load_problem(text, class_name, os.path.abspath(path), settings, where=path,
                           how_to_choose=f"choose one with {path}::CLASS")
    return problem, text


def pasted_class(text: str) -> str | None:
    """The REPL's choice for pasted code, where nobody names a class: `Model`, else the last
    module class (helpers are pasted before the module that uses them)."""
    names = [m.name for m in list_modules(text)]
    if "Model" in names:
        return "Model"
    return names[-1] if names else None
