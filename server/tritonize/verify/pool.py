"""Worker pool (server side; never imports torch or triton — DESIGN.md, invariant 1).

One long-lived worker process per GPU (`python -m tritonize.worker.main`), or CPU workers running
Triton under `TRITON_INTERPRET=1` when there is no GPU. Each worker is driven by one slot thread
that takes jobs from a shared queue, sends them over a dedicated pipe (verify/protocol.py), and
watches for the result, the job's timeout, cancellation, and the worker dying. A worker that hangs,
crashes, hits a CUDA fault or is tainted by a candidate is killed and replaced; its job gets a
`timeout`/`crash` result naming the signal, the stage it was in, and the last lines it printed.

Workers die with the server: each sets PR_SET_PDEATHSIG, runs in its own process group (killed
as a group), and `close()` runs at exit.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from ..cancel import Cancelled, CancelToken
from ..candidate import Candidate, parse_failure
from ..problem import Problem, ProblemError
from ..report import CandidateResult, Finding, Timing, Tolerance, candidate_result_from_dict
from ..settings import Settings
from ..wire import protocol

STARTUP_TIMEOUT_S = 300.0  # importing torch + CUDA init on a cold machine
BASELINE_ALLOWANCE_S = 300.0  # added while a job times eager + torch.compile (once per worker and problem)
LOG_TAIL_BYTES = 64 * 1024
LOG_FILE_LIMIT = 1 << 20
_SERVER_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class DeviceInfo:
    kind: str  # "cuda" | "cpu"
    name: str  # "NVIDIA H100 80GB HBM3" | "cpu (TRITON_INTERPRET=1)"
    count: int = 1  # CUDA devices used
    versions: dict[str, str] = field(default_factory=dict)  # python, torch, triton, cuda
    sandbox: dict[str, str] = field(default_factory=dict)  # layer → state, e.g. "network": "network namespace"

    @property
    def timed(self) -> bool:
        return self.kind == "cuda"


@dataclass
class ProbeResult:
    """What running the problem's recipe and reference once told us."""

    dtype: str  # dtype of the first floating output, e.g. "float32"
    input_shapes: list[str]
    output_shapes: list[str]
    tolerance: Tolerance


class WorkerCallError(Exception):
    """A function run with `WorkerPool.call` raised in the worker (message + traceback text)."""

    def __init__(self, message: str, traceback: str = ""):
        super().__init__(message)
        self.traceback = traceback


class WorkerStartError(RuntimeError):
    """No worker could be started (torch/triton missing, CUDA requested but absent, ...)."""


# ---- tasks ---------------------------------------------------------------------------------------


@dataclass
class _Failure:
    """Why a task got no result from a worker."""

    kind: str  # timeout | crash | cancelled | closed
    message: str
    log_tail: str = ""


@dataclass
class _Task:
    op: str  # verify | probe | call
    body: dict[str, Any]
    timeout: float
    future: Future
    on_result: Callable[[dict[str, Any]], Any]  # worker reply → future value (may raise)
    on_failure: Callable[[_Failure], Any]  # → future value (may raise)
    cancel: CancelToken | None = None
    problem_key: str | None = None
    state: str = "queued"  # queued | running | done
    slot: _Slot | None = None
    retries: int = 0
    started_at: float | None = None  # when a worker began running it (queue wait excluded)
    unregister: Callable[[], None] = lambda: None

    def finish(self, produce: Callable[[], Any]) -> None:
        """Resolve the future once, with `produce()`'s value or the exception it raises."""
        if self.state == "done":
            return
        self.state = "done"
        self.unregister()
        try:
            value = produce()
        except BaseException as e:  # noqa: BLE001 - goes to whoever waits on the future
            if not self.future.done():
                self.future.set_exception(e)
            return
        if not self.future.done():
            self.future.set_result(value)


# ---- one worker process ----------------------------------------------------------------------------


