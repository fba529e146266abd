"""The refinement loop's parts that need no verifier: the feedback a round's verdicts give the next
prompt (GPU timings included, filled in by hand), the stop rules, settings and flags, the report's
rounds and their JSON round trip, the text table, the bench's one-shot vs R-rounds table, and the
model's words kept beside its code."""

from __future__ import annotations

import json
import os
import sys

import pytest
from tritonize.bench.results import ProblemRecord, collect, render_text, round_summaries
from tritonize.candidate import parse_model_output
from tritonize.cli.common import settings_from_args
from tritonize.cli.main import build_parser
from tritonize.generate import GeneratorSkipped
from tritonize.generate.llm import build_refine_prompt, load_refine_template
from tritonize.generate.refine import (
    best_correct,
    build_feedback,
    progress_line,
    target_reached,
)
from tritonize.problem import extract
from tritonize.render import report_text
from tritonize.report import CandidateResult, Finding, Report, RoundRecord, Timing
from tritonize.settings import ModelSettings, Settings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import scripted_model  # noqa: E402

PROBLEM = extract(scripted_model.SCALED_ADD, "ScaledAdd")


def code_of(answer: str) -> str:
    return parse_model_output(answer, "llm:m", problem_name="ScaledAdd").code


def result(i: int, passed: bool, code: str, kind: str | None = None, message: str = "", **kw) -> CandidateResult:
    return CandidateResult(candidate_id=f"llm:m/{i}", origin="llm:m", passed=passed, kind=kind, message=message,
                           code=code, **kw)


BROKEN = code_of(scripted_model.BROKEN)
SLOW = code_of(scripted_model.SLOW)
COMPILE_FAIL = result(1, False, BROKEN, "compile", "ModelNew.forward raised InterpreterError: AttributeError(\"module "
                      "'triton.language' has no attribute 'no_such_op'\") (candidate line 28)")


def test_a_compile_error_is_fed_back_with_its_lines_and_the_code_to_fix():
    fb = build_feedback([COMPILE_FAIL], None, round_no=1)
    assert fb.ask == "fix"
    lines = BROKEN.splitlines()
    assert f"line 28: `{lines[27].strip()}`" in fb.text  # the line the error names (the launch)
    no_such = next(i for i, line in enumerate(lines, 1) if "no_such_op" in line)
    assert f"line {no_such}: `{lines[no_such - 1].strip()}`" in fb.text  # where the unknown name is used
    assert "does not compile: ModelNew.forward raised" in fb.text
    assert "```python\n" + BROKEN.strip() + "\n```" in fb.text
    assert fb.summary == "fix: compile 1 (shown: llm:m/1)"
    assert scripted_model.answer_for(fb.text) == scripted_model.WRONG


def test_a_mismatch_names_its_worst_index_error_and_the_inputs_it_failed_on():
    wrong = result(3, False, code_of(scripted_model.WRONG), "mismatch",
                   "mismatch: fails on constant rows: 96 of 1,536 elements beyond atol=0.0001 rtol=0.0001",
                   worst_index="out[4, 17]", max_abs_err=2.5, rel_err=0.41)
    seeded = result(4, False, code_of(scripted_model.WRONG), "mismatch",
                    "mismatch: 1,536 of 1,536 elements beyond atol=0.0001 rtol=0.0001, max |Δ| 5.31 at out[8, 1] "
                    "(the module gives 9.13), rel err 5.5e-1 (seed 166613353)", worst_index="out[8, 1]", max_abs_err=5.31,
                    rel_err=0.55)
    parse = result(5, False, "lorem ipsum", "syntax", "no Python code in the output")
    fb = build_feedback([parse, seeded, wrong], None, round_no=2)
    assert "worst at out[4, 17], max abs error 2.5, relative error 0.41, failed on constant rows" in fb.text
    assert "worst at out[8, 1], failed on random inputs (seed 166613353)" in fb.text
    assert "no usable code: no Python code in the output" in fb.text
    assert "lorem ipsum" not in fb.text  # no code to show from a parse failure
    assert "(answer 4, mismatch)" in fb.text  # a kernel that ran is closer to working than no code
    assert scripted_model.answer_for(fb.text) == scripted_model.SLOW


def test_fallbacks_and_missing_launches_come_with_the_checks_findings():
    cheat = result(2, False, SLOW, "cheat", "no Triton kernel was launched during ModelNew.forward",
                   findings=[Finding("torch-fallback", "torch.add computes the output", fatal=True, line=31),
                             Finding("seeds", "inputs drawn with seeds 1..3")])
    fb = build_feedback([cheat], None, round_no=1)
    assert "rejected by the checks: no Triton kernel was launched during ModelNew.forward" in fb.text
    assert f"error: torch-fallback: torch.add computes the output (line 31: `{SLOW.splitlines()[30].strip()}`)" in fb.text
    assert "inputs drawn with seeds" not in fb.text


