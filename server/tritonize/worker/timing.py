"""GPU timing inside a verify worker, `triton.testing.do_bench` style (DESIGN.md, verification contract).

Method: one call to warm up (JIT, autotuning), a short estimate, then warm-up runs for ~25 ms and
timed runs for ~100 ms (at least 20, at most 1000). Before every timed run a 256 MB buffer is
zeroed so each run starts with a cold L2 cache; CUDA events bracket the function alone; the
median is reported. Eager and torch.compile (default mode) of the reference are measured the same
way on the same inputs, once per (worker, problem). Every measurement runs with the device to itself
(`JobContext.exclusive`: the pool pauses the other workers on the GPU meanwhile).
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch

L2_FLUSH_BYTES = 256 << 20
WARMUP_MS = 25.0
REP_MS = 100.0
MIN_RUNS = 20
MAX_RUNS = 1000


@dataclass
class Bench:
    ms: float  # median
    runs: int
    min_ms: float
    max_ms: float


def bench(fn: Callable[[], Any], device: torch.device, *, warmup_ms: float = WARMUP_MS, rep_ms: float = REP_MS,
          min_runs: int = MIN_RUNS, max_runs: int = MAX_RUNS) -> Bench:
    """Median time of `fn()` in milliseconds, L2 flushed before each run."""
    with torch.cuda.device(device):
        flush = torch.empty(L2_FLUSH_BYTES // 4, dtype=torch.int32, device=device)
        fn()  # JIT compile / autotune outside the measurement
        torch.cuda.synchronize()

        # Estimate the per-run time to size warm-up and measurement.
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(5):
            flush.zero_()
            fn()
        end.record()
        torch.cuda.synchronize()
        estimate = max(start.elapsed_time(end) / 5, 1e-3)

        n_warmup = max(1, int(warmup_ms / estimate))
        n_runs = min(max_runs, max(min_runs, int(rep_ms / estimate)))
        for _ in range(n_warmup):
            fn()
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(n_runs)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(n_runs)]
        for i in range(n_runs):
            flush.zero_()
            starts[i].record()
            fn()
            ends[i].record()
        torch.cuda.synchronize()
        times = [s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)]
        del flush
    return Bench(ms=statistics.median(times), runs=n_runs, min_ms=min(times), max_ms=max(times))


def baselines(model: torch.nn.Module, inputs: list, device: torch.device,
              exclusive: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
              stage: Callable[[str], None] = lambda _s: None) -> dict[str, Any]:
    """Eager and torch.compile medians of the reference on `inputs` (compile failure recorded, not raised).
    torch.compile's compilation (seconds of CPU) runs outside `exclusive()`, the measurements inside."""
    out: dict[str, Any] = {"eager_ms": None}
    with torch.no_grad():
        stage("timing the eager baseline")
        with exclusive():
            out["eager_ms"] = bench(lambda: model(*inputs), device).ms
    out.update(compile_baseline(model, inputs, device, exclusive, stage))
    return out


def compile_baseline(model: torch.nn.Module, inputs: list, device: torch.device,
                     exclusive: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
                     stage: Callable[[str], None] = lambda _s: None) -> dict[str, Any]:
    """{"compile_ms", "compile_error"}: torch.compile (default mode) of `model` timed on `inputs`; the
    compilation runs outside `exclusive()`, the measurement inside; a failure is recorded, not raised."""
    out: dict[str, Any] = {"compile_ms": None, "compile_error": None}
    with torch.no_grad():
        try:
            stage("compiling the torch.compile baseline")
            compiled = torch.compile(model)
            compiled(*inputs)
            torch.cuda.synchronize(device)
            stage("timing the torch.compile baseline")
            with exclusive():
                out["compile_ms"] = bench(lambda: compiled(*inputs), device).ms
        except Exception as e:  # a module torch.compile cannot handle still gets an eager baseline
            lines = [ln for ln in str(e).splitlines() if ln.strip()]
            out["compile_error"] = f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]
    return out
