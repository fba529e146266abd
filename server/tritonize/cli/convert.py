"""`tritonize convert FILE[::CLASS]`: the pipeline on one module class; prints the kernel and the
report (or JSON), and with --write puts the kernel into a file.

Runs in the CLI process: `pipeline.convert` does the work in child processes (no torch here).
"""

from __future__ import annotations

import argparse
import os
import sys

from ..cancel import Cancelled
from ..edit import apply_to_text, generated_class_code, sibling_path, sibling_text
from ..pipeline import convert
from ..problem import Problem, ProblemError
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
    load_target,
    print_problem_error,
    report_settings_problems,
    settings_from_args,
    split_target,
)


def cmd_convert(args: argparse.Namespace) -> int:
    settings, problems = settings_from_args(args)
    if report_settings_problems(problems):
        return EXIT_BAD_INPUT
    path, _ = split_target(args.target)
    try:
        problem, text = load_target(args.target, settings)
    except ProblemError as err:
        print_problem_error(err, path, args.json)
        return EXIT_BAD_INPUT
    store = Store(settings.resolved_cache_dir()) if settings.use_cache else None
    printer = ProgressPrinter(enabled=not (args.json or args.quiet))
    try:
        report = convert(problem, settings, progress=printer, store=store)
    except Cancelled:
        print("tritonize: cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("\ntritonize: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if report.error:
        if args.json:
            print(report.to_json(indent=2))
        print(f"tritonize: {path}: {report.error_kind}: {report.error}", file=sys.stderr)
        if report.error_kind == "no_verifier":  # this machine cannot verify (see `tritonize doctor`): not bad input
            return EXIT_NONE
        return EXIT_BAD_INPUT
    best = report.best_result()
    if args.json:
        print(report.to_json(indent=2))
    else:
        if best is not None:
            print(generated_class_code(problem, best.code))
            print()
        print(report_text(report))
    if best is not None and args.write:
        write_result(args.write, text, problem, report, settings)
    return EXIT_OK if best is not None else EXIT_NONE


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
