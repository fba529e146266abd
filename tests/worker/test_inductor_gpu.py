"""Inductor generator end to end on a CUDA GPU (`make gpu-test`): capture in a worker, export in
this process, verify and time through the WorkerPool.

Asserts that exported candidates pass verification; timings against torch.compile are printed and
checked only for sanity (within 3x): the 5% goal is measured by the benchmarks, not a unit test.
"""

from __future__ import annotations

import os

import pytest
from tritonize.cancel import CancelToken
from tritonize.generate import GenerateContext
from tritonize.generate.host_client import ModelHost
from tritonize.generate.inductor import InductorGenerator
from tritonize.generate.inductor_export import TORCH_CALL_NOTE
from tritonize.problem import extract
from tritonize.settings import Settings
from tritonize.verify.pool import WorkerPool

pytestmark = pytest.mark.gpu

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBLEMS = {
    "pointwise": "benchmarks/problems/05_silu.py",
    "softmax": "benchmarks/problems/22_softmax.py",
    "layer_norm": "benchmarks/problems/25_layer_norm.py",
    "linear_gelu": "benchmarks/problems/28_linear_bias_gelu.py",
    "attention": "benchmarks/problems/40_attention.py",
}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(device="cuda", devices=[0], timeout_s=300.0)


@pytest.fixture(scope="module")
def pool(gpu_pool: WorkerPool) -> WorkerPool:
    return gpu_pool  # tests/conftest.py builds it from this module's settings


def _generate(name: str, pool: WorkerPool, settings: Settings):
    with open(os.path.join(ROOT, PROBLEMS[name]), encoding="utf-8") as f:
        problem = extract(f.read(), "Model", path=PROBLEMS[name])
    # The Inductor generator never samples a model: the host handle is never started.
    ctx = GenerateContext(settings=settings, pool=pool, device=pool.device_info(), cancel=CancelToken(),
                          progress=lambda *a: None, model_host=ModelHost())
    return problem, InductorGenerator().generate(problem, ctx)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_exported_candidates_pass(name: str, pool: WorkerPool, settings: Settings) -> None:
    problem, candidates = _generate(name, pool, settings)
    origins = {c.origin for c in candidates}
    assert "inductor:default" in origins or "inductor:max-autotune-triton" in origins
    assert "inductor:default-dynamic" in origins, [c.notes for c in candidates]  # the shape-general export
    for cand in candidates:
        assert "torch._inductor" not in cand.code and "torch._C" not in cand.code
        result = pool.submit(problem, cand, settings).result(timeout=900)
        timing = result.timing
        ratio = timing.ms / timing.compile_ms if timing and timing.compile_ms else None
        print(f"{name:12s} {cand.origin:30s} passed={result.passed} ms={timing and timing.ms} "
              f"compile_ms={timing and timing.compile_ms} ratio={ratio} notes={cand.notes}")
        assert result.passed, f"{cand.origin}: {result.kind}: {result.message}"
        if ratio is not None:
            assert ratio < 3.0, f"{cand.origin} is {ratio:.2f}x torch.compile's time"
        if cand.origin == "inductor:max-autotune-triton" and name in ("linear_gelu", "attention"):
            assert not any(n.startswith(TORCH_CALL_NOTE) for n in cand.notes), "expected an all-Triton candidate"


def test_max_autotune_stops_at_its_time_budget(pool: WorkerPool, settings: Settings) -> None:
    """A GEMM problem's default export calls cuBLAS, so max-autotune runs; with a 1 s budget it is
    stopped, the default candidate still comes, and its notes say why max-autotune gave none."""
    _, candidates = _generate("linear_gelu", pool, settings.copy(autotune_budget_s=1.0))
    assert [c.origin for c in candidates] == ["inductor:default", "inductor:default-dynamic"]
    assert any("max-autotune-triton: stopped after its time budget of 1 s (autotune_budget_s" in n
               for n in candidates[0].notes), candidates[0].notes
