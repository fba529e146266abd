"""`tritonize repl`: paste a module, watch the model write, see every candidate's verdict.

The loop KernelLLM users know, on top of the one pipeline: the pasted text (ended with Ctrl-D)
becomes a Problem (`problem.extract`), `pipeline.convert` runs every configured generator with a
progress callback, the first model sample streams to the terminal as it is written (the callback's
"text" events), and the verdicts and the chosen kernel follow. `:quit`, or Ctrl-D on an empty
prompt, leaves. The REPL owns a worker pool and a model host for its whole session, so workers
and the model stay loaded between modules. Runs in the CLI process (no torch here).
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ..cancel import Cancelled, ProgressEvent
from ..generate.host_client import ModelHost
from ..pipeline import convert
from ..problem import Problem, ProblemError, extract
from ..report import Report
from ..target import pasted_class
from ..verify.pool import WorkerPool
from .common import EXIT_BAD_INPUT, EXIT_OK, check_worker_python, report_settings_problems, settings_from_args

BANNER = """tritonize repl: paste an nn.Module (with get_inputs() and get_init_inputs(), or pass --inputs),
then press Ctrl-D on an empty line. `:quit` or Ctrl-D on an empty prompt exits.
generators: {generators}   samples: {n}"""


def read_module(stdin: TextIO, stdout: TextIO) -> str | None:
    """One pasted module (until EOF); None when the user wants to leave."""
    stdout.write("\n>>> paste a module, end with Ctrl-D\n")
    stdout.flush()
    lines: list[str] = []
    while True:
        line = stdin.readline()
        if not line:
            break
        if not lines and line.strip() in (":quit", ":q", ":exit"):
            return None
        lines.append(line)
    text = "".join(lines)
    return text if text.strip() else None


class ReplProgress:
    """Stage lines (no token counters: the model's own text is streaming on the same terminal)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last = ""
        self.streaming = False

    def __call__(self, ev: ProgressEvent) -> None:
        if ev.stage == "text":
            self.text(ev.sample or 0, ev.message)
            return
        if ev.stage == "generate" and "so far" in ev.message:
            return
        text = f"[{ev.stage}] {ev.message}"
        if ev.stage == "verify" and ev.total:
            text = f"[verify] {ev.done}/{ev.total}"
        if text == self.last:
            return
        self.last = text
        if self.streaming:
            self.out.write("\n")
            self.streaming = False
        self.out.write(text + "\n")
        self.out.flush()

    def text(self, seq: int, delta: str) -> None:
        """The first sample's text as it is written (the others would interleave with it)."""
        if seq != 0:
            return
        if not self.streaming:
            self.out.write("[model] sample 1:\n")
            self.streaming = True
        self.out.write(delta)
        self.out.flush()


def print_report(report: Report, problem: Problem, out: TextIO) -> None:
    out.write("\n")
    if report.error:
        out.write(f"problem: {report.error_kind}: {report.error}\n")
        return
    for run in report.generators:
        if run.skipped:
            out.write(f"  {run.name}: {run.skipped}\n")
    for r in report.results:
        timing = ""
        if r.timing and r.timing.ms:
            timing = f"  {r.timing.ms:.3f} ms"
            if r.timing.speedup_eager:
                timing += f" ({r.timing.speedup_eager:.2f}x eager)"
        out.write(f"  {r.status:<9} {r.candidate_id}{timing}  {r.message}\n")
    best = report.best_result()
    if best is None:
        out.write("no candidate passed\n")
        return
    out.write(f"\nchosen: {best.candidate_id}\n")
    try:
        from ..edit import generated_class_code, inserted_code

        code = generated_class_code(problem, inserted_code(problem, best))
    except Exception:  # edit.py unavailable or unhappy: show the candidate as it is
        code = best.code
    out.write(code.rstrip() + "\n")


def cmd_repl(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    settings, problems = settings_from_args(args)
    if report_settings_problems(problems):
        return EXIT_BAD_INPUT
    bad_python = check_worker_python(settings)
    if bad_python is not None:
        return bad_python
    settings.use_cache = False  # a REPL is for watching the model work, not for replaying reports
    out.write(BANNER.format(generators=",".join(settings.generators), n=settings.n) + "\n")
    progress = ReplProgress(out)
    pool = WorkerPool(settings)
    model_host = ModelHost()
    try:
        while True:
            text = read_module(stdin, out)
            if text is None:
                return EXIT_OK
            try:
                problem = extract(text, pasted_class(text), inputs=settings.inputs, init_inputs=settings.init_inputs)
            except ProblemError as err:
                out.write(f"problem: {err.kind}: {err.message}\n")
                continue
            try:
                report = convert(problem, settings, progress=progress, pool=pool, model_host=model_host)
            except (Cancelled, KeyboardInterrupt):
                out.write("\ncancelled\n")
                continue
            print_report(report, problem, out)
    finally:
        pool.close()
        model_host.close()
