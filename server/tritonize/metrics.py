"""Benchmark metrics: pure functions over per-problem outcomes (no I/O, no torch).

Definitions (the standard ones, as in KernelBench and the Codex paper):

- correctness rate = fast_0: share of problems whose chosen kernel is correct.
- fast_p: share of problems whose chosen kernel is correct AND faster than the baseline by more
  than p (speedup > p). Without any timings (a CPU run) fast_p for p > 0 is unknown (None).
- pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k), unbiased; unknown when k > n.
- geometric-mean speedup: over all problems with failures counted as 1.0x (the user keeps the
  reference), and over correct problems only.

`None` always means "not measurable here" and is shown as "n/a"; it is never folded into a number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .report import CandidateResult, Report

STAGES = ("generate", "verify", "time", "total")


@dataclass
class GeneratorOutcome:
    """What one generator achieved on one problem."""

    samples: int  # n: candidates it produced that were verified
    correct: int  # c: of those, how many passed
    speedup_eager: float | None = None  # its fastest correct candidate vs eager
    speedup_compile: float | None = None  # ... vs torch.compile


@dataclass
class ProblemOutcome:
    """One problem's result, reduced to what the metrics need."""

    problem: str
    correct: bool  # the chosen (best of all generators) kernel passed
    speedup_eager: float | None = None
    speedup_compile: float | None = None
    timed: bool = False
    error: str | None = None  # the problem itself failed (recipe, extraction)
    best_origin: str | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    generators: dict[str, GeneratorOutcome] = field(default_factory=dict)


def generator_of(origin: str) -> str:
    """`template:softmax` → `template`; origins are `<generator>:<detail>` (DESIGN.md, invariant 4)."""
    return origin.split(":", 1)[0]


def _fastest(results: Iterable[CandidateResult]) -> CandidateResult | None:
    passed = [r for r in results if r.passed]
    if not passed:
        return None
    return min(passed, key=lambda r: r.timing.ms if r.timing and r.timing.ms else math.inf)


def outcome_from_report(problem: str, report: Report, generators: Sequence[str] = ()) -> ProblemOutcome:
    """Reduce a Report to a ProblemOutcome. Generators asked for but absent get 0 samples."""
    best = report.best_result()
    by_gen: dict[str, list[CandidateResult]] = {g: [] for g in generators}
    for run in report.generators:
        by_gen.setdefault(run.name, [])
    for r in report.results:
        by_gen.setdefault(generator_of(r.origin), []).append(r)
    gens: dict[str, GeneratorOutcome] = {}
    for name, results in by_gen.items():
        fastest = _fastest(results)
        timing = fastest.timing if fastest else None
        gens[name] = GeneratorOutcome(
            samples=len(results),
            correct=sum(1 for r in results if r.passed),
            speedup_eager=timing.speedup_eager if timing else None,
            speedup_compile=timing.speedup_compile if timing else None,
        )
    timing = best.timing if best else None
    return ProblemOutcome(
        problem=problem,
        correct=best is not None and best.passed,
        speedup_eager=timing.speedup_eager if timing else None,
        speedup_compile=timing.speedup_compile if timing else None,
        timed=report.timed,
        error=f"{report.error_kind}: {report.error}" if report.error else None,
        best_origin=best.origin if best else None,
        stage_seconds=dict(report.stage_seconds),
        generators=gens,
    )


# ---- the estimators ---------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """Unbiased pass@k = 1 - C(n-c, k) / C(n, k). None when k > n (not estimable from n samples)."""
    if k < 1 or c < 0 or c > n:
        raise ValueError(f"pass_at_k needs k >= 1 and 0 <= c <= n (n={n}, c={c}, k={k})")
    if k > n:
        return None
    if n - c < k:
        return 1.0
    # Product form of C(n-c, k) / C(n, k): stable for large n, no huge integers.
    ratio = 1.0
    for i in range(n - c + 1, n + 1):
        ratio *= 1.0 - k / i
    return 1.0 - ratio


def mean_pass_at_k(samples: Sequence[tuple[int, int]], k: int) -> float | None:
    """Mean pass@k over problems given (n, c) per problem.

    A problem where the generator produced nothing (n = 0) counts as 0: no sample could be correct.
    Problems with 0 < n < k cannot be estimated and are left out; None if none remain or if the
    generator produced nothing at all (it did not run here, e.g. "needs CUDA").
    """
    if not samples or all(n == 0 for n, _ in samples):
        return None
    values: list[float] = []
    for n, c in samples:
        if n == 0:
            values.append(0.0)
            continue
        v = pass_at_k(n, c, k)
        if v is not None:
            values.append(v)
    if not values or len(values) == sum(1 for n, _ in samples if n == 0):
        return None  # only the zero-sample problems remain: nothing was estimable
    return sum(values) / len(values)


def fast_p(outcomes: Sequence[tuple[bool, float | None]], p: float) -> float | None:
    """Share of problems that are correct AND have speedup > p, from (correct, speedup) pairs.

    fast_0 needs no timings (it is the correctness rate). For p > 0, None when no correct problem
    has a speedup (an untimed run); a correct problem whose timing is missing counts as not fast.
    """
    if not outcomes:
        return None
    if p <= 0:
        return sum(1 for ok, _ in outcomes if ok) / len(outcomes)
    if not any(ok and s is not None for ok, s in outcomes):
        return None
    return sum(1 for ok, s in outcomes if ok and s is not None and s > p) / len(outcomes)


