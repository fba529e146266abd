"""`tritonize bench PATH...`: run the pipeline over folders of KernelBench-format problems (issue 9).

Arguments and messages only; the work is the bench package's: discover.py finds the problems,
run.py runs them (one shared worker pool and model host, each result stored at once, so an
interrupted run continues with `--resume`), results.py turns the records into the metrics table,
JSON, markdown and a plot. Runs in the CLI process: no torch, no triton (DESIGN.md, invariant 1).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from ..bench.discover import discover
from ..bench.results import collect, outcome_line, render_text, write_atomic, write_outputs
from ..bench.run import BenchProgress, load_records, plan, run_all, run_key
from ..cancel import Cancelled, CancelToken
from ..verify.pool import WorkerStartError
from .common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NONE,
    EXIT_OK,
    check_worker_python,
    fail,
    json_document,
    print_json,
    report_settings_problems,
    settings_from_args,
)

T = TypeVar("T", int, float)


def cmd_bench(args: argparse.Namespace) -> int:
    as_json = bool(getattr(args, "json", False))
    settings, bad = settings_from_args(args)
    if report_settings_problems(bad, as_json):
        return EXIT_BAD_INPUT
    try:
        ks, ps = parse_ks_ps(args)
    except ValueError as e:
        return fail("usage", str(e), EXIT_BAD_INPUT, as_json=as_json)
    settings.use_cache = False  # a benchmark measures; it never answers from the report cache

    problems, warnings = discover(args.paths)
    for w in warnings:
        print(f"tritonize: {w}", file=sys.stderr)
    if args.limit is not None:
        problems = problems[: max(0, args.limit)]
    if not problems:
        return fail("not_found", "no problem files found (KernelBench format: an nn.Module class and get_inputs())",
                    EXIT_BAD_INPUT, as_json=as_json, path=" ".join(args.paths))
    if not getattr(args, "report_only", False):
        bad_python = check_worker_python(settings, as_json)
        if bad_python is not None:
            return bad_python

    results_dir = args.results_dir
    key = run_key(settings)
    progress = BenchProgress(len(problems))
    todo = plan(problems, results_dir, key, resume=args.resume)
    progress.note(f"tritonize bench: {len(problems)} problems ({len(todo.pending)} to run), "
                  f"generators {','.join(settings.generators)}, results in {results_dir}")
    for note in todo.notes:
        progress.note(note)
    by_path = {p.path: p for p in problems}
    for record in todo.resumed:
        progress.finished(by_path[record.path], f"resumed, finished {record.finished}: {outcome_line(record)}")

    if getattr(args, "report_only", False):
        # Summarise what is stored (e.g. a run cut short on a GPU machine) without running anything.
        if todo.pending:
            progress.note(f"tritonize bench: --report-only: {len(todo.pending)} problem(s) have no stored result "
                          f"and are left out: {', '.join(p.id for p in todo.pending)}")
        todo.pending = []
        problems = [p for p in problems if p.path in {r.path for r in todo.resumed}]

    if todo.pending:
        cancel = CancelToken()
        _terminate_like_ctrl_c()
        try:
            run_all(todo.pending, settings, results_dir, progress, cancel, key)
        except (KeyboardInterrupt, Cancelled):
            cancel.cancel()
            print(f"\ntritonize: interrupted; finished problems are stored in {results_dir}, "
                  "continue with --resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        except WorkerStartError as e:
            return fail("no_verifier", f"the verifier could not start: {e}", EXIT_NONE, as_json=as_json,
                        fix="run `tritonize doctor`")

    records, missing = load_records(problems, results_dir)
    for p in missing:  # written moments ago: only a concurrent writer or a full disk gets here
        print(f"tritonize: {p.id}: result missing in {results_dir}", file=sys.stderr)
    res = collect(records, list(settings.generators), ks, ps, settings)
    doc = json_document("bench", res.to_dict())
    if as_json:
        print_json(doc)
    print(render_text(res), file=sys.stderr if as_json else sys.stdout)
    if args.json_out:
        write_atomic(args.json_out, json.dumps(doc, indent=1))
        print(f"tritonize: wrote {args.json_out}", file=sys.stderr)
    write_outputs(res, markdown=args.markdown, plot=args.plot)
    return EXIT_OK


def _parse_list(text: str, conv: Callable[[str], T], what: str) -> list[T]:
    try:
        values = [conv(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise ValueError(f"{what}: needs at least one value")
    return values


def parse_ks_ps(args: argparse.Namespace) -> tuple[list[int], list[float]]:
    """--k (pass@k) and --p (fast_p thresholds), sorted and without repeats. Raises ValueError."""
    ks = _parse_list(args.k, int, "--k")
    ps = _parse_list(args.p, float, "--p")
    if any(k < 1 for k in ks):
        raise ValueError("--k: values must be at least 1")
    if any(p < 0 for p in ps):
        raise ValueError("--p: thresholds must not be negative")
    return sorted(set(ks)), sorted(set(ps))


def _terminate_like_ctrl_c() -> None:
    """SIGTERM (e.g. `timeout 540 tritonize bench ... --resume` on a machine with a time limit)
    stops the run the way Ctrl-C does: workers closed, stored results kept."""

    def on_term(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
