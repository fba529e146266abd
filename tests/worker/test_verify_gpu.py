"""The verify pool on a CUDA GPU (`make gpu-test`): correctness, CUDA faults, timing.

Same candidates as the CPU tests (tests/verify_cases), plus faults only a GPU has: an illegal
memory access, a device-side assert, running out of GPU memory. After each, the pool must verify
the next candidate correctly.
"""

from __future__ import annotations

import os

import pytest
from tritonize.candidate import Candidate
from tritonize.problem import Problem, Range
from tritonize.settings import Settings
from tritonize.verify.pool import WorkerPool

pytestmark = pytest.mark.gpu

CASES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "verify_cases")
ZERO = Range(0, 0, 0, 0)


def case(name: str) -> str:
    with open(os.path.join(CASES, name), encoding="utf-8") as f:
        return f.read()


def problem(file: str = "relu_problem.py") -> Problem:
    return Problem(name="Model", source=case(file), class_range=ZERO, name_range=ZERO)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(device="cuda", devices=[0], timeout_s=120.0)


@pytest.fixture(scope="module")
def pool(gpu_pool: WorkerPool) -> WorkerPool:
    return gpu_pool  # tests/conftest.py builds it from this module's settings


def verify(pool: WorkerPool, settings: Settings, file: str, prob: Problem | None = None):
    return pool.submit(prob or problem(), Candidate(case(file), "test", file), settings).result(timeout=600)


def assert_serves(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, "relu_ok.py")
    assert r.passed, r.message


def test_device_is_cuda(pool: WorkerPool) -> None:
    info = pool.device_info()
    assert info.kind == "cuda" and info.timed
    assert info.versions["cuda"]


def test_correct_candidate_passes_and_is_timed(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, "relu_ok.py")
    assert r.passed, r.message
    assert r.kernels_launched == 1 and r.seeds == 3
    assert r.timing is not None and r.timing.ms > 0 and r.timing.runs >= 20
    assert r.timing.eager_ms and r.timing.eager_ms > 0
    assert r.timing.compile_ms and r.timing.compile_ms > 0  # torch.compile of a relu works


@pytest.mark.parametrize(
    "file, kind, says",
    [
        ("relu_wrong.py", "mismatch", "max |Δ| 0.31 at out[0, 12]"),
        ("relu_shape.py", "mismatch", "shape float32[16, 128]"),
        ("relu_nan.py", "mismatch", "NaN where the reference is finite"),
        ("relu_mutate.py", "cheat", "modified input[0]"),
        ("relu_alias.py", "cheat", "shares memory with an input"),
        ("relu_no_triton.py", "cheat", "no Triton kernel was launched"),
        ("syntax_error.py", "syntax", "line 20"),
        ("import_error.py", "import", "tritonize_no_such_module"),
        ("raises.py", "runtime", "ValueError: bad block size"),
    ],
)
def test_failures_on_cuda(pool: WorkerPool, settings: Settings, file: str, kind: str, says: str) -> None:
    r = verify(pool, settings, file)
    assert r.kind == kind, r.message
    assert says in r.message


def test_compile_error_is_compile(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, "compile_error.py")
    assert r.kind == "compile", r.message
    assert "no_such_op" in r.message


@pytest.mark.parametrize(
    "file, kinds, says",
    [
        ("oob_store.py", ("crash",), "illegal memory access"),
        ("gpu_device_assert.py", ("crash",), "device-side assert"),
        ("gpu_oom.py", ("runtime",), "out of memory"),
    ],
)
def test_cuda_faults_are_reported_and_the_pool_recovers(pool, settings, file: str, kinds: tuple, says: str) -> None:
    r = verify(pool, settings, file)
    assert r.kind in kinds, r.message
    assert says in r.message.lower() or says in r.message
    assert_serves(pool, settings)


def test_slow_kernel_times_slower_than_fast_one(pool: WorkerPool, settings: Settings) -> None:
    prob = problem("big_relu_problem.py")
    fast = verify(pool, settings, "relu_ok.py", prob)
    slow = verify(pool, settings, "relu_slow.py", prob)
    assert fast.passed and slow.passed, (fast.message, slow.message)
    assert fast.timing and slow.timing
    assert slow.timing.ms > 1.5 * fast.timing.ms
    # Baselines are measured once per (worker, problem) and reused.
    assert slow.timing.eager_ms == fast.timing.eager_ms
    assert slow.timing.compile_ms == fast.timing.compile_ms


def test_infinite_loop_times_out_on_cuda(pool: WorkerPool, settings: Settings) -> None:
    r = pool.submit(problem(), Candidate(case("loop_forever.py"), "test", "loop"), settings.copy(timeout_s=5.0))
    res = r.result(timeout=600)
    assert res.kind == "timeout"
    assert_serves(pool, settings)


def test_the_standby_worker_holds_no_gpu_memory(pool: WorkerPool, settings: Settings) -> None:
    import shutil
    import subprocess
    import time

    if not shutil.which("nvidia-smi"):
        pytest.skip("needs nvidia-smi to list the processes holding a CUDA context")
    end = time.monotonic() + 120
    while not pool.standby_pids() and time.monotonic() < end:
        time.sleep(0.2)
    standby = pool.standby_pids()
    assert standby, "no standby worker was started"
    time.sleep(5)  # let it finish importing torch and triton
    out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader"],
                         capture_output=True, text=True, timeout=60).stdout
    holders = {int(x) for x in out.split() if x.strip().isdigit()}
    # pids inside a container may not match nvidia-smi's view; the serving worker must show up if they do
    if not holders & set(pool.worker_pids()):
        pytest.skip("nvidia-smi does not show this container's pids")
    assert standby[0] not in holders
    # and it takes over after a fault: the next worker is the former standby, with its own context
    verify(pool, settings, "oob_store.py")
    assert_serves(pool, settings)
    assert pool.worker_pids() == standby


def test_baselines_measured_beside_and_timing_alone_on_the_device(settings: Settings) -> None:
    """A pool with its generation worker: the problem's eager and torch.compile times are measured there
    (start_baselines, as `convert` does after the probe) and handed to the verify job with its grant to
    time; every timing had the GPU to itself; both workers on the GPU serve."""
    p = WorkerPool(settings.copy(), standby=False, gen_lane=True)
    try:
        p.start()
        p.device_info()
        prob = problem()
        p.probe(prob, settings)
        pending = p.start_baselines(prob, settings)
        # measured once per problem: asking again (a second conversion of it) gets the same measurement
        assert p.start_baselines(prob, settings) is pending and pending is not None
        r = verify(p, settings, "relu_ok.py", prob)
        assert r.passed, r.message
        p.complete_baselines(prob, settings, [r])
        base = pending.result(timeout=600)
        assert base is not None and base["eager_ms"] > 0 and base["compile_ms"] > 0, base
        assert r.timing is not None and r.timing.eager_ms and r.timing.eager_ms > 0  # timed beside the candidate
        assert r.timing.compile_ms == base["compile_ms"]
        stats = p.stats()
        assert stats.get("baselines_shared", 0) >= 1, stats
        assert stats.get("exclusive_grants", 0) >= 3, stats  # eager + compile beside, the candidate (+ eager)
        assert p.serving() == 2 and "phase_baselines_s" not in stats  # the verify worker compiled nothing
    finally:
        p.close()