class _Proc:
    """One worker process: its pipes, the tail of what it printed, and its own directory (jobs,
    Triton cache, HOME), which goes away with it."""

    def __init__(self, pool: WorkerPool, spec: str, *, standby: bool = False) -> None:
        self.pool = pool
        self.spec = spec  # device spec; for a standby the device kind ("cpu" | "cuda")
        self.dir = os.path.join(pool.root, f"w{next(pool._worker_ids)}")
        self.proc: subprocess.Popen | None = None
        self.fd_job = -1
        self.reader: protocol.Reader | None = None
        self.hello: dict[str, Any] | None = None
        self.log_tail: collections.deque[bytes] = collections.deque()
        self.log_size = 0
        self.log_lock = threading.Lock()
        self._spawn(standby)

    def _spawn(self, standby: bool) -> None:
        """Start the process. Call from a thread that lives as long as the pool: PR_SET_PDEATHSIG
        fires when the spawning *thread* exits."""
        os.makedirs(self.dir, exist_ok=True)
        r_job, w_job = os.pipe()
        r_res, w_res = os.pipe()
        r_log, w_log = os.pipe()
        env = worker_env(os.environ, home=os.path.join(self.dir, "home"))
        cmd = [sys.executable, "-m", "tritonize.worker.main", "--fd-in", str(r_job), "--fd-out", str(w_res),
               "--root", self.dir, "--device", self.spec, "--parent", str(os.getpid())]
        if standby:
            cmd.append("--standby")
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
        self.pool._count("spawned")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

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

    def wait_for(self, kind: str, timeout: float = STARTUP_TIMEOUT_S) -> dict[str, Any]:
        """Wait for the worker's `ready` (standby imported torch) or `hello` (serving) message."""
        assert self.reader is not None and self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.pool.closed:
            try:
                msg = self.reader.recv(timeout=0.2)
            except protocol.ProtocolError as e:
                raise WorkerStartError(f"worker sent garbage while starting: {e}") from None
            if msg is not None and msg.get("type") == kind:
                if kind == "hello":
                    self.hello = msg
                return msg
            if self.reader.eof:
                rc = self.reap()
                time.sleep(0.05)  # let the log drain catch the last lines
                raise WorkerStartError(f"verify worker failed to start ({describe_exit(rc)}): {self.tail(8)}")
        self.kill()
        raise WorkerStartError("verify worker did not start" if not self.pool.closed else "pool closed")

    def activate(self, spec: str) -> dict[str, Any]:
        """Turn a standby into a serving worker for `spec` (it initialises the device now)."""
        self.wait_for("ready")
        self.spec = spec
        try:
            protocol.send(self.fd_job, {"type": "activate", "device": spec})
        except OSError:
            pass  # it died: wait_for sees end of stream
        return self.wait_for("hello")

    def kill(self) -> None:
        """SIGKILL the worker's process group (the worker and anything it spawned)."""
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()

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
        for fd in (self.fd_job, self.reader.fd if self.reader else -1):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.fd_job = -1
        self.reader = None
        self.proc = None
        self.hello = None
        shutil.rmtree(self.dir, ignore_errors=True)


def worker_env(base: Mapping[str, str], home: str) -> dict[str, str]:
    """The worker's environment: `sandbox.clean_env` (no keys or tokens, HOME in the worker's dir)
    plus what the worker needs to run."""
    from ..worker import sandbox  # torch-free: env filtering and rlimit helpers only

    env = sandbox.clean_env(base, home=home)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_SERVER_DIR, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a segfault prints the Python stack into the log tail
    return env


