"""The OS-level layers of a worker (worker/confine.py), tried from a real child process.

Each test starts a fresh Python that confines itself the way a worker does and then tries escapes
with plain system calls (no audit hook is installed in these children, so what is refused here is
refused by the kernel). The fallback tests switch layers off with $TRITONIZE_CONFINE and check that
the other layers still hold and that the status says which layer is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "server")

PROBE = textwrap.dedent(
    """
    import json, os, signal, socket, subprocess, sys, tempfile
    sys.path.insert(0, SERVER)
    from tritonize.worker import confine
    server_pid, root, outside = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    status = {"pidns": confine.enter_pid_namespace()}
    os.environ["TMPDIR"] = os.path.join(root, "tmp")
    status.update(confine.apply_filesystem([root]))
    status.update(confine.apply_syscalls(status["landlock"]))
    seen = {}
    def attempt(name, fn):
        try:
            fn()
            seen[name] = "allowed"
        except Exception as e:  # the kernel's answer, whatever the layer
            seen[name] = type(e).__name__
    attempt("write_inside", lambda: open(os.path.join(root, "ok"), "w").write("x"))
    attempt("write_outside", lambda: open(outside, "w").write("x"))
    attempt("sqlite_outside", lambda: __import__("sqlite3").connect(outside + ".db").execute("create table t(x)"))
    attempt("read_etc", lambda: open("/etc/passwd").read())
    attempt("server_environ", lambda: open(f"/proc/{server_pid}/environ", "rb").read())
    attempt("signal_server", lambda: os.kill(server_pid, 0))
    attempt("fork", lambda: os.fork() or os._exit(0))
    attempt("exec_python", lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    own = os.path.join(root, "mytool")
    open(own, "wb").write(open("/bin/true", "rb").read())
    os.chmod(own, 0o755)
    attempt("exec_own_program", lambda: subprocess.run([own], check=True))
    attempt("socket_unix", lambda: socket.socket(socket.AF_UNIX))
    attempt("socket_inet", lambda: socket.socket(socket.AF_INET))
    attempt("socket_vsock", lambda: socket.socket(socket.AF_VSOCK))
    attempt("thread", lambda: __import__("threading").Thread(target=len, args=((),)).start())
    src = os.path.join(root, "f.c")
    open(src, "w").write("int f(int x) { return x + 1; }")
    attempt("cc", lambda: subprocess.run(["cc", "-shared", "-fPIC", "-o", os.path.join(root, "f.so"), src],
                                         check=True, capture_output=True))
    print(json.dumps({"status": status, "seen": seen}))
    sys.stdout.flush()
    os._exit(0)
    """
)


def _probe(tmp_path, disable: str = "") -> dict:
    root = tmp_path / "root"
    (root / "tmp").mkdir(parents=True)
    outside = tmp_path / "outside-marker"
    env = dict(os.environ, TRITONIZE_CONFINE=disable)
    code = PROBE.replace("SERVER", repr(SERVER))
    proc = subprocess.run([sys.executable, "-c", code, str(os.getpid()), str(root), str(outside)],
                          capture_output=True, text=True, env=env, timeout=120, start_new_session=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    data["marker_written"] = outside.exists() or os.path.exists(str(outside) + ".db")
    return data


def _landlock_abi() -> int:
    sys.path.insert(0, SERVER)
    from tritonize.worker import confine

    return confine.landlock_abi()


needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux (Landlock, seccomp)")


@needs_linux
def test_all_layers_refuse_escapes_that_skip_python(tmp_path):
    if _landlock_abi() < 1:
        pytest.skip("needs a kernel with Landlock (this one has none)")
    data = _probe(tmp_path)
    status, seen = data["status"], data["seen"]
    assert status["landlock"].startswith("ABI"), status
    assert status["seccomp"].startswith("all threads"), status
    # what a worker must still do
    assert seen["write_inside"] == "allowed"
    assert seen["read_etc"] == "allowed"
    assert seen["thread"] == "allowed"
    assert seen["cc"] == "allowed", "Triton's C compiler must still run"
    # what it must not
    assert data["marker_written"] is False
    for name in ("write_outside", "sqlite_outside", "fork", "exec_python", "exec_own_program", "socket_unix",
                 "socket_inet", "socket_vsock", "signal_server", "server_environ"):
        assert seen[name] != "allowed", f"{name} was allowed: {seen}"
    if os.geteuid() == 0:
        assert status["pidns"].startswith("own PID"), status
        # the server is not even visible: not refused, absent
        assert seen["server_environ"] == "FileNotFoundError"
        assert seen["signal_server"] == "ProcessLookupError"


@needs_linux
def test_without_landlock_seccomp_still_holds_and_status_says_so(tmp_path):
    data = _probe(tmp_path, disable="landlock")
    status, seen = data["status"], data["seen"]
    assert status["landlock"].startswith("off"), status
    assert status["seccomp"].startswith("all threads"), status
    assert "kill() only to itself" in status["seccomp"]  # Landlock's signal scope is gone: seccomp takes it
    for name in ("fork", "socket_unix", "socket_inet", "socket_vsock", "signal_server"):
        assert seen[name] != "allowed", f"{name} was allowed: {seen}"
    assert seen["cc"] == "allowed"
    # file writes are the Landlock layer's: with it off they are not stopped by the kernel
    assert seen["write_outside"] == "allowed"


@needs_linux
def test_without_seccomp_landlock_still_holds(tmp_path):
    if _landlock_abi() < 1:
        pytest.skip("needs a kernel with Landlock (this one has none)")
    data = _probe(tmp_path, disable="seccomp,pidns")
    status, seen = data["status"], data["seen"]
    assert status["seccomp"].startswith("off") and status["pidns"].startswith("off"), status
    assert data["marker_written"] is False
    assert seen["exec_python"] != "allowed" and seen["exec_own_program"] != "allowed"
    assert seen["fork"] == "allowed"  # fork is seccomp's to stop
    if _landlock_abi() >= 6:
        assert seen["signal_server"] != "allowed"


@needs_linux
def test_everything_off_is_reported_not_hidden(tmp_path):
    data = _probe(tmp_path, disable="off")
    assert data["status"] == {"pidns": "off ($TRITONIZE_CONFINE)", "landlock": "off ($TRITONIZE_CONFINE)",
                              "seccomp": "off ($TRITONIZE_CONFINE)"}
    assert data["seen"]["write_outside"] == "allowed"


@needs_linux
def test_pid_namespace_keeps_the_workers_exit_status(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the PID namespace layer needs root here")
    code = (f"import os, signal, sys; sys.path.insert(0, {SERVER!r}); from tritonize.worker import confine; "
            "confine.enter_pid_namespace(); mode = sys.argv[1]\n"
            "if mode == 'exit': os._exit(3)\n"
            "os.kill(os.getpid(), getattr(signal, mode))")
    for mode, want in (("exit", 3), ("SIGSEGV", -11), ("SIGKILL", -9), ("SIGABRT", -6)):
        rc = subprocess.run([sys.executable, "-c", code, mode], timeout=60, start_new_session=True).returncode
        assert rc == want, (mode, rc)
