"""The refinement loop end to end against a real OpenAI-compatible HTTP server on loopback that plays a
scripted model (tests/scripted_model.py): its first kernel does not work, it fixes what the verifier's
feedback quotes, and it writes a faster kernel once times are in the prompt. Verification is real
(CPU workers, TRITON_INTERPRET=1, so nothing is timed here: the timed step is driven by a verdict
with times filled in, as a GPU worker would send it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import Future

import pytest
from tritonize.cancel import CancelToken, ProgressEvent
from tritonize.candidate import Candidate
from tritonize.generate import GenerateContext
from tritonize.generate.llm import LLMGenerator
from tritonize.problem import extract
from tritonize.render import report_text
from tritonize.report import CandidateResult, Report, RoundRecord, Timing
from tritonize.settings import Settings
from tritonize.verify.pool import DeviceInfo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import scripted_model  # noqa: E402
from scripted_model import BROKEN, FAST, SCALED_ADD, SLOW, WRONG, ScriptedModelServer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "server", "tritonize", "schema", "cli.schema.json")
QUICK = ["--generators", "llm", "--seeds", "1", "--device", "cpu", "--no-shape-checks", "--seed", "1"]


def cli(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tritonize.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=dict(os.environ))


@pytest.fixture(scope="module")
def problem_file(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("refine")
    path = d / "scaled_add.py"
    path.write_text(SCALED_ADD)
    return str(path)


def test_three_rounds_turn_no_correct_kernel_into_a_correct_one(problem_file):
    with ScriptedModelServer() as server:
        proc = cli("convert", f"{problem_file}::ScaledAdd", *QUICK, "--no-cache", "-n", "2", "--rounds", "3",
                   "--model-url", server.url, "--json")
        prompts = list(server.prompts)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    jsonschema = pytest.importorskip("jsonschema")
    with open(SCHEMA, encoding="utf-8") as f:
        jsonschema.validate(doc, json.load(f))
    report = Report.from_dict(doc)
    # One request per round; each later prompt carries what the verifier found in the round before.
    assert len(prompts) == 3
    assert "no_such_op" not in prompts[0] and "This is what it found" not in prompts[0]
    assert "does not compile" in prompts[1] and "line 14: `out = tl.no_such_op(x, y * scale)`" in prompts[1]
    assert "wrong result" in prompts[2] and "worst at out[" in prompts[2] and "(seed " in prompts[2]
    # Rounds 1 and 2 found nothing correct; round 3 did, and it is the chosen kernel.
    assert [(r.round, r.asked, r.correct, len(r.candidates)) for r in report.rounds] == \
        [(1, "first", 0, 2), (2, "fix", 0, 2), (3, "fix", 2, 2)]
    assert [r.best for r in report.rounds] == [None, None, "llm:scripted-kernel-model/5"]
    assert report.rounds[1].feedback == "fix: compile 2 (shown: llm:scripted-kernel-model/1)"
    assert report.rounds[2].feedback.startswith("fix: mismatch 2")
    assert report.best == "llm:scripted-kernel-model/5" and report.best_result().passed
    kinds = {r.candidate_id: r.kind for r in report.results}
    assert {kinds[f"llm:scripted-kernel-model/{i}"] for i in (1, 2)} <= {"compile", "runtime"}
    assert {kinds[f"llm:scripted-kernel-model/{i}"] for i in (3, 4)} == {"mismatch"}
    # The model's own words, kept beside each kernel.
    assert report.best_result().model_text.startswith("The result was wrong because the kernel dropped the scale")
    assert report.results[0].model_text.startswith("I will fuse the multiply and the add")
    text = report_text(report)
    assert "refinement: 3 round(s)" in text
    assert any(line.startswith("3 ") and "2/2" in line and "llm:scripted-kernel-model/5" in line
               for line in text.splitlines())


def test_chat_endpoint_refines_with_messages(problem_file, tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"model": {"endpoint": "chat"}}))
    with ScriptedModelServer() as server:
        proc = cli("convert", f"{problem_file}::ScaledAdd", *QUICK, "--no-cache", "-n", "1", "--rounds", "4",
                   "--model-url", server.url, "--settings", str(settings), "--json")
        bodies = list(server.bodies)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = Report.from_dict(json.loads(proc.stdout))
    assert all([m["role"] for m in b["messages"]] == ["system", "user"] for b in bodies)
    assert "line 14: `out = tl.no_such_op(x, y * scale)`" in bodies[1]["messages"][1]["content"]
    assert "First say in one or two sentences what you change" in bodies[1]["messages"][1]["content"]
    # Round 3 is correct; nothing is timed here, so there is nothing to make faster: round 4 never runs.
    assert len(bodies) == 3 and [r.correct for r in report.rounds] == [0, 0, 1]
    assert report.rounds[-1].stop.startswith("a correct kernel was found; nothing is timed here")
    assert report.best == "llm:scripted-kernel-model/3"


def test_bench_reports_one_shot_against_three_rounds(problem_file, tmp_path):
    with ScriptedModelServer() as server:
        proc = cli("bench", problem_file, *QUICK, "-n", "1", "--rounds", "3", "--model-url", server.url,
                   "--results-dir", str(tmp_path / "bench"), "--k", "1", "--json-out", str(tmp_path / "b.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert any("refinement rounds (llm): round 1 is the one-shot prompt" in line for line in lines), proc.stdout
    one_shot = next(line for line in lines if line.startswith("1 (one-shot)"))
    after = next(line for line in lines if line.startswith("3 "))
    assert one_shot.split()[2:4] == ["1.0", "0/1"], one_shot  # samples/problem, solved
    assert after.split()[1:3] == ["3.0", "1/1"], after
    doc = json.loads((tmp_path / "b.json").read_text())
    assert [r["solved"] for r in doc["rounds"]] == [0, 0, 1]
    assert doc["rounds"][2]["pass_at_k"]["1"] == 1.0 and doc["rounds"][0]["pass_at_k"]["1"] == 0.0


def test_the_first_sample_is_verified_while_the_next_is_still_written(problem_file):
    """Streaming: sample 1's verdict arrives before the server has finished writing sample 2."""
    from tritonize.pipeline import convert

    events: list[tuple[float, ProgressEvent]] = []
    with ScriptedModelServer(slow_after_first=12.0) as server:
        settings, problems = Settings.from_dict({"generators": ["llm"], "n": 2, "seeds": 1, "device": "cpu",
                                                 "use_cache": False, "shape_checks": False,
                                                 "model": {"url": server.url, "seed": 1}})
        assert not problems
        report = convert(extract(SCALED_ADD, "ScaledAdd"), settings,
                         progress=lambda ev: events.append((time.monotonic(), ev)))
        ends = list(server.choice_ends)
    first_verdict = next(t for t, ev in events if ev.stage == "verify" and ev.done == 1)
    assert len(ends) == 2 and first_verdict < ends[1], "sample 1 waited for sample 2 to be written"
    assert [r.candidate_id for r in report.results] == ["llm:scripted-kernel-model/1", "llm:scripted-kernel-model/2"]
    assert report.rounds == []  # one-shot: no rounds recorded


