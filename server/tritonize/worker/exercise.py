"""After the seeds pass: the candidate meets inputs `randn` never makes, and is called again and again.

- **Stress families** (stress.py): one seed's inputs bent into constant rows, a large offset, zeros,
  ... The candidate runs first, then the reference, on equal copies; NaN/Inf where the reference is
  finite, or a miss of the tolerance, fails with the family named ("fails on constant rows: NaN at
  out[3, 0] (the module gives 0; ...)"). Families that make the reference raise or give more NaN/Inf
  than on the seed are skipped, and the `stress` finding lists what was tried and skipped. Bent inputs
  can be ill-conditioned (a +100 offset under a layer norm makes the module's own fp32 result miss
  1e-4): a candidate that misses the tolerance is then measured against the module run in fp64, and
  passes when it is no more than 4× as far from it as the module's own fp32 output. One family at a
  time, its copies freed before the next.
- **Repeat calls**: each seed's own candidate model is called again on that seed's inputs, cycling
  over the seeds, and compared with the reference output already computed for them (the candidate ran
  first on each, so keeping that output gives nothing away). A candidate that counts its calls, or
  watches the clock, and switches to a wrong answer after the few calls a verifier makes, fails with
  the call named ("call 9 of forward (seed 1234) differs: ..."). An output identical to the
  candidate's own first output on that seed (a private copy, which matched the reference) passes
  without the full comparison: with gigabyte outputs, one pass over memory instead of about ten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..report import Finding, Tolerance
from . import stress
from .checks import first_mutated, identical
from .compare import compare
from .errors import RecipeError, Verdict
from .runner import CandidateRunner, SeedRun
from .trees import clone_tree, tensors

REPEAT_CALLS = 12  # after the seeds; plus one per seed after timing on a GPU


def repeat_calls(runner: CandidateRunner, runs: list[SeedRun], tol: Tolerance, count: int, when: str = "") -> None:
    """`count` more calls of forward, cycling over the seeds' models and inputs, each compared with the
    reference's output for those inputs."""
    for i in range(count):
        run = runs[i % len(runs)]
        runner.ctx.stage(f"ModelNew.forward again (seed {run.seed}{when})")
        out, given, failure = runner.forward(run.candidate, run.inputs)
        label = f"call {runner.forward_calls} of forward (seed {run.seed}{when})"
        if failure is not None:
            raise Verdict(failure.kind, f"{label} failed: {failure.message}", recycle=failure.recycle)
        mutated = first_mutated(run.inputs, given)
        if mutated and not run.ref_mutates:
            raise Verdict("cheat", f"{label} modified {mutated} (the reference leaves its inputs unchanged)")
        if not identical(out, run.first_out):  # else it matches as the first output did (one pass, not ~10)
            try:
                compare(out, run.ref_out, tol)
            except Verdict as v:
                raise Verdict("mismatch", f"{label} differs: {v.message}", stats=v.stats) from None
        del out, given
        runner.release()


def stress_families(runner: CandidateRunner, run: SeedRun, tol: Tolerance,
                    reference: Callable[[list], Any], reference64: Callable[[Any], Any] | None = None) -> Finding | None:
    """Every family of stress.FAMILIES that changes `run`'s inputs, one at a time. `reference(inputs)`
    runs the reference (RecipeError when it raises); `reference64(inputs)` an fp64 copy of it, the second
    opinion when a candidate misses the tolerance on a family (`_against_fp64`)."""
    tried: list[str] = []
    skipped: list[str] = []
    baseline = _nonfinite(run.ref_out)
    for family in stress.FAMILIES:
        inputs = stress.apply(family, run.inputs)
        if inputs is None:
            continue
        why, note = _one_family(runner, run, family, inputs, tol, reference, baseline, reference64)
        if why:
            skipped.append(f"{family.name} ({why})")
        else:
            tried.append(f"{family.name} ({note})" if note else family.name)
        del inputs
        runner.release()
    if not tried and not skipped:
        return None
    text = f"stress inputs from seed {run.seed}: passed {', '.join(tried) or 'none'}"
    if skipped:
        text += f"; skipped {', '.join(skipped)}"
    return Finding(rule="stress", message=text, fatal=False, line=None)


