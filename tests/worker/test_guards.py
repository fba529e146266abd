"""TorchOpRecorder and Recorder (worker/guards.py): torch compute is seen however it is reached; Triton
launches (including the interpreter's own tensor copies) and allocation/view ops are not compute; threads,
tensor memory handed to numpy/Python and dispatch recording switched off are seen too."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")
import triton.language as tl  # noqa: E402
from tritonize.worker.guards import Recorder, TorchOpRecorder, install_thread_watch  # noqa: E402


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
            "from tritonize.worker.guards import Recorder\n"
            "with Recorder() as rec:\n"
            "    (torch.ones(2) + 1).sum()\n"
            "print(sorted(rec.compute_ops), 'torch._dynamo' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "['aten.add', 'aten.sum'] False", proc.stdout + proc.stderr


# ---- what the dispatch mode cannot see (Recorder) ----------------------------------------------------

# Code compiled from a string counts as candidate code for the sandbox's stack walk.
def _as_candidate(src: str, **names):
    exec(compile(src, "<candidate>", "exec"), names)


def test_tensor_memory_handed_to_numpy_or_python_is_seen():
    a = torch.randn(4, 4)
    with Recorder() as rec:
        _as_candidate("import numpy as np\nnp.matmul(a.numpy(), np.asarray(a))\na.tolist()\nnp.from_dlpack(a)", a=a)
    rules = dict(rec.evasions())
    assert "tensor-export" in rules
    assert "Tensor.numpy" in rules["tensor-export"] and "Tensor.tolist" in rules["tensor-export"]


def test_the_harness_reading_tensors_is_not_an_export():
    with Recorder() as rec:
        torch.ones(3).tolist()  # this test file is not candidate code
    assert rec.evasions() == []


@pytest.mark.parametrize(
    "src",
    [
        "with torch._C._DisableTorchDispatch():\n    torch.mm(a, a)",
        "k = torch._C.DispatchKeySet(torch._C.DispatchKey.Python)\n"
        "with torch._C._ExcludeDispatchKeyGuard(k):\n    torch.mm(a, a)",
        "key = torch._C.DispatchKey.Python\ntorch._C._dispatch_tls_set_dispatch_key_excluded(key, True)\n"
        "torch.mm(a, a)\ntorch._C._dispatch_tls_set_dispatch_key_excluded(key, False)",
        "held = [torch._C._pop_torch_dispatch_stack(None) for _ in range(torch._C._len_torch_dispatch_stack())]\n"
        "torch.mm(a, a)\nfor m in reversed(held):\n    torch._C._push_on_torch_dispatch_stack(m)",
    ],
    ids=["DisableTorchDispatch", "ExcludeDispatchKeyGuard", "tls_key_excluded", "pop_dispatch_stack"],
)
def test_dispatch_recording_switched_off_is_seen(src):
    a = torch.randn(3, 3)
    with Recorder() as rec:
        _as_candidate(src, torch=torch, a=a)
    assert "aten.mm" not in rec.compute_ops  # the point of the trick
    assert "dispatch-disabled" in dict(rec.evasions())


def test_threads_started_by_candidate_code_are_seen(monkeypatch):
    from tritonize.worker import sandbox

    install_thread_watch()
    monkeypatch.setattr(sandbox._state, "active", True)  # as inside sandbox.guard()
    with Recorder() as rec:
        _as_candidate("import threading\nt = threading.Thread(target=lambda: None)\nt.start()\nt.join()")
    assert "thread" in dict(rec.evasions())
    with Recorder() as rec:  # a thread the harness starts is not the candidate's
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
    assert rec.evasions() == []
