"""`tritonize bench`: run the pipeline over folders of KernelBench-format problems (issue 9).

Each problem goes through the same `pipeline.convert` the editor uses, with one shared worker pool
for the whole run. Every finished problem's report is written at once (atomically) to the results
directory, so an interrupted run continues with `--resume`. At the end the metrics
(`metrics.py`) are printed as a table and optionally written as JSON, markdown and a plot.

This module runs in the CLI process: no torch, no triton (DESIGN.md, invariant 1).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..cancel import Cancelled, CancelToken, ProgressEvent
from ..metrics import (
    Goal,
    ProblemOutcome,
    Summary,
    goals,
    outcome_from_report,
    stage_stats,
    summarize,
)
from ..render import text_table
from ..report import Report
from ..settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
RESULT_FORMAT = 1


# ---- finding problems -------------------------------------------------------------------------


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


# ---- per-problem results (the resume state) ---------------------------------------------------


def run_key(settings: Settings) -> str:
    """Hash of the settings that change a result: a stored result counts only under the same key."""
    fields = settings.result_key_fields()
    fields.update(time_candidates=settings.time_candidates, device=settings.device)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def source_hash(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@dataclass
class ProblemRecord:
    """One problem's stored result: the full Report plus what decides whether it can be reused."""

    problem: str
    path: str
    source_sha256: str
    run_key: str
    finished: str  # ISO 8601 UTC
    wall_seconds: float
    report: Report
    internal_error: bool = False  # our bug, not the problem's: --resume runs it again

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["format"] = RESULT_FORMAT
        d["report"] = self.report.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProblemRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        d["report"] = Report.from_dict(data["report"])
        return cls(**d)


def result_path(results_dir: str, problem: BenchProblem) -> str:
    return os.path.join(results_dir, "problems", problem.stem + ".json")


def write_atomic(path: str, text: str) -> None:
    """Write via a temporary file and rename, so a kill never leaves half a file behind."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_record(path: str) -> ProblemRecord | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("format") != RESULT_FORMAT:
            return None
        return ProblemRecord.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


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


# ---- running ----------------------------------------------------------------------------------


class BenchProgress:
    """Problem i/N on stderr: a live line on a terminal, one line per finished problem otherwise."""

    def __init__(self, total: int, stream=None, enabled: bool = True) -> None:
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
        if ev.stage == "done":
            return  # the finished line says it
        step = f" {ev.done}/{ev.total}" if ev.total else ""
        self._write(f"[{self.done}/{self.total}] {problem.id}: {ev.stage}{step} {ev.message}", final=False)

    def finished(self, problem: BenchProblem, text: str) -> None:
        with self.lock:
            self.done += 1
            n = self.done
        self._write(f"[{n}/{self.total}] {problem.id}: {text}", final=True)

    def note(self, text: str) -> None:
        self._write(text, final=True)


def outcome_line(record: ProblemRecord) -> str:
    """One line for the log: status, chosen candidate and speedups, wall time."""
    report = record.report
    if report.error:
        return f"ERROR {report.error_kind}: {report.error} ({record.wall_seconds:.1f} s)"
    best = report.best_result()
    n_pass, n_all = len(report.passed()), len(report.results)
    if best is None:
        why = [f"{k} {len(v)}" for k, v in sorted(report.failures_by_kind().items())]
        why += [f"{g.name} {g.skipped}" for g in report.generators if g.skipped and not g.produced]
        return f"FAIL 0/{n_all} passed ({'; '.join(why) or 'no candidates'}) ({record.wall_seconds:.1f} s)"
    speed = ""
    if best.timing:
        speed = f" {_x(best.timing.speedup_eager)} eager, {_x(best.timing.speedup_compile)} compile"
    return f"PASS {n_pass}/{n_all} best {best.candidate_id}{speed} ({record.wall_seconds:.1f} s)"


def run_problem(
    problem: BenchProblem, settings: Settings, pool, cancel: CancelToken, progress: BenchProgress, key: str,
    attribute_phases: bool = False,
) -> ProblemRecord:
    """Convert one problem; every failure becomes a Report with an error, never an exception
    (except cancellation)."""
    from .main import load_problem
    from ..pipeline import convert
    from ..problem import ProblemError

    started = time.monotonic()
    sha = source_hash(problem.path)
    internal = False
    stats_before = pool.stats() if attribute_phases else {}
    try:
        prob, _text = load_problem(problem.path, settings)
        report = convert(prob, settings, lambda ev: progress.event(problem, ev), cancel, pool=pool, store=None)
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
        finished=_now(),
        wall_seconds=wall,
        report=report,
        internal_error=internal,
    )


def add_worker_phases(report: Report, before: dict[str, float], after: dict[str, float]) -> None:
    """Add the seconds verify workers spent per phase during this problem (`worker:load`,
    `worker:correctness`, `worker:time`, ...: summed over candidates) to the report's stage split. Only meaningful while one problem runs at a time (the pool's counters
    are global); the pipeline's own stages are kept where both exist."""
    for name, value in after.items():
        if name.startswith("phase_") and name.endswith("_s"):
            delta = value - before.get(name, 0.0)
            if delta > 0:
                report.stage_seconds.setdefault("worker:" + name[len("phase_"):-len("_s")], delta)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def run_all(
    pending: list[BenchProblem], settings: Settings, results_dir: str, progress: BenchProgress,
    cancel: CancelToken, key: str,
) -> None:
    """Run the pending problems with one shared pool; store each result as soon as it exists.

    With several GPUs, as many problems run at once as there are devices, so generation of one
    problem overlaps verification of another; the pool spreads the jobs over the GPUs.
    """
    from ..verify.pool import WorkerPool

    pool = WorkerPool(settings)
    cancel.on_cancel(pool.close)
    try:
        pool.start()
        device = pool.device_info()
        parallel = device.count if device.kind == "cuda" else 1
        progress.note(f"device: {device.name}" + (f" x{device.count}" if device.count > 1 else "")
                      + ("" if device.timed else "  (not timed)"))

        def one(p: BenchProblem) -> None:
            cancel.raise_if_cancelled()
            record = run_problem(p, settings, pool, cancel, progress, key, attribute_phases=parallel <= 1)
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


