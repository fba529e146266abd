"""The worker's two verification entry points, top to bottom (DESIGN.md, verification contract;
docs/VERIFY.md lists the steps in order).

`probe` runs the recipe and the reference once. `verify` judges one candidate: static scan, syntax,
import (under an ordinary module name, disguise.py), then for every seed: fresh inputs, the reference
built and its weights sealed, ModelNew built, the reference's weights loaded into it from a private
copy (`nn.Module.load_state_dict`, called by the verifier), allocator poisoned, the candidate run
FIRST (it cannot read this seed's reference output), then the reference; then the runtime checks
(plain-tensor outputs, a Triton kernel launched, no aliasing, no input mutation) and the numeric
comparison. Then stress input families and repeat calls (exercise.py); on a GPU timing (timing.py)
and a last round of calls after it. At the end, the candidate's objects are dropped and collected
under the guard (their finalizers are candidate code too).

Runs only inside a verify worker (imports torch and triton). The pieces live next door: inputs.py
(problem, seeds, reference), runner.py (every call into candidate code), compare.py (tolerance,
comparison), checks.py (runtime checks, tamper fingerprint), seal.py (the reference's weights),
outputs.py (plain outputs), exercise.py (stress families, repeat calls), candidate_module.py
(importing the candidate), timing.py.
"""

from __future__ import annotations

import collections
import copy
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..report import CandidateResult, Finding, ShapeSupport, ShapeTiming, Timing, Tolerance
from ..wire.messages import ProbeJob, ProbeResult, VerifyJob
from . import disguise, shapes, static
from .candidate_module import CandidateModule
from .checks import aliases, first_mutated, launches, poison
from .compare import Stats, compare, output_dtype, set_precision, tolerance
from .context import JobContext
from .errors import RecipeError, Verdict
from .exercise import REPEAT_CALLS, repeat_calls, stress_families
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
from .runner import CandidateRunner, SeedRun
from .seal import Seal
from .timing import REP_MS, WARMUP_MS, baselines, bench, compile_baseline
from .trees import clone_tree, describe, nbytes, tensors

FRESH_SEED_OFFSET = 1000  # re-check after suspicious timings uses seeds nobody saw before
SHAPE_SEED_OFFSET = 500  # the shape families' inputs: fresh draws, seeds of their own
# The other shape is timed on a quarter of the recipe's measuring budget: it informs, it decides nothing.
OTHER_SHAPE_BENCH = {"warmup_ms": WARMUP_MS / 4, "rep_ms": REP_MS / 4}
KEEP_BYTES = 2 << 30  # inputs + reference outputs of later seeds kept for the repeat calls
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
    shapes.declared_dims(loaded.module, inputs)  # a malformed get_dynamic_dims() is the problem's error
    return ProbeResult(dtype=dtype, input_shapes=[describe(x) for x in inputs],
                       output_shapes=[describe(t) for _, t in tensors(out)], tolerance=tolerance(dtype, job.options),
                       output_bytes=nbytes(out))


def measure_baselines(job: ProbeJob, ctx: JobContext) -> dict[str, Any]:
    """Eager and torch.compile times of the reference (GPU), measured as the verify jobs would, for the
    pool to hand to them (Granted.baselines): run in a worker where no candidate ever ran (the generation
    lane), while the verify worker checks candidates."""
    if ctx.device.type != "cuda":
        raise RecipeError("baselines are measured on a GPU only")
    set_precision(job.options.allow_tf32)
    loaded = load_problem(job.source, job.class_name, ctx.job_dir)
    init, inputs = recipe(loaded, BASE_SEED, ctx.device)
    model = build_reference(loaded, init, BASE_SEED, ctx.device)
    started = time.monotonic()
    base = baselines(model, inputs, ctx.device, ctx.exclusive, ctx.stage)
    base["seconds"] = time.monotonic() - started
    return base


# ---- verify ------------------------------------------------------------------------------------------


def verify(job: VerifyJob, ctx: JobContext) -> CandidateResult:
    """Judge one candidate. Every failure is a verdict in the result; only worker bugs raise."""
    disguise.apply()
    run = Verification(job, ctx)
    failure: Verdict | None = None
    try:
        try:
            run.judge()
        except Verdict as v:
            failure = ctx.stop(v)
        except RecipeError as e:
            failure = Verdict("problem", str(e))
        except torch.OutOfMemoryError as e:  # the verifier's own copies and comparisons, not a crash
            first = str(e).splitlines()[0] if str(e) else "CUDA out of memory"
            failure = Verdict("runtime", f"out of GPU memory during {ctx.current_stage or 'verification'}: "
                              f"{first[:200]} (inputs {nbytes(run.runs[0].inputs) if run.runs else 0:,} bytes)")
    finally:
        late = run.finish(failure)
    if late is not None and (failure is None or failure.kind != "cheat"):
        failure = ctx.stop(late)  # a finalizer that tried something forbidden
    return run.result(failure)


