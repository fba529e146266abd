"""Conversions and single-candidate verifications off the event loop, against one warm worker pool.

`pipeline.convert` blocks for seconds to minutes, so each conversion runs in a thread of its own
and the server keeps answering every other request meanwhile. One `WorkerPool` is shared by all
jobs: started lazily on the first one (a server that never converts spawns no workers), kept warm
between them, closed on shutdown. With `concurrency: "queue"` conversions run one at a time in
request order; with "parallel" they share the pool at once. A verification
(`tritonize.verifyCandidate`) is one pool job: it never waits for the queue, the pool's own job
queue orders it among a running conversion's candidates.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ..cancel import Cancelled, CancelToken, ProgressEvent, ProgressFn
from ..candidate import Candidate
from ..problem import Problem
from ..report import CandidateResult, Report
from ..settings import Settings
from .logs import pool_log

log = logging.getLogger("tritonize.lsp")


@dataclass(eq=False)  # identity semantics: jobs live in a set
class Job:
    problem: Problem
    settings: Settings
    token: CancelToken = field(default_factory=CancelToken)
    future: Future = field(default_factory=Future)  # Report (conversion) or Verification
    # The job may sit in `pool.device_info()` while the first worker starts, which no token
    # reaches: cancelling it then has to close the pool (see `_on_cancel`).
    uncancellable_start: bool = True


@dataclass
class Verification:
    """What `tritonize.verifyCandidate` answers: the verdict and what it was checked under."""

    result: CandidateResult
    device: object  # verify.pool.DeviceInfo (not imported at module level: the pool is loaded lazily)
    probe: object  # verify.pool.ProbeResult


def device_info_cancellable(pool) -> bool:
    """Does `WorkerPool.device_info` (a pool or the class) take a `cancel` token? Checked at run
    time: a pool that gains it lets a verification be cancelled while the first worker starts."""
    try:
        return "cancel" in inspect.signature(pool.device_info).parameters
    except (TypeError, ValueError):
        return False


def _pool_key(settings: Settings) -> tuple:
    """Settings the pool is built from: a change means a fresh pool for the next conversion."""
    return (settings.device, tuple(settings.devices or ()), settings.timeout_s)


class ConversionRunner:
    def __init__(self, store_for: Callable[[Settings], object | None], max_parallel: int = 4) -> None:
        self._store_for = store_for
        self._executor = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="tritonize-convert")
        self._queue_lock = threading.Lock()  # held by the running conversion in "queue" mode
        self._pool_lock = threading.Lock()
        self._pool = None
        self._pool_key: tuple | None = None
        self._jobs: set[Job] = set()
        self._jobs_lock = threading.Lock()
        self._closed = False

    # ---- the pool ---------------------------------------------------------------------------

    def _get_pool(self, settings: Settings):
        # Imported here: verify/pool.py is server-side (no torch) but only conversions need it.
        from ..verify.pool import WorkerPool

        with self._pool_lock:
            if self._closed:
                raise Cancelled()
            key = _pool_key(settings)
            if self._pool is not None and key != self._pool_key and self.running() <= 1:
                log.info("settings that shape the worker pool changed; restarting it")
                self._pool.close()
                self._pool = None
            if self._pool is None:
                self._pool = WorkerPool(settings, log=pool_log(log))
                self._pool_key = key
            return self._pool

    @property
    def pool(self):
        return self._pool

    # ---- jobs -------------------------------------------------------------------------------

    def running(self) -> int:
        with self._jobs_lock:
            return len(self._jobs)

    def submit(self, problem: Problem, settings: Settings, progress: ProgressFn) -> Job:
        """Start a conversion; `job.future` gets the Report or raises Cancelled / an error."""
        # pipeline.convert calls `pool.device_info()` without a token: its start is never cancellable.
        return self._start(Job(problem, settings), self._convert, progress)

    def submit_verify(self, problem: Problem, candidate: Candidate, settings: Settings,
                      progress: ProgressFn) -> Job:
        """Verify one candidate; `job.future` gets a Verification or raises Cancelled,
        ProblemError (the problem's recipe or reference fails) or WorkerStartError."""
        from ..verify.pool import WorkerPool

        job = Job(problem, settings, uncancellable_start=not device_info_cancellable(WorkerPool))
        return self._start(job, lambda j, p: self._verify(j, candidate, p), progress)

    def _start(self, job: Job, work: Callable[[Job, ProgressFn], object], progress: ProgressFn) -> Job:
        with self._jobs_lock:
            if self._closed:
                job.future.set_exception(Cancelled())
                return job
            self._jobs.add(job)
        job.token.on_cancel(lambda: self._on_cancel(job))
        self._executor.submit(self._run, job, work, progress)
        return job

    def _on_cancel(self, job: Job) -> None:
        """A cancelled job's busy workers are killed by the pool through the token. A pool still
        starting up does not see tokens (unless its `device_info` takes one): when the cancelled job
        was its only user, drop it, so the half-started worker goes too and the job's thread stops
        waiting for it (the next job starts a fresh pool)."""
        if not job.uncancellable_start:
            return
        with self._pool_lock:
            pool = self._pool
            if pool is None or "startup_s" in pool.stats() or self.running() > 1:
                return
            self._pool = None
        log.info("job cancelled while workers were starting; stopping them")
        # Not on the caller's thread (the event loop): closing joins worker threads.
        threading.Thread(target=pool.close, name="tritonize-pool-close", daemon=True).start()

    def _run(self, job: Job, work: Callable[[Job, ProgressFn], object], progress: ProgressFn) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            job.future.set_result(work(job, progress))
        except BaseException as exc:  # the future carries it to the request that waits
            job.future.set_exception(exc)
        finally:
            with self._jobs_lock:
                self._jobs.discard(job)

    def _convert(self, job: Job, progress: ProgressFn) -> Report:
        held = False
        try:
            if job.settings.concurrency == "queue":
                held = self._wait_turn(job, progress)
            job.token.raise_if_cancelled()
            from ..pipeline import convert

            store = self._store_for(job.settings)
            return convert(job.problem, job.settings, progress, job.token,
                           pool=self._get_pool(job.settings), store=store)
        finally:
            if held:
                self._queue_lock.release()

    def _verify(self, job: Job, candidate: Candidate, progress: ProgressFn) -> Verification:
        """The same steps as `tritonize verify`: device, probe (a broken recipe is the problem's
        fault, said as such), then the candidate, all on the shared warm pool."""
        token, settings = job.token, job.settings
        token.raise_if_cancelled()
        pool = self._get_pool(settings)
        progress(ProgressEvent("load", "starting workers"))
        pool.start()
        device = pool.device_info(cancel=token) if device_info_cancellable(pool) else pool.device_info()
        token.raise_if_cancelled()
        progress(ProgressEvent("load", "running the problem's recipe and reference"))
        probe = pool.probe(job.problem, settings, token)
        progress(ProgressEvent("verify", f"verifying {candidate.candidate_id or candidate.origin}", 0, 1))
        result = pool.submit(job.problem, candidate, settings, token).result()
        token.raise_if_cancelled()  # a cancelled job's result says "cancelled", which is no verdict
        progress(ProgressEvent("verify", "verified", 1, 1))
        return Verification(result, device, probe)

    def _wait_turn(self, job: Job, progress: ProgressFn) -> bool:
        if self._queue_lock.acquire(blocking=False):
            return True
        progress(ProgressEvent("load", "queued behind another conversion"))
        while not self._queue_lock.acquire(timeout=0.1):
            job.token.raise_if_cancelled()
        return True

    # ---- shutdown ---------------------------------------------------------------------------

    def close(self) -> None:
        """Cancel running conversions and close the pool: no worker or model host remains."""
        with self._jobs_lock:
            self._closed = True
            jobs = list(self._jobs)
        for job in jobs:
            job.token.cancel()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            try:
                pool.close()
            except Exception:
                log.exception("closing the worker pool failed")
        self._executor.shutdown(wait=False, cancel_futures=True)
