"""`tritonize bench`: running problems through the pipeline with one shared worker pool and model
host, storing each result at once, and deciding on --resume which stored results still stand.

Each problem goes through the same `pipeline.convert` the editor uses. Every finished problem's
record is written at once (atomically) to the results directory, so an interrupted run continues
with `--resume`. Runs in the CLI process: no torch, no triton (DESIGN.md, invariant 1).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TextIO

from ..cancel import Cancelled, CancelToken, ProgressEvent
from ..generate.host_client import ModelHost
from ..pipeline import convert, device_of
from ..problem import ProblemError
from ..report import Report
from ..settings import Settings
from ..target import load_file
from ..verify.pool import WorkerPool
from .discover import BenchProblem
from .results import (
    ProblemRecord,
    load_record,
    now_iso,
    outcome_line,
    result_path,
    source_hash,
    write_atomic,
)


def run_key(settings: Settings) -> str:
    """Hash of the settings that change a result: a stored result counts only under the same key."""
    fields = settings.result_key_fields()
    fields.update(time_candidates=settings.time_candidates, device=settings.device)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def reusable(record: ProblemRecord | None, problem: BenchProblem, key: str) -> tuple[bool, str]:
    """Whether a stored result stands for this run, and if not, why (shown to the user)."""
    if record is None:
        return False, "no stored result"
    if record.internal_error:
        return False, "stored result is an internal error"
    if record.run_key != key:
        return False, "stored result used other settings"
    try:
        if record.source_sha256 != source_hash(problem.path):
            return False, "problem file changed since"
    except OSError:
        return False, "problem file unreadable"
    return True, ""


@dataclass
class ResumePlan:
    """Which problems run, which stored records stand in for a run, and why others run again."""

    pending: list[BenchProblem] = field(default_factory=list)
    resumed: list[ProblemRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan(problems: list[BenchProblem], results_dir: str, key: str, resume: bool) -> ResumePlan:
    """Without `resume` every problem runs; with it, a stored record is reused when it still
    stands (see `reusable`) and the problem runs again, with a note saying why, when it does not."""
    out = ResumePlan()
    for p in problems:
        path = result_path(results_dir, p)
        if resume:
            record = load_record(path)
            ok, why = reusable(record, p, key)
            if ok and record is not None:
                out.resumed.append(record)
                continue
            if os.path.exists(path):
                out.notes.append(f"{p.id}: running again: {why}")
        out.pending.append(p)
    return out


def load_records(problems: list[BenchProblem], results_dir: str) -> tuple[list[ProblemRecord], list[BenchProblem]]:
    """The stored records of `problems`, in their order, and the problems that have none."""
    records: list[ProblemRecord] = []
    missing: list[BenchProblem] = []
    for p in problems:
        rec = load_record(result_path(results_dir, p))
        if rec is None:
            missing.append(p)
        else:
            records.append(rec)
    return records, missing


# ---- running ----------------------------------------------------------------------------------


class BenchProgress:
    """Problem i/N on stderr: a live line on a terminal, one line per finished problem otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done = 0
        self.lock = threading.Lock()

    def _write(self, text: str, final: bool) -> None:
        if not self.enabled:
            return
        with self.lock:
            if self.tty:
                self.stream.write("\r\033[K" + (text if final else text[:150]) + ("\n" if final else ""))
            elif final:
                self.stream.write(text + "\n")
            self.stream.flush()

    def event(self, problem: BenchProblem, ev: ProgressEvent) -> None:
        if ev.stage in ("done", "text"):
            return  # the finished line says it; model text is not shown
        step = f" {ev.done}/{ev.total}" if ev.total else ""
        self._write(f"[{self.done}/{self.total}] {problem.id}: {ev.stage}{step} {ev.message}", final=False)

    def finished(self, problem: BenchProblem, text: str) -> None:
        with self.lock:
            self.done += 1
            n = self.done
        self._write(f"[{n}/{self.total}] {problem.id}: {text}", final=True)

    def note(self, text: str) -> None:
        self._write(text, final=True)


def run_problem(
    problem: BenchProblem, settings: Settings, pool: WorkerPool, model_host: ModelHost, cancel: CancelToken,
    progress: BenchProgress, key: str, attribute_phases: bool = False,
) -> ProblemRecord:
    """Convert one problem; every failure becomes a Report with an error, never an exception
    (except cancellation)."""
    started = time.monotonic()
    sha = source_hash(problem.path)
    internal = False
    stats_before = pool.stats() if attribute_phases else {}
    try:
        prob, _text = load_file(problem.path, None, settings)
        report = convert(prob, settings, lambda ev: progress.event(problem, ev), cancel, pool=pool, store=None,
                         model_host=model_host)
        if attribute_phases:
            add_worker_phases(report, stats_before, pool.stats())
    except ProblemError as err:
        report = Report(problem_name=problem.id, path=problem.path, error=err.message, error_kind=err.kind)
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug on one problem must not end the run; --resume retries it
        internal = True
        report = Report(problem_name=problem.id, path=problem.path,
                        error=f"{type(exc).__name__}: {exc}", error_kind="internal")
    wall = time.monotonic() - started
    report.stage_seconds.setdefault("total", wall)
    return ProblemRecord(
        problem=problem.id,
        path=problem.path,
        source_sha256=sha,
        run_key=key,
        finished=now_iso(),
        wall_seconds=wall,
        report=report,
        internal_error=internal,
    )


def add_worker_phases(report: Report, before: dict[str, float], after: dict[str, float]) -> None:
    """Add the seconds verify workers spent per phase during this problem (`worker:load`,
    `worker:correctness`, `worker:time`, ...: summed over candidates) to the report's stage split.
    Only meaningful while one problem runs at a time (the pool's counters are global); the
    pipeline's own stages are kept where both exist."""
    for name, value in after.items():
        if name.startswith("phase_") and name.endswith("_s"):
            delta = value - before.get(name, 0.0)
            if delta > 0:
                report.stage_seconds.setdefault("worker:" + name[len("phase_"):-len("_s")], delta)


def run_all(
    pending: list[BenchProblem], settings: Settings, results_dir: str, progress: BenchProgress,
    cancel: CancelToken, key: str,
) -> None:
    """Run the pending problems with one shared pool and model host (a local model loads once for
    the whole run); store each result as soon as it exists. Raises WorkerStartError when no
    verifier starts, KeyboardInterrupt or Cancelled when stopped.

    With several GPUs, as many problems run at once as there are devices, so generation of one
    problem overlaps verification of another; the pool spreads the jobs over the GPUs.
    """
    pool = WorkerPool(settings)
    model_host = ModelHost()
    cancel.on_cancel(pool.close)
    try:
        device = device_of(pool, cancel)
        parallel = device.count if device.kind == "cuda" else 1
        progress.note(f"device: {device.name}" + (f" x{device.count}" if device.count > 1 else "")
                      + ("" if device.timed else "  (not timed)"))

        def one(p: BenchProblem) -> None:
            cancel.raise_if_cancelled()
            record = run_problem(p, settings, pool, model_host, cancel, progress, key,
                                 attribute_phases=parallel <= 1)
            write_atomic(result_path(results_dir, p), json.dumps(record.to_dict(), indent=1))
            progress.finished(p, outcome_line(record))

        if parallel <= 1:
            for p in pending:
                one(p)
            return
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="bench") as ex:
            futures: set[Future] = {ex.submit(one, p) for p in pending}
            try:
                while futures:
                    done, futures = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
                    for f in done:
                        f.result()
            except BaseException:
                cancel.cancel()
                for f in futures:
                    f.cancel()
                raise
    finally:
        pool.close()
        model_host.close()
