"""`tritonize bench`: problem discovery, stored results and resume, the reports, and end-to-end runs
on tiny problems under the Triton interpreter (tests/data/bench_small, generator `template`)."""

from __future__ import annotations

import argparse
import ast
import glob
import json
import os
import runpy
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
from tritonize.bench.discover import BenchProblem, discover
from tritonize.bench.results import (
    ProblemRecord,
    collect,
    load_record,
    render_markdown,
    render_text,
    result_path,
    source_hash,
    write_atomic,
    write_outputs,
)
from tritonize.bench.run import reusable, run_key
from tritonize.report import CandidateResult, GeneratorRun, Report, Timing
from tritonize.settings import Settings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = os.path.join(ROOT, "tests", "data", "bench_small")
PROBLEMS = os.path.join(ROOT, "benchmarks", "problems")


# ---- our problem set --------------------------------------------------------------------------


def _problem_files() -> list[str]:
    return sorted(glob.glob(os.path.join(PROBLEMS, "*.py")))


def test_problem_set_is_plain_kernelbench_format() -> None:
    files = _problem_files()
    assert len(files) >= 32
    low_precision = 0
    for path in files:
        name = os.path.basename(path)
        assert name[:2].isdigit() and name[2] == "_", f"{name}: expected a numeric prefix"
        with open(path, encoding="utf-8") as f:
            text = f.read()
        tree = ast.parse(text)
        top = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
        assert {"Model", "get_inputs", "get_init_inputs"} <= top, name
        assert "tritonize" not in text, f"{name}: problem files must not depend on tritonize"
        low_precision += ("float16" in text) or ("bfloat16" in text)
    assert low_precision >= 4


