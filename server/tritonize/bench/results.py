"""`tritonize bench` results: one stored record per problem, and what a whole run measured as
tables, markdown, JSON and a plot.

Runs in the CLI process: no torch, no triton (DESIGN.md, invariant 1); matplotlib only for --plot.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..metrics import (
    Goal,
    ProblemOutcome,
    Summary,
    fast_p,
    goals,
    mean_pass_at_k,
    outcome_from_report,
    stage_stats,
    summarize,
)
from ..render import text_table
from ..report import CandidateResult, Report
from ..settings import Settings
from .discover import BenchProblem

RESULT_FORMAT = 1


# ---- per-problem records (the resume state) ---------------------------------------------------


def now_iso() -> str:
    """Now, UTC, ISO 8601 to the second: when a record finished, when a report was made."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


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


def outcome_line(record: ProblemRecord) -> str:
    """One line for the log: status, chosen candidate and speedups, wall time."""
    report = record.report
    if report.error:
        return f"ERROR {report.error_kind}: {report.error} ({record.wall_seconds:.1f} s)"
    best = report.best_result()
    n_pass, n_all = len(report.passed()), len(report.results)
    if best is None and n_pass:  # correct only for the recipe's shapes (shape_specialised off)
        return f"FAIL {n_pass}/{n_all} passed, none on every shape tried ({record.wall_seconds:.1f} s)"
    if best is None:
        why = [f"{k} {len(v)}" for k, v in sorted(report.failures_by_kind().items())]
        why += [f"{g.name} {g.skipped}" for g in report.generators if g.skipped and not g.produced]
        return f"FAIL 0/{n_all} passed ({'; '.join(why) or 'no candidates'}) ({record.wall_seconds:.1f} s)"
    speed = ""
    if best.timing:
        speed = f" {_x(best.timing.speedup_eager)} eager, {_x(best.timing.speedup_compile)} compile"
    shapes = "" if best.shapes is None else (", all shapes" if best.shape_general else ", recipe shapes only")
    return f"PASS {n_pass}/{n_all} best {best.candidate_id}{speed}{shapes} ({record.wall_seconds:.1f} s)"


# ---- the report -------------------------------------------------------------------------------


def _x(v: float | None) -> str:
    return f"{v:.2f}x" if v is not None else "n/a"


def _pct(v: float | None) -> str:
    return f"{v:.1%}" if v is not None else "n/a"


def _s(v: float | None) -> str:
    return f"{v:.1f}" if v is not None else "-"


@dataclass
class RoundSummary:
    """Where the refinement loop stood after round `round`, over the problems it ran on (issue 18).

    Round 1 is the one-shot prompt. `solved` and fast_p count the best correct kernel of rounds 1..r (a
    problem whose loop stopped early keeps its best); `samples` is the mean number of samples per
    problem spent by then, so one-shot and the loop are compared at their real budgets. pass@k is
    over round r's own samples: does the feedback make a sample more likely to be correct?"""

    round: int
    problems: int
    samples: float  # mean samples per problem, rounds 1..r
    solved: int  # problems with a correct kernel after rounds 1..r
    fast_p: dict[str, float | None]  # threshold → share (best so far over eager)
    fast_p_compile: dict[str, float | None]  # ... over torch.compile
    pass_at_k: dict[str, float | None]  # k → mean pass@k of this round's samples (problems that ran it)


def round_summaries(records: list[ProblemRecord], ks: list[int], ps: list[float]) -> list[RoundSummary]:
    """One RoundSummary per round of the problems' refinement loops; [] when no loop ran (one-shot)."""
    looped = [r.report.rounds for r in records if r.report.rounds]
    if not looped:
        return []
    out = []
    for number in range(1, max(rs[-1].round for rs in looped) + 1):
        upto = [[x for x in rs if x.round <= number] for rs in looped]
        last = [u[-1] if u else None for u in upto]
        eager = [(bool(x and x.best), x.best_speedup_eager if x else None) for x in last]
        compile_ = [(bool(x and x.best), x.best_speedup_compile if x else None) for x in last]
        this_round = [(len(x.candidates), x.correct) for rs in looped for x in rs if x.round == number]
        out.append(RoundSummary(
            round=number, problems=len(looped),
            samples=sum(len(x.candidates) for u in upto for x in u) / len(looped),
            solved=sum(1 for ok, _ in eager if ok),
            fast_p={f"{p:g}": fast_p(eager, p) for p in ps},
            fast_p_compile={f"{p:g}": fast_p(compile_, p) for p in ps},
            pass_at_k={str(k): mean_pass_at_k(this_round, k) for k in ks}))
    return out


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
    rounds: list[RoundSummary] = dataclasses.field(default_factory=list)  # the refinement loop, round by round

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
            "created": now_iso(),
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
            "rounds": [dataclasses.asdict(r) for r in self.rounds],
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
        settings=settings.to_dict(), skipped=skipped, rounds=round_summaries(records, ks, ps),
    )