def geomean(values: Iterable[float]) -> float | None:
    """Geometric mean of positive numbers; None for none."""
    vals = list(values)
    if not vals:
        return None
    if any(v <= 0 for v in vals):
        raise ValueError("geomean needs positive values")
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def geomean_speedup(outcomes: Sequence[tuple[bool, float | None]], correct_only: bool = False) -> float | None:
    """Geometric-mean speedup from (correct, speedup) pairs.

    Over all problems (default) a failure, or a correct kernel without a timing, counts as 1.0x:
    the user keeps the reference. With `correct_only`, only correct timed problems count. None when
    no problem has a speedup at all (an untimed run).
    """
    if not any(ok and s is not None for ok, s in outcomes):
        return None
    if correct_only:
        return geomean(s for ok, s in outcomes if ok and s is not None)
    return geomean(s if ok and s is not None else 1.0 for ok, s in outcomes)


def stage_stats(outcomes: Sequence[ProblemOutcome]) -> dict[str, dict[str, float]]:
    """Mean / median / max wall seconds per pipeline stage over the problems that recorded it."""
    out: dict[str, dict[str, float]] = {}
    extra = sorted({k for o in outcomes for k in o.stage_seconds} - set(STAGES))
    for stage in [*STAGES[:-1], *extra, STAGES[-1]]:  # "total" last
        vals = sorted(o.stage_seconds[stage] for o in outcomes if stage in o.stage_seconds)
        if not vals:
            continue
        mid = len(vals) // 2
        median = vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2
        out[stage] = {"mean": sum(vals) / len(vals), "median": median, "max": vals[-1]}
    return out


# ---- summaries --------------------------------------------------------------------------------


@dataclass
class Summary:
    """The metrics for one row of the summary table: one generator, or all combined."""

    name: str  # generator name, or "combined" (best of all generators)
    problems: int
    correct: int
    fast_p: dict[str, float | None]  # threshold → share (speedup over eager)
    fast_p_compile: dict[str, float | None]  # threshold → share (speedup over torch.compile)
    pass_at_k: dict[str, float | None]  # k → mean pass@k (generators only; combined has none)
    geomean_eager: float | None
    geomean_eager_correct: float | None
    geomean_compile: float | None
    geomean_compile_correct: float | None
    samples: int = 0  # candidates verified in all


def _key(x: float) -> str:
    return f"{x:g}"


def summarize_pairs(
    name: str,
    eager: Sequence[tuple[bool, float | None]],
    compile_: Sequence[tuple[bool, float | None]],
    ps: Sequence[float],
    pass_k: dict[str, float | None] | None = None,
    samples: int = 0,
) -> Summary:
    return Summary(
        name=name,
        problems=len(eager),
        correct=sum(1 for ok, _ in eager if ok),
        fast_p={_key(p): fast_p(eager, p) for p in ps},
        fast_p_compile={_key(p): fast_p(compile_, p) for p in ps},
        pass_at_k=pass_k or {},
        geomean_eager=geomean_speedup(eager),
        geomean_eager_correct=geomean_speedup(eager, correct_only=True),
        geomean_compile=geomean_speedup(compile_),
        geomean_compile_correct=geomean_speedup(compile_, correct_only=True),
        samples=samples,
    )


def summarize(
    outcomes: Sequence[ProblemOutcome], ks: Sequence[int], ps: Sequence[float], generators: Sequence[str]
) -> list[Summary]:
    """One Summary per generator (its own best kernel per problem), then "combined"."""
    rows: list[Summary] = []
    for g in generators:
        gen = [o.generators.get(g, GeneratorOutcome(0, 0)) for o in outcomes]
        eager = [(go.correct > 0, go.speedup_eager) for go in gen]
        comp = [(go.correct > 0, go.speedup_compile) for go in gen]
        pk = {str(k): mean_pass_at_k([(go.samples, go.correct) for go in gen], k) for k in ks}
        rows.append(summarize_pairs(g, eager, comp, ps, pk, samples=sum(go.samples for go in gen)))
    eager = [(o.correct, o.speedup_eager) for o in outcomes]
    comp = [(o.correct, o.speedup_compile) for o in outcomes]
    total = sum(go.samples for o in outcomes for go in o.generators.values())
    rows.append(summarize_pairs("combined", eager, comp, ps, None, samples=total))
    return rows


@dataclass
class Goal:
    name: str
    target: str
    value: float | None
    met: bool | None  # None: not measurable here (e.g. no GPU)


def goals(combined: Summary, stages: dict[str, dict[str, float]], fast0_target: float = 0.95,
          compile_target: float = 1.25, wall_target_s: float = 180.0) -> list[Goal]:
    """The project's benchmark goals, checked against a run's numbers."""
    fast0 = combined.fast_p.get("0")
    if fast0 is None and combined.problems:
        fast0 = combined.correct / combined.problems
    gm = combined.geomean_compile
    wall = stages.get("total", {}).get("max")
    return [
        Goal("correct (fast_0)", f">= {fast0_target:.0%}", fast0, None if fast0 is None else fast0 >= fast0_target),
        Goal("geomean x torch.compile (failures = 1.0x)", f">= {compile_target:g}x", gm,
             None if gm is None else gm >= compile_target),
        Goal("wall time per problem (max)", f"<= {wall_target_s:g} s", wall,
             None if wall is None else wall <= wall_target_s),
    ]
