"""Reports are data: plain dataclasses with a JSON round trip (DESIGN.md, invariant 5).

A `Report` is what one conversion produced: every candidate's `CandidateResult`, which one was
chosen, the device and tolerance used, and the time spent per stage. The store keeps reports; the
LSP renders them as diagnostics and hover tables; the CLI prints them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

# Failure kinds (DESIGN.md, verification contract). `problem` is the module itself being unusable
# (its recipe raises, its forward fails): no candidate is to blame.
FAILURE_KINDS = ("syntax", "import", "compile", "runtime", "mismatch", "timeout", "crash", "cheat", "problem")


@dataclass
class Tolerance:
    atol: float
    rtol: float
    dtype: str  # the dtype the tolerance was chosen for, e.g. "float32"
    tf32: bool = False

    def describe(self) -> str:
        extra = ", TF32 allowed" if self.tf32 else ""
        return f"atol={self.atol:g} rtol={self.rtol:g} ({self.dtype}{extra})"


@dataclass
class Timing:
    """Medians in milliseconds, all measured in one worker on the same inputs."""

    ms: float
    eager_ms: float | None = None
    compile_ms: float | None = None
    runs: int = 0

    @property
    def speedup_eager(self) -> float | None:
        return self.eager_ms / self.ms if self.eager_ms and self.ms else None

    @property
    def speedup_compile(self) -> float | None:
        return self.compile_ms / self.ms if self.compile_ms and self.ms else None


@dataclass
class ShapeTiming:
    """The candidate and eager PyTorch timed on one shape other than the recipe's (GPU), side by side."""

    shape: str  # the variant's label, e.g. "batch=17"
    ms: float
    eager_ms: float | None = None

    @property
    def speedup_eager(self) -> float | None:
        return self.eager_ms / self.ms if self.eager_ms and self.ms else None


@dataclass
class ShapeSupport:
    """Which input shapes a correct candidate was run on besides the recipe's (worker/shapes.py), and how
    it did: `tried` passed like a seed; `failed` maps a variant to what went wrong there (it raises: the
    kernel is made for the recipe's shapes; or a wrong result); `skipped` the variants the module itself
    cannot run (it raises on them, or a dimension's size is fixed by the constructor)."""

    recipe: list[str] = field(default_factory=list)  # the recipe's input shapes, e.g. ["float32[1024, 8192]"]
    dims: list[str] = field(default_factory=list)  # the dynamic dimensions, e.g. ["batch: x.0", "seq: x.1"]
    tried: list[str] = field(default_factory=list)  # variants that passed, e.g. ["batch=1", "batch=17"]
    failed: dict[str, str] = field(default_factory=dict)  # variant -> one line ("raises ValueError: ...")
    skipped: list[str] = field(default_factory=list)  # "batch=2048 (the module raises)", ...
    declared: bool = False  # the dims come from the problem's get_dynamic_dims()
    timings: list[ShapeTiming] = field(default_factory=list)

    @property
    def all_ok(self) -> bool:
        """Right on every shape tried (vacuously, when there were none to try)."""
        return not self.failed

    def describe(self) -> str:
        """One line for reports, hover and diagnostics."""
        recipe = ", ".join(self.recipe) or "the recipe's shapes"
        if self.failed:
            first, why = next(iter(self.failed.items()))
            more = f" and {len(self.failed) - 1} more" if len(self.failed) > 1 else ""
            return f"only the recipe's shapes {recipe} ({first}: {why}{more})"
        if not self.tried:
            return f"only the recipe's shapes were tried ({recipe}): no other shape could be run" if self.skipped \
                else f"only the recipe's shapes were tried ({recipe}): no dynamic dimension"
        return f"all {len(self.tried) + 1} shapes tried ({', '.join(self.tried)} and the recipe's)"


@dataclass
class Finding:
    """A static or runtime observation about a candidate (recorded; `fatal` ones reject it)."""

    rule: str
    message: str
    fatal: bool = False
    line: int | None = None


