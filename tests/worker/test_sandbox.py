"""Sandbox (worker/sandbox.py): escapes tried from candidate-like code in a child process that installs
the sandbox the way a worker does. Each escape must be refused and recorded; ordinary work must not.
The worker's clean environment comes from the server side (verify/process.py: clean_env)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from tritonize.verify.process import clean_env
from tritonize.worker.sandbox import TRITON_TOOLS, Limits

CHILD = r'''
import json, os, sys
os.environ["TRITON_INTERPRET"] = "1"
from tritonize.worker import sandbox
root, job = sys.argv[1], sys.argv[2]
layers = sandbox.install(root, sandbox.Limits(cuda=False, memory_mb=6144))
import torch, triton  # as the worker does: imported before any candidate runs
parent = int(sys.argv[3])
ESCAPES = json.loads(sys.argv[4])
results = {}
for name, code in ESCAPES.items():
    with sandbox.guard(job):
        try:
            exec(compile(code, "<candidate>", "exec"), {"__name__": "candidate", "PARENT": parent, "JOB": job})
            outcome = "allowed"
        except PermissionError as e:
            outcome = "refused: " + str(e)
        except Exception as e:
            outcome = "error: %s: %s" % (type(e).__name__, e)
    results[name] = {"outcome": outcome, "violations": sandbox.violations()}
print(json.dumps({"layers": layers, "results": results}))
'''

ESCAPES = {
    "write_outside": "open('/tmp/tritonize-sandbox-escape.txt', 'w').write('x')",
    "write_os_open": "import os\nos.close(os.open('/tmp/tritonize-sandbox-escape2.txt', os.O_WRONLY | os.O_CREAT))",
    "numpy_tofile": "import numpy\nnumpy.zeros(3).tofile('/tmp/tritonize-sandbox-escape3.bin')",
    "remove_outside": "import os\nos.remove('/tmp/tritonize-sandbox-does-not-matter')",
    "socket": "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_STREAM)",
    "subprocess": "import subprocess\nsubprocess.run(['true'])",
    "os_system": "import os\nos.system('true')",
    "fork": "import os\npid = os.fork()\nif pid == 0: os._exit(0)",
    "kill_parent": "import os\nos.kill(PARENT, 0)",
    "killpg": "import os\nos.killpg(os.getpgid(0), 0)",
    "read_parent_environ": "open('/proc/%d/environ' % PARENT).read()",
    "gc_objects": "import gc\ngc.get_objects()",
    "frames": "import sys\nsys._getframe(1)",
    "ctypes": "import ctypes\nctypes.CDLL(None)",
    "exec": "exec('1 + 1')",
    "setrlimit": "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (10**6, resource.RLIM_INFINITY))",
    "own_cmdline": "open('/proc/self/cmdline').read()",
    # laundered: a torch helper makes the call, but candidate code is below it on the stack
    "launder_ctypes": "from torch.utils._pytree import tree_map\nimport ctypes\ntree_map(ctypes.CDLL, 'libc.so.6')",
    "launder_frames": "import sys\nfrom torch.utils._pytree import tree_map\ntree_map(sys._getframe, 0)",
    "launder_gc": "import sys\nfrom torch.utils._pytree import tree_map\ntree_map(sys.modules['gc'].get_referrers, [1])",
    "launder_exec": "from torch.utils._pytree import tree_map\ntree_map(exec, '1 + 1')",
    "launder_walk_stack": "import traceback\n[f for f, _ in traceback.walk_stack(None)]",
    "launder_subprocess": "import functools, subprocess\nfrom torch.utils._pytree import tree_map\n"
                          "tree_map(functools.partial(subprocess.run, ['cc', '--version']), [0])",
    # what a candidate legitimately does must still work
    "ok_write_job_dir": "open(JOB + '/scratch.txt', 'w').write('fine')",
    "ok_tempfile": "import tempfile\nwith tempfile.NamedTemporaryFile() as f: f.write(b'x')",
    "ok_read_lib": "import torch\nopen(torch.__file__).read(10)",
    "ok_signal_self": "import os\nos.kill(os.getpid(), 0)",
    # the standard library and torch look at frames and compile code for their own bookkeeping
    "ok_namedtuple": "import collections, typing\nP = collections.namedtuple('P', 'a b')\n"
                     "class Q(typing.NamedTuple):\n    a: int\nP(1, 2), Q(1)",
    "ok_dataclass": "import dataclasses\n@dataclasses.dataclass\nclass C:\n    a: int = 1\nC()",
    "ok_traceback": "import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    traceback.format_exc()",
    "ok_logging": "import logging\nlogging.getLogger('candidate').warning('hello')",
    "ok_no_grad_decorator": "import torch\n@torch.no_grad()\ndef f(x):\n    return x\nf(1)",
    "ok_manual_seed": "import torch\ntorch.manual_seed(1)",
    "ok_optional": "import typing\ntyping.Optional[int]",
    "ok_triton_kernel": textwrap.dedent(
        """
        import torch, triton, triton.language as tl
        @triton.jit
        def k(x_ptr, n, BLOCK: tl.constexpr):
            o = tl.arange(0, BLOCK)
            tl.store(x_ptr + o, tl.load(x_ptr + o, mask=o < n) + 1, mask=o < n)
        x = torch.zeros(8)
        k[(1,)](x, 8, BLOCK=8)
        assert x.sum().item() == 8
        """
    ),
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("worker")
    job = root / "job1"
    job.mkdir()
    env = clean_env(os.environ, home=str(root / "home"))
    env["TRITON_CACHE_DIR"] = str(root / "triton-cache")
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    script = root / "worker_main.py"  # a real file, as the worker is: "<string>" code counts as candidate code
    script.write_text(CHILD)
    proc = subprocess.run(
        [sys.executable, str(script), str(root), str(job), str(os.getpid()), json.dumps(ESCAPES)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", [n for n in ESCAPES if not n.startswith("ok_")])
def test_escape_is_refused_and_recorded(outcome, name):
    r = outcome["results"][name]
    assert r["outcome"].startswith("refused: sandbox: refused"), r
    assert name.endswith("exec") or "run-time code" not in r["outcome"], r
    assert r["violations"] and r["violations"][0].startswith("refused "), r


@pytest.mark.parametrize("name", [n for n in ESCAPES if n.startswith("ok_")])
def test_ordinary_work_is_allowed(outcome, name):
    r = outcome["results"][name]
    assert r == {"outcome": "allowed", "violations": []}


def test_no_file_escaped():
    for suffix in ("", "2", "3"):
        assert not os.path.exists(f"/tmp/tritonize-sandbox-escape{suffix}.txt")
    assert not os.path.exists("/tmp/tritonize-sandbox-escape3.bin")


def test_layers_reported(outcome):
    layers = outcome["layers"]
    assert layers["audit"] == "active inside guard()"
    assert layers["rlimit-core"] == "0"
    assert layers["memory"].startswith("RLIMIT_AS")
    assert "network" in layers  # namespace or the reason there is none


def test_network_namespace_blocks_sockets_even_without_the_hook(tmp_path):
    """Where the kernel lets us, the worker has no network at all (connect fails below Python)."""
    code = textwrap.dedent(
        """
        import socket, sys
        from tritonize.worker import sandbox
        print(sandbox.isolate_network())
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("1.1.1.1", 53))
            print("connected")
        except OSError as e:
            print("blocked", e.errno)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = proc.stdout.split("\n")
    if lines[0].startswith("unavailable"):
        pytest.skip(f"no network namespace on this machine: {lines[0]}")
    assert lines[1].startswith("blocked"), proc.stdout + proc.stderr


