"""Inductor generator: torch.compile's own Triton kernels, exported as a standalone candidate.

Server side (no torch here, invariant 1). For each mode a CUDA verify worker compiles the problem
with Inductor and returns the capture record (worker entry point "inductor.capture":
worker/inductor_capture.py, `capture_for_export`);
this process turns the record into a candidate module with generate/inductor_export.py, which is
text work only. A mode whose output the exporter cannot reproduce gives no candidate; the reason
goes to the other modes' candidate notes, or into GeneratorSkipped when no mode succeeds.

`default` is captured twice: for the recipe's shapes (`inductor:default`, kernels specialised to them)
and with the dimensions a user varies marked dynamic (`inductor:default-dynamic`, kernels that take
those sizes as arguments; worker/shapes.py says which). Verification runs both on the shape family and
selection prefers the shape-general one unless the specialised one may be chosen. See docs/INDUCTOR.md.
"""

from __future__ import annotations

import time

from ..candidate import Candidate
from ..problem import Problem
from ..settings import Settings
from ..verify.pool import WorkerCallError
from . import GenerateContext, GeneratorSkipped
from .inductor_export import ExportError, export

CAPTURE_ENTRY = "inductor.capture"  # the worker entry point (worker/main.py: ENTRY_POINTS)
# default first: it is quick and usually the one to beat; max-autotune-triton benchmarks many GEMM
# and conv templates (about a minute on an H200 for a 2048² matmul).
MODES = ("default", "max-autotune-triton")
# Modes also captured with dynamic shapes. Not max-autotune-triton: a second autotuning run of every
# GEMM/conv template would double its minutes (its dynamic capture works: scripts/capture_inductor.py
# --dynamic --modes max-autotune-triton, tests/fixtures/inductor_dynamic/28_*).
DYNAMIC_MODES = ("default",)
# Modes captured once: with dynamic shapes, or for the recipe's shapes when shape_specialised allows
# such kernels. None today: the coordinate-descent mode (worker/inductor_capture.py) re-tunes the
# default's kernels, but on an H200 it was no faster than the default on pointwise, softmax, layer
# norm, GEMM epilogue and attention (docs/BENCHMARKS.md, session 5) while adding a compile per problem.
ONE_CAPTURE_MODES: tuple[str, ...] = ()
DEFAULT_CAPTURE_TIMEOUT_S = 300.0  # max-autotune gets settings.autotune_budget_s instead


class InductorGenerator:
    name = "inductor"

    def generate(self, problem: Problem, ctx: GenerateContext) -> list[Candidate]:
        if ctx.device.kind != "cuda":
            raise GeneratorSkipped("needs CUDA: Inductor generates GPU Triton code only where a GPU is visible "
                                   "(no GPU here)")
        candidates: list[Candidate] = []
        failures: list[str] = []
        captures = _captures(ctx.settings)
        for i, (mode, dynamic) in enumerate(captures):
            ctx.cancel.raise_if_cancelled()
            static_default = next((c for c in candidates if c.origin == "inductor:default"), None)
            if mode == "max-autotune-triton" and static_default is not None and not _uses_library_calls(static_default):
                # The default export is already all-Triton (no cuBLAS/cuDNN call to replace): max-autotune
                # would only re-tune the same kernels at several times the compile time.
                continue
            label = f"{mode}-dynamic" if dynamic else mode
            ctx.progress(f"torch.compile mode={mode}" + (" (dynamic shapes)" if dynamic else ""), i, len(captures))
            budget = DEFAULT_CAPTURE_TIMEOUT_S if mode == "default" else float(ctx.settings.autotune_budget_s)
            started = time.monotonic()
            payload = {"source": problem.source, "mode": mode, **({"dynamic": True} if dynamic else {})}
            try:
                record = ctx.pool.call(CAPTURE_ENTRY, payload, timeout=budget, cancel=ctx.cancel)
                result = export(record)
            except WorkerCallError as why:  # torch.compile itself failed on this module, or ran out of time
                if mode != "default" and "timed out" in str(why):
                    failures.append(f"{label}: stopped after its time budget of {budget:g} s "
                                    f"(autotune_budget_s; it had run {time.monotonic() - started:.0f} s)")
                else:
                    failures.append(f"{label}: torch.compile failed: {str(why).splitlines()[0][:300]}")
                continue
            except ExportError as why:
                failures.append(f"{label}: {why}")
                continue
            candidates.append(Candidate(code=result.code, origin=f"inductor:{label}", candidate_id=f"inductor:{label}",
                                        notes=list(result.notes)))
        ctx.progress(f"{len(candidates)} exported", len(captures), len(captures))
        if not candidates:
            raise GeneratorSkipped("inductor: nothing exportable — " + "; ".join(failures))
        for cand in candidates:
            cand.notes += [f"inductor mode not exported — {f}" for f in failures]
        return candidates


def _captures(settings: Settings) -> list[tuple[str, bool]]:
    """(mode, dynamic) in the order they are captured. The dynamic capture is left out when the user
    allows shape-specialised kernels (fixed-size inference: the recipe's shapes are the ones that run)."""
    out: list[tuple[str, bool]] = []
    specialised = bool(getattr(settings, "shape_specialised", False))
    for mode in MODES:
        if mode in ONE_CAPTURE_MODES:
            out.append((mode, not specialised))
            continue
        out.append((mode, False))
        if mode in DYNAMIC_MODES and not getattr(settings, "shape_specialised", False):
            out.append((mode, True))
    return out


def _uses_library_calls(candidate: Candidate) -> bool:
    return any(n.startswith("uses torch library call") for n in candidate.notes)