def test_correct_kernels_are_fed_back_with_their_times_and_the_next_round_asks_for_a_faster_one():
    slow = result(5, True, SLOW, timing=Timing(ms=0.050, eager_ms=0.040, compile_ms=0.030, runs=100), kernels_launched=16)
    slower = result(6, True, SLOW + "\n", timing=Timing(ms=0.080, eager_ms=0.040, compile_ms=0.030, runs=100))
    fb = build_feedback([slower, COMPILE_FAIL, slow], best_correct([slower, slow]), round_no=3,
                        eager_ms=0.040, compile_ms=0.030)
    assert fb.ask == "faster"
    assert "- answer 5: correct; 0.05 ms; eager PyTorch 0.04 ms (0.80× speedup); torch.compile 0.03 ms (0.60× speedup)" \
        in fb.text
    assert fb.text.index("answer 5") < fb.text.index("answer 6") < fb.text.index("answer 1")
    assert "The fastest correct kernel so far (0.05 ms;" in fb.text and "Write a faster version" in fb.text
    assert fb.summary == "faster than llm:m/5 (0.60× compile)"
    # The scripted model, given this prompt, writes its faster kernel: the step a GPU run takes.
    prompt, _ = build_refine_prompt(PROBLEM, ModelSettings(), False, fb.text)
    assert scripted_model.answer_for(prompt) == scripted_model.FAST
    untimed = build_feedback([result(5, True, SLOW)], result(5, True, SLOW), round_no=1)
    assert "correct; not timed on this machine" in untimed.text and untimed.summary == "faster than llm:m/5"


def test_best_target_and_progress_line():
    fast = result(7, True, "x", timing=Timing(ms=0.01, eager_ms=0.04, compile_ms=0.0131))
    eager_only = result(8, True, "x", timing=Timing(ms=0.02, eager_ms=0.04))
    untimed = result(9, True, "x")
    assert best_correct([untimed, eager_only, fast, COMPILE_FAIL]) is fast
    assert best_correct([COMPILE_FAIL]) is None
    assert target_reached(fast, 1.3) and not target_reached(fast, 1.4)  # 1.31× torch.compile
    assert target_reached(eager_only, 2.0) and not target_reached(eager_only, 2.1)  # compile not timed: eager
    assert not target_reached(untimed, 0.5) and not target_reached(fast, None)
    assert progress_line(2, 4, 7, fast) == "round 2/4 · 7 correct · best 1.31× compile"
    assert progress_line(1, 3, 0, None) == "round 1/3 · 0 correct · none correct yet"
    assert progress_line(3, 3, 1, untimed) == "round 3/3 · 1 correct · best llm:m/9 (not timed)"


def test_refine_prompt_templates_builtin_chat_and_override(tmp_path):
    feedback = "Round 1: code with {braces} and {problem} inside"
    prompt, messages = build_refine_prompt(PROBLEM, ModelSettings(), False, feedback)
    assert messages is None and PROBLEM.source.strip() in prompt and feedback in prompt
    assert "Name your optimized output architecture ModelNew" in prompt
    _, messages = build_refine_prompt(PROBLEM, ModelSettings(), True, feedback)
    assert [m["role"] for m in messages] == ["system", "user"] and feedback in messages[1]["content"]
    own = tmp_path / "mine.txt"
    own.write_text("Fix {problem}\n--\n{feedback}\n")
    prompt, _ = build_refine_prompt(PROBLEM, ModelSettings(refine_prompt=str(own)), False, feedback)
    assert prompt == f"Fix {PROBLEM.source.strip()}\n--\n{feedback}\n"
    own.write_text("no feedback placeholder: {problem}")
    with pytest.raises(GeneratorSkipped, match=r"has no \{feedback\} placeholder"):
        load_refine_template(ModelSettings(refine_prompt=str(own)), False)
    with pytest.raises(GeneratorSkipped, match="cannot read refinement prompt template"):
        load_refine_template(ModelSettings(refine_prompt=str(tmp_path / "missing.txt")), False)


def test_settings_and_flags():
    s, problems = Settings.from_dict({"rounds": 4, "targetSpeedup": 1.2, "refineBudgetS": 300, "refineTokens": 50000,
                                      "model": {"refinePrompt": "/p.txt"}})
    assert not problems
    assert (s.rounds, s.target_speedup, s.refine_budget_s, s.refine_tokens, s.model.refine_prompt) == \
        (4, 1.2, 300.0, 50000, "/p.txt")
    assert Settings().rounds == 1 and Settings().target_speedup is None
    _, problems = Settings.from_dict({"rounds": 0, "refineTokens": 0, "targetSpeedup": 0, "refineBudgetS": "x"})
    assert len(problems) == 4 and all("using the default" in p for p in problems)
    # one-shot keeps its store key; rounds change it
    assert "rounds" not in Settings().result_key_fields() and Settings(rounds=3).result_key_fields()["rounds"] == 3
    args = build_parser().parse_args(["convert", "m.py", "--rounds", "3", "--target-speedup", "1.5",
                                      "--refine-budget-s", "90", "--refine-prompt", "r.txt"])
    s, problems = settings_from_args(args)
    assert not problems and (s.rounds, s.target_speedup, s.refine_budget_s, s.model.refine_prompt) == \
        (3, 1.5, 90.0, "r.txt")
    args = build_parser().parse_args(["bench", "problems", "--rounds", "0"])
    assert settings_from_args(args)[1] == ["setting 'rounds': must be at least 1, got 0"]