# ---- the timed step, with verdicts as a GPU worker would send them ------------------------------


def gpu_like_verdict(cand: Candidate) -> CandidateResult:
    """What a GPU worker says of the scripted kernels (times as on an H100-class card, made up for
    this test): the broken one fails, the wrong one mismatches, the slow one is correct at 0.05 ms,
    the fast one at 0.01 ms, against eager 0.04 ms and torch.compile 0.03 ms."""
    if "no_such_op" in cand.code:
        return cand.result(passed=False, kind="compile", message="ModelNew.forward raised CompilationError: at 7:10: "
                           "AttributeError(\"module 'triton.language' has no attribute 'no_such_op'\") (candidate line 28)")
    if "x + y, mask" in cand.code:
        return cand.result(passed=False, kind="mismatch", message="mismatch: 1,536 of 1,536 elements differ (seed 7)",
                           worst_index="out[0, 3]", max_abs_err=2.0)
    ms = 0.05 if "scaled_add_row_kernel" in cand.code else 0.01
    return cand.result(passed=True, timing=Timing(ms=ms, eager_ms=0.04, compile_ms=0.03, runs=100))


def run_loop(server: ScriptedModelServer, **settings) -> tuple[list[RoundRecord], list[CandidateResult], list[str]]:
    s, problems = Settings.from_dict({"generators": ["llm"], "n": 1, "model": {"url": server.url, "seed": 3}, **settings})
    assert not problems
    rounds: list[RoundRecord] = []
    verdicts: list[CandidateResult] = []
    messages: list[str] = []

    def emit(cands: list[Candidate]) -> list[Future]:
        futures = []
        for c in cands:
            fut: Future = Future()
            verdicts.append(gpu_like_verdict(c))
            fut.set_result(verdicts[-1])
            futures.append(fut)
        return futures

    ctx = GenerateContext(settings=s, pool=None, device=DeviceInfo(kind="cuda", name="NVIDIA H100"),
                          cancel=CancelToken(), progress=lambda msg, d=0, t=0: messages.append(msg),
                          model_host=None, emit=emit, on_round=rounds.append)
    assert LLMGenerator().generate(extract(SCALED_ADD, "ScaledAdd"), ctx) == []
    return rounds, verdicts, messages