# ---- the report -------------------------------------------------------------------------------


def _x(v: float | None) -> str:
    return f"{v:.2f}x" if v is not None else "n/a"


def _pct(v: float | None) -> str:
    return f"{v:.1%}" if v is not None else "n/a"


def _s(v: float | None) -> str:
    return f"{v:.1f}" if v is not None else "-"


@dataclass
class BenchResults:
    """Everything a run measured: the input to every output format."""

    records: list[ProblemRecord]
    outcomes: list[ProblemOutcome]
    summaries: list[Summary]
    stages: dict[str, dict[str, float]]
    goals: list[Goal]
    generators: list[str]
    ks: list[int]
    ps: list[float]
    devices: list[str]
    timed: bool
    failure_kinds: dict[str, int]
    settings: dict[str, Any]
    skipped: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)  # generator → why → problems

    def to_dict(self) -> dict[str, Any]:
        problems = []
        for rec, o in zip(self.records, self.outcomes, strict=True):
            best = rec.report.best_result()
            problems.append({
                "problem": rec.problem,
                "path": rec.path,
                "correct": o.correct,
                "best": rec.report.best,
                "best_origin": o.best_origin,
                "ms": best.timing.ms if best and best.timing else None,
                "eager_ms": rec.report.eager_ms,
                "compile_ms": rec.report.compile_ms,
                "speedup_eager": o.speedup_eager,
                "speedup_compile": o.speedup_compile,
                "dtype": rec.report.dtype,
                "error": o.error,
                "stage_seconds": o.stage_seconds,
                "wall_seconds": rec.wall_seconds,
                "finished": rec.finished,
                "generators": {g: dataclasses.asdict(go) for g, go in o.generators.items()},
                "report": rec.report.to_dict(),
            })
        return {
            "format": RESULT_FORMAT,
            "tritonize": __version__,
            "created": _now(),
            "devices": self.devices,
            "timed": self.timed,
            "generators": self.generators,
            "k": self.ks,
            "p": self.ps,
            "settings": self.settings,
            "summary": [dataclasses.asdict(s) for s in self.summaries],
            "stages": self.stages,
            "goals": [dataclasses.asdict(g) for g in self.goals],
            "failure_kinds": self.failure_kinds,
            "skipped": self.skipped,
            "problems": problems,
        }