def test_problem_set_runs_at_small_sizes() -> None:
    """Every problem constructs and runs on CPU once its size constants are shrunk (the GPU sizes
    themselves are too big for a CI machine); reductions to scalars stay scalars."""
    torch = pytest.importorskip("torch")
    for path in _problem_files():
        ns = runpy.run_path(path)
        g = ns["get_inputs"].__globals__
        for k, v in list(g.items()):
            if isinstance(v, int) and not isinstance(v, bool) and not k.startswith("_") and v >= 128:
                g[k] = max(4, v // 32)
        model = ns["Model"](*ns["get_init_inputs"]())
        with torch.no_grad():
            out = model(*ns["get_inputs"]())
        assert isinstance(out, torch.Tensor), path
        assert not torch.isnan(out.float()).any(), path
        if "loss" in path or "cross_entropy" in path or "kl_div" in path:
            assert out.dim() == 0, f"{path}: losses return a scalar"


# ---- discovery and stored results -------------------------------------------------------------


def test_discover_finds_problem_files_in_order(tmp_path) -> None:
    problems, warnings = discover([SMALL])
    assert [p.id for p in problems] == ["01_relu", "02_gelu_scale_bias", "03_softmax", "04_broken_recipe"]
    assert warnings == []
    assert len({p.stem for p in problems}) == 4
    # A file given explicitly is taken; a non-problem file or a missing path is a warning.
    one, warnings = discover([os.path.join(SMALL, "01_relu.py"), os.path.join(SMALL, "helpers_not_a_problem.py"),
                              str(tmp_path / "missing")])
    assert [p.id for p in one] == ["01_relu"]
    assert len(warnings) == 2 and "not a problem file" in warnings[0] and "no such" in warnings[1]
    # The same file twice (folder and file) is one problem.
    both, _ = discover([SMALL, os.path.join(SMALL, "01_relu.py")])
    assert len(both) == 4


def test_stored_result_is_reused_only_for_same_settings_and_source(tmp_path) -> None:
    src = tmp_path / "p.py"
    src.write_text(open(os.path.join(SMALL, "01_relu.py")).read())
    prob = BenchProblem(id="p", path=str(src), stem="p-1")
    settings = Settings(generators=["template"], n=1, seeds=1)
    key = run_key(settings)
    rec = ProblemRecord(problem="p", path=str(src), source_sha256=source_hash(str(src)), run_key=key,
                        finished="2025-01-01T00:00:00+00:00", wall_seconds=1.0, report=Report(problem_name="Model"))
    path = result_path(str(tmp_path / "results"), prob)
    write_atomic(path, json.dumps(rec.to_dict()))
    loaded = load_record(path)
    assert loaded is not None and loaded.report.problem_name == "Model"
    assert reusable(loaded, prob, key) == (True, "")
    assert reusable(loaded, prob, run_key(Settings(generators=["template"], n=2, seeds=1)))[0] is False
    src.write_text(src.read_text() + "\n# edited\n")
    assert reusable(loaded, prob, key) == (False, "problem file changed since")
    assert reusable(None, prob, key)[0] is False
    (tmp_path / "junk.json").write_text("{not json")
    assert load_record(str(tmp_path / "junk.json")) is None
    assert not [f for f in os.listdir(os.path.dirname(path)) if ".tmp-" in f]  # no temporary files left


# ---- reports from known numbers ---------------------------------------------------------------


def _timed_report(name: str, results: list[CandidateResult], best: str | None, total: float) -> Report:
    return Report(problem_name=name, device="NVIDIA H100 80GB HBM3", timed=True, dtype="float32",
                  results=results, best=best, eager_ms=2.0, compile_ms=1.0,
                  generators=[GeneratorRun("template", produced=1), GeneratorRun("inductor", produced=1)],
                  stage_seconds={"generate": 1.0, "verify": total - 1.5, "total": total})


def _res(cid: str, passed: bool, ms: float | None) -> CandidateResult:
    return CandidateResult(candidate_id=cid, origin=cid, passed=passed, kind=None if passed else "mismatch",
                           message="" if passed else "max abs err 0.5 at out[0, 1]",
                           timing=Timing(ms=ms, eager_ms=2.0, compile_ms=1.0) if ms else None)


def _records() -> list[ProblemRecord]:
    reports = [
        _timed_report("a", [_res("template:relu", True, 0.5), _res("inductor:default", True, 0.8)], "template:relu", 10.0),
        _timed_report("b", [_res("template:gelu", False, None), _res("inductor:default", True, 2.0)], "inductor:default", 30.0),
        _timed_report("c", [_res("template:softmax", False, None)], None, 200.0),
    ]
    return [ProblemRecord(problem=r.problem_name, path=f"/x/{r.problem_name}.py", source_sha256="0", run_key="k",
                          finished="2025-01-01T00:00:00+00:00", wall_seconds=r.stage_seconds["total"], report=r)
            for r in reports]


def test_results_from_known_reports(tmp_path) -> None:
    settings = Settings(generators=["template", "inductor"], n=1)
    res = collect(_records(), ["template", "inductor"], [1, 2], [0, 1, 1.25], settings)
    tmpl, ind, comb = res.summaries
    # combined: a 4x eager / 2x compile, b 1x / 0.5x, c failed (1.0x)
    assert comb.fast_p == {"0": pytest.approx(2 / 3), "1": pytest.approx(1 / 3), "1.25": pytest.approx(1 / 3)}
    assert comb.geomean_compile == pytest.approx((2 * 0.5 * 1) ** (1 / 3))
    assert comb.geomean_eager_correct == pytest.approx(2.0)
    assert tmpl.correct == 1 and tmpl.pass_at_k["1"] == pytest.approx(1 / 3) and tmpl.pass_at_k["2"] is None
    assert ind.correct == 2 and ind.pass_at_k["1"] == pytest.approx(2 / 3)  # c: inductor produced nothing → 0
    assert res.failure_kinds == {"mismatch": 2}
    goals = {g.name: g for g in res.goals}
    assert goals["wall time per problem (max)"].met is False  # c took 200 s
    text = render_text(res)
    assert "combined" in text and "66.7%" in text and "NO" in text

    args = argparse.Namespace(json_out=str(tmp_path / "out" / "r.json"), markdown=str(tmp_path / "r.md"),
                              plot=str(tmp_path / "r.png"))
    write_outputs(res, json_out=args.json_out, markdown=args.markdown, plot=args.plot)
    data = json.loads(open(args.json_out).read())
    assert [p["problem"] for p in data["problems"]] == ["a", "b", "c"]
    assert data["problems"][0]["speedup_eager"] == pytest.approx(4.0)
    assert data["problems"][2]["correct"] is False
    assert data["summary"][-1]["name"] == "combined" and data["summary"][-1]["correct"] == 2
    assert Report.from_dict(data["problems"][1]["report"]).best == "inductor:default"
    md = open(args.markdown).read()
    assert "| a | float32 | PASS | 2/2 | template:relu |" in md
    assert "## Failures" in md and "max abs err 0.5" in md
    pytest.importorskip("matplotlib")
    with open(args.plot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_untimed_results_say_what_needs_a_gpu(tmp_path) -> None:
    recs = _records()
    for r in recs:
        r.report.timed = False
        r.report.device = "cpu (TRITON_INTERPRET=1)"
        for c in r.report.results:
            c.timing = None
    res = collect(recs, ["template", "inductor"], [1], [0, 1], Settings())
    comb = res.summaries[-1]
    assert comb.fast_p["0"] == pytest.approx(2 / 3) and comb.fast_p["1"] is None and comb.geomean_eager is None
    assert "n/a (needs a GPU)" in render_text(res)
    assert "not timed" in render_markdown(res)
    plot = str(tmp_path / "p.png")
    write_outputs(res, plot=plot)
    assert not os.path.exists(plot)  # no timings, no plot (and the run still succeeds)


# ---- end to end (interpreter, template generator) ---------------------------------------------


def _bench_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tritonize.cli.main", "bench", *args, "--generators", "template",
            "-n", "1", "--seeds", "1", "--device", "cpu"]


@dataclass
class KilledRun:
    stored: dict[str, str]  # result files present when the first run was killed → their text
    stored_dir: str
    resumed: subprocess.CompletedProcess
    out_json: str
    out_md: str


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory) -> KilledRun:
    """`tritonize bench tests/data/bench_small`, killed (SIGKILL, workers included) right after the
    first problem's result is stored, then run again with --resume writing JSON and markdown.
    One run for both tests below: the interpreter is slow and CI has two cores."""
    tmp = tmp_path_factory.mktemp("bench")
    results, out_json, out_md = tmp / "r", tmp / "results.json", tmp / "bench.md"
    cmd = _bench_cmd(SMALL, "--json-out", str(out_json), "--markdown", str(out_md), "--results-dir", str(results))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    stored = results / "problems"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if stored.is_dir() and [f for f in os.listdir(stored) if f.endswith(".json")]:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    first = sorted(f for f in os.listdir(stored) if f.endswith(".json")) if stored.is_dir() else []
    assert len(first) == 1, f"expected the kill right after the first problem, found {first}"
    assert not out_json.exists()  # killed before the end
    before = {f: (stored / f).read_text() for f in first}
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    return KilledRun(before, str(stored), resumed, str(out_json), str(out_md))