class _Standby:
    """One spare worker per device kind, started ahead: it has imported torch and triton but not
    initialised CUDA (no GPU memory held), so a crashed or timed-out worker is replaced in well under
    a second on CPU (CUDA init on GPU) instead of a full start. Taking it starts the next one."""

    def __init__(self, pool: WorkerPool, kind: str) -> None:
        self.pool = pool
        self.kind = kind
        self.proc: _Proc | None = None
        self.cond = threading.Condition()
        self.failures = 0
        # The spawning thread must live as long as the pool (PR_SET_PDEATHSIG).
        self.thread = threading.Thread(target=self._loop, name=f"tritonize-verify-standby-{kind}", daemon=True)

    def _loop(self) -> None:
        while not self.pool.closed:
            with self.cond:
                while self.proc is not None and not self.pool.closed:
                    self.cond.wait(0.5)
            if self.pool.closed:
                break
            if self.failures:
                time.sleep(min(10.0, 0.5 * 2 ** self.failures))
            try:
                proc = _Proc(self.pool, self.kind, standby=True)
            except OSError as e:
                self.failures += 1
                self.pool.log(f"cannot start a standby verify worker: {e}")
                continue
            with self.cond:
                self.proc = proc
        self.discard()

    def take(self) -> _Proc | None:
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


class _Slot:
    """Runs jobs on one worker process; replaces the process (from the standby when there is one)
    after a failure."""

    def __init__(self, pool: WorkerPool, index: int, device_spec: str) -> None:
        self.pool = pool
        self.index = index
        self.device_spec = device_spec
        self.w: _Proc | None = None
        self.current: _Task | None = None
        self.thread = threading.Thread(target=self._loop, name=f"tritonize-verify-slot{index}", daemon=True)

    # -- process lifetime --

    @property
    def proc(self) -> subprocess.Popen | None:
        w = self.w
        return w.proc if w is not None else None

    def _start_worker(self) -> dict[str, Any]:
        standby = self.pool._standby_for(self.device_spec)
        w = standby.take() if standby is not None else None
        if w is not None:
            self.w = w
            try:
                info = w.activate(self.device_spec)
            except WorkerStartError:
                standby.failed()  # type: ignore[union-attr]
                w.retire()
                self.w = None
            else:
                standby.succeeded()  # type: ignore[union-attr]
                self.pool._count("standby_used")
                return info
        self.w = _Proc(self.pool, self.device_spec)
        return self.w.wait_for("hello")

    def kill(self) -> None:
        w = self.w
        if w is not None:
            w.kill()

    def retire(self) -> None:
        w, self.w = self.w, None
        if w is not None:
            w.retire()

    def tail(self, lines: int = 20) -> str:
        w = self.w
        return w.tail(lines) if w is not None else ""

    # -- the slot thread --

    def _loop(self) -> None:
        failures = 0
        while not self.pool.closed:
            if self.w is None:
                try:
                    info = self._start_worker()
                    failures = 0
                    self.pool._on_hello(self, info)
                except WorkerStartError as e:
                    self.retire()
                    failures += 1
                    self.pool._on_start_failure(self, str(e), failures)
                    if self.pool.closed:
                        break
                    time.sleep(min(5.0, 0.5 * failures))
                    continue
                except OSError as e:
                    self.retire()
                    failures += 1
                    self.pool._on_start_failure(self, f"cannot start a verify worker: {e}", failures)
                    time.sleep(min(5.0, 0.5 * failures))
                    continue
            task = self.pool._next_task(timeout=0.2)
            if task is None:
                continue
            self._run(task)
        self.retire()

    def _run(self, task: _Task) -> None:
        w = self.w
        assert w is not None and w.reader is not None
        if task.state == "done":  # cancelled between leaving the queue and reaching here
            return
        job_id = next(self.pool._ids)
        nonce = secrets.token_hex(8)
        timeout = task.timeout
        self.current = task
        task.slot = self
        task.started_at = time.monotonic()
        stage = "starting"
        started = time.monotonic()
        try:
            protocol.send(w.fd_job, {"type": "job", "id": job_id, "nonce": nonce, "op": task.op, **task.body})
        except OSError:
            pass  # the worker is gone; the read below sees end of stream
        deadline = started + timeout
        try:
            while True:
                if task.state == "done":  # cancelled (and resolved) while running
                    self.retire()
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.retire()
                    self.pool._count("timeouts")
                    message = f"timed out after {timeout:g} s (timeout_s={task.timeout:g}) during {stage}"
                    task.finish(lambda m=message: task.on_failure(_Failure("timeout", m)))
                    return
                try:
                    msg = w.reader.recv(timeout=min(0.1, remaining))
                except protocol.ProtocolError as e:
                    self.retire()
                    message = f"worker protocol broken during {stage}: {e}"
                    task.finish(lambda m=message: task.on_failure(_Failure("crash", m)))
                    return
                if msg is None:
                    if w.reader.eof:
                        self._crashed(task, stage)
                        return
                    continue
                if msg.get("id") != job_id:
                    continue  # a stale or forged message
                if msg.get("type") == "stage":
                    stage = str(msg.get("stage", stage))[:200]
                    if "baselines" in stage and timeout == task.timeout:
                        # Timing eager + torch.compile of the reference is not the candidate's time.
                        timeout += BASELINE_ALLOWANCE_S
                        deadline += BASELINE_ALLOWANCE_S
                    continue
                if msg.get("type") != "result" or msg.get("nonce") != nonce:
                    continue
                self._delivered(task, msg)
                return
        finally:
            self.current = None
            self.pool._count("jobs")
            self.pool._count(f"jobs_slot{self.index}")  # how the work spread over the devices
            self.pool._add_time(task.op, time.monotonic() - started)

    def _delivered(self, task: _Task, msg: dict[str, Any]) -> None:
        if msg.get("tainted") and not msg.get("ok") and "value" not in msg and task.retries < 1:
            # The worker was tainted before this job started: run it again on a fresh worker.
            self.retire()
            self.pool._count("recycled")
            task.retries += 1
            self.pool._requeue(task)
            return
        if msg.get("recycle"):
            self.retire()
            self.pool._count("recycled")
        task.finish(lambda: task.on_result(msg))

    def _crashed(self, task: _Task, stage: str) -> None:
        w = self.w
        rc = w.reap() if w is not None else None
        time.sleep(0.05)  # the log pipe may still hold the last lines (faulthandler output)
        tail = self.tail(30)
        self.retire()
        self.pool._count("crashes")
        if task.state == "done":
            return
        if task.cancel is not None and task.cancel.cancelled:
            task.finish(lambda: task.on_failure(_Failure("cancelled", "cancelled")))
            return
        where = _candidate_line(tail)
        message = f"worker {describe_exit(rc)} during {stage}{where}"
        task.finish(lambda: task.on_failure(_Failure("crash", message, tail)))


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


