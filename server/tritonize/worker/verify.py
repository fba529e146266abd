"""The worker's two verification entry points, top to bottom (DESIGN.md, verification contract).

`probe` runs the recipe and the reference once. `verify` judges one candidate: static scan, syntax,
import, then for every seed: fresh inputs, equal copies for both models, weights copied with
`load_state_dict`, allocator poisoned, the candidate run FIRST (it cannot read this seed's
reference output), then the reference; then the runtime checks (a Triton kernel launched, no
aliasing, no input mutation) and the numeric comparison. On a GPU it is then timed (timing.py).

Runs only inside a verify worker (imports torch and triton). The pieces live next door: inputs.py
(problem, seeds, reference), compare.py (tolerance, comparison), checks.py (runtime checks),
candidate_module.py (importing the candidate), timing.py.
"""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..report import CandidateResult, Finding, Timing, Tolerance
from ..wire.messages import ProbeJob, ProbeResult, VerifyJob
from . import static
from .candidate_module import CandidateModule
from .checks import aliases, first_mutated, guarded, launches, poison, synchronize, torch_ops_finding
from .compare import Stats, compare, output_dtype, set_precision, tolerance
from .context import JobContext
from .errors import RecipeError, Verdict
from .guards import TorchOpRecorder
from .inputs import (
    BASE_SEED,
    SEED_ENV,
    LoadedProblem,
    build_reference,
    input_seed_base,
    load_problem,
    recipe,
    run_reference,
    seed_all,
)
from .timing import baselines, bench
from .trees import clone_tree, describe, nbytes, tensors

FRESH_SEED_OFFSET = 1000  # re-check after suspicious timings uses seeds nobody saw before
SUSPICIOUS_SPEEDUP = 10.0


# ---- probe ------------------------------------------------------------------------------------------


def probe(job: ProbeJob, ctx: JobContext) -> ProbeResult:
    """Run the recipe and the reference once: dtype, shapes and tolerance, or RecipeError."""
    set_precision(job.options.allow_tf32)
    ctx.stage("loading the problem")
    loaded = load_problem(job.source, job.class_name, ctx.job_dir)
    ctx.stage("running the recipe")
    init, inputs = recipe(loaded, BASE_SEED, ctx.device)
    model = build_reference(loaded, init, BASE_SEED, ctx.device)
    ctx.stage("running the reference")
    out = run_reference(model, inputs, ctx.device)
    if not any(True for _ in tensors(out)):
        raise RecipeError(f"{type(model).__name__}.forward returned {describe(out)}; expected tensors")
    dtype = output_dtype(out)
    return ProbeResult(dtype=dtype, input_shapes=[describe(x) for x in inputs],
                       output_shapes=[describe(t) for _, t in tensors(out)], tolerance=tolerance(dtype, job.options),
                       output_bytes=nbytes(out))


# ---- verify ------------------------------------------------------------------------------------------


def verify(job: VerifyJob, ctx: JobContext) -> CandidateResult:
    """Judge one candidate. Every failure is a verdict in the result; only worker bugs raise."""
    run = Verification(job, ctx)
    try:
        run.judge()
    except Verdict as v:
        return run.result(ctx.stop(v))
    except RecipeError as e:
        return run.result(Verdict("problem", str(e)))
    finally:
        run.module.unload()
    return run.result()


@dataclass
class SeedRun:
    """One seed that passed: the two models and the pristine inputs (timing reuses the first)."""

    reference: torch.nn.Module
    candidate: torch.nn.Module
    inputs: list
    stats: Stats


