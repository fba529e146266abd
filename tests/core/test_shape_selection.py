"""Selection and reporting with shape families (server side, no worker): a kernel right only for the
recipe's shapes is not chosen by default, and every surface says which shapes the chosen one supports."""

from __future__ import annotations

from tritonize.bench.results import ProblemRecord, outcome_line
from tritonize.lsp.features import outcome_message, report_diagnostics
from tritonize.pipeline import select_best
from tritonize.positions import Range
from tritonize.render import hover_markdown, report_text
from tritonize.report import CandidateResult, Report, ShapeSupport, ShapeTiming, Timing

RECIPE = ["float32[1024, 8192]"]


def general(tried: list[str] | None = None) -> ShapeSupport:
    return ShapeSupport(recipe=RECIPE, dims=["batch: input0.0 (recipe 1024)"],
                        tried=tried if tried is not None else ["batch=1023", "batch=1", "batch=512", "batch=2048"],
                        timings=[ShapeTiming(shape="batch=2048", ms=0.5, eager_ms=1.0)])


def specialised() -> ShapeSupport:
    return ShapeSupport(recipe=RECIPE, dims=["batch: input0.0 (recipe 1024)"],
                        failed={"batch=1023": "raises: ValueError: exported for torch.float32 of shape (1024, 8192), "
                                              "got (1023, 8192)", "batch=1": "raises: ValueError: ..."})


def result(cid: str, ms: float, shapes: ShapeSupport | None, passed: bool = True) -> CandidateResult:
    return CandidateResult(candidate_id=cid, origin=cid.split("/")[0], passed=passed, code="class ModelNew: ...",
                           timing=Timing(ms=ms, eager_ms=2.0, compile_ms=1.5), shapes=shapes)


def report(results: list[CandidateResult], best: str | None) -> Report:
    return Report(problem_name="GemmNorm", timed=True, device="NVIDIA H200", results=results, best=best,
                  input_shapes=RECIPE, settings={"min_speedup": 1.05})


def test_the_default_never_chooses_a_shape_specialised_kernel() -> None:
    fast_static = result("inductor:default", 0.8, specialised())
    slower_general = result("template:gemm", 1.0, general())
    assert select_best([fast_static, slower_general]).candidate_id == "template:gemm"
    assert select_best([fast_static]) is None
    # allowed for fixed-size inference: the fastest correct one again
    assert select_best([fast_static, slower_general], shape_specialised=True).candidate_id == "inductor:default"
    # not checked (shape_checks off, or an old report) counts as general
    assert select_best([result("llm:x", 0.9, None)]).candidate_id == "llm:x"


def test_nothing_chosen_because_only_specialised_kernels_passed_says_so_everywhere() -> None:
    rep = report([result("inductor:default", 0.8, specialised()), result("llm:a", 1.0, None, passed=False)], None)
    why = rep.specialised_only()
    assert why is not None and why.startswith("no shape-general kernel: 1 correct kernel(s) right only for the "
                                              "recipe's shapes (best: inductor:default, only the recipe's shapes "
                                              "float32[1024, 8192] (batch=1023: raises: ValueError")
    assert "--shape-specialised" in why
    assert why in report_text(rep)
    assert "no candidate passed verification" not in report_text(rep)
    assert why in hover_markdown(rep)
    assert outcome_message(rep, 1.05) == why
    diags = report_diagnostics(rep, Range(0, 0, 0, 8), 1.05)
    assert [d.code for d in diags if d.code == "shape_specialised"] == ["shape_specialised"]
    line = outcome_line(ProblemRecord(problem="p", path="p.py", source_sha256="", run_key="", finished="",
                                      wall_seconds=1.0, report=rep))
    assert line.startswith("FAIL 1/2 passed, none on every shape tried")


def test_the_chosen_kernels_shapes_and_other_shape_timing_are_reported() -> None:
    rep = report([result("template:gemm", 1.0, general())], "template:gemm")
    assert rep.specialised_only() is None
    text = report_text(rep)
    assert "shapes: all 5 shapes tried (batch=1023, batch=1, batch=512, batch=2048 and the recipe's)" in text
    assert "at batch=2048: 0.5 ms, 2.00× eager" in text
    assert "| all 5 |" in hover_markdown(rep)
    assert not [d for d in report_diagnostics(rep, Range(0, 0, 0, 8), 1.05) if d.code == "shape_specialised"]


def test_shape_support_round_trips_through_json() -> None:
    rep = report([result("inductor:default", 0.8, specialised()), result("template:gemm", 1.0, general())],
                 "template:gemm")
    back = Report.from_json(rep.to_json())
    assert back.results[0].shapes == specialised()
    assert back.results[1].shapes == general()
    assert back.results[1].shapes.timings[0].speedup_eager == 2.0
    assert not back.results[0].shape_general and back.results[1].shape_general
