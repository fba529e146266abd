"""Shared test setup.

Without a GPU, Triton kernels run on CPU tensors under the interpreter; the flag must be set before
anything imports triton (here, in the test process; workers set it themselves).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _has_cuda() -> bool:
    if not shutil.which("nvidia-smi"):
        return False
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


HAS_CUDA = _has_cuda()
# `make gpu-test` (scripts/gpu-test.sh) sets TRITONIZE_GPU_TESTS=1 and runs only GPU-marked tests on real
# CUDA. Every other run checks kernels on CPU tensors under the interpreter, on any machine.
GPU_RUN = os.environ.get("TRITONIZE_GPU_TESTS") == "1"
if GPU_RUN:
    os.environ.pop("TRITON_INTERPRET", None)
else:
    os.environ.setdefault("TRITON_INTERPRET", "1")

# Reports written by tests go to a throwaway cache, never the user's.
os.environ.setdefault("TRITONIZE_CACHE_DIR", os.path.join(ROOT, ".tritonize-cache", f"tests-{os.getpid()}"))


def pytest_collection_modifyitems(config, items):
    if HAS_CUDA:
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA (run on a GPU machine with `make gpu-test`)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def python_exe() -> str:
    return sys.executable


@pytest.fixture(scope="module")
def gpu_pool(settings):
    """A started WorkerPool on the GPU, shaped by the test module's own `settings` fixture, closed
    after the module (tests/worker: the verifier's and the Inductor generator's GPU tests)."""
    from tritonize.verify.pool import WorkerPool

    pool = WorkerPool(settings)
    pool.start()
    yield pool
    pool.close()
