"""Worker processes (server side; no torch): spawn one, wait for it, drain its output, kill and reap it,
and keep a standby spare ready. Scheduling jobs onto them is pool.py's business.

A worker starts from a clean environment (`clean_env`: an allow list of toolchain variables, nothing
named like a key or token, HOME in the worker's own directory) with three pipes: jobs in, results
out (wire/protocol.py framing, wire/messages.py messages), and its stdout/stderr, of which the last
64 KB are kept (and the first 1 MB mirrored to `worker.log` in its directory) so crash messages can
quote what it printed. Each worker runs in its own process group and directory (jobs, Triton cache,
HOME), both gone when it is retired.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from .. import worker_python
from ..wire import messages, protocol
from ..wire.messages import Activate, Hello, Ready

STARTUP_TIMEOUT_S = 300.0  # importing torch + CUDA init on a cold machine
LOG_TAIL_BYTES = 64 * 1024
LOG_FILE_LIMIT = 1 << 20
SERVER_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class WorkerStartError(RuntimeError):
    """No worker could be started (torch/triton missing, CUDA requested but absent, ...)."""


# ---- environment ---------------------------------------------------------------------------------

_KEEP_ENV = re.compile(
    r"^(PATH|LANG|LANGUAGE|TZ|TERM|LD_LIBRARY_PATH|VIRTUAL_ENV|CONDA_PREFIX|OMP_NUM_THREADS|MKL_\w+|OPENBLAS_\w+"
    r"|LC_\w+|CUDA_\w+|NVIDIA_\w+|TRITON_\w+|TORCH_\w+|TORCHINDUCTOR_\w+|HIP_\w+|ROCM_\w+|ROCR_\w+|CC|CXX"
    r"|PYTHONPATH|PYTHONHASHSEED|PYTHONUNBUFFERED|PYTHONDONTWRITEBYTECODE|PYTHONFAULTHANDLER|TRITONIZE_\w+"
    # toolchain paths for the C compiler Triton runs, allocator settings, and the user name
    # (getpass.getuser() picks cache dirs; a uid without a passwd entry has no other source)
    r"|CPATH|LIBRARY_PATH|C_INCLUDE_PATH|CPLUS_INCLUDE_PATH|PYTORCH_\w+|TMPDIR|USER|LOGNAME)$"
)
_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE)", re.I)
_SECRET_PREFIX = ("AWS_", "OPENAI_", "HF_", "HUGGING", "GITHUB_", "GH_", "ANTHROPIC_", "AZURE_", "GOOGLE_", "GCP_")


def clean_env(base: Mapping[str, str], home: str | None = None) -> dict[str, str]:
    """The environment for a worker: an allow list of toolchain/runtime variables, minus anything that
    looks like a credential, with HOME (and the XDG dirs) pointing at a throwaway directory."""
    env = {
        k: v
        for k, v in base.items()
        if _KEEP_ENV.match(k) and not _SECRET_ENV.search(k) and not k.upper().startswith(_SECRET_PREFIX)
    }
    home = home or tempfile.mkdtemp()  # an ordinary temporary name (worker/disguise.py)
    env["HOME"] = home
    env["XDG_CACHE_HOME"] = os.path.join(home, ".cache")
    env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    env.setdefault("PATH", os.defpath)
    return env


def worker_env(base: Mapping[str, str], home: str, python: str | None = None) -> dict[str, str]:
    """The worker's environment: `clean_env` (no keys or tokens, HOME in the worker's dir) plus what
    the worker needs to run."""
    env = clean_env(base, home=home)
    env["PYTHONPATH"] = worker_python.pythonpath(worker_python.resolve(python), env.get("PYTHONPATH"))
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a segfault prints the Python stack into the log tail
    return env


# ---- how a worker ended ------------------------------------------------------------------------------


def describe_exit(rc: int | None) -> str:
    if rc is None:
        return "vanished"
    if rc < 0:
        try:
            sig = signal.Signals(-rc)
            text = {signal.SIGSEGV: "segmentation fault", signal.SIGKILL: "killed (out of memory?)",
                    signal.SIGABRT: "aborted", signal.SIGBUS: "bus error", signal.SIGFPE: "arithmetic error",
                    signal.SIGILL: "illegal instruction"}.get(sig, "")
            return f"crashed: {sig.name}" + (f" ({text})" if text else "")
        except ValueError:
            return f"crashed: signal {-rc}"
    return f"exited with status {rc}"


# The file the worker imports a candidate from (worker/disguise.py: an ordinary name, `model.py`, in a
# temporary directory of its own); `candidate.py` is what older workers wrote.
CANDIDATE_FILE = re.compile(r'(?:/model|candidate)\.py", line (\d+)')


def crash_location(tail: str) -> str:
    """`, at candidate line N` from a faulthandler/traceback dump (most recent call first)."""
    m = CANDIDATE_FILE.search(tail)
    return f", at candidate line {m.group(1)}" if m else ""


# ---- one worker process ----------------------------------------------------------------------------


class Launcher:
    """What the worker processes of one pool share: a root directory (one subdirectory per worker), the
    extra entry points they start with, and the pool's life (`closed()`: stop waiting)."""

    def __init__(self, root: str, *, closed: Callable[[], bool], on_spawn: Callable[[], None] = lambda: None,
                 entry_points: Mapping[str, str] | None = None, python: str | None = None) -> None:
        self.root = root
        self.python = python  # the workers' interpreter (settings.worker_python); None: worker_python.resolve()
        self.closed = closed
        self.on_spawn = on_spawn  # counts spawned processes for the pool's stats
        # name → "package.module:function", resolved once by each worker at start (for tests; the
        # worker's own entry points are its ENTRY_POINTS table)
        self.entry_points = dict(entry_points or {})
        self._ids = itertools.count(1)

    def spawn(self, spec: str, *, standby: bool = False) -> WorkerProcess:
        """Start a worker for device `spec` (for a standby: the device kind). Call from a thread that lives
        as long as the pool: PR_SET_PDEATHSIG fires when the spawning *thread* exits."""
        return WorkerProcess(self, spec, os.path.join(self.root, f"w{next(self._ids)}"), standby=standby)