def test_memory_limit_on_cpu_workers(tmp_path):
    code = textwrap.dedent(
        f"""
        from tritonize.worker import sandbox
        sandbox.install({str(tmp_path)!r}, sandbox.Limits(cuda=False, memory_mb=3072, network_namespace=False))
        try:
            b = bytearray(8 * 1024**3)
            print("allocated")
        except MemoryError:
            print("MemoryError")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "MemoryError", proc.stdout + proc.stderr


def test_clean_env_drops_secrets_and_moves_home(tmp_path):
    base = {
        "PATH": "/usr/bin", "HOME": "/home/me", "LANG": "C.UTF-8", "CUDA_VISIBLE_DEVICES": "0",
        "TRITON_CACHE_DIR": "/c", "OPENAI_API_KEY": "sk-x", "HF_TOKEN": "hf", "AWS_SECRET_ACCESS_KEY": "a",
        "GITHUB_TOKEN": "g", "MY_SERVICE_PASSWORD": "p", "TRITONIZE_API_KEY": "t", "SSH_AUTH_SOCK": "/s",
        "PYTHONPATH": "/p",
    }
    env = clean_env(base, home=str(tmp_path))
    assert env["HOME"] == str(tmp_path)
    for kept in ("PATH", "LANG", "CUDA_VISIBLE_DEVICES", "TRITON_CACHE_DIR", "PYTHONPATH"):
        assert env[kept] == base[kept]
    for dropped in ("OPENAI_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "MY_SERVICE_PASSWORD",
                    "TRITONIZE_API_KEY", "SSH_AUTH_SOCK"):
        assert dropped not in env


def test_triton_may_run_its_compiler_tools_only():
    # platform.architecture() runs `file` when triton/runtime/build.py keys its launcher cache (GPU)
    for tool in ("ptxas", "gcc", "cc", "ldconfig", "file", "nvidia-smi"):
        assert TRITON_TOOLS.match(tool), tool
    for other in ("sh", "bash", "python", "curl", "filefrag"):
        assert not TRITON_TOOLS.match(other), other


def test_limits_default_memory_is_bounded():
    assert 4 * 1024 <= Limits().memory_bytes() // (1024 * 1024) <= 32 * 1024
