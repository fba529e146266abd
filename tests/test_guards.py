"""TorchOpRecorder (worker/guards.py): torch compute is seen however it is reached; Triton launches
(including the interpreter's own tensor copies) and allocation/view ops are not compute."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")
import triton.language as tl  # noqa: E402
from tritonize.worker.guards import TorchOpRecorder  # noqa: E402


@triton.jit
def _double_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * 2.0, mask=mask)


def _device() -> str:
    return "cpu" if os.environ.get("TRITON_INTERPRET") == "1" else "cuda"


def test_triton_launch_and_allocations_are_not_compute():
    x = torch.randn(300, device=_device())
    with TorchOpRecorder() as rec:
        out = torch.empty_like(x)
        buf = torch.empty_strided((10, 30), (30, 1), device=x.device).view(30, 10).t().contiguous()
        _double_kernel[(triton.cdiv(300, 128),)](x, out, 300, BLOCK=128)
        out = out.reshape(3, 100).permute(1, 0).clone()
    assert rec.compute_ops == {}, rec.compute_ops
    assert rec.all_ops  # the allocations were seen, just not counted as compute
    assert torch.allclose(out.permute(1, 0).reshape(-1), x * 2) and buf.shape == (10, 30)


def test_compute_is_seen_through_aliases_and_containers():
    a, b = torch.randn(4, 5), torch.randn(5, 3)
    ops = {"f": getattr(torch, "mat" + "mul")}
    with TorchOpRecorder() as rec:
        ops["f"](a, b)
        (a * 2).sum()
        torch.nn.functional.relu(a)
    assert set(rec.compute_ops) >= {"aten.mm", "aten.mul", "aten.sum", "aten.relu"}
    assert "aten.mm ×1" in rec.describe()


def test_nothing_recorded_outside_the_block():
    a = torch.randn(3)
    with TorchOpRecorder() as rec:
        pass
    a.exp()
    assert rec.compute_ops == {}


def test_recording_does_not_import_dynamo():
    # torch._dynamo costs seconds to import; the recorder runs in every worker at start-up
    code = ("import sys, torch\n"
            "from tritonize.worker.guards import TorchOpRecorder\n"
            "with TorchOpRecorder() as rec:\n"
            "    (torch.ones(2) + 1).sum()\n"
            "print(sorted(rec.compute_ops), 'torch._dynamo' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "['aten.add', 'aten.sum'] False", proc.stdout + proc.stderr