def collect(records: list[ProblemRecord], generators: list[str], ks: list[int], ps: list[float],
            settings: Settings) -> BenchResults:
    outcomes = [outcome_from_report(r.problem, r.report, generators) for r in records]
    summaries = summarize(outcomes, ks, ps, generators)
    stages = stage_stats(outcomes)
    kinds: dict[str, int] = {}
    for r in records:
        for kind, results in r.report.failures_by_kind().items():
            kinds[kind] = kinds.get(kind, 0) + len(results)
        if r.report.error:
            key = f"problem:{r.report.error_kind}"
            kinds[key] = kinds.get(key, 0) + 1
    skipped: dict[str, dict[str, int]] = {}
    for r in records:
        for g in r.report.generators:
            if g.skipped and not g.produced:
                why = skipped.setdefault(g.name, {})
                why[g.skipped] = why.get(g.skipped, 0) + 1
    devices = sorted({r.report.device for r in records if r.report.device})
    return BenchResults(
        records=records, outcomes=outcomes, summaries=summaries, stages=stages,
        goals=goals(summaries[-1], stages), generators=generators, ks=ks, ps=ps, devices=devices,
        timed=any(r.report.timed for r in records), failure_kinds=dict(sorted(kinds.items())),
        settings=settings.to_dict(), skipped=skipped,
    )


def problem_rows(res: BenchResults) -> tuple[list[str], list[list[str]]]:
    headers = ["problem", "dtype", "status", "passed", "best", "ms", "eager ms", "compile ms",
               "x eager", "x compile", "gen s", "verify s", "total s"]
    rows = []
    for rec, o in zip(res.records, res.outcomes, strict=True):
        rep = rec.report
        best = rep.best_result()
        status = "ERROR" if rep.error else ("PASS" if o.correct else "FAIL")
        ms = best.timing.ms if best and best.timing else None
        st = o.stage_seconds
        rows.append([
            rec.problem, rep.dtype or "-", status, f"{len(rep.passed())}/{len(rep.results)}",
            rep.best or (f"{rep.error_kind}" if rep.error else "-"),
            f"{ms:.4f}" if ms is not None else "-",
            f"{rep.eager_ms:.4f}" if rep.eager_ms is not None else "-",
            f"{rep.compile_ms:.4f}" if rep.compile_ms is not None else "-",
            _x(o.speedup_eager) if o.correct else "-", _x(o.speedup_compile) if o.correct else "-",
            _s(st.get("generate")), _s(st.get("verify")), _s(st.get("total")),
        ])
    return headers, rows


def quality_rows(res: BenchResults) -> tuple[list[str], list[list[str]]]:
    """Correctness per generator: problems solved, samples verified, pass@k."""
    headers = ["generator", "problems", "correct (fast_0)", "samples"] + [f"pass@{k}" for k in res.ks]
    rows = []
    for s in res.summaries:
        row = [s.name, str(s.problems), f"{s.correct} ({_pct(s.fast_p.get('0', s.correct / max(1, s.problems)))})",
               str(s.samples)]
        row += [_pct(s.pass_at_k.get(str(k))) if s.name != "combined" else "-" for k in res.ks]
        rows.append(row)
    return headers, rows


def speed_rows(res: BenchResults) -> tuple[list[str], list[list[str]]]:
    """Speed per generator: fast_p over eager and torch.compile, geometric-mean speedups."""
    above = [p for p in res.ps if p > 0]
    headers = ["generator"] + [f"fast_{p:g}" for p in above] + [f"fast_{p:g} vs compile" for p in above]
    headers += ["geomean x eager", "x eager (correct)", "geomean x compile", "x compile (correct)"]
    rows = []
    for s in res.summaries:
        row = [s.name] + [_pct(s.fast_p[f"{p:g}"]) for p in above] + [_pct(s.fast_p_compile[f"{p:g}"]) for p in above]
        row += [_x(s.geomean_eager), _x(s.geomean_eager_correct), _x(s.geomean_compile), _x(s.geomean_compile_correct)]
        rows.append(row)
    return headers, rows


def stage_rows(res: BenchResults) -> tuple[list[str], list[list[str]]]:
    headers = ["stage", "mean s", "median s", "max s"]
    rows = [[stage, _s(v["mean"]), _s(v["median"]), _s(v["max"])] for stage, v in res.stages.items()]
    return headers, rows


