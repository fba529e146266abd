"""The verify worker pool on CPU (TRITON_INTERPRET=1): real worker processes, real candidates.

One module-scoped pool serves most tests (a worker start costs seconds); tests that break a worker
check that the next job on the same pool still passes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from tritonize.cancel import Cancelled, CancelToken
from tritonize.candidate import Candidate
from tritonize.problem import Problem, ProblemError, Range
from tritonize.settings import Settings
from tritonize.verify.pool import WorkerCallError, WorkerPool

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/
CASES = os.path.join(HERE, "verify_cases")
ROOT = os.path.dirname(HERE)
ZERO = Range(0, 0, 0, 0)
FAKE_SECRET = "TRITONIZE_TEST_API_KEY"
# The worker runs only its own entry points; these test ones are named when the pool starts it.
CRASHERS = "tests.verify_cases.crashers"
TEST_ENTRY_POINTS = {f"test.{f}": f"{CRASHERS}:{f}" for f in ("echo", "boom", "kill9", "segfault", "sleep", "patch_torch")}
TEST_ENTRY_POINTS["test.getenv"] = "os:getenv"


def case(name: str) -> str:
    with open(os.path.join(CASES, name), encoding="utf-8") as f:
        return f.read()


def problem(file: str = "relu_problem.py", name: str = "Model") -> Problem:
    return Problem(name=name, source=case(file), class_range=ZERO, name_range=ZERO)


def cand(file: str) -> Candidate:
    return Candidate(code=case(file), origin="test", candidate_id=file)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(device="cpu", timeout_s=30.0, seeds=3)


@pytest.fixture(scope="module")
def pool(settings: Settings):
    # The test entry points import tests/verify_cases/crashers.py in the worker: put the repo on its path.
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, old) if p)
    os.environ[FAKE_SECRET] = "must-not-reach-the-worker"
    p = WorkerPool(settings, extra_entry_points=TEST_ENTRY_POINTS)
    p.start()
    yield p
    p.close()
    os.environ.pop(FAKE_SECRET, None)
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


def verify(pool: WorkerPool, settings: Settings, file: str, prob: Problem | None = None):
    return pool.submit(prob or problem(), cand(file), settings).result(timeout=120)


def assert_serves(pool: WorkerPool, settings: Settings) -> None:
    """After a broken worker, the pool still verifies a correct candidate."""
    r = verify(pool, settings, "relu_ok.py")
    assert r.passed, r.message


# ---- basics -------------------------------------------------------------------------------------


def test_device_info_says_cpu_interpreter(pool: WorkerPool) -> None:
    info = pool.device_info()
    assert info.kind == "cpu" and not info.timed
    assert "TRITON_INTERPRET" in info.name
    assert info.versions["torch"] and info.versions["triton"]
    assert info.sandbox["audit"] and info.sandbox["network"]  # the worker reports its sandbox layers


def test_probe_reports_dtype_shapes_and_tolerance(pool: WorkerPool, settings: Settings) -> None:
    probe = pool.probe(problem(), settings)
    assert probe.dtype == "float32"
    assert probe.input_shapes == ["float32[16, 256]"]
    assert probe.output_shapes == ["float32[16, 256]"]
    assert (probe.tolerance.atol, probe.tolerance.rtol, probe.tolerance.tf32) == (1e-4, 1e-4, False)
    loose = pool.probe(problem(), settings.copy(atol=1e-2, allow_tf32=True))
    assert loose.tolerance.atol == 1e-2 and loose.tolerance.tf32


@pytest.mark.parametrize(
    "file, says",
    [("recipe_raises.py", "get_inputs() raised RuntimeError: no data here"),
     ("forward_raises.py", "Model.forward raised RuntimeError")],
)
def test_probe_names_the_failing_recipe_step(pool: WorkerPool, settings: Settings, file: str, says: str) -> None:
    with pytest.raises(ProblemError) as err:
        pool.probe(problem(file), settings)
    assert err.value.kind == "recipe_error"
    assert says in err.value.message


def test_call_runs_a_function_in_the_worker(pool: WorkerPool) -> None:
    out = pool.call("test.echo", {"a": [1, 2]})
    assert out["got"] == {"a": [1, 2]}
    assert out["pid"] != os.getpid()  # another process: the worker, at pid 2 of its own namespace
    assert pool.call("test.echo", {})["process"] == out["process"]  # the same warm worker again
    with pytest.raises(WorkerCallError) as err:
        pool.call("test.boom", {})
    assert "boom from the worker" in str(err.value)
    assert "Traceback" in err.value.traceback


def test_the_worker_runs_only_its_entry_points(pool: WorkerPool) -> None:
    for name in ("no.such.entry", "os:getenv", "tritonize.worker.template.build:build_candidates"):
        with pytest.raises(WorkerCallError) as err:
            pool.call(name, "HOME")
        assert f"unknown entry point {name!r}" in str(err.value)
        assert "template.build" in str(err.value)  # the reply names what the worker does run


def test_template_build_is_an_entry_point(pool: WorkerPool) -> None:
    reply = pool.call("template.build", {"problem": problem().to_dict(), "n": 1, "allow_tf32": False})
    assert reply["skipped"] is None and len(reply["candidates"]) == 1
    assert reply["candidates"][0]["origin"].startswith("template:")


def test_call_takes_its_time_limit_from_its_settings(pool: WorkerPool, settings: Settings) -> None:
    # One rule for probe, submit and call: `timeout=` when given, else the settings' timeout_s.
    with pytest.raises(WorkerCallError) as err:
        pool.call("test.sleep", {"seconds": 60}, settings=settings.copy(timeout_s=1.0))
    assert "timed out after 1 s" in str(err.value)
    with pytest.raises(WorkerCallError) as err:
        pool.call("test.sleep", {"seconds": 60}, timeout=1.5, settings=settings)
    assert "timed out after 1.5 s" in str(err.value)
    assert pool.call("test.sleep", {"seconds": 0}) == "slept"


def test_worker_environment_has_no_secrets_and_a_throwaway_home(pool: WorkerPool) -> None:
    assert pool.call("test.getenv", FAKE_SECRET) is None
    home = pool.call("test.getenv", "HOME")
    assert home.startswith(pool.root + os.sep), home
    assert pool.call("test.getenv", "PYTHONPATH")  # what the worker needs still arrives


# ---- verdicts -----------------------------------------------------------------------------------


def test_correct_candidate_passes(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, "relu_ok.py")
    assert r.passed, r.message
    assert r.kind is None and r.seeds == 3 and r.kernels_launched == 1 and r.drop_in is True
    assert r.max_abs_err == 0.0 and r.timing is None
    assert r.candidate_id == "relu_ok.py" and "relu_kernel" in r.code
    # input seeds are drawn per job, and recorded so the run can be repeated
    seeds = [f.message for f in r.findings if f.rule == "seeds"]
    assert len(seeds) == 1 and "TRITONIZE_VERIFY_SEED=" in seeds[0]
    again = verify(pool, settings, "relu_ok.py")
    assert [f.message for f in again.findings if f.rule == "seeds"] != seeds


def test_weights_copied_or_same_seed_not_drop_in(pool: WorkerPool, settings: Settings) -> None:
    prob = problem("scale_problem.py", "Scale")
    same = verify(pool, settings, "scale_ok.py", prob)
    assert same.passed and same.drop_in is True, same.message
    renamed = verify(pool, settings, "scale_renamed.py", prob)
    assert renamed.passed and renamed.drop_in is False, renamed.message


@pytest.mark.parametrize(
    "file, kind, says",
    [
        ("relu_wrong.py", "mismatch", "1 of 4,096 elements beyond atol=0.0001 rtol=0.0001, max |Δ| 0.31 at out[0, 12]"),
        ("relu_shape.py", "mismatch", "shape float32[16, 128], expected float32[16, 256]"),
        ("relu_nan.py", "mismatch", "NaN where the reference is finite"),
        ("relu_mutate.py", "cheat", "modified input[0]"),
        ("relu_alias.py", "cheat", "shares memory with an input"),
        ("relu_no_triton.py", "cheat", "no Triton kernel was launched"),
        ("syntax_error.py", "syntax", "line 20"),
        ("import_error.py", "import", "No module named 'tritonize_no_such_module'"),
        ("no_model_new.py", "import", "defines no ModelNew"),
        ("raises.py", "runtime", "ValueError: bad block size 4096 (candidate line 25)"),
        ("compile_error.py", "compile", "no_such_op"),
    ],
)
def test_failures_have_kind_and_message(pool: WorkerPool, settings: Settings, file: str, kind: str, says: str) -> None:
    r = verify(pool, settings, file)
    assert not r.passed
    assert r.kind == kind, r.message
    assert says in r.message
    assert "\n" not in r.message


def test_mismatch_records_error_numbers(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, "relu_wrong.py")
    assert r.max_abs_err == pytest.approx(0.31, rel=1e-3)
    assert r.worst_index == "out[0, 12]"
    assert r.rel_err is not None and 0 < r.rel_err < 0.1
    assert "rel err" in r.message


def test_torch_fallback_is_noted_and_rejected_when_strict(pool: WorkerPool, settings: Settings) -> None:
    lenient = verify(pool, settings, "relu_torch_fallback.py")
    assert lenient.passed
    assert any(f.rule == "torch-fallback" and not f.fatal for f in lenient.findings)
    strict = pool.submit(problem(), cand("relu_torch_fallback.py"), settings.copy(strict=True)).result(timeout=120)
    assert strict.kind == "cheat" and "torch" in strict.message


# ---- broken workers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file, says",
    [
        ("exit3.py", "worker exited with status 3 during ModelNew.forward"),
        ("abort.py", "SIGABRT"),
        ("oob_store.py", r"SIGSEGV \(segmentation fault\) during ModelNew.forward \(seed \d+\), at candidate line 13"),
    ],
)
def test_crashing_candidate_is_a_crash_and_the_pool_recovers(pool, settings, file: str, says: str) -> None:
    before = set(pool.worker_pids())
    r = verify(pool, settings, file)
    assert r.kind == "crash", r.message
    assert re.search(says, r.message), r.message
    assert_serves(pool, settings)
    assert set(pool.worker_pids()) != before  # the crashed worker was replaced


def test_infinite_loop_times_out_and_the_pool_recovers(pool: WorkerPool, settings: Settings) -> None:
    r = pool.submit(problem(), cand("loop_forever.py"), settings.copy(timeout_s=2.0)).result(timeout=120)
    assert r.kind == "timeout"
    assert "timed out after 2 s" in r.message and "ModelNew.forward" in r.message
    assert_serves(pool, settings)


@pytest.mark.parametrize("func, signame", [("kill9", "SIGKILL"), ("segfault", "SIGSEGV")])
def test_hard_kills_in_a_call_are_reported(pool: WorkerPool, settings: Settings, func: str, signame: str) -> None:
    with pytest.raises(WorkerCallError) as err:
        pool.call(f"test.{func}", {})
    assert signame in str(err.value)
    assert_serves(pool, settings)


def test_worker_killed_from_outside_mid_job(pool: WorkerPool, settings: Settings) -> None:
    fut = pool.submit(problem(), cand("loop_forever.py"), settings)
    time.sleep(1.5)  # the worker is inside ModelNew.forward now
    for pid in pool.worker_pids():
        os.kill(pid, signal.SIGKILL)
    r = fut.result(timeout=60)
    assert r.kind == "crash" and "SIGKILL" in r.message
    assert_serves(pool, settings)


def _standby_pid(pool: WorkerPool, seconds: float = 60) -> int:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pids = pool.standby_pids()
        if pids:
            return pids[0]
        time.sleep(0.1)
    raise AssertionError("no standby worker was started")


def test_a_dead_worker_is_replaced_by_the_standby(pool: WorkerPool, settings: Settings) -> None:
    standby = _standby_pid(pool)
    used = pool.stats().get("standby_used", 0)
    with pytest.raises(WorkerCallError):
        pool.call("test.kill9", {})
    assert_serves(pool, settings)
    assert pool.worker_pids() == [standby]
    assert pool.stats()["standby_used"] == used + 1
    assert _standby_pid(pool) != standby  # the next spare is on its way


def test_patched_torch_recycles_the_worker(pool: WorkerPool, settings: Settings) -> None:
    process = pool.call("test.echo", {})["process"]
    assert pool.call("test.patch_torch", {}) == "patched"
    # torch.allclose now lies in that worker: it must be gone before the next job runs.
    assert pool.call("test.echo", {})["process"] != process
    assert verify(pool, settings, "relu_wrong.py").kind == "mismatch"


def test_cancel_kills_the_running_job_and_fails_queued_ones(pool: WorkerPool, settings: Settings) -> None:
    token = CancelToken()
    running = pool.submit(problem(), cand("loop_forever.py"), settings, token)
    queued = pool.submit(problem(), cand("relu_ok.py"), settings, token)
    time.sleep(1.0)
    t0 = time.monotonic()
    token.cancel()
    r1, r2 = running.result(timeout=30), queued.result(timeout=30)
    assert time.monotonic() - t0 < 2.0
    assert not r1.passed and "cancelled" in r1.message
    assert not r2.passed and "cancelled" in r2.message
    with pytest.raises(Cancelled):
        pool.probe(problem(), settings, token)
    assert_serves(pool, settings)


# ---- process hygiene ------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()  # a zombie has exited already
    except FileNotFoundError:
        return False


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def test_close_leaves_no_workers() -> None:
    p = WorkerPool(Settings(device="cpu"))
    p.device_info()
    pids = p.worker_pids() + [_standby_pid(p)]
    assert all(_alive(x) for x in pids)
    p.close()
    assert _wait_gone(pids, 5) == []
    assert not os.path.exists(p.root)


def test_workers_die_when_the_parent_is_sigkilled(tmp_path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from tritonize.settings import Settings
        from tritonize.verify.pool import WorkerPool
        pool = WorkerPool(Settings(device="cpu"))
        pool.device_info()
        while not pool.standby_pids():
            time.sleep(0.05)
        print(pool.root, " ".join(str(p) for p in pool.worker_pids() + pool.standby_pids()), flush=True)
        time.sleep(600)
        """
    )
    root = ""
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        root, *rest = parent.stdout.readline().split()  # waits for the worker's hello
        pids = [int(x) for x in rest]
        assert pids and all(_alive(x) for x in pids)
        parent.kill()
        parent.wait()
        assert _wait_gone(pids, 10) == [], "workers outlived their SIGKILLed parent"
    finally:
        parent.kill()
        if root:
            shutil.rmtree(root, ignore_errors=True)  # a SIGKILLed server cannot clean up after itself