@dataclass
class Verification:
    """One candidate's verification: what every step needs, and what the steps found so far (the result
    reports that whether the candidate passes or is stopped part-way)."""

    job: VerifyJob
    ctx: JobContext
    module: CandidateModule = field(init=False)
    runner: CandidateRunner = field(init=False)
    loaded: LoadedProblem | None = None
    model_new: type | None = None
    tol: Tolerance | None = None  # chosen from the reference's output on the first seed
    first_init: list | None = None  # the first seed's constructor arguments (a fresh fp64 reference)
    runs: list[SeedRun] = field(default_factory=list)  # the seeds that passed (their models are called again)
    # found so far
    findings: list[Finding] = field(default_factory=list)
    drop_in: bool | None = None
    seeds_passed: int = 0
    kernels_launched: int = 0
    stats: Stats | None = None  # over all seeds, once they all passed
    timing: Timing | None = None
    shapes: ShapeSupport | None = None  # the shape families (check_shapes), once the seeds passed
    shape_inputs: tuple[str, list] | None = None  # a variant that passed, and its inputs: timed too
    # seconds per phase, for benchmarks: load (static + import), first_forward (includes JIT),
    # correctness (the other seeds), stress, repeats, baselines, timing
    phases: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.module = CandidateModule(self.job.candidate.code, self.ctx)
        self.runner = CandidateRunner(self.module, self.ctx, bool(self.job.options.strict), self.findings)

    def result(self, failure: Verdict | None = None) -> CandidateResult:
        stats = failure.stats if failure is not None and failure.stats is not None else self.stats
        result = self.job.candidate.result(
            passed=failure is None, kind=failure.kind if failure else None, message=failure.message if failure else "",
            drop_in=self.drop_in, max_abs_err=stats.max_abs_err if stats else None,
            rel_err=stats.rel_err if stats else None, worst_index=stats.worst_index if stats else None,
            seeds=self.seeds_passed, kernels_launched=self.kernels_launched, timing=self.timing,
            findings=list(self.findings), phases={k: float(v) for k, v in self.phases.items()})
        result.shapes = self.shapes if failure is None else None
        return result

    def finish(self, failure: Verdict | None) -> Verdict | None:
        """Drop everything the candidate made, under the guard (runner.finish). The failure's traceback
        holds frames whose locals are candidate objects: they go too, inside the guard."""

        self.ctx.stage("dropping the candidate's objects")  # its finalizers run now, guarded

        def drop() -> None:
            self.runs.clear()
            self.shape_inputs = None
            if failure is not None:
                failure.__traceback__ = failure.__context__ = failure.__cause__ = None

        return self.runner.finish(drop)

    # ---- the steps ----

    def judge(self) -> None:
        """Raises the Verdict that stops the candidate; returns when it passed."""
        job, ctx, opts = self.job, self.ctx, self.job.options
        set_precision(opts.allow_tf32)
        self.static_checks(job.candidate.code, bool(opts.strict))

        ctx.stage("loading the problem")
        self.loaded = load_problem(job.source, job.class_name, ctx.job_dir)
        self.runner.start()
        ctx.stage("importing the candidate")
        self.model_new = self.module.load()
        ctx.check_untouched("importing the candidate")

        mark = time.monotonic()
        self.phases["load"] = mark - ctx.started
        base = input_seed_base()
        self.findings.append(Finding(rule="seeds", message=f"inputs drawn with seeds {base}..{base + opts.seeds - 1} "
                                     f"(new each run; {SEED_ENV}={base} repeats them)", fatal=False, line=None))
        self.check_seeds(base, mark)
        if not self.runs:
            return
        self.exercise()
        if opts.shape_checks:
            mark = time.monotonic()
            self.check_shapes()
            self.phases["shapes"] = time.monotonic() - mark
        if ctx.device.type == "cuda" and opts.time_candidates:
            mark = time.monotonic()
            self.measure(self.runs[0])
            self.phases["timing"] = time.monotonic() - mark

    def static_checks(self, code: str, strict: bool) -> None:
        self.ctx.stage("static checks")
        self.findings.extend(static.scan(code, strict))
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

    def check_seeds(self, base: int, mark: float) -> None:
        """Every seed; the first seed's reference is kept (stress families, timing), the others' dropped.
        Each seed's model, inputs and reference output are kept for the repeat calls while they fit in
        KEEP_BYTES (a problem with gigabytes of inputs repeats on the first seed alone)."""
        total = Stats()
        kept = 0
        for i in range(self.job.options.seeds):
            run, seal = self.check_seed(base + i, BASE_SEED + i)
            total.merge(run.stats)
            self.seeds_passed = i + 1
            size = nbytes(run.inputs) + nbytes(run.ref_out) + nbytes(run.first_out)
            if self.runs:
                run.reference = None
                self.runner.seals.remove(seal)
            if not self.runs or kept + size <= KEEP_BYTES:
                self.runs.append(run)
                kept += size
            del run
            self.runner.release()
            if i == 0:
                self.phases["first_forward"] = time.monotonic() - mark
                mark = time.monotonic()
        self.phases["correctness"] = time.monotonic() - mark
        self.stats = total

    def exercise(self) -> None:
        """Stress families on the first seed's inputs, then repeat calls over every seed (exercise.py)."""
        assert self.tol is not None
        first, mark = self.runs[0], time.monotonic()
        reference = first.reference
        assert reference is not None
        seal = self.runner.seals[0]

        def reference_forward(inputs: list) -> Any:
            out = run_reference(reference, inputs, self.ctx.device)
            seal.renew()  # the reference may update its own buffers (BatchNorm statistics)
            return out

        def reference64(inputs: Any) -> Any:
            # a fresh reference from the problem, same weights seed, in fp64: nothing a candidate could
            # have reached (the live reference is not copied)
            assert self.loaded is not None and self.first_init is not None
            model = build_reference(self.loaded, copy.deepcopy(self.first_init), BASE_SEED, self.ctx.device).double()
            with torch.no_grad():
                return model(*inputs)

        finding = stress_families(self.runner, first, self.tol, reference_forward, reference64)
        if finding is not None:
            self.findings.append(finding)
        self.phases["stress"] = time.monotonic() - mark
        mark = time.monotonic()
        repeat_calls(self.runner, self.runs, self.tol, REPEAT_CALLS)
        self.phases["repeats"] = time.monotonic() - mark

    def shape_plan(self) -> shapes.ShapePlan:
        """The problem's shape plan (worker/shapes.py), made once per problem in this worker: which
        dimensions vary, and the variants the module itself accepts (checked on the meta device)."""
        assert self.loaded is not None and self.first_init is not None
        key = hashlib.sha256(f"{self.job.source}|{self.job.class_name}".encode()).hexdigest()
        plan = _PLANS.get(key)
        if plan is None:
            loaded, dev, init = self.loaded, self.ctx.device, self.first_init

            def on_device(inputs: list) -> str | None:  # only for modules that cannot run on meta
                try:
                    model = build_reference(loaded, copy.deepcopy(init), BASE_SEED, dev)
                    run_reference(model, inputs, dev)
                except RecipeError as e:
                    return str(e).split(" raised ", 1)[-1]
                return None

            self.ctx.stage("planning the shape families")
            plan = _PLANS[key] = shapes.plan(loaded.model_cls, init, self.runs[0].inputs, loaded.module, on_device)
        return plan

    def check_shapes(self) -> None:
        """The candidate on the shape families: other sizes of the dynamic dimensions, fresh inputs, the
        candidate first, then the reference (as for seeds). A variant where the candidate raises, launches
        no kernel or gives a wrong result is recorded (the kernel is made for the recipe's shapes: it is
        chosen only when shape_specialised allows); a crash, a cheat or a modified input fails it."""
        assert self.tol is not None and self.loaded is not None
        ctx, dev, first = self.ctx, self.ctx.device, self.runs[0]
        plan = self.shape_plan()
        support = self.shapes = ShapeSupport(recipe=[describe(x) for x in first.inputs],
                                             dims=[g.describe() for g in plan.groups], skipped=list(plan.skipped),
                                             declared=plan.declared)
        reference, seal = first.reference, self.runner.seals[0]
        assert reference is not None
        kept_bytes, limit = -1, min(KEEP_BYTES, nbytes(first.inputs))
        for k, variant in enumerate(plan.variants):
            label, seed = variant.label, first.seed + SHAPE_SEED_OFFSET + k
            ctx.stage(f"building inputs at {label}")
            _init, fresh = recipe(self.loaded, seed, dev)
            if [describe(x) for x in fresh] != support.recipe:  # the recipe draws its own shapes per seed
                support.skipped.append(f"{label} and the rest (the recipe draws other shapes with each seed: "
                                       "the seeds were the shape family)")
                break
            inputs = shapes.variant_inputs(fresh, variant, torch.Generator().manual_seed(seed))
            del fresh
            ref_in = clone_tree(inputs)
            ctx.stage(f"ModelNew.forward at {label}")
            poison(dev, 4 * nbytes(inputs))
            before = launches()
            out, given, failure = self.runner.forward(first.candidate, inputs)
            launched = launches() - before
            if failure is not None and failure.kind in ("crash", "cheat", "timeout"):
                raise Verdict(failure.kind, f"at {label} (other input sizes): {failure.message}",
                              recycle=failure.recycle)
            ctx.stage(f"reference forward at {label}")
            poison(dev, 4 * nbytes(inputs))
            try:
                ref_out = run_reference(reference, ref_in, dev)
            except RecipeError as e:
                support.skipped.append(f"{label} (the module raises: {str(e).split(' raised ', 1)[-1]})")
                continue
            finally:
                seal.renew()
            why = self.shape_failure(out, given, failure, launched, ref_out, ref_in, inputs, label)
            del out, given, ref_out, ref_in
            self.runner.release()
            if why:
                support.failed[label] = why
                continue
            support.tried.append(label)
            size = nbytes(inputs)
            if kept_bytes < size <= limit:  # the largest variant that passed, no larger than the recipe: timed too
                self.shape_inputs, kept_bytes = (label, inputs), size
        if support.failed:
            self.findings.append(Finding(rule="shapes", message=support.describe(), fatal=False, line=None))

    def shape_failure(self, out: Any, given: Any, failure: Verdict | None, launched: int, ref_out: Any, ref_in: Any,
                      pristine: list, label: str) -> str | None:
        """Why the candidate does not support this variant (None: it does). Raises the Verdict of a cheat."""
        if failure is not None:
            return f"raises: {failure.message}"
        try:
            check_custody(out, given, ref_out, ref_in, pristine)
        except Verdict as v:
            v.message = f"at {label}: {v.message}"
            raise
        if launched == 0:
            return "no Triton kernel launched at this size (the candidate falls back to something else)"
        assert self.tol is not None
        try:
            compare(out, ref_out, self.tol)
        except Verdict as v:
            return f"wrong result: {v.message}"
        return None

    def check_seed(self, seed: int, init_seed: int) -> tuple[SeedRun, Seal]:
        """One seed: inputs from `seed` (drawn per job), both models constructed under `init_seed` (fixed:
        the weights are no secret, and constructing ModelNew under the input seed would hand it the seed
        the inputs came from). Returns the run and the seal on its reference's weights (in runner.seals)."""
        ctx, dev, loaded, runner = self.ctx, self.ctx.device, self.loaded, self.runner
        assert loaded is not None
        ctx.stage(f"building inputs (seed {seed})")
        init, pristine = recipe(loaded, seed, dev)
        if self.first_init is None:
            self.first_init = copy.deepcopy(init)
        ref_model = build_reference(loaded, init, init_seed, dev)
        seal = Seal(ref_model)  # before any candidate code of this seed runs
        runner.seals.append(seal)
        new_model = self.construct(init, init_seed, seed)
        self.load_weights(new_model, ref_model, seal, seed)

        ref_in = clone_tree(pristine)
        hint = 4 * nbytes(pristine)
        # The candidate runs first: this seed's reference output does not exist yet.
        ctx.stage(f"ModelNew.forward (seed {seed})")
        poison(dev, hint)
        before = launches()
        out, given, failure = runner.forward(new_model, pristine)
        if failure is not None:
            raise ctx.stop(failure)
        launched = launches() - before

        ctx.stage(f"reference forward (seed {seed})")
        poison(dev, hint)
        ref_out = run_reference(ref_model, ref_in, dev)
        seal.renew()
        if self.tol is None:
            self.tol = tolerance(output_dtype(ref_out), self.job.options)
        ref_mutates = self.check_run(out, given, ref_out, ref_in, pristine, launched)
        try:
            stats = compare(out, ref_out, self.tol)
        except Verdict as v:
            v.message = f"mismatch: {v.message} (seed {seed})"
            raise
        return SeedRun(seed=seed, candidate=new_model, inputs=pristine, ref_out=ref_out, stats=stats,
                       ref_mutates=ref_mutates, reference=ref_model, first_out=clone_tree(out)), seal

    def check_run(self, out: Any, given: Any, ref_out: Any, ref_in: Any, pristine: Any, launched: int) -> bool:
        """A kernel launched, no aliasing, no input mutation. Returns whether the reference mutates its inputs."""
        if launched == 0:
            raise Verdict("cheat", "no Triton kernel was launched during ModelNew.forward")
        self.kernels_launched = max(self.kernels_launched, launched)
        return check_custody(out, given, ref_out, ref_in, pristine)

    def construct(self, init: list, init_seed: int, seed: int) -> Any:
        """ModelNew(*init) on the device, under the weights seed, guarded (runner)."""
        self.ctx.stage(f"constructing ModelNew (seed {seed})")
        seed_all(init_seed)
        model_new, device = self.model_new, self.ctx.device
        assert model_new is not None
        return self.runner.call(lambda: model_new(*copy.deepcopy(init)).to(device), "ModelNew(*get_init_inputs())")

    def load_weights(self, new_model: Any, ref_model: torch.nn.Module, seal: Seal, seed: int) -> None:
        """The reference's weights into ModelNew: `nn.Module.load_state_dict`, called by the verifier (a
        candidate's override is not used), on a private deep copy, guarded and recorded (hooks and
        `_load_from_state_dict` overrides run there). If it fails, both keep their same-seed
        initialisation and the result says "not drop-in"."""
        self.ctx.stage(f"loading the weights into ModelNew (seed {seed})")
        state = private_state(ref_model)
        seal.hand_over(state)
        self.runner.keep.append(state)
        _, failure = self.runner.attempt(lambda: torch.nn.Module.load_state_dict(new_model, state, strict=True),
                                         "ModelNew.load_state_dict")
        if failure is not None and failure.kind == "crash":
            raise self.ctx.stop(failure)
        drop_in = failure is None
        self.drop_in = drop_in if self.drop_in is None else (self.drop_in and drop_in)

    def measure(self, first: SeedRun) -> None:
        """Time the candidate against eager and torch.compile on the first seed's inputs (GPU); then call
        it once more per seed and compare (a candidate that changes after the timing loop)."""
        job, ctx, opts, dev = self.job, self.ctx, self.job.options, self.ctx.device
        assert first.reference is not None and self.tol is not None
        key = hashlib.sha256(f"{job.source}|{job.class_name}|{opts.allow_tf32}".encode()).hexdigest()
        inputs = clone_tree(first.inputs)
        candidate, reference = first.candidate, first.reference
        eager_ms = _EAGER.get(key)
        compiled = _COMPILED.get(key)
        ctx.stage("timing the candidate")
        # Nothing else on the GPU meanwhile. The torch.compile baseline is the pool's to measure (once per
        # problem, in a worker no candidate ever ran in, while this one checks candidates): the grant says
        # whether it has it, is measuring it (the pool adds it to the result), or nobody does.
        with ctx.exclusive(baselines=compiled is None) as shared:
            if eager_ms is None:  # cheap (no compile): here, side by side with every candidate of the problem
                ref_inputs = clone_tree(first.inputs)
                with torch.no_grad():
                    eager_ms = _EAGER[key] = bench(lambda: reference(*ref_inputs), dev).ms
                self.runner.seals[0].renew()  # the reference may update its own buffers (BatchNorm statistics)
            measured = self.runner.call(lambda: _timed(candidate, inputs, dev), "ModelNew.forward (timing)",
                                        record=False)
            other = self.time_other_shape(reference, candidate, dev)
        if compiled is None and shared is not None and not shared.get("pending"):
            compiled = _COMPILED[key] = {"compile_ms": shared.get("compile_ms"),
                                         "compile_error": shared.get("compile_error")}
        elif compiled is None and shared is None:  # nobody measures it: here, as the last step of this job
            ctx.stage("timing eager and torch.compile baselines")
            mark = time.monotonic()
            compiled = _COMPILED[key] = compile_baseline(reference, clone_tree(first.inputs), dev, ctx.exclusive,
                                                         ctx.stage)
            self.runner.seals[0].renew()
            self.phases["baselines"] = time.monotonic() - mark
        compiled = compiled or {}
        self.timing = Timing(ms=measured.ms, eager_ms=eager_ms, compile_ms=compiled.get("compile_ms"),
                             runs=measured.runs)
        if other is not None and self.shapes is not None:
            self.shapes.timings.append(other)
        if compiled.get("compile_error"):
            self.findings.append(Finding(rule="baseline", message=f"torch.compile baseline failed: "
                                         f"{compiled['compile_error']}", fatal=False, line=None))
        assert self.tol is not None
        repeat_calls(self.runner, self.runs, self.tol, len(self.runs), when=", after timing")

        # A speedup too good to be true: check again on inputs the candidate has never seen.
        reference_ms = compiled.get("compile_ms") or eager_ms
        if reference_ms and measured.ms > 0 and reference_ms / measured.ms > SUSPICIOUS_SPEEDUP:
            ctx.stage("re-checking a suspicious speedup on fresh inputs")
            seed = input_seed_base() + FRESH_SEED_OFFSET + opts.seeds
            try:
                run, seal = self.check_seed(seed, BASE_SEED + opts.seeds)
            except Verdict as v:
                if v.kind in ("crash",):
                    raise
                raise Verdict("cheat", f"result changed after timing ({reference_ms / measured.ms:.0f}× faster than "
                              f"the baseline): {v.message}") from None
            self.runner.seals.remove(seal)
            del run
            self.runner.release()


    def time_other_shape(self, reference: Any, candidate: Any, dev: torch.device) -> ShapeTiming | None:
        """The candidate and eager at the largest other shape it passed (inside the exclusive section)."""
        if self.shape_inputs is None:
            return None
        label, inputs = self.shape_inputs
        self.ctx.stage(f"timing at {label}")
        key = hashlib.sha256(f"{self.job.source}|{self.job.class_name}|{self.job.options.allow_tf32}|{label}".encode())
        eager_ms = _EAGER.get(key.hexdigest())
        if eager_ms is None:  # once per problem and variant in this worker, like the recipe's eager time
            ref_inputs = clone_tree(inputs)
            with torch.no_grad():
                eager_ms = _EAGER[key.hexdigest()] = bench(lambda: reference(*ref_inputs), dev, **OTHER_SHAPE_BENCH).ms
            self.runner.seals[0].renew()
        own = clone_tree(inputs)
        measured = self.runner.call(lambda: _timed(candidate, own, dev, **OTHER_SHAPE_BENCH),
                                    f"ModelNew.forward (timing at {label})", record=False)
        return ShapeTiming(shape=label, ms=measured.ms, eager_ms=eager_ms)