def goal_rows(res: BenchResults) -> tuple[list[str], list[list[str]]]:
    headers = ["goal", "target", "measured", "met"]
    rows = []
    for g in res.goals:
        if g.value is None:
            value = "n/a"
        elif "fast_0" in g.name:
            value = _pct(g.value)
        elif "wall" in g.name:
            value = f"{g.value:.1f} s"
        else:
            value = _x(g.value)
        met = {True: "yes", False: "NO", None: "n/a (needs a GPU)" if not res.timed else "n/a"}[g.met]
        rows.append([g.name, g.target, value, met])
    return headers, rows


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    def cell(c: str) -> str:
        return c.replace("|", "\\|")

    out = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _header_lines(res: BenchResults) -> list[str]:
    dev = ", ".join(res.devices) or "unknown"
    lines = [
        f"problems: {len(res.records)}   generators: {','.join(res.generators)}   "
        f"n={res.settings.get('n')} seeds={res.settings.get('seeds')}",
        f"device: {dev}" + ("" if res.timed else "   (not timed: speedups and fast_p>0 need a GPU)"),
    ]
    if res.failure_kinds:
        lines.append("failed candidates by kind: " + ", ".join(f"{k} {v}" for k, v in res.failure_kinds.items()))
    for name, reasons in res.skipped.items():
        for why, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:3]:
            lines.append(f"generator {name} produced nothing on {count} problem(s): {why}")
    return lines


def render_text(res: BenchResults) -> str:
    parts = ["tritonize bench", *_header_lines(res), "", text_table(*problem_rows(res)), "",
             text_table(*quality_rows(res)), "", text_table(*speed_rows(res)), ""]
    if res.stages:
        parts += ["wall time per problem:", text_table(*stage_rows(res)), ""]
    parts += ["goals:", text_table(*goal_rows(res))]
    return "\n".join(parts)


def render_markdown(res: BenchResults) -> str:
    parts = ["# tritonize bench", ""]
    parts += [f"- {line}" for line in _header_lines(res)]
    parts += [f"- created: {_now()}, tritonize {__version__}", ""]
    parts += ["## Summary", "", "Per generator: its own fastest correct kernel per problem; *combined*: the "
              "kernel the pipeline chose (best of all generators). Geomeans over all problems count a "
              "failure as 1.0x (the reference is kept); fast_p counts correct kernels with speedup > p.", "",
              md_table(*quality_rows(res)), "", md_table(*speed_rows(res)), ""]
    parts += ["## Goals", "", md_table(*goal_rows(res)), ""]
    if res.stages:
        parts += ["## Wall time per problem", "", md_table(*stage_rows(res)), ""]
    parts += ["## Problems", "", md_table(*problem_rows(res)), ""]
    failed = [(rec, o) for rec, o in zip(res.records, res.outcomes, strict=True) if not o.correct]
    if failed:
        parts += ["## Failures", ""]
        for rec, _ in failed:
            parts.append(f"- **{rec.problem}**: {outcome_line(rec)}")
            for kind, results in sorted(rec.report.failures_by_kind().items()):
                first = results[0]
                parts.append(f"  - {kind} ({len(results)}): {first.candidate_id}: {first.message}")
        parts.append("")
    return "\n".join(parts)


def write_plot(res: BenchResults, path: str) -> str | None:
    """Speedup distribution per generator (x eager, x torch.compile). Returns why not, or None."""
    if not res.timed:
        return "no timings in this run (CPU only): no plot written"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'tritonize[bench]'): no plot written"
    names = [*res.generators, "combined"]

    def values(name: str, attr: str) -> list[float]:
        if name == "combined":
            return [v for o in res.outcomes if o.correct and (v := getattr(o, attr)) is not None]
        return [v for o in res.outcomes if (g := o.generators.get(name)) and g.correct
                and (v := getattr(g, attr)) is not None]

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, attr, title in ((axes[0], "speedup_eager", "speedup over eager"),
                            (axes[1], "speedup_compile", "speedup over torch.compile")):
        data = [values(n, attr) for n in names]
        positions = list(range(1, len(names) + 1))
        nonempty = [(pos, d) for pos, d in zip(positions, data, strict=True) if d]
        if nonempty:
            ax.boxplot([d for _, d in nonempty], positions=[p for p, _ in nonempty], widths=0.5, showfliers=False)
        for pos, d in zip(positions, data, strict=True):
            jitter = [pos + 0.15 * ((i * 0.618) % 1 - 0.5) for i in range(len(d))]
            ax.scatter(jitter, d, s=12, alpha=0.6)
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_xticks(positions)
        ax.set_xticklabels([f"{n}\n({len(d)} correct)" for n, d in zip(names, data, strict=True)])
        ax.set_yscale("log")
        ax.set_title(title)
    from matplotlib.ticker import FuncFormatter

    for ax in axes:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    axes[0].set_ylabel("speedup (log scale; correct kernels only)")
    fig.suptitle(f"tritonize bench: {len(res.records)} problems on {', '.join(res.devices)}")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


# ---- the command ------------------------------------------------------------------------------


