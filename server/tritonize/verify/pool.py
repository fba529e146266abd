"""Worker pool: scheduling verification jobs onto worker processes (server side; never imports torch or
triton — DESIGN.md, invariant 1).

One long-lived worker process per GPU (`python -m tritonize.worker.main`), or CPU workers running
Triton under `TRITON_INTERPRET=1` when there is no GPU. Each worker is driven by one slot thread
that takes jobs from a shared queue, sends them (wire/messages.py), and watches for the result, the
job's time limit, cancellation, and the worker dying. A worker that hangs, crashes, hits a CUDA
fault or is tainted by a candidate is killed and replaced (from the standby when there is one); its
job gets a `timeout`/`crash` result naming the signal, the stage it was in, and the last lines it
printed. Starting, standby spares, environment and reaping are process.py's.

Time limits follow one rule for `probe`, `submit` and `call`: the `timeout` argument when given, else
`timeout_s` of the settings the job runs with (the settings argument; for `call`, the pool's own
unless `settings=` is given).

Workers die with the server: each sets PR_SET_PDEATHSIG, runs in its own process group (killed
as a group), and `close()` runs at exit.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import hashlib
import itertools
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from ..cancel import Cancelled, CancelToken
from ..candidate import Candidate, parse_failure
from ..problem import Problem, ProblemError
from ..report import CandidateResult, Finding, Timing
from ..settings import Settings
from ..wire import messages, protocol
from ..wire.messages import DeviceInfo, Hello, Job, JobOptions, ProbeJob, ProbeResult, Result, VerifyJob
from .process import Launcher, Standby, WorkerProcess, WorkerStartError, crash_location, describe_exit

BASELINE_ALLOWANCE_S = 300.0  # added while a job times eager + torch.compile (once per worker and problem)


class WorkerCallError(Exception):
    """An entry point run with `WorkerPool.call` raised in the worker (message + traceback text)."""

    def __init__(self, message: str, traceback: str = ""):
        super().__init__(message)
        self.traceback = traceback


# ---- tasks ---------------------------------------------------------------------------------------


@dataclass
class _Failure:
    """Why a task got no result from a worker."""

    kind: str  # timeout | crash | cancelled | closed
    message: str
    log_tail: str = ""


@dataclass
class _Task:
    op: str  # verify | probe | call (for the time counters)
    entry: str  # the worker's entry point
    payload: Any
    timeout: float
    future: Future
    on_result: Callable[[Result], Any]  # worker reply → future value (may raise)
    on_failure: Callable[[_Failure], Any]  # → future value (may raise)
    cancel: CancelToken | None = None
    state: str = "queued"  # queued | running | done
    slot: _Slot | None = None
    retries: int = 0
    started_at: float | None = None  # when a worker began running it (queue wait excluded)
    unregister: Callable[[], None] = lambda: None
    lane: str = "verify"  # verify | gen | any: which slots may run it (see WorkerPool, "lanes")
    home: str | None = None  # the problem it belongs to (a hash of its source): one GPU per problem
    baselines_key: str | None = None  # verify jobs: whose measured baselines it may be handed

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


# ---- one slot: a worker process and the thread that feeds it ------------------------------------------


class _Slot:
    """Runs jobs on one worker process; replaces the process (from the standby when there is one)
    after a failure."""

    def __init__(self, pool: WorkerPool, index: int, device_spec: str, lane: str = "verify") -> None:
        self.pool = pool
        self.index = index
        self.device_spec = device_spec
        self.lane = lane  # verify | gen
        self.w: WorkerProcess | None = None
        self.current: _Task | None = None
        self.job_id: int | None = None  # the job `current` was sent as
        self.gone = False  # a generation slot that could not start: the verify slots take its work
        self.paused_since: float | None = None  # stopped while another job on the device is timed
        self.paused_s = 0.0  # stopped in total, so far (job deadlines move by as much)
        self.thread = threading.Thread(target=self._loop, name=f"tritonize-{lane}-slot{index}", daemon=True)

    def accepts(self, task: _Task) -> bool:
        """Verify slots run verify and probe jobs, and generation calls when there is no generation slot;
        a generation slot runs generation calls (any job if its worker turned out to be a CPU one)."""
        if task.lane in (self.lane, "any"):
            return True
        if self.lane == "verify":
            return not self.pool._has_gen_lane()
        w = self.w
        return w is not None and w.hello is not None and w.hello.kind != "cuda"

    # -- the device to one job at a time while it is timed --

    def device_key(self) -> str | None:
        """"cuda:N" for a worker serving GPU N, "cpu" for CPU workers (nothing times there; tests claim
        it), None before its hello."""
        w = self.w
        hello = w.hello if w is not None else None
        if hello is None:
            return None
        if hello.kind != "cuda":
            return "cpu"
        return f"cuda:{hello.index if hello.index is not None else 0}"

    def pause(self) -> None:
        w = self.w
        if self.paused_since is None and w is not None and w.pause():
            self.paused_since = time.monotonic()

    def resume(self) -> None:
        if self.paused_since is None:
            return
        w = self.w
        if w is not None:
            w.resume()
        self.paused_s += time.monotonic() - self.paused_since
        self.paused_since = None

    def paused_for(self) -> float:
        since = self.paused_since
        return self.paused_s + (time.monotonic() - since if since is not None else 0.0)

    # -- process lifetime --

    @property
    def proc(self) -> WorkerProcess | None:
        return self.w if self.w is not None and self.w.proc is not None else None

    def _start_worker(self) -> Hello:
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
        self.w = self.pool.launcher.spawn(self.device_spec)
        return self.w.wait_for(Hello)

    def kill(self) -> None:
        w = self.w
        if w is not None:
            w.kill()

    def retire(self) -> None:
        self.pool._release_device(self)
        w, self.w = self.w, None
        if w is not None:
            w.retire()
        self.paused_since = None  # SIGKILL ends a stopped process too

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
                    if self.lane == "gen":
                        # Not a reason to fail anything: after two tries the verify workers take its calls.
                        self.pool.log(f"generation worker did not start: {e}")
                        if failures >= 2:
                            self.gone = True
                            with self.pool._lock:
                                self.pool._lock.notify_all()
                            return
                        time.sleep(0.5)
                        continue
                    self.pool._on_start_failure(self, str(e), failures)
                    if self.pool.closed:
                        break
                    time.sleep(min(5.0, 0.5 * failures))
                    continue
                except OSError as e:
                    self.retire()
                    failures += 1
                    if self.lane == "gen":
                        self.pool.log(f"cannot start a generation worker: {e}")
                        self.gone = True
                        with self.pool._lock:
                            self.pool._lock.notify_all()
                        return
                    self.pool._on_start_failure(self, f"cannot start a verify worker: {e}", failures)
                    time.sleep(min(5.0, 0.5 * failures))
                    continue
            task = self.pool._next_task(self, timeout=0.2)
            if task is None:
                continue
            self._run(task)
        self.retire()

    def _run(self, task: _Task) -> None:
        w = self.w
        assert w is not None and w.reader is not None
        if task.state == "done":  # cancelled between leaving the queue and reaching here
            return
        job = Job(id=next(self.pool._ids), nonce=secrets.token_hex(8), entry=task.entry, payload=task.payload)
        timeout = task.timeout
        self.job_id = job.id
        self.current = task
        task.slot = self
        task.started_at = time.monotonic()
        stage = "starting"
        started = time.monotonic()
        w.send(job)  # if the worker is gone, the read below sees end of stream
        deadline = started + timeout
        paused_before = self.paused_for()
        try:
            while True:
                if task.state == "done":  # cancelled (and resolved) while running
                    self.retire()
                    return
                # time spent stopped while another job had the device to itself does not count
                remaining = deadline + (self.paused_for() - paused_before) - time.monotonic()
                if remaining <= 0:
                    self.retire()
                    self.pool._count("timeouts")
                    message = f"timed out after {timeout:g} s (timeout_s={task.timeout:g}) during {stage}"
                    task.finish(lambda m=message: task.on_failure(_Failure("timeout", m)))
                    return
                try:
                    raw = w.reader.recv(timeout=min(0.1, remaining))
                    msg = _reply_to(job, raw)
                except (protocol.ProtocolError, messages.MessageError) as e:
                    self.retire()
                    message = f"worker protocol broken during {stage}: {e}"
                    task.finish(lambda m=message: task.on_failure(_Failure("crash", m)))
                    return
                if raw is None:
                    if w.reader.eof:
                        self._crashed(task, stage)
                        return
                    continue
                if isinstance(msg, messages.Stage):
                    stage = msg.stage[:200]
                    if "baselines" in stage and timeout == task.timeout:
                        # Timing eager + torch.compile of the reference is not the candidate's time.
                        timeout += BASELINE_ALLOWANCE_S
                        deadline += BASELINE_ALLOWANCE_S
                    continue
                if isinstance(msg, messages.Claim):
                    self.pool._claim(self, job.id, task.baselines_key if msg.baselines else None)
                    continue
                if isinstance(msg, messages.Release):
                    self.pool._release_device(self)
                    continue
                if isinstance(msg, Result):
                    self._delivered(task, msg)
                    return
        finally:
            self.pool._release_device(self)  # a job that ends (or dies) while timing releases its device
            self.current = None
            self.job_id = None
            self.pool._count("jobs")
            self.pool._count(f"jobs_slot{self.index}")  # how the work spread over the devices
            self.pool._add_time(task.op, time.monotonic() - started)

    def _delivered(self, task: _Task, result: Result) -> None:
        if not result.ran and task.retries < 1:
            # The worker was tainted before this job started: run it again on a fresh worker.
            self.retire()
            self.pool._count("recycled")
            task.retries += 1
            self.pool._requeue(task)
            return
        if result.recycle:
            self.retire()
            self.pool._count("recycled")
        task.finish(lambda: task.on_result(result))

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
        message = f"worker {describe_exit(rc)} during {stage}{crash_location(tail)}"
        task.finish(lambda: task.on_failure(_Failure("crash", message, tail)))


def _reply_to(job: Job, raw: dict[str, Any] | None) -> messages.Stage | messages.Claim | messages.Release | Result | None:
    """The Stage or Result `raw` is for `job`; None for anything else (stale, forged, or no message).
    A result must carry the job's nonce, so candidate code cannot forge one."""
    if raw is None or raw.get("id") != job.id:
        return None
    if raw.get("type") == messages.Stage.TYPE:
        return messages.Stage(id=job.id, stage=str(raw.get("stage", "")))
    if raw.get("type") == messages.Claim.TYPE:
        return messages.Claim(id=job.id, baselines=raw.get("baselines") is True)
    if raw.get("type") == messages.Release.TYPE:
        return messages.Release(id=job.id)
    if raw.get("type") == Result.TYPE and raw.get("nonce") == job.nonce:
        try:
            return Result.from_dict(raw)
        except (KeyError, TypeError, ValueError) as e:
            raise messages.MessageError(f"bad result: {e}") from None
    return None


