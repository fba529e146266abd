"""The one pipeline: Problem → generators → verifier → selection → Report (DESIGN.md, data flow).

The LSP and the CLI both call `convert`; progress and cancellation are parameters. This module runs
in the server/CLI process and never imports torch or triton: generators and the verifier do their
heavy work in child processes.
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
from .problem import Problem, ProblemError
from .report import CandidateResult, GeneratorRun, Report
from .settings import Settings
from .store import Store
from .verify.pool import DeviceInfo, WorkerPool, WorkerStartError


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
) -> Report:
    """Convert one problem. Never raises for candidate failures; raises `Cancelled` when cancelled.

    `pool` is shared and kept warm by long-lived callers (the language server); when omitted, a
    pool is started for this call and closed at the end.
    """
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    own_pool = pool is None
    if pool is None:
        pool = WorkerPool(settings)
    try:
        return _convert(problem, settings, progress, cancel, pool, store)
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
) -> Report:
    started = time.monotonic()
    progress(ProgressEvent("start", f"Tritonize {problem.name}"))
    pool.start()
    progress(ProgressEvent("load", "starting workers"))
    try:
        device = pool.device_info()
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
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        settings=settings.to_dict(),
    )
    cancel.raise_if_cancelled()
    try:
        probe = pool.probe(problem, settings, cancel)
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

    def submit(cands: list[Candidate]) -> None:
        for cand in cands:
            cancel.raise_if_cancelled()
            fut = pool.submit(problem, cand, settings, cancel)
            with collected.lock:
                collected.futures.append((cand, fut))
                total[0] += 1
            fut.add_done_callback(on_done)

    # Generators run side by side; each one's candidates go to the verifier as soon as they exist,
    # so workers verify template candidates while a model is still sampling.
    gen_started = time.monotonic()
    runs: list[GeneratorRun] = []
    errors: list[BaseException] = []
    used_ids: set[str] = set()
    ids_lock = threading.Lock()

    def run_generator(name: str) -> None:
        run = GeneratorRun(name=name)
        runs.append(run)
        t0 = time.monotonic()
        ctx = GenerateContext(
            settings=settings,
            pool=pool,
            device=device,
            cancel=cancel,
            progress=lambda msg, d=0, t=0: progress(ProgressEvent("generate", f"{name}: {msg}", d, t)),
        )
        try:
            cands = get_generator(name).generate(problem, ctx)
            with ids_lock:
                for c in cands:
                    c.candidate_id = _unique_id(c.candidate_id or c.origin, used_ids)
            run.produced = len(cands)
            if not cands:
                run.skipped = run.skipped or "produced no candidates"
            submit(cands)
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
    cancel.raise_if_cancelled()

    verify_started = time.monotonic()
    results: list[CandidateResult] = []
    for _cand, fut in collected.futures:
        while not fut.done():
            if cancel.wait(0.05):
                raise Cancelled()
        results.append(fut.result())
    cancel.raise_if_cancelled()
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
    best = select_best(results)
    report.best = best.candidate_id if best else None
    report.stage_seconds["total"] = time.monotonic() - started
    if store is not None:
        store.put(report)
    outcome = f"best: {best.candidate_id}" if best else "no candidate passed"
    progress(ProgressEvent("done", outcome, len(results), len(results)))
    return report


def select_best(results: list[CandidateResult]) -> CandidateResult | None:
    """Fastest correct candidate; ties (or no timings) broken by fewer kernels, then shorter code."""
    passed = [r for r in results if r.passed]
    if not passed:
        return None

    def rank(r: CandidateResult) -> tuple:
        ms = r.timing.ms if r.timing else float("inf")
        return (ms, r.kernels_launched or 0, len(r.code))

    return min(passed, key=rank)


def _unique_id(base: str, used: set[str]) -> str:
    candidate = base
    i = 2
    while candidate in used:
        candidate = f"{base}#{i}"
        i += 1
    used.add(candidate)
    return candidate
