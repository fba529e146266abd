"""The flows: Problem → generators → verifier → selection → Report, and one candidate → verdict.

The LSP and the CLI both call `convert` and `verify_one` (DESIGN.md, invariant 3); progress and
cancellation are parameters. Both flows start the verifier the same way, once (`_Verifier`):
start the pool, learn the device, probe the problem (its recipe and reference), submit candidates.
This module runs in the server/CLI process and never imports torch or triton: generators, the
verifier and the model host do their heavy work in child processes, which the caller owns (or, when
it passes none, this call does, closing them at the end).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from .cancel import Cancelled, CancelToken, ProgressEvent, ProgressFn, no_progress
from .candidate import Candidate
from .generate import GenerateContext, GeneratorSkipped, get_generator
from .generate.host_client import ModelHost
from .problem import Problem, ProblemError
from .report import CandidateResult, GeneratorRun, Report, RoundRecord
from .settings import Settings
from .store import Store
from .verify.pool import DeviceInfo, ProbeResult, WorkerPool, WorkerStartError


@dataclass
class Verification:
    """One candidate's verdict and what it was checked under (`tritonize verify`, the LSP's verify command)."""

    result: CandidateResult
    device: DeviceInfo
    probe: ProbeResult


def device_of(pool: WorkerPool, cancel: CancelToken | None = None) -> DeviceInfo:
    """Start the pool's workers and wait for the first one's hello: what verifies here. Raises
    WorkerStartError, or Cancelled when `cancel` is cancelled first."""
    pool.start()
    return pool.device_info(cancel=cancel)


class _Verifier:
    """One problem on a pool, in the only order that works: start the pool and learn the device,
    probe the problem, then submit candidates. Each step runs once and runs the steps before it,
    so a flow can stop in between (convert answers from the cache once it knows the device)."""

    def __init__(self, pool: WorkerPool, problem: Problem, settings: Settings, progress: ProgressFn,
                 cancel: CancelToken) -> None:
        self.pool, self.problem, self.settings = pool, problem, settings
        self.progress, self.cancel = progress, cancel
        self._device: DeviceInfo | None = None
        self._probe: ProbeResult | None = None

    def device(self) -> DeviceInfo:
        """Start the workers and wait for the first one's hello. Raises WorkerStartError."""
        if self._device is None:
            self.progress(ProgressEvent("load", "starting workers"))
            self._device = device_of(self.pool, self.cancel)
        return self._device

    def probe(self) -> ProbeResult:
        """Run the problem's recipe and reference once. Raises ProblemError when they fail."""
        if self._probe is None:
            self.device()
            self.cancel.raise_if_cancelled()
            self._probe = self.pool.probe(self.problem, self.settings, self.cancel)
            # eager + torch.compile times, measured beside the checks (GPU only; the pool says no otherwise)
            self.pool.start_baselines(self.problem, self.settings)
        return self._probe

    def submit(self, candidate: Candidate) -> Future[CandidateResult]:
        self.probe()
        self.cancel.raise_if_cancelled()
        return self.pool.submit(self.problem, candidate, self.settings, self.cancel)