def test_times_in_the_prompt_bring_a_faster_kernel_and_the_target_stops_the_loop():
    with ScriptedModelServer() as server:
        rounds, verdicts, messages = run_loop(server, rounds=6, targetSpeedup=2.5)
        prompts = list(server.prompts)
    assert [v.candidate_id for v in verdicts] == [f"llm:scripted-kernel-model/{i}" for i in range(1, 5)]
    assert [scripted_model.answer_for(p) for p in prompts] == [BROKEN, WRONG, SLOW, FAST]
    assert "tl.no_such_op" in verdicts[0].code and "BLOCK_SIZE=1024" in verdicts[3].code
    assert "torch.compile 0.03 ms (0.60× speedup)" in prompts[3] and "Write a faster version" in prompts[3]
    assert [(r.asked, r.correct, r.best) for r in rounds] == [
        ("first", 0, None), ("fix", 0, None), ("fix", 1, "llm:scripted-kernel-model/3"),
        ("faster", 1, "llm:scripted-kernel-model/4")]
    assert rounds[2].best_speedup_compile == pytest.approx(0.6) and rounds[3].best_speedup_compile == pytest.approx(3.0)
    assert rounds[3].stop == "target reached: 3.00× compile ≥ 2.5×"
    assert "round 4/6 · 2 correct · best 3.00× compile" in messages


def test_the_time_budget_stops_a_round_and_keeps_what_was_handed_over():
    with ScriptedModelServer(slow_after_first=30.0) as server:
        started = time.monotonic()
        rounds, verdicts, _ = run_loop(server, rounds=3, n=2, refineBudgetS=2.0)
    assert time.monotonic() - started < 10
    assert len(rounds) == 1 and rounds[0].stop == "time budget of 2 s spent"
    assert len(verdicts) == 1 and rounds[0].candidates == ["llm:scripted-kernel-model/1"]


def test_cancel_ends_the_loop_between_and_within_rounds():
    from tritonize.cancel import Cancelled

    with ScriptedModelServer(slow_after_first=30.0) as server:
        s, _ = Settings.from_dict({"generators": ["llm"], "n": 2, "rounds": 3, "model": {"url": server.url}})
        cancel = CancelToken()
        emitted: list[float] = []

        def emit(cands):
            emitted.append(time.monotonic())
            threading.Timer(0.3, cancel.cancel).start()
            return [Future() for _ in cands]  # verdicts never come: only cancel ends the wait

        ctx = GenerateContext(settings=s, pool=None, device=DeviceInfo(kind="cpu", name="cpu"),
                              cancel=cancel, progress=lambda *a: None, model_host=None, emit=emit)
        with pytest.raises(Cancelled):
            LLMGenerator().generate(extract(SCALED_ADD, "ScaledAdd"), ctx)
        assert len(emitted) == 1 and time.monotonic() - emitted[0] < 3