def test_bench_resumes_after_being_killed(killed_and_resumed: KilledRun) -> None:
    run = killed_and_resumed
    assert run.resumed.returncode == 0, run.resumed.stderr[-3000:]
    for f, text in run.stored.items():
        with open(os.path.join(run.stored_dir, f)) as fh:
            assert fh.read() == text, f"{f} was run again"
    assert run.resumed.stderr.count("resumed") == len(run.stored)
    assert "01_relu: resumed" in run.resumed.stderr
    data = json.loads(open(run.out_json).read())
    finished = {p["problem"]: p["finished"] for p in data["problems"]}
    assert len(finished) == 4  # the final JSON covers every problem
    for text in run.stored.values():
        rec = json.loads(text)
        assert finished[rec["problem"]] == rec["finished"]


def test_bench_end_to_end_on_small_problems(killed_and_resumed: KilledRun) -> None:
    run = killed_and_resumed
    assert run.resumed.returncode == 0, run.resumed.stderr[-3000:]
    data = json.loads(open(run.out_json).read())
    by_name = {p["problem"]: p for p in data["problems"]}
    log = run.resumed.stderr[-3000:]
    assert list(by_name) == ["01_relu", "02_gelu_scale_bias", "03_softmax", "04_broken_recipe"], log
    assert (by_name["04_broken_recipe"]["error"] or "").startswith("recipe_error"), by_name["04_broken_recipe"]
    assert by_name["01_relu"]["correct"], (by_name["01_relu"]["report"]["results"], log)
    # The summary agrees with the per-problem reports it was computed from.
    reports = {name: Report.from_dict(p["report"]) for name, p in by_name.items()}
    correct = [name for name, r in reports.items() if r.best_result() is not None and r.best_result().passed]
    assert [n for n, p in by_name.items() if p["correct"]] == correct
    combined = data["summary"][-1]
    assert combined["name"] == "combined" and combined["problems"] == 4 and combined["correct"] == len(correct)
    assert combined["fast_p"]["0"] == pytest.approx(len(correct) / 4)
    assert combined["fast_p"]["1"] is None and combined["geomean_compile"] is None  # CPU: not timed
    tmpl = data["summary"][0]
    assert tmpl["name"] == "template" and tmpl["samples"] == sum(len(r.results) for r in reports.values())
    # pass@1 from n samples with c correct is c/n; a problem without samples counts 0.
    per_problem = [len(r.passed()) / len(r.results) if r.results else 0.0 for r in reports.values()]
    assert tmpl["pass_at_k"]["1"] == pytest.approx(sum(per_problem) / 4)
    assert tmpl["pass_at_k"]["10"] is None  # k > n
    for name, p in by_name.items():
        assert p["stage_seconds"]["total"] > 0, name
    md = open(run.out_md).read()
    for name in by_name:
        assert f"| {name} |" in md
    assert "[4/4]" in run.resumed.stderr, log  # the progress counter reached the end
    assert "combined" in run.resumed.stdout and "n/a (needs a GPU)" in run.resumed.stdout, run.resumed.stdout


@pytest.mark.gpu
def test_bench_times_problems_on_a_gpu(tmp_path) -> None:
    """On a GPU the chosen kernels are timed against eager and torch.compile at full problem size."""
    files = [os.path.join(PROBLEMS, "01_relu.py"), os.path.join(PROBLEMS, "22_softmax.py")]
    out_json = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "tritonize.cli.main", "bench", *files, "--generators", "template", "-n", "1", "--seeds", "1",
           "--json-out", str(out_json), "--results-dir", str(tmp_path / "r"), "--plot", str(tmp_path / "s.png")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=280, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out_json.read_text())
    assert data["timed"] is True
    for p in data["problems"]:
        assert p["eager_ms"] and p["compile_ms"], p["problem"]
        if p["correct"]:
            best = Report.from_dict(p["report"]).best_result()
            assert best is not None and best.timing is not None
            assert p["speedup_eager"] == pytest.approx(best.timing.eager_ms / best.timing.ms)
    combined = data["summary"][-1]
    if combined["correct"]:
        assert combined["fast_p"]["1"] is not None and combined["geomean_compile"] is not None
        assert (tmp_path / "s.png").exists()