def _parse_list(text: str, conv, what: str) -> list:
    try:
        values = [conv(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated numbers, got {text!r}")
    if not values:
        raise ValueError(f"{what}: needs at least one value")
    return values


def parse_ks_ps(args: argparse.Namespace) -> tuple[list[int], list[float]]:
    ks = _parse_list(args.k, int, "--k")
    ps = _parse_list(args.p, float, "--p")
    if any(k < 1 for k in ks):
        raise ValueError("--k: values must be at least 1")
    if any(p < 0 for p in ps):
        raise ValueError("--p: thresholds must not be negative")
    return sorted(set(ks)), sorted(set(ps))


def cmd_bench(args: argparse.Namespace) -> int:
    from .main import _settings_from_args

    settings, bad = _settings_from_args(args)
    for msg in bad:
        print(f"tritonize: {msg}", file=sys.stderr)
    try:
        ks, ps = parse_ks_ps(args)
    except ValueError as e:
        print(f"tritonize: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if bad:
        return EXIT_BAD_INPUT
    settings.use_cache = False  # a benchmark measures; it never answers from the report cache

    problems, warnings = discover(args.paths)
    for w in warnings:
        print(f"tritonize: {w}", file=sys.stderr)
    if args.limit is not None:
        problems = problems[: max(0, args.limit)]
    if not problems:
        print("tritonize: no problem files found (KernelBench format: an nn.Module class and get_inputs())",
              file=sys.stderr)
        return EXIT_BAD_INPUT

    results_dir = args.results_dir
    key = run_key(settings)
    progress = BenchProgress(len(problems))
    pending: list[BenchProblem] = []
    resumed: list[ProblemRecord] = []
    notes: list[str] = []
    for p in problems:
        path = result_path(results_dir, p)
        if args.resume:
            record = load_record(path)
            ok, why = reusable(record, p, key)
            if ok and record is not None:
                resumed.append(record)
                continue
            if os.path.exists(path):
                notes.append(f"{p.id}: running again: {why}")
        pending.append(p)
    progress.note(f"tritonize bench: {len(problems)} problems ({len(pending)} to run), "
                  f"generators {','.join(settings.generators)}, results in {results_dir}")
    for note in notes:
        progress.note(note)
    by_path = {p.path: p for p in problems}
    for record in resumed:
        progress.finished(by_path[record.path], f"resumed, finished {record.finished}: {outcome_line(record)}")

    if getattr(args, "report_only", False):
        # Summarise what is stored (e.g. a run cut short on a GPU machine) without running anything.
        if pending:
            progress.note(f"tritonize bench: --report-only: {len(pending)} problem(s) have no stored result "
                          f"and are left out: {', '.join(p.id for p in pending)}")
        pending = []
        problems = [p for p in problems if p.path in {r.path for r in resumed}]

    cancel = CancelToken()
    if pending:
        from ..verify.pool import WorkerStartError

        _terminate_like_ctrl_c()
        try:
            run_all(pending, settings, results_dir, progress, cancel, key)
        except (KeyboardInterrupt, Cancelled):
            cancel.cancel()
            print(f"\ntritonize: interrupted; finished problems are stored in {results_dir}, "
                  "continue with --resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        except WorkerStartError as e:
            print(f"tritonize: the verifier could not start: {e} (try `tritonize doctor`)", file=sys.stderr)
            return EXIT_FAILED

    records = []
    for p in problems:
        rec = load_record(result_path(results_dir, p))
        if rec is None:  # written moments ago: only a concurrent writer or a full disk gets here
            print(f"tritonize: {p.id}: result missing in {results_dir}", file=sys.stderr)
            continue
        records.append(rec)
    res = collect(records, list(settings.generators), ks, ps, settings)
    print(render_text(res))
    return write_outputs(res, args)


def _terminate_like_ctrl_c() -> None:
    """SIGTERM (e.g. `timeout 540 tritonize bench ... --resume` on a machine with a time limit)
    stops the run the way Ctrl-C does: workers closed, stored results kept."""
    import signal

    def on_term(_signum, _frame) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)


def write_outputs(res: BenchResults, args: argparse.Namespace) -> int:
    if args.json_out:
        write_atomic(args.json_out, json.dumps(res.to_dict(), indent=1))
        print(f"tritonize: wrote {args.json_out}", file=sys.stderr)
    if args.markdown:
        write_atomic(args.markdown, render_markdown(res))
        print(f"tritonize: wrote {args.markdown}", file=sys.stderr)
    if args.plot:
        why_not = write_plot(res, args.plot)
        print(f"tritonize: {why_not}" if why_not else f"tritonize: wrote {args.plot}", file=sys.stderr)
    return EXIT_OK