@dataclass
class CandidateResult:
    candidate_id: str  # unique in the report, e.g. "template:softmax/b1024w4"
    origin: str  # llm:<model> | inductor:<mode> | template:<pattern>
    passed: bool
    kind: str | None = None  # one of FAILURE_KINDS when not passed
    message: str = ""  # one line, with the numbers that matter
    code: str = ""
    drop_in: bool | None = None  # weights loaded with load_state_dict
    max_abs_err: float | None = None
    rel_err: float | None = None
    worst_index: str | None = None  # e.g. "out[0, 12]"
    seeds: int = 0
    kernels_launched: int = 0
    timing: Timing | None = None
    findings: list[Finding] = field(default_factory=list)
    private_apis: bool = False  # uses torch._inductor or similar private runtime APIs
    seconds: float = 0.0  # wall time of this candidate's verification
    phases: dict[str, float] = field(default_factory=dict)  # load, first_forward, correctness, baselines, timing
    shapes: ShapeSupport | None = None  # None: not checked (a failed candidate, or shape_checks off)
    model_text: str = ""  # llm candidates: the model's own words outside the code block

    @property
    def shape_general(self) -> bool:
        """Right on every shape tried (or shapes were not checked)."""
        return self.shapes is None or self.shapes.all_ok

    @property
    def status(self) -> str:
        return "pass" if self.passed else (self.kind or "fail")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CandidateResult:
        return candidate_result_from_dict(data)


@dataclass
class GeneratorRun:
    name: str  # template | inductor | llm
    produced: int = 0
    skipped: str | None = None  # why this generator produced nothing (e.g. "needs CUDA")
    seconds: float = 0.0


@dataclass
class RoundRecord:
    """One round of a generator's refinement loop (generate/llm.py): its candidates, what the verifier's
    findings fed into its prompt, and the best correct candidate of all rounds so far."""

    round: int  # 1-based; round 1 is the one-shot prompt
    generator: str = "llm"
    candidates: list[str] = field(default_factory=list)  # candidate ids sampled in this round
    correct: int = 0  # of those, how many passed
    asked: str = "first"  # first | fix | faster: what this round's prompt asked for
    feedback: str = ""  # short: what the earlier rounds' verdicts fed into this round's prompt
    best: str | None = None  # best correct candidate id of rounds 1..this one
    best_ms: float | None = None
    best_speedup_eager: float | None = None
    best_speedup_compile: float | None = None
    tokens: int = 0  # tokens sampled in this round
    seconds: float = 0.0  # wall time from its first token to its last verdict
    stop: str | None = None  # on the last round: why the loop stopped before its rounds were spent