def check_custody(out: Any, given: Any, ref_out: Any, ref_in: Any, pristine: Any) -> bool:
    """The candidate's output shares no memory with the reference's output or (unless the reference's does)
    with its inputs, and it left its inputs as they were (unless the reference changes its own). Raises the
    `cheat` Verdict; returns whether the reference mutates its inputs."""
    alias = aliases(out, ref_out)
    if alias:
        raise Verdict("cheat", f"{alias} shares memory with the reference's output")
    alias = aliases(out, given)
    if alias and not aliases(ref_out, ref_in):
        raise Verdict("cheat", f"{alias} shares memory with an input (the reference returns new tensors)")
    ref_mutates = first_mutated(pristine, ref_in) is not None
    mutated = first_mutated(pristine, given)
    if mutated and not ref_mutates:
        raise Verdict("cheat", f"ModelNew.forward modified {mutated} (the reference leaves its inputs unchanged)")
    return ref_mutates


def _timed(model: Any, inputs: list, device: torch.device, **budget: Any) -> Any:
    with torch.no_grad():
        return bench(lambda: model(*inputs), device, **budget)


def private_state(model: torch.nn.Module) -> dict[str, Any]:
    """A deep copy of the reference's state_dict: the candidate's load_state_dict (and its hooks) get
    tensors that share no storage with the reference."""
    state = model.state_dict()
    copied: dict[str, Any] = collections.OrderedDict(
        (k, v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)) for k, v in state.items())
    metadata = getattr(state, "_metadata", None)
    if metadata is not None:
        copied._metadata = copy.deepcopy(metadata)  # type: ignore[attr-defined]
    return copied


# Eager medians and torch.compile results per (worker, problem + precision): measured once, reused for
# every candidate.
_EAGER: dict[str, float] = {}
# Shape plans per (worker, problem): which dimensions vary, and the variants the module accepts.
_PLANS: dict[str, shapes.ShapePlan] = {}
_COMPILED: dict[str, dict[str, Any]] = {}
