"""Conversions and single-candidate verifications off the event loop, against one warm worker pool.

Runs in the language server process (no torch). `pipeline.convert` blocks for seconds to minutes,
so each conversion runs in a thread of its own and the server keeps answering every other request
meanwhile. The runner owns what the jobs share, for the server's lifetime: one `WorkerPool`, started
lazily on the first job (a server that never converts spawns no workers) and kept warm between
them, and one model host client (its process starts on the first local-model request). `close()`
ends both. With `concurrency: "queue"` conversions run one at a time in request order; with
"parallel" they share the pool at once. A verification (`tritonize.verifyCandidate`,
`pipeline.verify_one`) is one pool job: it never waits for the queue, the pool's own job queue
orders it among a running conversion's candidates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..cancel import Cancelled, CancelToken, ProgressEvent, ProgressFn
from ..candidate import Candidate
from ..problem import Problem
from ..report import Report
from ..settings import Settings
from .logs import pool_log

# pipeline.py and the pool are loaded on the first job, not at server start (start-up latency).
if TYPE_CHECKING:
    from ..generate.host_client import ModelHost
    from ..pipeline import Verification
    from ..verify.pool import WorkerPool

log = logging.getLogger("tritonize.lsp")


@dataclass(eq=False)  # identity semantics: jobs live in a set
class Job:
    problem: Problem
    settings: Settings
    token: CancelToken = field(default_factory=CancelToken)
    future: Future = field(default_factory=Future)  # Report (conversion) or Verification


def _without_model_text(progress: ProgressFn) -> ProgressFn:
    """The editor shows stages, not the model's text: streamed text stays in this thread."""

    def forward(ev: ProgressEvent) -> None:
        if ev.stage != "text":
            progress(ev)

    return forward


def _host_python(settings: Settings) -> str:
    from .. import worker_python

    return worker_python.resolve(settings.worker_python)


def _pool_key(settings: Settings) -> tuple:
    """Settings the pool is built from: a change means a fresh pool for the next conversion."""
    return (settings.device, tuple(settings.devices or ()), settings.timeout_s, settings.worker_python)


class ConversionRunner:
    def __init__(self, store_for: Callable[[Settings], object | None], max_parallel: int = 4) -> None:
        self._store_for = store_for
        self._executor = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="tritonize-convert")
        self._queue_lock = threading.Lock()  # held by the running conversion in "queue" mode
        self._pool_lock = threading.Lock()
        self._pool: WorkerPool | None = None
        self._pool_key: tuple | None = None
        self._model_host: ModelHost | None = None  # created by the first conversion, closed in close()
        self._jobs: set[Job] = set()
        self._jobs_lock = threading.Lock()
        self._closed = False

    # ---- the pool ---------------------------------------------------------------------------

    def _get_pool(self, settings: Settings) -> WorkerPool:
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
    def pool(self) -> WorkerPool | None:
        return self._pool

    def _get_model_host(self, settings: Settings) -> ModelHost:
        from ..generate.host_client import ModelHost

        with self._pool_lock:
            if self._closed:
                raise Cancelled()
            if self._model_host is not None and self._model_host.python != _host_python(settings):
                log.info("the worker Python changed; restarting the model host")
                self._model_host.close()
                self._model_host = None
            if self._model_host is None:
                self._model_host = ModelHost(python=settings.worker_python)
            return self._model_host

    # ---- jobs -------------------------------------------------------------------------------

    def running(self) -> int:
        with self._jobs_lock:
            return len(self._jobs)

    def submit(self, problem: Problem, settings: Settings, progress: ProgressFn) -> Job:
        """Start a conversion; `job.future` gets the Report or raises Cancelled / an error."""
        return self._start(Job(problem, settings), self._convert, _without_model_text(progress))

    def submit_verify(self, problem: Problem, candidate: Candidate, settings: Settings,
                      progress: ProgressFn) -> Job:
        """Verify one candidate; `job.future` gets a Verification or raises Cancelled,
        ProblemError (the problem's recipe or reference fails) or WorkerStartError."""
        return self._start(Job(problem, settings), lambda j, p: self._verify(j, candidate, p), progress)

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
        """A cancelled job's busy workers are killed by the pool through the token, and its wait for
        the first worker ends at once. When the pool is still starting and the cancelled job was its
        only user, drop the pool too: nobody asked for the half-started worker any more (the next job
        starts a fresh pool)."""
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
                           pool=self._get_pool(job.settings), store=store, model_host=self._get_model_host(job.settings))
        finally:
            if held:
                self._queue_lock.release()

    def _verify(self, job: Job, candidate: Candidate, progress: ProgressFn) -> Verification:
        """`pipeline.verify_one`, the flow of `tritonize verify`, on the shared warm pool."""
        from ..pipeline import verify_one

        job.token.raise_if_cancelled()
        return verify_one(job.problem, candidate, job.settings, progress, job.token,
                          pool=self._get_pool(job.settings))

    def _wait_turn(self, job: Job, progress: ProgressFn) -> bool:
        if self._queue_lock.acquire(blocking=False):
            return True
        progress(ProgressEvent("load", "queued behind another conversion"))
        while not self._queue_lock.acquire(timeout=0.1):
            job.token.raise_if_cancelled()
        return True

    # ---- shutdown ---------------------------------------------------------------------------

    def close(self) -> None:
        """Cancel running conversions, close the pool and the model host: no child process remains."""
        with self._jobs_lock:
            self._closed = True
            jobs = list(self._jobs)
        for job in jobs:
            job.token.cancel()  # a sampling model host stops within CANCEL_GRACE_S, so close() below returns
        with self._pool_lock:
            pool, self._pool = self._pool, None
            host, self._model_host = self._model_host, None
        for what, child in (("worker pool", pool), ("model host", host)):
            if child is not None:
                try:
                    child.close()
                except Exception:
                    log.exception("closing the %s failed", what)
        self._executor.shutdown(wait=False, cancel_futures=True)
