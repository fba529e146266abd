"""`tritonize bench`: finding KernelBench-format problem files under the paths given.

Runs in the CLI process; reads files, imports nothing heavy.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class BenchProblem:
    id: str  # shown in tables: the path under the folder given, without ".py" (e.g. "01_relu")
    path: str  # absolute
    stem: str  # results file name without ".json": readable and unique per path


def is_problem_source(text: str) -> bool:
    """A KernelBench-format file: a class deriving from something `Module`-like and `get_inputs()`."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    has_inputs = any(isinstance(n, ast.FunctionDef) and n.name == "get_inputs" for n in tree.body)
    has_module = any(
        isinstance(n, ast.ClassDef) and any("Module" in ast.unparse(b) for b in n.bases) for n in tree.body
    )
    return has_inputs and has_module


def _stem(problem_id: str, path: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", problem_id).strip("_") or "problem"
    return f"{safe}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"


def discover(paths: Sequence[str]) -> tuple[list[BenchProblem], list[str]]:
    """Problem files under `paths` (files, or folders searched recursively), in a stable order.

    Returns the problems and warnings (missing paths, files given explicitly that are not problems).
    """
    found: list[tuple[str, str]] = []  # (id, abs path)
    warnings: list[str] = []
    for given in paths:
        if os.path.isdir(given):
            for root, dirs, files in os.walk(given):
                dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
                for name in sorted(files):
                    if not name.endswith(".py") or name.startswith("_"):
                        continue
                    full = os.path.join(root, name)
                    if _read_is_problem(full):
                        rel = os.path.relpath(full, given)
                        found.append((rel[:-3].replace(os.sep, "/"), os.path.abspath(full)))
        elif os.path.isfile(given):
            if _read_is_problem(given):
                found.append((os.path.basename(given)[:-3], os.path.abspath(given)))
            else:
                warnings.append(f"{given}: not a problem file (needs an nn.Module class and get_inputs())")
        else:
            warnings.append(f"{given}: no such file or folder")
    problems: list[BenchProblem] = []
    seen_paths: set[str] = set()
    seen_ids: set[str] = set()
    for pid, path in found:
        if path in seen_paths:
            continue
        seen_paths.add(path)
        if pid in seen_ids:  # same name from two folders: qualify it with the folder
            pid = f"{os.path.basename(os.path.dirname(path))}/{pid}"
        seen_ids.add(pid)
        problems.append(BenchProblem(id=pid, path=path, stem=_stem(pid, path)))
    return problems, warnings


def _read_is_problem(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            return is_problem_source(f.read())
    except (OSError, UnicodeDecodeError):
        return False