def _one_family(runner: CandidateRunner, run: SeedRun, family: stress.Family, inputs: Any, tol: Tolerance,
                reference: Callable[[list], Any], baseline: int,
                reference64: Callable[[Any], Any] | None = None) -> tuple[str | None, str | None]:
    """Raise the Verdict of a candidate that fails on this family; else (why it was skipped, None) or
    (None, a note on how it passed, if not plainly)."""
    runner.ctx.stage(f"ModelNew.forward on {family.name} (seed {run.seed})")
    out, _given, failure = runner.forward(run.candidate, inputs)  # the candidate first, as for seeds
    if failure is not None and failure.kind == "crash":
        raise failure
    runner.ctx.stage(f"reference forward on {family.name} (seed {run.seed})")
    try:
        ref_out = reference(clone_tree(inputs))
    except RecipeError as e:
        return f"the module raises: {str(e).split(' raised ', 1)[-1]}", None
    if _nonfinite(ref_out) > baseline:
        return "the module gives NaN/Inf", None
    label = f"fails on {family.name}"
    if failure is not None:
        raise Verdict(failure.kind, f"{label}: {failure.message} (inputs from seed {run.seed})")
    try:
        compare(out, ref_out, tol)
    except Verdict as v:
        # Bent inputs can be ill-conditioned (a +100 offset under a norm): then the module's own fp32
        # result is off by more than the tolerance too. The second opinion is the module in fp64.
        judged = _against_fp64(out, ref_out, inputs, reference64)
        if judged is not None and judged[0]:
            return None, f"off the module's fp32 result, which is off itself: {judged[1]}"
        more = f"; {judged[1]}" if judged is not None else ""
        raise Verdict("mismatch", f"{label}: {v.message} (inputs from seed {run.seed}{more})", stats=v.stats) from None
    return None, None


FP64_SLACK = 4.0  # a candidate may be off the fp64 result by this many times the module's own fp32 error


def _against_fp64(out: Any, ref_out: Any, inputs: Any,
                  reference64: Callable[[Any], Any] | None) -> tuple[bool, str] | None:
    """(passes, what was measured) when the candidate's output is as close to the module's fp64 result as
    the module's own fp32 output is (within FP64_SLACK×, and finite where that is); None when the
    module does not run in fp64 or the outputs are not floating-point tensors."""
    if reference64 is None:
        return None
    try:
        truth = reference64(_to_fp64(inputs))
    except Exception:  # noqa: BLE001 - a module that cannot run in fp64 gets the plain verdict
        return None
    pairs = list(zip(tensors(out), tensors(ref_out), tensors(truth), strict=False))
    if not pairs or len(pairs) != len(list(tensors(ref_out))):
        return None
    worst_c = worst_r = 0.0
    for (_, c), (_, r), (_, t) in pairs:
        if not (c.is_floating_point() and t.is_floating_point()) or c.shape != t.shape:
            return None
        t = t.double()
        c64, r64 = c.double(), r.double()
        if bool((~torch.isfinite(c64) & torch.isfinite(t)).any()):
            return False, "NaN/Inf where the module's fp64 result is finite"
        finite = torch.isfinite(t)
        worst_c = max(worst_c, float(torch.where(finite, (c64 - t).abs(), 0).max()))
        worst_r = max(worst_r, float(torch.where(finite, (r64 - t).abs(), 0).max()))
    ok = worst_c <= FP64_SLACK * worst_r
    return ok, (f"max |Δ| from the module in fp64 {worst_c:.3g}, the module's own fp32 result's "
                f"{worst_r:.3g}{'' if ok else f' (more than {FP64_SLACK:g}× as far)'}")


def _to_fp64(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.double() if obj.is_floating_point() else obj
    if isinstance(obj, (list, tuple)):
        items = [_to_fp64(o) for o in obj]
        return items if isinstance(obj, list) else tuple(items)
    if isinstance(obj, dict):
        return {k: _to_fp64(v) for k, v in obj.items()}
    return obj


def _nonfinite(out: Any) -> int:
    return sum(int((~torch.isfinite(t)).sum()) for _, t in tensors(out) if t.is_floating_point() or t.is_complex())
