"""`tritonize repl`: paste a module, watch the model write, see every candidate's verdict.

The loop KernelLLM users know, on top of the one pipeline: the pasted text (ended with Ctrl-D)
becomes a Problem (`problem.extract`), `pipeline.convert` runs every configured generator with a
progress callback, the first model sample streams to the terminal as it is written, and the
verdicts and the chosen kernel follow. `:quit`, or Ctrl-D on an empty prompt, leaves. Workers and
the model stay loaded between modules.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ..cancel import Cancelled, ProgressEvent
from ..report import Report

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
        if seq != 0:
            return
        if not self.streaming:
            self.out.write("[model] sample 1:\n")
            self.streaming = True
        self.out.write(delta)
        self.out.flush()


def choose_class(text: str) -> str | None:
    from ..problem import list_modules

    names = [c.name for c in list_modules(text)]
    if "Model" in names:
        return "Model"
    return names[-1] if names else None


def print_report(report: Report, problem, out: TextIO) -> None:
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
        from ..edit import generated_class_code

        code = generated_class_code(problem, best.code)
    except Exception:  # edit.py unavailable or unhappy: show the candidate as it is
        code = best.code
    out.write(code.rstrip() + "\n")


def cmd_repl(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    from .main import _settings_from_args
    from ..generate.llm import add_text_listener
    from ..generate.host_client import shutdown_model_host
    from ..pipeline import convert
    from ..problem import ProblemError, extract
    from ..verify.pool import WorkerPool

    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    settings, problems = _settings_from_args(args)
    for p in problems:
        print(f"tritonize: {p}", file=sys.stderr)
    if problems:
        return 2
    settings.use_cache = False  # a REPL is for watching the model work, not for replaying reports
    out.write(BANNER.format(generators=",".join(settings.generators), n=settings.n) + "\n")
    progress = ReplProgress(out)
    remove_listener = add_text_listener(progress.text)
    pool = WorkerPool(settings)
    try:
        while True:
            text = read_module(stdin, out)
            if text is None:
                return 0
            try:
                problem = extract(text, choose_class(text), inputs=settings.inputs, init_inputs=settings.init_inputs)
            except ProblemError as err:
                out.write(f"problem: {err.kind}: {err.message}\n")
                continue
            try:
                report = convert(problem, settings, progress=progress, pool=pool)
            except (Cancelled, KeyboardInterrupt):
                out.write("\ncancelled\n")
                continue
            print_report(report, problem, out)
    finally:
        remove_listener()
        pool.close()
        shutdown_model_host()