def test_waiting_for_the_first_worker_ends_on_cancel(settings: Settings) -> None:
    """A job cancelled while the first worker is still starting stops waiting at once."""
    p = WorkerPool(settings.copy(), standby=False)
    token = CancelToken()
    try:
        threading.Timer(0.2, token.cancel).start()
        t0 = time.monotonic()
        with pytest.raises(Cancelled):
            p.device_info(cancel=token)
        assert time.monotonic() - t0 < 2.0  # a worker takes seconds to start; the wait did not
    finally:
        p.close()


# ---- timing has the device to itself ------------------------------------------------------------------


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_a_job_that_times_has_the_device_to_itself(settings: Settings, monkeypatch) -> None:
    """While one job holds `ctx.exclusive()` (as GPU timing does), the pool stops the other workers on the
    device: their progress has a gap that covers the hold, the time they spent stopped does not count
    against their time limit, and a job that dies inside the block still lets them go on."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv("TRITONIZE_CPU_WORKERS", "2")
    entries = {"test.hold": f"{CRASHERS}:hold_device", "test.steps": f"{CRASHERS}:steps"}
    p = WorkerPool(settings.copy(), standby=False, extra_entry_points=entries)
    try:
        p.start()
        p.device_info()
        deadline = time.monotonic() + 60
        while p.serving() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert p.serving() == 2
        out: dict = {}
        # ~1.6 s of its own progress under a 2.5 s limit: it only makes it if the 1.5 s it is stopped
        # for are not counted
        stepper = threading.Thread(target=lambda: out.update(p.call("test.steps", {"n": 150}, timeout=2.5)))
        stepper.start()
        time.sleep(0.4)
        held = p.call("test.hold", {"seconds": 1.5}, timeout=30)
        stepper.join(timeout=30)
        stamps = out["stamps"]
        gaps = [(a, b) for a, b in zip(stamps, stamps[1:], strict=False) if b - a > 1.0]
        assert len(gaps) == 1, f"expected one pause of the other worker, got gaps {gaps}"
        (a, b), = gaps
        assert a <= held["start"] + 0.2 and b >= held["end"] - 0.2, (gaps, held)
        assert p.stats().get("exclusive_grants") == 1

        # a job that dies while it has the device: the others go on (and are not left stopped)
        stepper = threading.Thread(target=lambda: out.update(p.call("test.steps", {"n": 100}, timeout=30)))
        stepper.start()
        time.sleep(0.3)
        with pytest.raises(WorkerCallError):
            p.call("test.hold", {"seconds": 0.5, "die": True}, timeout=30)
        stepper.join(timeout=30)
        assert not stepper.is_alive() and len(out["stamps"]) == 100
        assert all(_state(pid) != "T" for pid in p.worker_pids())
    finally:
        p.close()