def report_key(problem: Problem, settings: Settings, device: DeviceInfo) -> str:
    """Store key: module source + dependencies + input recipe (all in problem.source) + settings + device."""
    blob = json.dumps(
        {"problem": problem.source, "settings": settings.result_key_fields(), "device": device.name},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class _Collected:
    futures: list[tuple[Candidate, Future[CandidateResult]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def convert(
    problem: Problem,
    settings: Settings,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    *,
    pool: WorkerPool | None = None,
    store: Store | None = None,
    model_host: ModelHost | None = None,
) -> Report:
    """Convert one problem. Never raises for candidate failures; raises `Cancelled` when cancelled.

    `pool` and `model_host` are shared and kept warm by long-lived callers (the language server,
    the REPL, bench); each one omitted is started for this call and closed at the end.
    """
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    own_pool, own_host = pool is None, model_host is None
    if pool is None:
        pool = WorkerPool(settings)
    if model_host is None:
        model_host = ModelHost()  # starts no process until a local model is asked for
    try:
        return _convert(problem, settings, progress, cancel, pool, store, model_host)
    finally:
        if own_pool:
            pool.close()
        if own_host:
            model_host.close()


def verify_one(
    problem: Problem,
    candidate: Candidate,
    settings: Settings,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    *,
    pool: WorkerPool | None = None,
) -> Verification:
    """Verify one given candidate. Raises ProblemError (the problem's own recipe or reference
    fails), WorkerStartError (no verifier here) or Cancelled.

    Without `pool`, one is started for this call (no standby worker: one job, then it closes).
    """
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    own_pool = pool is None
    if pool is None:
        pool = WorkerPool(settings, standby=False, gen_lane=False)  # nothing to generate
    try:
        cancel.raise_if_cancelled()
        verifier = _Verifier(pool, problem, settings, progress, cancel)
        device = verifier.device()
        cancel.raise_if_cancelled()
        progress(ProgressEvent("load", "running the problem's recipe and reference"))
        probe = verifier.probe()
        progress(ProgressEvent("verify", f"verifying {candidate.candidate_id or candidate.origin}", 0, 1))
        result = verifier.submit(candidate).result()
        cancel.raise_if_cancelled()  # a cancelled job's result says "cancelled", which is no verdict
        pool.complete_baselines(problem, settings, [result])
        progress(ProgressEvent("verify", "verified", 1, 1))
        return Verification(result, device, probe)
    finally:
        if own_pool:
            pool.close()


def _convert(
    problem: Problem,
    settings: Settings,
    progress: ProgressFn,
    cancel: CancelToken,
    pool: WorkerPool,
    store: Store | None,
    model_host: ModelHost,
) -> Report:
    started = time.monotonic()
    progress(ProgressEvent("start", f"Tritonize {problem.name}"))
    verifier = _Verifier(pool, problem, settings, progress, cancel)
    try:
        device = verifier.device()
    except WorkerStartError as err:
        # No verifier here (torch/triton missing, or CUDA asked for without a GPU): a report, not a traceback.
        report = Report(problem_name=problem.name, path=problem.path, error=str(err), error_kind="no_verifier",
                        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        progress(ProgressEvent("done", f"cannot verify: {err}"))
        return report
    key = report_key(problem, settings, device)
    if store is not None and settings.use_cache:
        cached = store.get(key)
        if cached is not None:
            progress(ProgressEvent("done", "from cache"))
            return cached

    report = Report(
        problem_name=problem.name,
        key=key,
        path=problem.path,
        device=device.name,
        timed=device.timed and settings.time_candidates,
        versions=dict(device.versions),
        isolation=dict(device.sandbox),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        settings=settings.to_dict(),
    )
    cancel.raise_if_cancelled()
    try:
        probe = verifier.probe()
    except ProblemError as err:
        report.error = err.message
        report.error_kind = err.kind
        report.stage_seconds["total"] = time.monotonic() - started
        progress(ProgressEvent("done", f"problem error: {err.message}"))
        return report
    report.dtype = probe.dtype
    report.input_shapes = probe.input_shapes
    report.tolerance = probe.tolerance

    collected = _Collected()
    verified = [0]
    total = [0]

    def on_done(_: Future) -> None:
        with collected.lock:
            verified[0] += 1
            done, tot = verified[0], total[0]
        progress(ProgressEvent("verify", f"verifying {done}/{tot}", done, tot))

    def submit(cands: list[Candidate]) -> list[Future[CandidateResult]]:
        futures = []
        for cand in cands:
            fut = _with_prose(verifier.submit(cand), cand)
            with collected.lock:
                collected.futures.append((cand, fut))
                total[0] += 1
            fut.add_done_callback(on_done)
            futures.append(fut)
        return futures

    def on_text(seq: int, delta: str) -> None:
        progress(ProgressEvent("text", delta, sample=seq))

    # Generators run side by side; each one's candidates go to the verifier as soon as they exist,
    # so workers verify template candidates while a model is still sampling.
    gen_started = time.monotonic()
    runs: list[GeneratorRun] = []
    errors: list[BaseException] = []
    used_ids: set[str] = set()
    ids_lock = threading.Lock()
    rounds: list[RoundRecord] = []

    def run_generator(name: str) -> None:
        run = GeneratorRun(name=name)
        runs.append(run)
        t0 = time.monotonic()

        def emit(cands: list[Candidate]) -> list[Future[CandidateResult]]:
            """A generator hands candidates over as they come (the llm one, sample by sample)."""
            with ids_lock:
                for c in cands:
                    c.candidate_id = _unique_id(c.candidate_id or c.origin, used_ids)
                run.produced += len(cands)
            return submit(cands)

        ctx = GenerateContext(
            settings=settings,
            pool=pool,
            device=device,
            cancel=cancel,
            progress=lambda msg, d=0, t=0: progress(ProgressEvent("generate", f"{name}: {msg}", d, t)),
            model_host=model_host,
            on_text=on_text,
            emit=emit,
            on_round=rounds.append,
        )
        try:
            cands = get_generator(name).generate(problem, ctx)
            emit(cands)
            if not run.produced:
                run.skipped = run.skipped or "produced no candidates"
        except GeneratorSkipped as why:
            run.skipped = str(why)
        except Cancelled:
            pass
        except Exception as exc:  # a broken generator must not sink the others
            run.skipped = f"failed: {type(exc).__name__}: {exc}"
            errors.append(exc)
        finally:
            run.seconds = time.monotonic() - t0

    threads = [threading.Thread(target=run_generator, args=(g,), daemon=True) for g in settings.generators]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.stage_seconds["generate"] = time.monotonic() - gen_started
    report.generators = sorted(runs, key=lambda r: settings.generators.index(r.name))
    report.rounds = rounds
    cancel.raise_if_cancelled()

    verify_started = time.monotonic()
    results: list[CandidateResult] = []
    for _cand, fut in collected.futures:
        while not fut.done():
            if cancel.wait(0.05):
                raise Cancelled()
        results.append(fut.result())
    cancel.raise_if_cancelled()
    pool.complete_baselines(problem, settings, results)  # torch.compile's time, measured beside
    report.stage_seconds["verify"] = time.monotonic() - verify_started
    # Worker-side seconds spent timing (candidates + baselines), summed over candidates; part of "verify".
    timed = sum(r.phases.get("timing", 0.0) + r.phases.get("baselines", 0.0) for r in results)
    if timed:
        report.stage_seconds["time"] = timed
    report.results = results
    for r in results:
        if r.timing and r.timing.eager_ms:
            report.eager_ms = r.timing.eager_ms
            report.compile_ms = r.timing.compile_ms
            break
    best = select_best(results, shape_specialised=settings.shape_specialised)
    report.best = best.candidate_id if best else None
    report.stage_seconds["total"] = time.monotonic() - started
    if store is not None:
        store.put(report)
    outcome = f"best: {best.candidate_id}" if best else "no candidate passed"
    progress(ProgressEvent("done", outcome, len(results), len(results)))
    return report


def select_best(results: list[CandidateResult], shape_specialised: bool = False) -> CandidateResult | None:
    """Fastest correct candidate; ties (or no timings) broken by fewer kernels, then shorter code. Only
    candidates right on every shape tried qualify, unless `shape_specialised` (settings) lets a kernel
    made for the recipe's shapes alone be chosen."""
    passed = [r for r in results if r.passed and (shape_specialised or r.shape_general)]
    if not passed:
        return None

    def rank(r: CandidateResult) -> tuple:
        ms = r.timing.ms if r.timing else float("inf")
        return (ms, r.kernels_launched or 0, len(r.code))

    return min(passed, key=rank)


def _with_prose(fut: Future[CandidateResult], cand: Candidate) -> Future[CandidateResult]:
    """The verdict with the model's own words (candidate.prose) in it; they never go to a worker."""
    if not cand.prose:
        return fut
    out: Future[CandidateResult] = Future()

    def copy(done: Future[CandidateResult]) -> None:
        result = done.result()
        result.model_text = cand.prose
        out.set_result(result)

    fut.add_done_callback(copy)
    return out


def _unique_id(base: str, used: set[str]) -> str:
    candidate = base
    i = 2
    while candidate in used:
        candidate = f"{base}#{i}"
        i += 1
    used.add(candidate)
    return candidate
