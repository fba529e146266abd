"""Benchmark metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest
from tritonize.metrics import (
    GeneratorOutcome,
    ProblemOutcome,
    fast_p,
    geomean,
    geomean_speedup,
    goals,
    mean_pass_at_k,
    outcome_from_report,
    pass_at_k,
    stage_stats,
    summarize,
)
from tritonize.report import CandidateResult, GeneratorRun, Report, Timing


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 0.4),  # 1 - C(3,1)/C(5,1) = 1 - 3/5
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (4, 0, 2, 0.0),  # nothing correct
        (3, 2, 2, 1.0),  # only one wrong sample: any 2 contain a correct one
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
    ],
)
def test_pass_at_k_hand_computed(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_unknown_when_k_exceeds_n() -> None:
    assert pass_at_k(4, 2, 10) is None


def test_pass_at_k_large_n_matches_binomials() -> None:
    n, c, k = 200, 10, 20
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


def test_pass_at_k_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_mean_pass_at_k_counts_empty_problems_as_zero_and_skips_unestimable() -> None:
    # problem A: n=5 c=2 → pass@1 0.4; problem B: produced nothing → 0; problem C: n=1 c=1 → 1.0
    samples = [(5, 2), (0, 0), (1, 1)]
    assert mean_pass_at_k(samples, 1) == pytest.approx((0.4 + 0.0 + 1.0) / 3)
    # pass@2: C (n=1) cannot be estimated; A gives 0.7, B gives 0
    assert mean_pass_at_k(samples, 2) == pytest.approx(0.35)
    # pass@10: only B remains, which is no estimate at all
    assert mean_pass_at_k(samples, 10) is None
    # a generator that never produced anything (skipped here) has no pass@k
    assert mean_pass_at_k([(0, 0), (0, 0)], 1) is None


def test_fast_p_with_hand_counted_problems() -> None:
    pairs = [(True, 2.0), (True, 1.1), (False, None), (True, 0.8)]
    assert fast_p(pairs, 0) == 0.75  # the correctness rate
    assert fast_p(pairs, 1) == 0.5  # 2.0 and 1.1
    assert fast_p(pairs, 1.25) == 0.25  # 2.0
    assert fast_p(pairs, 2) == 0.0  # strictly greater than p


def test_fast_p_untimed_run_is_unknown_above_zero() -> None:
    pairs = [(True, None), (False, None)]
    assert fast_p(pairs, 0) == 0.5
    assert fast_p(pairs, 1) is None
    assert fast_p([], 0) is None


def test_geomean_speedup_counts_failures_as_reference() -> None:
    pairs = [(True, 2.0), (True, 0.5), (False, None), (True, 4.0)]
    assert geomean_speedup(pairs) == pytest.approx(math.sqrt(2))  # (2 * 0.5 * 1 * 4) ** (1/4)
    assert geomean_speedup(pairs, correct_only=True) == pytest.approx(4 ** (1 / 3))
    assert geomean_speedup([(True, None), (False, None)]) is None
    assert geomean([]) is None
    with pytest.raises(ValueError):
        geomean([1.0, 0.0])


def _result(cid: str, passed: bool, ms: float | None = None, eager: float = 2.0, comp: float = 1.5) -> CandidateResult:
    timing = Timing(ms=ms, eager_ms=eager, compile_ms=comp) if ms is not None else None
    return CandidateResult(candidate_id=cid, origin=cid.split("/")[0], passed=passed,
                           kind=None if passed else "mismatch", timing=timing)


def _report(results: list[CandidateResult], best: str | None, timed: bool = True) -> Report:
    return Report(
        problem_name="Model",
        timed=timed,
        results=results,
        best=best,
        generators=[GeneratorRun("template", produced=2), GeneratorRun("inductor", produced=1)],
        stage_seconds={"generate": 1.0, "verify": 3.0, "total": 4.5},
    )


def test_outcome_from_report_splits_generators() -> None:
    report = _report(
        [
            _result("template:relu/a", True, ms=1.0),
            _result("template:relu/b", False),
            _result("inductor:default", True, ms=0.5),
        ],
        best="inductor:default",
    )
    o = outcome_from_report("01_relu", report, ["template", "inductor", "llm"])
    assert o.correct and o.best_origin == "inductor:default"
    assert o.speedup_eager == pytest.approx(4.0) and o.speedup_compile == pytest.approx(3.0)
    t = o.generators["template"]
    assert (t.samples, t.correct, t.speedup_eager, t.speedup_compile) == (2, 1, 2.0, 1.5)
    assert o.generators["inductor"].speedup_eager == pytest.approx(4.0)
    assert o.generators["llm"].samples == 0  # asked for, produced nothing


def test_outcome_of_a_failed_problem() -> None:
    report = Report(problem_name="Model", error="get_inputs raised", error_kind="recipe_error")
    o = outcome_from_report("bad", report, ["template"])
    assert not o.correct and o.error == "recipe_error: get_inputs raised"
    assert o.generators["template"].samples == 0


def test_summarize_combined_and_per_generator() -> None:
    def outcome(name: str, correct: bool, s_e: float | None, s_c: float | None,
                tmpl: tuple[int, int, float | None]) -> ProblemOutcome:
        return ProblemOutcome(
            problem=name, correct=correct, speedup_eager=s_e, speedup_compile=s_c, timed=True,
            stage_seconds={"total": 10.0 if correct else 20.0},
            generators={"template": GeneratorOutcome(tmpl[0], tmpl[1], tmpl[2], tmpl[2])},
        )

    outcomes = [
        outcome("a", True, 4.0, 2.0, (2, 2, 4.0)),
        outcome("b", True, 1.0, 0.5, (2, 1, 1.0)),
        outcome("c", False, None, None, (2, 0, None)),
        outcome("d", True, 2.0, 2.0, (0, 0, None)),  # another generator solved it
    ]
    rows = summarize(outcomes, ks=[1, 2, 3], ps=[0, 1], generators=["template"])
    tmpl, combined = rows
    assert tmpl.name == "template" and combined.name == "combined"
    assert combined.problems == 4 and combined.correct == 3
    assert combined.fast_p == {"0": 0.75, "1": 0.5}
    assert combined.fast_p_compile == {"0": 0.75, "1": 0.5}  # 2.0 and 2.0 (0.5 is not fast)
    assert combined.geomean_eager == pytest.approx((4 * 1 * 1 * 2) ** 0.25)
    assert combined.geomean_compile_correct == pytest.approx((2 * 0.5 * 2) ** (1 / 3))
    assert tmpl.correct == 2 and tmpl.samples == 6
    # pass@1 per problem: a 1.0, b 0.5, c 0.0, d (nothing produced) 0.0
    assert tmpl.pass_at_k["1"] == pytest.approx(1.5 / 4)
    # pass@2: a 1.0, b 1.0, c 0.0, d 0.0
    assert tmpl.pass_at_k["2"] == pytest.approx(0.5)
    assert tmpl.pass_at_k["3"] is None  # k > n everywhere
    assert combined.pass_at_k == {}

    stages = stage_stats(outcomes)
    assert stages["total"] == {"mean": 12.5, "median": 10.0, "max": 20.0}
    g = {x.name: x for x in goals(combined, stages)}
    assert g["correct (fast_0)"].met is False  # 75% < 95%
    assert g["wall time per problem (max)"].met is True  # 20 s <= 180 s
    assert g["geomean x torch.compile (failures = 1.0x)"].value == pytest.approx((2 * 0.5 * 1 * 2) ** 0.25)


def test_goals_unknown_without_timings() -> None:
    outcomes = [ProblemOutcome(problem="a", correct=True), ProblemOutcome(problem="b", correct=True)]
    (combined,) = summarize(outcomes, ks=[1], ps=[0, 1.25], generators=[])
    g = goals(combined, stage_stats(outcomes))
    assert [x.met for x in g] == [True, None, None]
    assert combined.fast_p["1.25"] is None


def test_a_kernel_slower_than_eager_is_not_worth_inserting() -> None:
    """On a GPU the chosen kernel must beat eager by `min_speedup` (default 1.05) to go into the user's
    code; the report says why not, and the human report says how to have it anyway."""
    from tritonize.render import report_text

    slow = _report([_result("a", True, ms=2.3, eager=2.0), _result("b", True, ms=2.5, eager=2.0)], best="a")
    assert slow.not_faster(1.05) == "no faster kernel found (best 0.87× eager; needs 1.05×)"
    slow.settings = {"min_speedup": 1.05}
    assert "no faster kernel found (best 0.87× eager; needs 1.05×): not inserted unless asked for" in report_text(slow)
    fast = _report([_result("a", True, ms=1.0, eager=2.0)], best="a")
    assert fast.not_faster(1.05) is None and fast.not_faster(2.5) is not None
    barely = _report([_result("a", True, ms=1.96, eager=2.0)], best="a")  # 1.02×: within measurement noise
    assert barely.not_faster(1.05) is not None and barely.not_faster(1.0) is None
    untimed = _report([_result("a", True)], best="a", timed=False)  # a CPU run decides nothing
    assert untimed.not_faster(1.05) is None
    assert _report([_result("a", False)], best=None).not_faster(1.05) is None
