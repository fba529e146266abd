"""Conversions off the event loop, against one warm worker pool.

`pipeline.convert` blocks for seconds to minutes, so each conversion runs in a thread of its own
and the server keeps answering every other request meanwhile. One `WorkerPool` is shared by all
conversions: started lazily on the first one (a server that never converts spawns no workers),
kept warm between them, closed on shutdown. With `concurrency: "queue"` conversions run one at a
time in request order; with "parallel" they share the pool at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ..cancel import Cancelled, CancelToken, ProgressEvent, ProgressFn
from ..problem import Problem
from ..report import Report
from ..settings import Settings

log = logging.getLogger("tritonize.lsp")


@dataclass(eq=False)  # identity semantics: jobs live in a set
class Job:
    problem: Problem
    settings: Settings
    token: CancelToken = field(default_factory=CancelToken)
    future: Future[Report] = field(default_factory=Future)


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
                self._pool = WorkerPool(settings, log=lambda msg: log.info("pool: %s", msg))
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
        job = Job(problem, settings)
        with self._jobs_lock:
            if self._closed:
                job.future.set_exception(Cancelled())
                return job
            self._jobs.add(job)
        job.token.on_cancel(lambda: self._on_cancel(job))
        self._executor.submit(self._run, job, progress)
        return job

    def _on_cancel(self, job: Job) -> None:
        """A cancelled job's busy workers are killed by the pool through the token. A pool still
        starting up does not see tokens yet: when the cancelled job was its only user, drop it, so
        the half-started worker goes too (the next conversion starts a fresh pool)."""
        with self._pool_lock:
            pool = self._pool
            if pool is None or "startup_s" in pool.stats() or self.running() > 1:
                return
            self._pool = None
        log.info("conversion cancelled while workers were starting; stopping them")
        # Not on the caller's thread (the event loop): closing joins worker threads.
        threading.Thread(target=pool.close, name="tritonize-pool-close", daemon=True).start()

    def _run(self, job: Job, progress: ProgressFn) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        held = False
        try:
            if job.settings.concurrency == "queue":
                held = self._wait_turn(job, progress)
            job.token.raise_if_cancelled()
            from ..pipeline import convert

            store = self._store_for(job.settings)
            report = convert(job.problem, job.settings, progress, job.token,
                             pool=self._get_pool(job.settings), store=store)
            job.future.set_result(report)
        except BaseException as exc:  # the future carries it to the request that waits
            job.future.set_exception(exc)
        finally:
            if held:
                self._queue_lock.release()
            with self._jobs_lock:
                self._jobs.discard(job)

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
