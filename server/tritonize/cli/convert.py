"""`tritonize convert FILE[::CLASS]`: the pipeline on one module class.

stdout carries one thing: the chosen kernel as a self-contained module (`> kernel.py` is valid
Python), or with --json the report document, or nothing with --write (which puts the kernel into a
file). Progress and the human report go to stderr.

Runs in the CLI process: `pipeline.convert` does the work in child processes (no torch here).
"""

from __future__ import annotations

import argparse
import os
import sys

from ..cancel import Cancelled
from ..edit import apply_to_text, sibling_path, sibling_text
from ..pipeline import convert
from ..problem import Problem, ProblemError, problem_lines
from ..render import report_text
from ..report import Report
from ..settings import Settings
from ..store import Store
from .common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NONE,
    EXIT_OK,
    ProgressPrinter,
    check_worker_python,
    fail,
    json_document,
    load_target,
    print_json,
    print_problem_error,
    report_settings_problems,
    settings_from_args,
    split_target,
)


def cmd_convert(args: argparse.Namespace) -> int:
    as_json = bool(args.json)
    settings, problems = settings_from_args(args)
    if report_settings_problems(problems, as_json):
        return EXIT_BAD_INPUT
    path, _ = split_target(args.target)
    try:
        problem, text = load_target(args.target, settings)
    except ProblemError as err:
        return print_problem_error(err, path, as_json)
    bad_python = check_worker_python(settings, as_json)
    if bad_python is not None:
        return bad_python
    store = Store(settings.resolved_cache_dir()) if settings.use_cache else None
    quiet = as_json or args.quiet
    printer = ProgressPrinter(enabled=not quiet)
    try:
        report = convert(problem, settings, progress=printer, store=store)
    except Cancelled:
        print("tritonize: cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("\ntritonize: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if report.error:
        # no_verifier: this machine cannot verify (see `tritonize doctor`), not bad input
        code = EXIT_NONE if report.error_kind == "no_verifier" else EXIT_BAD_INPUT
        fix = "run `tritonize doctor`" if report.error_kind == "no_verifier" else None
        return fail(report.error_kind or "problem", problem_lines(problem, report.error), code, as_json=as_json,
                    path=path, fix=fix)
    best = report.best_result()
    slower = report.not_faster(settings.min_speedup)
    usable = best is not None and (slower is None or settings.insert_slower)
    if as_json:
        print_json(json_document("report", report.to_dict()))
    elif usable and not args.write:
        print(sibling_text(None, problem, report), end="")
    if not quiet:
        print(report_text(report), file=sys.stderr)
    elif best is None and not as_json:
        print(f"tritonize: {path}: no correct kernel: {why_none(report)}", file=sys.stderr)
    if best is not None and not usable and not as_json:
        # never make the user's code slower: the kernel is in the report, not in the output
        print(f"tritonize: {path}: {slower}; nothing {'written' if args.write else 'printed'} "
              f"(--insert-slower to have it anyway)", file=sys.stderr)
    if usable and args.write:
        write_result(args.write, text, problem, report, settings)
    return EXIT_OK if usable else EXIT_NONE


def why_none(report: Report) -> str:
    """One line: why no candidate was chosen (generators that produced nothing, failures by kind)."""
    parts = [g.skipped if g.skipped.startswith(f"{g.name}:") else f"{g.name}: {g.skipped}"
             for g in report.generators if g.skipped and not g.produced]
    parts += [f"{len(rs)} {kind}" for kind, rs in report.failures_by_kind().items()]
    return "; ".join(parts) or "no candidates"


def write_result(path: str, text: str, problem: Problem, report: Report, settings: Settings) -> None:
    """--write PATH: the file with the kernel inserted, or with --placement sibling the kernel
    module next to PATH (merged into one that is already there)."""
    if settings.placement == "sibling":
        target = sibling_path(path)
        existing = None
        if os.path.exists(target):
            with open(target, encoding="utf-8") as f:
                existing = f.read()
        new_text = sibling_text(existing, problem, report)
    else:
        target = path
        new_text = apply_to_text(text, problem, report)
    with open(target, "w", encoding="utf-8") as f:
        f.write(new_text)
    print(f"tritonize: wrote {target}", file=sys.stderr)