# ---- the pool ------------------------------------------------------------------------------------

_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        with contextlib.suppress(Exception):
            pool.close()


class WorkerPool:
    def __init__(self, settings: Settings, *, log: Callable[[str], None] | None = None,
                 standby: bool | None = None, extra_entry_points: Mapping[str, str] | None = None,
                 gen_lane: bool | None = None) -> None:
        """`standby`: keep one spare worker started ahead (default on; TRITONIZE_STANDBY=0 turns it off).
        `extra_entry_points`: name → "package.module:function" each worker adds to its entry points when
        it starts (tests); jobs still name entry points only. `gen_lane`: on a GPU machine, one more
        worker per GPU for generation calls (Inductor captures, template builds), so they compile while
        the verify worker checks and times other candidates (default on; TRITONIZE_GEN_LANE=0 turns it
        off; never on a CPU-only machine)."""
        self.settings = settings
        self.log = log or (lambda _msg: None)
        # An ordinary temporary name: the workers' HOME, cwd and caches live below it, and a candidate
        # must not learn from them that it is being verified (worker/disguise.py).
        self.root = tempfile.mkdtemp()
        self.closed = False
        self.launcher = Launcher(self.root, closed=lambda: self.closed, on_spawn=lambda: self._count("spawned"),
                                 entry_points=extra_entry_points, python=settings.worker_python)
        self._lock = threading.Condition()
        self._queue: collections.deque[_Task] = collections.deque()
        self._slots: list[_Slot] = []
        self._started = False
        self._hello = threading.Event()
        self._info: DeviceInfo | None = None
        self._start_error: str | None = None
        self._ids = itertools.count(1)
        self._use_standby = standby if standby is not None else os.environ.get("TRITONIZE_STANDBY", "1") != "0"
        self._standbys: dict[str, Standby] = {}
        self._gen_lane = gen_lane if gen_lane is not None else os.environ.get("TRITONIZE_GEN_LANE", "1") != "0"
        self._homes: dict[str, str] = {}  # problem (source hash) → the GPU its jobs run on
        # timing has the device to itself: the job timing on each GPU, and the jobs waiting to
        self._timing_lock = threading.RLock()
        self._owners: dict[str, _Slot] = {}
        self._claims: dict[str, collections.deque[tuple[_Slot, int, str | None]]] = {}
        # problem + precision → the Future of its baselines job (start_baselines)
        self._baselines: dict[str, Future] = {}
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
            spec = self._first_device_spec()
            slots = [_Slot(self, 0, spec)]
            if self._gen_lane and self.settings.device != "cpu" and _gpu_visible():
                slots.append(_Slot(self, 1, spec, lane="gen"))  # starts beside the first, not after it
            self._slots.extend(slots)
        for slot in slots:
            slot.thread.start()

    def _first_device_spec(self) -> str:
        devices = self.settings.devices
        index = devices[0] if devices else 0
        if self.settings.device == "cpu":
            return "cpu"
        if self.settings.device == "cuda":
            return f"cuda:{index}"
        return f"auto:{index}" if devices else "auto"

    def _on_hello(self, slot: _Slot, hello: Hello) -> None:
        """The first hello says what the machine has; add the other workers then."""
        extra: list[str] = []
        with self._lock:
            if self._info is None:
                self._stats["startup_s"] = time.monotonic() - (self.started_at or time.monotonic())
                extra_gen: list[str] = []
                if hello.kind == "cuda":
                    devices = self.settings.devices or list(range(int(hello.count)))
                    extra = [f"cuda:{d}" for d in devices if d != hello.index]
                    if self._has_gen_lane():
                        extra_gen = list(extra)  # a generation worker beside each verify worker
                else:
                    extra = ["cpu"] * (_cpu_workers() - 1)
                self._info = DeviceInfo(kind=hello.kind, name=hello.name,
                                        count=1 + len(extra) if hello.kind == "cuda" else 1,
                                        versions=dict(hello.versions), sandbox=dict(hello.sandbox))
                self.log(f"verify worker ready: {self._info.name} ({self._stats['startup_s']:.1f} s)")
                new = [_Slot(self, len(self._slots) + i, spec) for i, spec in enumerate(extra)]
                new += [_Slot(self, len(self._slots) + len(new) + i, spec, lane="gen") for i, spec in enumerate(extra_gen)]
                self._slots.extend(new)
                kind = "cuda" if hello.kind == "cuda" else "cpu"
                standby = Standby(self.launcher, kind, self.log) if self._use_standby else None
                if standby is not None:
                    self._standbys[kind] = standby
            else:
                new, standby = [], None
        for s in new:
            s.thread.start()
        if standby is not None:
            standby.thread.start()
        self._hello.set()

    def _has_gen_lane(self) -> bool:
        return any(s.lane == "gen" and not s.gone for s in list(self._slots))

    # -- timing has the device to itself --

    def _slots_on(self, key: str) -> list[_Slot]:
        return [s for s in list(self._slots) if s.device_key() == key]

    def _claim(self, slot: _Slot, job_id: int, baselines_key: str | None = None) -> None:
        """Job `job_id` on `slot` asks for its GPU to itself: granted at once when no other job times there
        (the other workers on the GPU are paused first), else when the one timing releases it. With
        `baselines_key`, the grant says what the pool knows of that problem's torch.compile baseline
        (`_grant`)."""
        key = slot.device_key()
        with self._timing_lock:
            if key is not None:
                owner = self._owners.get(key)
                if owner is not None and owner is not slot:
                    self._claims.setdefault(key, collections.deque()).append((slot, job_id, baselines_key))
                    return
                self._owners[key] = slot
            self._grant(slot, job_id, key, baselines_key)

    def _grant(self, slot: _Slot, job_id: int, key: str | None, baselines_key: str | None) -> None:
        if key is not None:
            for other in self._slots_on(key):
                if other is not slot:
                    other.pause()
            slot.resume()
            self._count("exclusive_grants")
        shared = None
        if baselines_key is not None:
            # measured: its numbers; being measured: {"pending": True} (the result gets them when they come,
            # `_fill_compile`); none started, or it failed: None (the verify job measures its own)
            future = self._baselines.get(baselines_key)
            if future is not None and not future.done():
                shared = {"pending": True}
            elif future is not None and future.exception() is None:
                shared = future.result()
            if shared is not None:
                self._count("baselines_shared")
        w = slot.w
        if w is not None:
            w.send(messages.Granted(id=job_id, baselines=shared))

    def _release_device(self, slot: _Slot) -> None:
        """`slot`'s job is done timing (or done, or gone): the next claim on its GPU gets it, or every
        paused worker there goes on."""
        with self._timing_lock:
            for queue in self._claims.values():
                for item in [c for c in queue if c[0] is slot]:
                    queue.remove(item)
            for key in [k for k, owner in self._owners.items() if owner is slot]:
                del self._owners[key]
                queue = self._claims.get(key)
                while queue:
                    nxt, job_id, baselines_key = queue.popleft()
                    if nxt.w is not None and nxt.job_id == job_id:
                        self._owners[key] = nxt
                        self._grant(nxt, job_id, key, baselines_key)
                        break
                else:
                    for other in self._slots_on(key):
                        other.resume()

    def _standby_for(self, spec: str) -> Standby | None:
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

    def device_info(self, cancel: CancelToken | None = None) -> DeviceInfo:
        """Wait for the first worker's hello and say what it runs on. With a token, the wait ends in
        `Cancelled` as soon as the token is cancelled (the worker goes on starting for later jobs)."""
        self.start()
        while not self._hello.wait(None if cancel is None else 0.05):
            cancel.raise_if_cancelled()  # type: ignore[union-attr]
        if self._info is None:
            raise WorkerStartError(self._start_error or "the verifier was shut down")
        return self._info

    def worker_pids(self) -> list[int]:
        """Processes serving jobs (the standby, if any, is `standby_pids()`)."""
        return [pid for s in list(self._slots) if (p := s.proc) is not None and (pid := p.pid) is not None]

    def serving(self) -> int:
        """How many workers have said hello and take jobs now (the generation lane's included)."""
        return sum(1 for s in list(self._slots) if s.device_key() is not None)

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
            self._lock.notify_all()  # the slot of its lane may be another
        return task.future

    def _requeue(self, task: _Task) -> None:
        with self._lock:
            task.state = "queued"
            self._queue.appendleft(task)
            self._lock.notify_all()  # the slot of its lane may be another

    def _next_task(self, slot: _Slot, timeout: float) -> _Task | None:
        """The first queued task `slot` accepts (its lane, its problem's GPU), waiting up to `timeout`."""
        with self._lock:
            end = time.monotonic() + timeout
            while not self.closed:
                for task in list(self._queue):
                    if task.state != "queued":
                        self._queue.remove(task)
                    elif slot.accepts(task) and self._at_home(slot, task):
                        self._queue.remove(task)
                        task.state = "running"
                        return task
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return None
                self._lock.wait(remaining)
            return None

    def _at_home(self, slot: _Slot, task: _Task) -> bool:
        """Every job of one problem runs on one GPU (its "home": the GPU of the first worker that took one
        of them), so each GPU's workers compile and time that problem's baselines once, and its Inductor
        capture warms the caches its verification uses. A home without a live worker takes none: then
        any GPU does. Called with the queue lock held."""
        here = slot.device_key()
        if task.home is None or here is None or here == "cpu":
            return True
        home = self._homes.get(task.home)
        if home is None:
            self._homes[task.home] = here
            return True
        return home == here or not any(s.device_key() == home for s in self._slots)

    def _cancel_task(self, task: _Task) -> None:
        """Cancel: queued tasks fail at once; a running one's worker is killed (its slot respawns it)."""
        with self._lock:
            slot = task.slot if task.state == "running" else None
        task.finish(lambda: task.on_failure(_Failure("cancelled", "cancelled")))
        if slot is not None and slot.current is task:
            slot.kill()

    def _wait(self, task: _Task, cancel: CancelToken | None) -> Any:
        fut = self._enqueue(task)
        while True:
            try:
                return fut.result(timeout=0.1)
            except FutureTimeout:
                if cancel is not None and cancel.cancelled:
                    self._cancel_task(task)

    # -- operations --

    def probe(self, problem: Problem, settings: Settings, cancel: CancelToken | None = None, *,
              timeout: float | None = None) -> ProbeResult:
        """Run the recipe and the reference once. Raises ProblemError(kind="recipe_error") when they fail."""

        def on_result(result: Result) -> ProbeResult:
            if not result.ok:
                if result.problem_error:
                    raise ProblemError(result.problem_error, result.error or "")
                raise ProblemError("recipe_error", f"running the problem failed: {result.error}")
            return result.value

        def on_failure(f: _Failure) -> ProbeResult:
            if f.kind == "cancelled":
                raise Cancelled()
            if f.kind == "timeout":
                raise ProblemError("recipe_error", f"running the recipe and {problem.name} took too long: {f.message}")
            raise ProblemError("recipe_error", f"running the recipe and {problem.name}: {f.message}")

        job = ProbeJob(source=problem.source, class_name=problem.name, options=JobOptions.from_settings(settings))
        task = _Task("probe", "probe", job, _time_limit(timeout, settings), Future(), on_result, on_failure, cancel,
                     home=_home(problem.source))
        return self._wait(task, cancel)

    def call(self, entry: str, payload: Any, *, timeout: float | None = None, cancel: CancelToken | None = None,
             settings: Settings | None = None, lane: str = "gen") -> Any:
        """Run the worker's entry point `entry` (e.g. "template.build") on `payload` and return its JSON
        result. WorkerCallError when it raises, is unknown to the worker, or the worker dies. `lane`:
        "gen" (a generation worker runs it where there is one), or "any" for a short call that any idle
        worker may take."""

        def on_result(result: Result) -> Any:
            if not result.ok:
                raise WorkerCallError(f"{entry} raised {result.error}", result.traceback)
            return result.value

        def on_failure(f: _Failure) -> Any:
            if f.kind == "cancelled":
                raise Cancelled()
            raise WorkerCallError(f"{entry}: {f.message}", f.log_tail)

        limit = _time_limit(timeout, settings or self.settings)
        task = _Task("call", entry, payload, limit, Future(), on_result, on_failure, cancel, lane=lane,
                     home=_home(_payload_source(payload)))
        return self._wait(task, cancel)

    def submit(self, problem: Problem, candidate: Candidate, settings: Settings,
               cancel: CancelToken | None = None, *, timeout: float | None = None) -> Future[CandidateResult]:
        """Verify (and on GPU, time) one candidate. The future never raises: failures are results."""
        submitted = time.monotonic()

        def elapsed() -> float:
            return time.monotonic() - (task.started_at or submitted)

        def on_result(result: Result) -> CandidateResult:
            if not result.ok:
                return candidate.result(passed=False, kind="crash", message=f"the verifier failed: {result.error}",
                                        seconds=elapsed())
            verdict: CandidateResult = result.value  # the worker's own verdict, typed end to end
            verdict.seconds = elapsed()
            self._fill_compile(verdict, task.baselines_key, wait=None)
            self._record_phases(verdict.phases)
            return verdict

        def on_failure(f: _Failure) -> CandidateResult:
            if f.kind == "cancelled":
                return candidate.result(passed=False, kind="runtime", message="cancelled before verification finished",
                                        seconds=elapsed())
            kind = "crash" if f.kind == "closed" else f.kind
            return candidate.result(passed=False, kind=kind, message=f.message, seconds=elapsed())

        why = parse_failure(candidate)
        if why is not None:
            # Model output with no usable code: report the parser's reason, not Python's error on raw text.
            done: Future[CandidateResult] = Future()
            done.set_result(candidate.result(passed=False, kind="syntax", message=why))
            return done
        job = VerifyJob(source=problem.source, class_name=problem.name, candidate=candidate,
                        options=JobOptions.from_settings(settings))
        task = _Task("verify", "verify", job, _time_limit(timeout, settings), Future(), on_result, on_failure, cancel,
                     home=_home(problem.source), baselines_key=_baselines_key(problem, settings))
        return self._enqueue(task)

    def complete_baselines(self, problem: Problem, settings: Settings, results: list[CandidateResult],
                           timeout: float | None = None) -> None:
        """Wait (up to `timeout`, default the settings' time limit) for the problem's torch.compile
        baseline measured beside (`start_baselines`) and add it to every timed result still without one."""
        key = _baselines_key(problem, settings)
        for r in results:
            self._fill_compile(r, key, wait=settings.timeout_s if timeout is None else timeout)

    def _fill_compile(self, r: CandidateResult, key: str | None, wait: float | None) -> None:
        if key is None or r.timing is None or r.timing.compile_ms is not None:
            return
        with self._timing_lock:
            future = self._baselines.get(key)
        if future is None or (wait is None and not future.done()):
            return
        try:
            base = future.result(timeout=wait)
        except Exception:  # noqa: BLE001 - a timeout or a failed measurement: a missing number, not an error
            base = None
        if not base:
            return
        r.timing.compile_ms = base.get("compile_ms")
        error = base.get("compile_error")
        if error and not any(f.rule == "baseline" for f in r.findings):
            r.findings.append(Finding(rule="baseline", message=f"torch.compile baseline failed: {error}", fatal=False,
                                      line=None))

    def start_baselines(self, problem: Problem, settings: Settings) -> Future | None:
        """Measure the problem's eager and torch.compile times once, in the background, on a generation
        worker where there is one (no candidate ever runs there, and torch.compile's seconds of compiling
        overlap the verify worker's checks). Verify jobs of the problem then compile no baseline of their
        own: their results get its torch.compile time when it arrives (at once, or in
        `complete_baselines`); eager is timed in the verify worker, beside each candidate. Only on a GPU
        with timing on; None otherwise. The Future's value is the dict, or None when the measurement
        failed (later verify jobs then measure their own)."""
        info = self._info
        if info is None or info.kind != "cuda" or not settings.time_candidates:
            return None
        key = _baselines_key(problem, settings)
        with self._timing_lock:
            existing = self._baselines.get(key)
            if existing is not None:
                return existing
            job = ProbeJob(source=problem.source, class_name=problem.name, options=JobOptions.from_settings(settings))

            def measured(result: Result) -> dict[str, Any] | None:
                if not (result.ok and isinstance(result.value, dict)):
                    self.log(f"baselines of {problem.name} not measured: {result.error}")
                    return None
                self._count("baselines_measured_s", float(result.value.get("seconds") or 0.0))
                return result.value

            task = _Task("call", "baselines", job, _time_limit(None, settings) + BASELINE_ALLOWANCE_S, Future(),
                         measured, lambda _f: None, lane="gen", home=_home(problem.source))
            self._baselines[key] = task.future
        self._enqueue(task)
        return task.future

    def verify_all(self, problem: Problem, candidates: list[Candidate], settings: Settings,
                   cancel: CancelToken | None = None) -> list[CandidateResult]:
        """Submit every candidate and wait for all results (in the given order)."""
        futures = [self.submit(problem, c, settings, cancel) for c in candidates]
        return [f.result() for f in futures]

    def _record_phases(self, phases: dict[str, float]) -> None:
        with self._lock:
            for k, v in phases.items():
                self._stats[f"phase_{k}_s"] += float(v)


