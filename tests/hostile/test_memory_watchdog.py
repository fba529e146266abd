"""The host-memory layer of GPU workers (sandbox.start_rss_watchdog), tried on any machine.

GPU workers cannot use RLIMIT_AS, so a watchdog kills a worker whose resident memory passes the
limit. The hostile case `memory_blowup` fills memory with `bytearray(n)`, a C memset that holds the
GIL throughout: a watchdog *thread* never gets to run (on an H200 the case ran into the job timeout
instead). These tests start a process with the GPU-worker sandbox (Limits(cuda=True)), a small limit,
and the same allocation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import harness

SERVER = os.path.join(os.path.dirname(os.path.dirname(harness.HERE)), "server")

WORKER = """
import os, sys, time
sys.path.insert(0, {server!r})
from tritonize.worker import sandbox
layers = sandbox.install({root!r}, sandbox.Limits(cuda=True, memory_mb=256, network_namespace=False))
print(layers["memory"], flush=True)
if {blow!r}:
    junk = bytearray(3 * 1024**3)  # memset under the GIL
    print("survived", len(junk), flush=True)
else:
    junk = bytearray(64 * 1024**2)
    time.sleep(0.3)  # a few polls below the limit
    print("fine", flush=True)
"""


def _run(tmp_path, blow: bool) -> tuple[subprocess.CompletedProcess, float]:
    code = WORKER.format(server=SERVER, root=str(tmp_path), blow=blow)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env,
                          start_new_session=True)
    return proc, time.monotonic() - started


def _session_gone(sid: int) -> bool:
    deadline = time.monotonic() + 2
    while harness.session_members({sid}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not harness.session_members({sid})


def test_watchdog_kills_a_gil_holding_blowup(tmp_path):
    proc, seconds = _run(tmp_path, blow=True)
    assert proc.stdout.startswith("RSS watchdog process at 256 MiB"), proc.stdout + proc.stderr
    assert "survived" not in proc.stdout, "the 3 GiB allocation completed: the watchdog did not run"
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-500:])
    assert "sandbox: host memory" in proc.stderr and "above the 256 MiB limit" in proc.stderr
    assert seconds < 30


def test_watchdog_leaves_a_normal_worker_alone_and_exits_with_it(tmp_path):
    started = time.monotonic()
    code = WORKER.format(server=SERVER, root=str(tmp_path), blow=False)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-500:]
    assert out.splitlines() == ["RSS watchdog process at 256 MiB", "fine"]
    # the watchdog (same session) goes away with the worker: nothing is left behind
    assert _session_gone(proc.pid), harness.session_members({proc.pid})
    assert time.monotonic() - started < 30