def _candidate_line(tail: str) -> str:
    """`, at candidate line N` from a faulthandler/traceback dump (most recent call first)."""
    m = re.search(r'candidate\.py", line (\d+)', tail)
    return f", at candidate line {m.group(1)}" if m else ""


# ---- the pool ------------------------------------------------------------------------------------

_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        with contextlib.suppress(Exception):
            pool.close()


def _options(settings: Settings) -> dict[str, Any]:
    return {"seeds": settings.seeds, "atol": settings.atol, "rtol": settings.rtol,
            "allow_tf32": settings.allow_tf32, "strict": settings.strict, "time": settings.time_candidates}


class WorkerPool:
    def __init__(self, settings: Settings, *, log: Callable[[str], None] | None = None,
                 standby: bool | None = None) -> None:
        """`standby`: keep one spare worker started ahead (default on; TRITONIZE_STANDBY=0 turns it off)."""
        self.settings = settings
        self.log = log or (lambda _msg: None)
        self.root = tempfile.mkdtemp(prefix="tritonize-verify-")
        self.closed = False
        self._lock = threading.Condition()
        self._queue: collections.deque[_Task] = collections.deque()
        self._slots: list[_Slot] = []
        self._started = False
        self._hello = threading.Event()
        self._info: DeviceInfo | None = None
        self._start_error: str | None = None
        self._ids = itertools.count(1)
        self._worker_ids = itertools.count(1)
        self._use_standby = standby if standby is not None else os.environ.get("TRITONIZE_STANDBY", "1") != "0"
        self._standbys: dict[str, _Standby] = {}
        self._stats: dict[str, float] = collections.defaultdict(float)
        self.started_at: float | None = None
        _POOLS.add(self)

    # -- life cycle --

    def start(self) -> None:
        """Spawn the workers in the background and return at once (pre-start during generation)."""
        with self._lock:
            if self._started or self.closed:
                return
            self._started = True
            self.started_at = time.monotonic()
            slot = _Slot(self, 0, self._first_device_spec())
            self._slots.append(slot)
        slot.thread.start()

    def _first_device_spec(self) -> str:
        devices = self.settings.devices
        index = devices[0] if devices else 0
        if self.settings.device == "cpu":
            return "cpu"
        if self.settings.device == "cuda":
            return f"cuda:{index}"
        return f"auto:{index}" if devices else "auto"

    def _on_hello(self, slot: _Slot, info: dict[str, Any]) -> None:
        """The first hello says what the machine has; add the other workers then."""
        extra: list[str] = []
        with self._lock:
            if self._info is None:
                self._stats["startup_s"] = time.monotonic() - (self.started_at or time.monotonic())
                if info.get("kind") == "cuda":
                    devices = self.settings.devices or list(range(int(info.get("count", 1))))
                    extra = [f"cuda:{d}" for d in devices if d != info.get("index")]
                else:
                    extra = ["cpu"] * (_cpu_workers() - 1)
                self._info = DeviceInfo(kind=str(info.get("kind")), name=str(info.get("name")),
                                        count=1 + len(extra) if info.get("kind") == "cuda" else 1,
                                        versions=dict(info.get("versions") or {}),
                                        sandbox=dict(info.get("sandbox") or {}))
                self.log(f"verify worker ready: {self._info.name} ({self._stats['startup_s']:.1f} s)")
                new = [_Slot(self, len(self._slots) + i, spec) for i, spec in enumerate(extra)]
                self._slots.extend(new)
                kind = "cuda" if info.get("kind") == "cuda" else "cpu"
                standby = _Standby(self, kind) if self._use_standby else None
                if standby is not None:
                    self._standbys[kind] = standby
            else:
                new, standby = [], None
        for s in new:
            s.thread.start()
        if standby is not None:
            standby.thread.start()
        self._hello.set()

    def _standby_for(self, spec: str) -> _Standby | None:
        kind = "cpu" if spec == "cpu" else "cuda" if spec.startswith("cuda") else ""
        with self._lock:
            return self._standbys.get(kind)

    def _on_start_failure(self, slot: _Slot, message: str, failures: int) -> None:
        self.log(message)
        if self._info is None or failures >= 3:
            # Nothing can run: fail what waits rather than hang (after 3 tries on a slot that worked).
            with self._lock:
                self._start_error = message
                queued, self._queue = list(self._queue), collections.deque()
            self._hello.set()
            for task in queued:
                task.finish(lambda t=task: t.on_failure(_Failure("crash", message)))

    def close(self) -> None:
        """Terminate every worker; none remain afterwards."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            queued, self._queue = list(self._queue), collections.deque()
            slots = list(self._slots)
            standbys = list(self._standbys.values())
            self._lock.notify_all()
        for task in queued:
            task.finish(lambda t=task: t.on_failure(_Failure("closed", "the verifier was shut down")))
        for slot in slots:
            slot.kill()
        for slot in slots:
            if slot.thread.is_alive() and slot.thread is not threading.current_thread():
                slot.thread.join(timeout=10)
            slot.retire()
            task = slot.current
            if task is not None:
                task.finish(lambda t=task: t.on_failure(_Failure("closed", "the verifier was shut down")))
        for standby in standbys:
            if standby.thread.is_alive() and standby.thread is not threading.current_thread():
                standby.thread.join(timeout=10)
            standby.discard()
        self._hello.set()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> WorkerPool:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- queries --

    def device_info(self) -> DeviceInfo:
        """Wait for the first worker's hello and say what it runs on."""
        self.start()
        self._hello.wait()
        if self._info is None:
            raise WorkerStartError(self._start_error or "the verifier was shut down")
        return self._info

    def worker_pids(self) -> list[int]:
        """Processes serving jobs (the standby, if any, is `standby_pids()`)."""
        return [p.pid for s in list(self._slots) if (p := s.proc) is not None]

    def standby_pids(self) -> list[int]:
        return [pid for sb in list(self._standbys.values()) if (pid := sb.pid()) is not None]

    def stats(self) -> dict[str, float]:
        """Counters (spawned, jobs, crashes, timeouts, recycled, standby_used) and seconds per op and
        for start-up."""
        with self._lock:
            return dict(self._stats)

    def _count(self, name: str, n: float = 1) -> None:
        with self._lock:
            self._stats[name] += n

    def _add_time(self, op: str, seconds: float) -> None:
        self._count(f"{op}_s", seconds)

    # -- queue --

    def _enqueue(self, task: _Task) -> Future:
        self.start()
        if task.cancel is not None:
            task.unregister = task.cancel.on_cancel(lambda: self._cancel_task(task))
        with self._lock:
            if task.state == "done":
                return task.future
            if self.closed or (self._start_error and self._info is None):
                why = self._start_error or "the verifier was shut down"
                task.finish(lambda: task.on_failure(_Failure("crash" if self._start_error else "closed", why)))
                return task.future
            self._queue.append(task)
            self._lock.notify()
        return task.future

    def _requeue(self, task: _Task) -> None:
        with self._lock:
            task.state = "queued"
            self._queue.appendleft(task)
            self._lock.notify()

    def _next_task(self, timeout: float) -> _Task | None:
        with self._lock:
            end = time.monotonic() + timeout
            while not self._queue and not self.closed:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return None
                self._lock.wait(remaining)
            while self._queue:
                task = self._queue.popleft()
                if task.state == "queued":
                    task.state = "running"
                    return task
            return None

    def _cancel_task(self, task: _Task) -> None:
        """Cancel: queued tasks fail at once; a running one's worker is killed (its slot respawns it)."""
        with self._lock:
            slot = task.slot if task.state == "running" else None
        task.finish(lambda: task.on_failure(_Failure("cancelled", "cancelled")))
        if slot is not None and slot.current is task:
            slot.kill()

    # -- operations --

    def probe(self, problem: Problem, settings: Settings, cancel: CancelToken | None = None) -> ProbeResult:
        """Run the recipe and the reference once. Raises ProblemError(kind="recipe_error") when they fail."""

        def on_result(msg: dict[str, Any]) -> ProbeResult:
            if not msg.get("ok"):
                if msg.get("problem_error"):
                    raise ProblemError(str(msg["problem_error"]), str(msg.get("error", "")))
                raise ProblemError("recipe_error", f"running the problem failed: {msg.get('error')}")
            v = msg["value"]
            return ProbeResult(dtype=v["dtype"], input_shapes=list(v["input_shapes"]),
                               output_shapes=list(v["output_shapes"]), tolerance=Tolerance(**v["tolerance"]))

        def on_failure(f: _Failure) -> ProbeResult:
            if f.kind == "cancelled":
                raise Cancelled()
            if f.kind == "timeout":
                raise ProblemError("recipe_error", f"running the recipe and {problem.name} took too long: {f.message}")
            raise ProblemError("recipe_error", f"running the recipe and {problem.name}: {f.message}")

        body = {"source": problem.source, "class_name": problem.name, "options": _options(settings)}
        task = _Task("probe", body, settings.timeout_s, Future(), on_result, on_failure, cancel)
        return self._wait(task, cancel)

    def call(self, func: str, payload: dict, *, timeout: float | None = None,
             cancel: CancelToken | None = None) -> Any:
        """Run `package.module:function(payload)` in a worker and return its JSON-able result."""

        def on_result(msg: dict[str, Any]) -> Any:
            if not msg.get("ok"):
                raise WorkerCallError(f"{func} raised {msg.get('error')}", str(msg.get("traceback", "")))
            return msg.get("value")

        def on_failure(f: _Failure) -> Any:
            if f.kind == "cancelled":
                raise Cancelled()
            raise WorkerCallError(f"{func}: {f.message}", f.log_tail)

        body = {"func": func, "payload": payload}
        task = _Task("call", body, timeout or self.settings.timeout_s, Future(), on_result, on_failure, cancel)
        return self._wait(task, cancel)

    def _wait(self, task: _Task, cancel: CancelToken | None) -> Any:
        fut = self._enqueue(task)
        while True:
            try:
                return fut.result(timeout=0.1)
            except FutureTimeout:
                if cancel is not None and cancel.cancelled:
                    self._cancel_task(task)

    def submit(self, problem: Problem, candidate: Candidate, settings: Settings,
               cancel: CancelToken | None = None) -> Future[CandidateResult]:
        """Verify (and on GPU, time) one candidate. The future never raises: failures are results."""
        submitted = time.monotonic()

        def base(**kw: Any) -> CandidateResult:
            began = task.started_at or submitted
            return CandidateResult(candidate_id=candidate.candidate_id or candidate.origin, origin=candidate.origin,
                                   code=candidate.code, private_apis=_private_apis(candidate),
                                   seconds=time.monotonic() - began, **kw)

        def on_result(msg: dict[str, Any]) -> CandidateResult:
            if not msg.get("ok"):
                return base(passed=False, kind="crash",
                            message=f"the verifier failed: {msg.get('error')}")
            v = dict(msg["value"])
            v.pop("recycle", None)
            phases = v.pop("phases", None) or {}
            if phases:
                self._record_phases(phases)
            r = candidate_result_from_dict({**v, "candidate_id": "", "origin": ""})
            return base(passed=r.passed, kind=r.kind, message=r.message, drop_in=r.drop_in,
                        max_abs_err=r.max_abs_err, rel_err=r.rel_err, worst_index=r.worst_index, seeds=r.seeds,
                        kernels_launched=r.kernels_launched, timing=r.timing, findings=r.findings,
                        phases={k: float(x) for k, x in phases.items()})

        def on_failure(f: _Failure) -> CandidateResult:
            if f.kind == "cancelled":
                return base(passed=False, kind="runtime", message="cancelled before verification finished")
            if f.kind == "closed":
                return base(passed=False, kind="crash", message=f.message)
            return base(passed=False, kind=f.kind, message=f.message)

        why = parse_failure(candidate)
        if why is not None:
            # Model output with no usable code: report the parser's reason, not Python's error on raw text.
            done: Future[CandidateResult] = Future()
            done.set_result(CandidateResult(candidate_id=candidate.candidate_id or candidate.origin,
                                            origin=candidate.origin, passed=False, kind="syntax", message=why,
                                            code=candidate.code, private_apis=_private_apis(candidate)))
            return done
        body = {"source": problem.source, "class_name": problem.name, "code": candidate.code,
                "options": _options(settings)}
        task = _Task("verify", body, settings.timeout_s, Future(), on_result, on_failure, cancel,
                     problem_key=problem.key() + str(settings.allow_tf32))
        return self._enqueue(task)

    def verify_all(self, problem: Problem, candidates: list[Candidate], settings: Settings,
                   cancel: CancelToken | None = None) -> list[CandidateResult]:
        """Submit every candidate and wait for all results (in the given order)."""
        futures = [self.submit(problem, c, settings, cancel) for c in candidates]
        return [f.result() for f in futures]

    def _record_phases(self, phases: dict[str, float]) -> None:
        with self._lock:
            for k, v in phases.items():
                self._stats[f"phase_{k}_s"] += float(v)


def _cpu_workers() -> int:
    try:
        return max(1, int(os.environ.get("TRITONIZE_CPU_WORKERS", "1")))
    except ValueError:
        return 1


def _private_apis(candidate: Candidate) -> bool:
    return "torch._inductor" in candidate.code or any("private" in n for n in candidate.notes)


# Findings and Timing are part of the result types this module returns.
__all__ = ["DeviceInfo", "ProbeResult", "WorkerCallError", "WorkerStartError", "WorkerPool", "Finding", "Timing"]