def _time_limit(timeout: float | None, settings: Settings) -> float:
    """The one rule for a job's time limit: `timeout` when given, else the settings' `timeout_s`."""
    return timeout if timeout is not None else settings.timeout_s


def _baselines_key(problem: Problem, settings: Settings) -> str:
    return f"{_home(problem.source)}|{problem.name}|{bool(settings.allow_tf32)}"


def _home(source: str | None) -> str | None:
    return hashlib.sha256(source.encode()).hexdigest()[:16] if source else None


def _payload_source(payload: Any) -> str | None:
    """The problem source a generation call works on ({"source"} or {"problem": {"source"}}), if any."""
    if not isinstance(payload, dict):
        return None
    source = payload.get("source")
    if source is None and isinstance(payload.get("problem"), dict):
        source = payload["problem"].get("source")
    return source if isinstance(source, str) else None


def _gpu_visible() -> bool:
    """Whether this machine shows an NVIDIA GPU to this process (device nodes, CUDA_VISIBLE_DEVICES), without
    importing torch: the generation lane is started beside the first worker, before its hello says more."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")


def _cpu_workers() -> int:
    try:
        return max(1, int(os.environ.get("TRITONIZE_CPU_WORKERS", "1")))
    except ValueError:
        return 1


# Result types callers get from this module (DeviceInfo, ProbeResult and the two errors are its API).
__all__ = ["DeviceInfo", "ProbeResult", "WorkerCallError", "WorkerStartError", "WorkerPool", "Finding", "Timing"]