def looped_report(name: str, rounds: list[tuple[int, int, float | None]]) -> Report:
    """A report whose loop ran len(rounds) rounds of (samples, correct, best speedup over compile)."""
    records, best = [], None
    for number, (samples, correct, speed) in enumerate(rounds, 1):
        ids = [f"llm:m/{(number - 1) * samples + i + 1}" for i in range(samples)]
        if correct:
            best = ids[0]
        records.append(RoundRecord(round=number, candidates=ids, correct=correct, asked="first" if number == 1 else "fix",
                                   feedback="" if number == 1 else "fix: compile 2", best=best,
                                   best_speedup_compile=speed, best_speedup_eager=speed and speed * 2, tokens=100,
                                   seconds=1.5))
    results = [CandidateResult(candidate_id=i, origin="llm:m", passed=i == best, kind=None if i == best else "compile",
                               model_text="I fuse the two ops." if i == best else "")
               for r in records for i in r.candidates]
    return Report(problem_name=name, device="cpu", results=results, best=best, rounds=records)


def test_rounds_and_model_text_round_trip_through_json_and_show_in_the_text_report():
    report = looped_report("ScaledAdd", [(2, 0, None), (2, 0, None), (2, 1, 1.31)])
    report.rounds[-1].stop = "target reached: 1.31× compile ≥ 1.3×"
    again = Report.from_json(report.to_json())
    assert again == report and isinstance(again.rounds[0], RoundRecord)
    assert again.best_result().model_text == "I fuse the two ops."
    text = report_text(again)
    assert "refinement: 3 round(s), stopped after round 3: target reached: 1.31× compile ≥ 1.3×" in text
    row = next(line for line in text.splitlines() if line.startswith("3 "))
    assert row.split()[:6] == ["3", "fix", "1/2", "llm:m/5", "2.62x", "1.31x"]


def test_bench_shows_one_shot_against_r_rounds_at_the_samples_spent():
    def record(name: str, report: Report) -> ProblemRecord:
        return ProblemRecord(problem=name, path=f"/{name}.py", source_sha256="", run_key="k", finished="",
                             wall_seconds=1.0, report=report)

    records = [record("a", looped_report("a", [(2, 0, None), (2, 1, 1.5), (2, 2, 2.5)])),
               record("b", looped_report("b", [(2, 1, 0.8)])),  # stopped after round 1 (say, at the target)
               record("c", looped_report("c", [(2, 0, None), (2, 0, None), (2, 0, None)]))]
    rounds = round_summaries(records, [1, 2], [0, 1, 2])
    assert [(r.round, r.solved, r.samples) for r in rounds] == [(1, 1, 2.0), (2, 2, 10 / 3), (3, 2, 14 / 3)]
    assert rounds[0].fast_p_compile["1"] == 0.0 and rounds[2].fast_p_compile["1"] == pytest.approx(1 / 3)
    assert rounds[2].fast_p_compile["2"] == pytest.approx(1 / 3) and rounds[2].fast_p["1"] == pytest.approx(2 / 3)
    assert rounds[0].pass_at_k["1"] == pytest.approx(1 / 6)  # one-shot: 1 of 6 samples
    assert rounds[2].pass_at_k["1"] == pytest.approx(0.5)  # round 3's samples: 2 of 4 (b did not run it)
    res = collect(records, ["llm"], [1, 2], [0, 1, 2], Settings(rounds=3))
    text = render_text(res)
    assert "refinement rounds (llm): round 1 is the one-shot prompt" in text
    one_shot = next(line for line in text.splitlines() if line.startswith("1 (one-shot)"))
    assert "1/3 (33.3%)" in one_shot
    assert json.loads(json.dumps(res.to_dict()))["rounds"][2]["solved"] == 2
    assert round_summaries([record("d", Report(problem_name="d"))], [1], [0]) == []


def test_the_model_s_words_are_kept_beside_its_code():
    cand = parse_model_output(scripted_model.SLOW, "llm:m", problem_name="ScaledAdd")
    assert cand.prose.startswith("The result was wrong because the kernel dropped the scale")
    assert "```" not in cand.prose and "import torch" not in cand.prose
    assert parse_model_output("```python\nimport torch\nclass ModelNew(torch.nn.Module):\n    pass\n```", "llm:m").prose == ""
    assert "prose" not in cand.to_dict()  # never sent to a worker