@dataclass
class Report:
    problem_name: str
    key: str = ""  # store key
    path: str | None = None
    device: str = ""  # e.g. "NVIDIA H100 80GB HBM3" or "cpu (TRITON_INTERPRET=1)"
    timed: bool = False
    dtype: str | None = None
    input_shapes: list[str] = field(default_factory=list)
    tolerance: Tolerance | None = None
    versions: dict[str, str] = field(default_factory=dict)
    # The worker's isolation layers as it reported them: layer → "what is active" or "unavailable (why)"
    # (pidns, landlock, seccomp, network, rlimit-*, memory, audit). Every verdict was reached under these.
    isolation: dict[str, str] = field(default_factory=dict)
    generators: list[GeneratorRun] = field(default_factory=list)
    results: list[CandidateResult] = field(default_factory=list)
    best: str | None = None  # candidate_id of the chosen candidate
    eager_ms: float | None = None
    compile_ms: float | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)  # generate / verify / time
    created: str = ""  # ISO 8601 UTC
    cancelled: bool = False
    error: str | None = None  # the problem itself failed (no candidate could be judged)
    error_kind: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    rounds: list[RoundRecord] = field(default_factory=list)  # refinement rounds (empty: one-shot)

    # ---- queries ------------------------------------------------------------------------------

    def best_result(self) -> CandidateResult | None:
        for r in self.results:
            if r.candidate_id == self.best:
                return r
        return None

    def not_faster(self, min_speedup: float) -> str | None:
        """Why the chosen kernel is not worth inserting on a GPU: "no faster kernel found (best 0.87×
        eager; needs 1.05×)"; None when it beats eager by `min_speedup`, or nothing was timed (a CPU
        run times nothing: it decides nothing), or nothing passed."""
        best = self.best_result()
        if not self.timed or best is None or best.timing is None:
            return None
        speedup = best.timing.speedup_eager
        if speedup is None or speedup >= min_speedup:
            return None
        return f"no faster kernel found (best {speedup:.2f}× eager; needs {min_speedup:g}×)"

    def specialised_only(self) -> str | None:
        """Why nothing was chosen although candidates passed: each correct kernel is right only for the
        recipe's shapes (shape_specialised was off). None otherwise."""
        if self.best is not None:
            return None
        spec = [r for r in self.passed() if not r.shape_general]
        if not spec or len(spec) != len(self.passed()):
            return None
        shapes = spec[0].shapes
        assert shapes is not None
        return (f"no shape-general kernel: {len(spec)} correct kernel(s) right only for the recipe's shapes "
                f"(best: {spec[0].candidate_id}, {shapes.describe()}); shape_specialised / --shape-specialised "
                "chooses one")

    def shapes_line(self) -> str | None:
        """The chosen kernel's shape support, one line (None when nothing was chosen or shapes were not checked)."""
        best = self.best_result()
        if best is None or best.shapes is None:
            return None
        s = best.shapes
        text = f"shapes: {s.describe()}"
        if not s.all_ok:  # chosen with shape_specialised: edit.inserted_code dispatches (drop-in kernels only)
            text += ("; the inserted class runs the original module's code for other shapes" if best.drop_in
                     else "; not drop-in, so the inserted class runs these kernels on every shape")
        for t in s.timings:
            x = f", {t.speedup_eager:.2f}× eager" if t.speedup_eager else ""
            text += f"; at {t.shape}: {t.ms:.4g} ms{x}"
        return text

    def passed(self) -> list[CandidateResult]:
        return [r for r in self.results if r.passed]

    def failures_by_kind(self) -> dict[str, list[CandidateResult]]:
        out: dict[str, list[CandidateResult]] = {}
        for r in self.results:
            if not r.passed:
                out.setdefault(r.kind or "runtime", []).append(r)
        return out

    # ---- JSON ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        data = dict(data)
        data["tolerance"] = Tolerance(**data["tolerance"]) if data.get("tolerance") else None
        data["generators"] = [GeneratorRun(**g) for g in data.get("generators", [])]
        data["results"] = [candidate_result_from_dict(r) for r in data.get("results", [])]
        known_round = {f.name for f in dataclasses.fields(RoundRecord)}
        data["rounds"] = [RoundRecord(**{k: v for k, v in r.items() if k in known_round}) for r in data.get("rounds", [])]
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls.from_dict(json.loads(text))


def candidate_result_from_dict(data: dict[str, Any]) -> CandidateResult:
    data = dict(data)
    data["timing"] = Timing(**data["timing"]) if data.get("timing") else None
    data["findings"] = [Finding(**f) for f in data.get("findings", [])]
    shapes = data.get("shapes")
    if shapes:
        shapes = dict(shapes)
        shapes["timings"] = [ShapeTiming(**t) for t in shapes.get("timings", [])]
        known_shapes = {f.name for f in dataclasses.fields(ShapeSupport)}
        data["shapes"] = ShapeSupport(**{k: v for k, v in shapes.items() if k in known_shapes})
    else:
        data["shapes"] = None
    known = {f.name for f in dataclasses.fields(CandidateResult)}
    return CandidateResult(**{k: v for k, v in data.items() if k in known})