M = TypeVar("M", Hello, Ready)


class WorkerProcess:
    """One worker process: its pipes, the tail of what it printed, and its own directory (jobs,
    Triton cache, HOME), which goes away with it."""

    def __init__(self, launcher: Launcher, spec: str, directory: str, *, standby: bool = False) -> None:
        self.launcher = launcher
        self.spec = spec  # device spec; for a standby the device kind ("cpu" | "cuda")
        self.dir = directory
        self.proc: subprocess.Popen | None = None
        self.fd_job = -1
        self.reader: protocol.Reader | None = None
        self.hello: Hello | None = None
        self.log_tail: collections.deque[bytes] = collections.deque()
        self.log_size = 0
        self.log_lock = threading.Lock()
        self._spawn(standby)

    def _spawn(self, standby: bool) -> None:
        os.makedirs(self.dir, exist_ok=True)
        r_job, w_job = os.pipe()
        r_res, w_res = os.pipe()
        r_log, w_log = os.pipe()
        python = worker_python.resolve(self.launcher.python)
        env = worker_env(os.environ, home=os.path.join(self.dir, "home"), python=python)
        cmd = [python, "-m", "tritonize.worker.main", "--fd-in", str(r_job), "--fd-out", str(w_res),
               "--root", self.dir, "--device", self.spec, "--parent", str(os.getpid())]
        if standby:
            cmd.append("--standby")
        for name, target in self.launcher.entry_points.items():
            cmd += ["--entry-point", f"{name}={target}"]
        try:
            # The worker applies its sandbox (rlimits, network namespace, parent-death signal) as its
            # first act, single-threaded, before importing torch: no preexec_fn in this threaded server.
            self.proc = subprocess.Popen(cmd, pass_fds=(r_job, w_res), stdin=subprocess.DEVNULL, stdout=w_log,
                                         stderr=w_log, env=env, start_new_session=True, cwd=self.dir)
        except BaseException:
            for fd in (w_job, r_res, r_log):
                os.close(fd)
            raise
        finally:
            for fd in (r_job, w_res, w_log):
                os.close(fd)
        self.fd_job = w_job
        self.reader = protocol.Reader(r_res)
        threading.Thread(target=self._drain_log, args=(r_log,), daemon=True,
                         name=f"tritonize-verify-log-{os.path.basename(self.dir)}").start()
        self.launcher.on_spawn()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def send(self, message: messages.Message) -> None:
        """Write one message to the worker; a dead worker is noticed by the reader (end of stream)."""
        with contextlib.suppress(OSError):
            protocol.send(self.fd_job, message.to_dict())

    def _drain_log(self, fd: int) -> None:
        """Keep the last LOG_TAIL_BYTES of the worker's stdout/stderr; mirror up to 1 MB to a file."""
        written = 0
        log = None
        try:
            with contextlib.suppress(OSError):
                log = open(os.path.join(self.dir, "worker.log"), "ab")  # noqa: SIM115 - closed below
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                with self.log_lock:
                    self.log_tail.append(chunk)
                    self.log_size += len(chunk)
                    while self.log_size > LOG_TAIL_BYTES and len(self.log_tail) > 1:
                        self.log_size -= len(self.log_tail.popleft())
                if log is not None and written < LOG_FILE_LIMIT:
                    with contextlib.suppress(OSError):
                        log.write(chunk[: LOG_FILE_LIMIT - written])
                        log.flush()
                    written += len(chunk)
        except OSError:
            pass
        finally:
            os.close(fd)
            if log is not None:
                with contextlib.suppress(OSError):
                    log.close()

    def tail(self, lines: int = 20) -> str:
        with self.log_lock:
            text = b"".join(self.log_tail)[-LOG_TAIL_BYTES:].decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_for(self, kind: type[M], timeout: float = STARTUP_TIMEOUT_S) -> M:
        """Wait for the worker's Ready (a standby imported torch) or Hello (serving)."""
        assert self.reader is not None and self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.launcher.closed():
            try:
                raw = self.reader.recv(timeout=0.2)
                msg = kind.from_dict(raw) if raw is not None and raw.get("type") == kind.TYPE else None
            except (protocol.ProtocolError, messages.MessageError, TypeError) as e:
                raise WorkerStartError(f"worker sent garbage while starting: {e}") from None
            if msg is not None:
                if isinstance(msg, Hello):
                    self.hello = msg
                return msg
            if self.reader.eof:
                rc = self.reap()
                time.sleep(0.05)  # let the log drain catch the last lines
                raise WorkerStartError(f"verify worker failed to start ({describe_exit(rc)}): {self.tail(8)}")
        self.kill()
        raise WorkerStartError("verify worker did not start" if not self.launcher.closed() else "pool closed")

    def activate(self, spec: str) -> Hello:
        """Turn a standby into a serving worker for `spec` (it initialises the device now)."""
        self.wait_for(Ready)
        self.spec = spec
        self.send(Activate(device=spec))  # if it died, wait_for sees end of stream
        return self.wait_for(Hello)

    def kill(self) -> None:
        """SIGKILL the worker's process group (the worker and anything it spawned)."""
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()

    def pause(self) -> bool:
        """SIGSTOP the worker's process group (while another job on its GPU is timed). Kernels it already
        queued finish; it launches nothing more until resume(). False if it is not running."""
        return self._signal_group(signal.SIGSTOP)

    def resume(self) -> bool:
        return self._signal_group(signal.SIGCONT)

    def _signal_group(self, sig: int) -> bool:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return False
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def reap(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return proc.wait(timeout=5)

    def retire(self) -> None:
        """Kill the worker (and its process group), release its pipes, delete its directory."""
        self.kill()
        self.reap()
        if self.proc is not None:  # anything the worker started in its process group goes too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            _wait_group_gone(self.proc.pid)
        for fd in (self.fd_job, self.reader.fd if self.reader else -1):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.fd_job = -1
        self.reader = None
        self.proc = None
        self.hello = None
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_group_gone(pgid: int, timeout: float = 2.0) -> None:
    """Wait until no live (non-zombie) process of the group is left. The pool reaps only the process it
    started; with a PID namespace (worker/confine.py) that is a relay, and the namespace's init and the
    worker itself, SIGKILLed with it, are still tearing down their memory for some milliseconds: a
    retired worker should be gone when retire() returns."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.005)


def _group_alive(pgid: int) -> bool:
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            return True
    return False


# ---- the standby ---------------------------------------------------------------------------------


class Standby:
    """One spare worker per device kind, started ahead: it has imported torch and triton but not
    initialised CUDA (no GPU memory held), so a crashed or timed-out worker is replaced in well under
    a second on CPU (CUDA init on GPU) instead of a full start. Taking it starts the next one."""

    def __init__(self, launcher: Launcher, kind: str, log: Callable[[str], None]) -> None:
        self.launcher = launcher
        self.kind = kind
        self.log = log
        self.proc: WorkerProcess | None = None
        self.cond = threading.Condition()
        self.failures = 0
        # The spawning thread must live as long as the pool (PR_SET_PDEATHSIG).
        self.thread = threading.Thread(target=self._loop, name=f"tritonize-verify-standby-{kind}", daemon=True)

    def _loop(self) -> None:
        closed = self.launcher.closed
        while not closed():
            with self.cond:
                while self.proc is not None and not closed():
                    self.cond.wait(0.5)
            if closed():
                break
            if self.failures:
                time.sleep(min(10.0, 0.5 * 2 ** self.failures))
            try:
                proc = self.launcher.spawn(self.kind, standby=True)
            except OSError as e:
                self.failures += 1
                self.log(f"cannot start a standby verify worker: {e}")
                continue
            with self.cond:
                self.proc = proc
        self.discard()

    def take(self) -> WorkerProcess | None:
        """The standby process (maybe still importing), or None if there is none right now."""
        with self.cond:
            proc, self.proc = self.proc, None
            self.cond.notify_all()
        if proc is not None and proc.reader is not None and proc.reader.eof:
            proc.retire()
            return None
        return proc

    def failed(self) -> None:
        self.failures += 1

    def succeeded(self) -> None:
        self.failures = 0

    def discard(self) -> None:
        with self.cond:
            proc, self.proc = self.proc, None
        if proc is not None:
            proc.retire()

    def pid(self) -> int | None:
        proc = self.proc
        return proc.pid if proc is not None else None