def problem_rows(res: BenchResults) -> tuple[list[str], list[list[str]]]:
    headers = ["problem", "dtype", "status", "passed", "best", "all shapes", "ms", "eager ms", "compile ms",
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
            _all_shapes(best),
            f"{ms:.4f}" if ms is not None else "-",
            f"{rep.eager_ms:.4f}" if rep.eager_ms is not None else "-",
            f"{rep.compile_ms:.4f}" if rep.compile_ms is not None else "-",
            _x(o.speedup_eager) if o.correct else "-", _x(o.speedup_compile) if o.correct else "-",
            _s(st.get("generate")), _s(st.get("verify")), _s(st.get("total")),
        ])
    return headers, rows


def _all_shapes(best: CandidateResult | None) -> str:
    """Does the chosen kernel work on every shape tried ("yes (5)"), only the recipe's ("no"), or was it
    not checked ("-")."""
    if best is None or best.shapes is None:
        return "-"
    if not best.shape_general:
        return "no"
    return f"yes ({len(best.shapes.tried) + 1})" if best.shapes.tried else "recipe only (no other)"


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


def round_rows(res: BenchResults) -> tuple[list[str], list[list[str]]]:
    """One-shot (round 1) against the refinement loop after each later round."""
    above = [p for p in res.ps if p > 0]
    headers = ["round", "samples/problem", "solved (fast_0)"] + [f"fast_{p:g}" for p in above]
    headers += [f"fast_{p:g} vs compile" for p in above] + [f"pass@{k} (this round)" for k in res.ks]
    rows = []
    for r in res.rounds:
        label = f"{r.round} (one-shot)" if r.round == 1 else str(r.round)
        row = [label, f"{r.samples:.1f}", f"{r.solved}/{r.problems} ({_pct(r.solved / r.problems)})"]
        row += [_pct(r.fast_p.get(f"{p:g}")) for p in above] + [_pct(r.fast_p_compile.get(f"{p:g}")) for p in above]
        row += [_pct(r.pass_at_k.get(str(k))) for k in res.ks]
        rows.append(row)
    return headers, rows


ROUNDS_NOTE = ("refinement rounds (llm): round 1 is the one-shot prompt; solved and fast_p count the best "
               "kernel so far, at the samples spent so far")


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
    if res.rounds:
        parts += [ROUNDS_NOTE + ":", text_table(*round_rows(res)), ""]
    if res.stages:
        parts += ["wall time per problem:", text_table(*stage_rows(res)), ""]
    parts += ["goals:", text_table(*goal_rows(res))]
    return "\n".join(parts)


def render_markdown(res: BenchResults) -> str:
    parts = ["# tritonize bench", ""]
    parts += [f"- {line}" for line in _header_lines(res)]
    parts += [f"- created: {now_iso()}, tritonize {__version__}", ""]
    parts += ["## Summary", "", "Per generator: its own fastest correct kernel per problem; *combined*: the "
              "kernel the pipeline chose (best of all generators). Geomeans over all problems count a "
              "failure as 1.0x (the reference is kept); fast_p counts correct kernels with speedup > p.", "",
              md_table(*quality_rows(res)), "", md_table(*speed_rows(res)), ""]
    if res.rounds:
        parts += ["## Refinement rounds", "", ROUNDS_NOTE + ".", "", md_table(*round_rows(res)), ""]
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


def write_outputs(res: BenchResults, *, json_out: str | None = None, markdown: str | None = None,
                  plot: str | None = None) -> None:
    """Write the JSON results, the markdown report and the plot that were asked for; each file
    written (or why the plot was not) is said on stderr."""
    if json_out:
        write_atomic(json_out, json.dumps(res.to_dict(), indent=1))
        print(f"tritonize: wrote {json_out}", file=sys.stderr)
    if markdown:
        write_atomic(markdown, render_markdown(res))
        print(f"tritonize: wrote {markdown}", file=sys.stderr)
    if plot:
        why_not = write_plot(res, plot)
        print(f"tritonize: {why_not}" if why_not else f"tritonize: wrote {plot}", file=sys.stderr)