@dataclass
class Verification:
    """One candidate's verification: what every step needs, and what the steps found so far (the result
    reports that whether the candidate passes or is stopped part-way)."""

    job: VerifyJob
    ctx: JobContext
    module: CandidateModule = field(init=False)
    loaded: LoadedProblem | None = None
    model_new: type | None = None
    tol: Tolerance | None = None  # chosen from the reference's output on the first seed
    # found so far
    findings: list[Finding] = field(default_factory=list)
    drop_in: bool | None = None
    seeds_passed: int = 0
    kernels_launched: int = 0
    stats: Stats | None = None  # over all seeds, once they all passed
    timing: Timing | None = None
    # seconds per phase, for benchmarks: load (static + import), first_forward (includes JIT),
    # correctness (the other seeds), baselines, timing
    phases: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.module = CandidateModule(self.job.candidate.code, self.ctx)

    def result(self, failure: Verdict | None = None) -> CandidateResult:
        stats = failure.stats if failure is not None and failure.stats is not None else self.stats
        return self.job.candidate.result(
            passed=failure is None, kind=failure.kind if failure else None, message=failure.message if failure else "",
            drop_in=self.drop_in, max_abs_err=stats.max_abs_err if stats else None,
            rel_err=stats.rel_err if stats else None, worst_index=stats.worst_index if stats else None,
            seeds=self.seeds_passed, kernels_launched=self.kernels_launched, timing=self.timing,
            findings=list(self.findings), phases={k: float(v) for k, v in self.phases.items()})

    # ---- the steps ----

    def judge(self) -> None:
        """Raises the Verdict that stops the candidate; returns when it passed."""
        job, ctx, opts = self.job, self.ctx, self.job.options
        code = job.candidate.code
        set_precision(opts.allow_tf32)

        ctx.stage("static checks")
        self.findings = list(static.scan(code, opts.strict))
        fatal = [f for f in self.findings if f.fatal]
        if fatal:
            f = fatal[0]
            where = f" (line {f.line})" if f.line else ""
            raise Verdict("cheat", f"{f.rule}: {f.message}{where}")
        try:
            compile(code, "candidate.py", "exec")
        except SyntaxError as e:
            raise Verdict("syntax", f"line {e.lineno}: {e.msg}") from None
        except ValueError as e:  # e.g. null bytes
            raise Verdict("syntax", str(e)) from None

        ctx.stage("loading the problem")
        self.loaded = load_problem(job.source, job.class_name, ctx.job_dir)
        ctx.stage("importing the candidate")
        self.model_new = self.module.load()
        ctx.check_untouched("importing the candidate")

        total = Stats()
        first: SeedRun | None = None
        mark = time.monotonic()
        self.phases["load"] = mark - ctx.started
        base = input_seed_base()
        self.findings.append(Finding(rule="seeds", message=f"inputs drawn with seeds {base}..{base + opts.seeds - 1} "
                                     f"(new each run; {SEED_ENV}={base} repeats them)", fatal=False, line=None))
        for i in range(opts.seeds):
            seed_run = self.check_seed(base + i, BASE_SEED + i)
            total.merge(seed_run.stats)
            self.seeds_passed = i + 1
            if first is None:
                first = seed_run
                self.phases["first_forward"] = time.monotonic() - mark
                mark = time.monotonic()
        self.phases["correctness"] = time.monotonic() - mark
        self.stats = total

        if ctx.device.type == "cuda" and opts.time_candidates and first is not None:
            mark = time.monotonic()
            self.measure(first)
            self.phases["timing"] = time.monotonic() - mark

    def check_seed(self, seed: int, init_seed: int) -> SeedRun:
        """One seed: inputs from `seed` (drawn per job), both models constructed under `init_seed` (fixed:
        the weights are no secret, and constructing ModelNew under the input seed would hand it the seed
        the inputs came from)."""
        ctx, dev, loaded, model_new = self.ctx, self.ctx.device, self.loaded, self.model_new
        assert loaded is not None and model_new is not None
        ctx.stage(f"building inputs (seed {seed})")
        init, pristine = recipe(loaded, seed, dev)
        ref_model = build_reference(loaded, init, init_seed, dev)
        ctx.stage(f"constructing ModelNew (seed {seed})")
        seed_all(init_seed)
        try:
            with guarded(ctx.job_dir):
                new_model = model_new(*copy.deepcopy(init))
                new_model = new_model.to(dev)
        except Verdict:
            raise
        except BaseException as e:
            raise ctx.stop(self.module.failure(e, "ModelNew(*get_init_inputs())")) from None
        ctx.check_untouched("ModelNew.__init__")
        drop_in = True
        try:
            new_model.load_state_dict(ref_model.state_dict(), strict=True)
        except Exception:
            drop_in = False  # both were built under the same seed; reported as "not drop-in"
        self.drop_in = drop_in if self.drop_in is None else (self.drop_in and drop_in)

        cand_in, ref_in = clone_tree(pristine), clone_tree(pristine)
        hint = 4 * nbytes(pristine)

        # The candidate runs first: this seed's reference output does not exist yet.
        ctx.stage(f"ModelNew.forward (seed {seed})")
        poison(dev, hint)
        before = launches()
        recorder = TorchOpRecorder()
        try:
            with guarded(ctx.job_dir), recorder, torch.no_grad():
                out = new_model(*cand_in)
            synchronize(dev)
        except Verdict:
            raise
        except BaseException as e:
            raise ctx.stop(self.module.failure(e, "ModelNew.forward")) from None
        launched = launches() - before
        ctx.check_untouched("ModelNew.forward")
        finding = torch_ops_finding(recorder, self.job.options.strict)
        if finding is not None and not any(f.rule == finding.rule for f in self.findings):
            self.findings.append(finding)

        ctx.stage(f"reference forward (seed {seed})")
        poison(dev, hint)
        ref_out = run_reference(ref_model, ref_in, dev)
        if self.tol is None:
            self.tol = tolerance(output_dtype(ref_out), self.job.options)

        if launched == 0:
            raise Verdict("cheat", "no Triton kernel was launched during ModelNew.forward")
        self.kernels_launched = max(self.kernels_launched, launched)
        alias = aliases(out, ref_out)
        if alias:
            raise Verdict("cheat", f"{alias} shares memory with the reference's output")
        alias = aliases(out, cand_in)
        if alias and not aliases(ref_out, ref_in):
            raise Verdict("cheat", f"{alias} shares memory with an input (the reference returns new tensors)")
        mutated = first_mutated(pristine, cand_in)
        if mutated and not first_mutated(pristine, ref_in):
            raise Verdict("cheat", f"ModelNew.forward modified {mutated} (the reference leaves its inputs unchanged)")
        try:
            stats = compare(out, ref_out, self.tol)
        except Verdict as v:
            v.message = f"mismatch: {v.message} (seed {seed})"
            raise
        return SeedRun(reference=ref_model, candidate=new_model, inputs=pristine, stats=stats)

    def measure(self, first: SeedRun) -> None:
        """Time the candidate against eager and torch.compile on the first seed's inputs (GPU)."""
        job, ctx, opts, dev = self.job, self.ctx, self.job.options, self.ctx.device
        key = hashlib.sha256(f"{job.source}|{job.class_name}|{opts.allow_tf32}".encode()).hexdigest()
        base = _BASELINES.get(key)
        if base is None:
            ctx.stage("timing eager and torch.compile baselines")  # the pool extends the time limit for this
            mark = time.monotonic()
            base = baselines(first.reference, clone_tree(first.inputs), dev)
            _BASELINES[key] = base
            self.phases["baselines"] = time.monotonic() - mark
        ctx.stage("timing the candidate")
        inputs = clone_tree(first.inputs)
        try:
            with guarded(ctx.job_dir), torch.no_grad():
                measured = bench(lambda: first.candidate(*inputs), dev)
        except Verdict:
            raise
        except BaseException as e:
            raise ctx.stop(self.module.failure(e, "ModelNew.forward (timing)")) from None
        self.timing = Timing(ms=measured.ms, eager_ms=base.get("eager_ms"), compile_ms=base.get("compile_ms"),
                             runs=measured.runs)
        if base.get("compile_error"):
            self.findings.append(Finding(rule="baseline", message=f"torch.compile baseline failed: "
                                         f"{base['compile_error']}", fatal=False, line=None))

        # A speedup too good to be true: check again on inputs the candidate has never seen.
        reference_ms = base.get("compile_ms") or base.get("eager_ms")
        if reference_ms and measured.ms > 0 and reference_ms / measured.ms > SUSPICIOUS_SPEEDUP:
            ctx.stage("re-checking a suspicious speedup on fresh inputs")
            seed = input_seed_base() + FRESH_SEED_OFFSET + opts.seeds
            try:
                self.check_seed(seed, BASE_SEED + opts.seeds)
            except Verdict as v:
                if v.kind in ("crash",):
                    raise
                raise Verdict("cheat", f"result changed after timing ({reference_ms / measured.ms:.0f}× faster than "
                              f"the baseline): {v.message}") from None


# Eager and torch.compile medians per (worker, problem + precision): measured once, reused for every candidate.
_BASELINES: dict[str, dict[str, Any]] = {}
