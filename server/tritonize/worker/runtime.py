"""In-worker checks: run the recipe, the reference and a candidate; judge correctness (DESIGN.md,
verification contract). Imported only inside a verify worker (it imports torch and triton).

`probe` runs the recipe and the reference once. `verify` judges one candidate: static scan, syntax,
import, then for every seed: fresh inputs, equal copies for both models, weights copied with
`load_state_dict`, allocator poisoned, the candidate run FIRST (it cannot read this seed's
reference output), then the reference; then the runtime checks (a Triton kernel launched, no
aliasing, no input mutation) and the numeric comparison. On a GPU it is then timed (timing.py).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import importlib.util
import math
import os
import random
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from . import sandbox, static
from .guards import TorchOpRecorder

BASE_SEED = 42  # weights (same-seed construction) and the probe; inputs use seeds drawn per job
FRESH_SEED_OFFSET = 1000  # re-check after suspicious timings uses seeds nobody saw before
SUSPICIOUS_SPEEDUP = 10.0
# Fixes the input seeds (base, base + 1, ...) instead of drawing them per job: to repeat a report's
# run, or for tests that need the same inputs every time.
SEED_ENV = "TRITONIZE_VERIFY_SEED"
# Relative error norm ||out - ref|| / ||ref|| allowed on top of elementwise closeness, by dtype:
# catches outputs whose whole scale sits under atol (zeros pass `allclose` there).
REL_NORM_LIMIT = {"float16": 5e-2, "bfloat16": 5e-2, "float32": 1e-2, "float64": 1e-2}
# A reference whose RMS is below atol * this is numerical noise (e.g. x - x.mean() of a constant):
# its relative error says nothing, so only the elementwise check applies.
NOISE_FLOOR = 1e-3


class RecipeError(Exception):
    """The problem itself (recipe or reference) failed; no candidate is to blame."""


class Verdict(Exception):
    """Stops a candidate's verification with a failure kind and a one-line message."""

    def __init__(self, kind: str, message: str, recycle: bool = False):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.recycle = recycle


# ---- launch counting ----------------------------------------------------------------------------

_LAUNCHES = [0]


def install_launch_hook() -> None:
    """Count Triton kernel launches by wrapping the launcher that `kernel[grid](...)` calls.

    `KernelInterface.__getitem__` returns a proxy calling `self.run(grid=..., warmup=False, ...)`,
    and autotuners/heuristics end in the wrapped function's `run` too, so wrapping `run` on
    `JITFunction` (compiled) and `InterpretedFunction` (TRITON_INTERPRET=1) sees every launch.
    """
    from triton.runtime.jit import JITFunction

    classes: list[type] = [JITFunction]
    try:
        from triton.runtime.interpreter import InterpretedFunction

        classes.append(InterpretedFunction)
    except ImportError:  # pragma: no cover - older triton
        pass
    for cls in classes:
        original = cls.run
        if getattr(original, "_tritonize_counted", False):
            continue

        def run(self, *args, _original=original, **kwargs):
            if not kwargs.get("warmup", False):
                _LAUNCHES[0] += 1
            return _original(self, *args, **kwargs)

        run._tritonize_counted = True  # type: ignore[attr-defined]
        cls.run = run


def launches() -> int:
    return _LAUNCHES[0]


def warm_up(device: torch.device) -> None:
    """Pay one-time lazy work at worker start (first dispatch-mode entry, first kernels of the
    allocator), not in the first job. The recorder does not import torch._dynamo (guards.py)."""
    with contextlib.suppress(Exception), TorchOpRecorder():
        (torch.ones(2, device=device) + 1).sum()


# ---- job context ----------------------------------------------------------------------------------


@dataclass
class JobContext:
    job_dir: str
    device: torch.device
    stage: Callable[[str], None] = lambda _s: None
    tampered: Callable[[], list[str]] = lambda: []  # names of checker callables a candidate changed
    recycle: bool = False  # set when the CUDA context may be poisoned (or torch was patched)
    started: float = field(default_factory=time.monotonic)

    def check_untouched(self, when: str) -> None:
        """Stop with `cheat` if candidate code patched what the checker relies on (torch, triton, time)."""
        changed = self.tampered()
        if changed:
            self.recycle = True
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            raise Verdict("cheat", f"{when} changed {', '.join(changed[:3])}{more}", recycle=True)


@dataclass
class Options:
    seeds: int = 3
    atol: float | None = None
    rtol: float | None = None
    allow_tf32: bool = False
    strict: bool = False
    time: bool = True

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Options:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class Loaded:
    """The problem module, imported fresh for every job (a candidate could have patched it)."""

    module: Any
    model_cls: type
    get_inputs: Callable[[], Any]
    get_init_inputs: Callable[[], Any]


# ---- helpers: modules -------------------------------------------------------------------------------


def import_file(path: str, name: str) -> Any:
    """Import a source file as module `name` (Triton's @jit needs real files for inspect)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_problem(source: str, class_name: str, job_dir: str) -> Loaded:
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    name = f"tritonize_problem_{digest}_{os.getpid()}_{time.monotonic_ns()}"
    path = os.path.join(job_dir, "problem.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    try:
        module = import_file(path, name)
    except BaseException as e:
        raise RecipeError(f"the problem module raised {_exc_line(e)} when imported") from None
    finally:
        sys.modules.pop(name, None)
    model_cls = getattr(module, class_name, None) or getattr(module, "Model", None)
    if not isinstance(model_cls, type):
        raise RecipeError(f"the problem module defines no class {class_name!r}")
    get_inputs = getattr(module, "get_inputs", None)
    if not callable(get_inputs):
        raise RecipeError("the problem module defines no get_inputs()")
    get_init_inputs = getattr(module, "get_init_inputs", None) or (lambda: [])
    return Loaded(module, model_cls, get_inputs, get_init_inputs)


def _exc_line(e: BaseException) -> str:
    """`Type: last line of the message`, short enough for a diagnostic."""
    text = str(e).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # CUDA errors put the cause first ("CUDA error: an illegal memory access was encountered") and
    # advice last ("Compile with `TORCH_USE_CUDA_DSA` ...").
    cause = [ln for ln in lines if "CUDA error" in ln or "out of memory" in ln]
    last = cause[0] if cause else (lines[-1] if lines else "")
    if len(last) > 300:
        last = last[:297] + "..."
    return f"{type(e).__name__}: {last}" if last else type(e).__name__


def _candidate_line(e: BaseException, path: str) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(e.__traceback__):
        if frame.f_code.co_filename == path:
            line = lineno
    return line


# ---- helpers: tensors -------------------------------------------------------------------------------


def tree_map(fn: Callable[[Any], Any], obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, (list, tuple)):
        mapped = [tree_map(fn, o) for o in obj]
        return type(obj)(mapped) if isinstance(obj, list) else tuple(mapped)
    if isinstance(obj, dict):
        return {k: tree_map(fn, v) for k, v in obj.items()}
    return obj


def tensors(obj: Any, prefix: str = "out") -> Iterator[tuple[str, torch.Tensor]]:
    """(`out[0]`-style name, tensor) for every tensor in a nested output."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, (list, tuple)):
        for i, o in enumerate(obj):
            yield from tensors(o, f"{prefix}[{i}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from tensors(v, f"{prefix}[{k!r}]")


def describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"{str(x.dtype).replace('torch.', '')}[{', '.join(str(s) for s in x.shape)}]"
    text = f"{type(x).__name__} {x!r}"
    return text if len(text) <= 40 else text[:37] + "..."


def to_device(obj: Any, device: torch.device) -> Any:
    return tree_map(lambda t: t.to(device), obj)


def clone_tree(obj: Any) -> Any:
    """An equal, independent copy (tensors cloned with their strides, other values deep-copied)."""
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, (list, tuple, dict)):
        return tree_map(lambda t: t.clone(), obj) if _only_tensors(obj) else copy.deepcopy(obj)
    return copy.deepcopy(obj)


def _only_tensors(obj: Any) -> bool:
    if isinstance(obj, torch.Tensor):
        return True
    if isinstance(obj, (list, tuple)):
        return all(_only_tensors(o) for o in obj)
    if isinstance(obj, dict):
        return all(_only_tensors(o) for o in obj.values())
    return isinstance(obj, (int, float, bool, str, type(None)))


def nbytes(obj: Any) -> int:
    return sum(t.numel() * t.element_size() for _, t in tensors(obj))


def same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise-equal contents, NaNs in the same places counting as equal."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
    return bool(torch.equal(a, b))


def storage_span(t: torch.Tensor) -> tuple[int, int] | None:
    try:
        storage = t.untyped_storage()
        start = storage.data_ptr()
        size = storage.nbytes()
    except (RuntimeError, NotImplementedError):
        return None
    return (start, start + size) if size else None


def aliases(a: Any, b: Any) -> str | None:
    """The name of a tensor in `a` whose storage overlaps one in `b`."""
    spans = [s for _, t in tensors(b) if (s := storage_span(t))]
    for name, t in tensors(a):
        s = storage_span(t)
        if s and any(s[0] < e and o < s[1] for o, e in spans):
            return name
    return None


def first_mutated(before: Any, after: Any, prefix: str = "input") -> str | None:
    names_before = dict(tensors(before, prefix))
    for name, t in tensors(after, prefix):
        ref = names_before.get(name)
        if ref is not None and not same_values(ref, t):
            return name
    return None


def poison(device: torch.device, hint_bytes: int) -> None:
    """Fill memory the allocator will hand out next with NaN, so `torch.empty` garbage is NaN.

    CUDA: free cached blocks, then allocate + NaN-fill + free one large block (outputs up to its
    size are carved from it) and a batch of 1 MB blocks (the small-allocation pool). CPU: glibc
    serves freed heap chunks again; a second same-size allocation after the first free comes from
    the heap (its mmap threshold rose), so NaN-filling that one poisons what comes next.
    """
    nan = float("nan")
    if device.type == "cuda":
        torch.cuda.empty_cache()
        free, _total = torch.cuda.mem_get_info(device)
        size = min(max(256 << 20, 4 * hint_bytes), free // 2)
        big = torch.empty(size // 4, dtype=torch.float32, device=device)
        big.fill_(nan)
        small = [torch.empty((1 << 20) // 4, dtype=torch.float32, device=device) for _ in range(16)]
        for s in small:
            s.fill_(nan)
        del big, small
        return
    size = min(max(1 << 20, 4 * hint_bytes), 24 << 20)
    for _ in range(2):
        buf = torch.empty(size // 4, dtype=torch.float32)
        buf.fill_(nan)
        del buf


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def is_cuda_fault(e: BaseException) -> bool:
    """Errors after which the CUDA context is unusable (the worker must be recycled)."""
    text = str(e)
    markers = ("illegal memory access", "device-side assert", "CUDA error", "unspecified launch failure",
               "illegal instruction", "misaligned address", "an illegal", "cudaErrorLaunchFailure")
    return any(m in text for m in markers) and not isinstance(e, torch.OutOfMemoryError)


def set_precision(allow_tf32: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    torch.set_float32_matmul_precision("high" if allow_tf32 else "highest")


def input_seed_base() -> int:
    """The first input seed of a job: drawn from os.urandom, so a candidate cannot regenerate
    the inputs ahead of time (unless TRITONIZE_VERIFY_SEED fixes it)."""
    fixed = os.environ.get(SEED_ENV, "").strip()
    if fixed:
        try:
            return int(fixed)
        except ValueError:
            pass
    return 1000 + int.from_bytes(os.urandom(4), "little") % 2_000_000_000


def seed_all(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    with contextlib.suppress(ImportError):
        import numpy as np

        np.random.seed(seed % (2**32))


# ---- tolerance --------------------------------------------------------------------------------------

DEFAULT_TOL = {"float16": 1e-2, "bfloat16": 1e-2, "float32": 1e-4, "float64": 1e-4}


def output_dtype(out: Any) -> str:
    names = [t for _, t in tensors(out)]
    for t in names:
        if t.is_floating_point():
            return str(t.dtype).replace("torch.", "")
    return str(names[0].dtype).replace("torch.", "") if names else "float32"


def tolerance(dtype: str, opts: Options) -> dict[str, Any]:
    """fp32 1e-4, fp16/bf16 1e-2; TF32 opt-in relaxes fp32 to 1e-2; settings override either."""
    if dtype in DEFAULT_TOL:
        default = DEFAULT_TOL[dtype]
        if dtype == "float32" and opts.allow_tf32:
            default = 1e-2
    else:
        default = 0.0  # integer and bool outputs must match exactly
    atol = opts.atol if opts.atol is not None else default
    rtol = opts.rtol if opts.rtol is not None else default
    return {"atol": atol, "rtol": rtol, "dtype": dtype, "tf32": bool(opts.allow_tf32)}


def rel_norm_limit(tol: dict[str, Any]) -> float:
    """Largest ||out - ref|| / ||ref|| accepted: 1e-2 (fp32), 5e-2 (fp16, bf16, TF32), never below
    5·rtol (a user who loosens rtol loosens this too)."""
    dtype = str(tol.get("dtype", "float32"))
    base = REL_NORM_LIMIT.get(dtype, 1e-2)
    if tol.get("tf32") and dtype == "float32":
        base = REL_NORM_LIMIT["float16"]
    return max(base, 5 * float(tol.get("rtol", 0.0)))


# ---- comparison -------------------------------------------------------------------------------------


@dataclass
class Stats:
    max_abs_err: float = 0.0
    rel_err: float = 0.0
    worst_index: str | None = None

    def merge(self, other: Stats) -> None:
        if other.max_abs_err >= self.max_abs_err:
            self.max_abs_err = other.max_abs_err
            self.worst_index = other.worst_index
        self.rel_err = max(self.rel_err, other.rel_err)


def _index(name: str, flat: int, shape: torch.Size) -> str:
    if not shape:
        return name
    idx = []
    for dim in reversed(shape):
        idx.append(flat % dim)
        flat //= dim
    return f"{name}[{', '.join(str(i) for i in reversed(idx))}]"


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _sci(x: float) -> str:
    """2.1e-2 rather than 0.021 or 2.1e-02: relative errors span many decades."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    mantissa, exp = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exp)}"


def _structure(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return "a tensor"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}"
    return f"a {type(x).__name__}"


def compare(out: Any, ref: Any, tol: dict[str, Any], name: str = "out") -> Stats:
    """Raise Verdict('mismatch', ...) unless `out` matches `ref`; else the error statistics."""
    if isinstance(ref, torch.Tensor):
        if not isinstance(out, torch.Tensor):
            raise Verdict("mismatch", f"{name}: expected {_structure(ref)}, got {_structure(out)}")
        return _compare_tensor(out, ref, tol, name)
    if isinstance(ref, (list, tuple)):
        if not isinstance(out, (list, tuple)) or len(out) != len(ref):
            raise Verdict("mismatch", f"{name}: expected {_structure(ref)}, got {_structure(out)}")
        stats = Stats()
        for i, (o, r) in enumerate(zip(out, ref, strict=True)):
            stats.merge(compare(o, r, tol, f"{name}[{i}]"))
        return stats
    if isinstance(ref, dict):
        if not isinstance(out, dict) or set(out) != set(ref):
            raise Verdict("mismatch", f"{name}: expected a dict with keys {sorted(ref)}, got {_structure(out)}")
        stats = Stats()
        for k in ref:
            stats.merge(compare(out[k], ref[k], tol, f"{name}[{k!r}]"))
        return stats
    if isinstance(out, torch.Tensor) or out != ref:
        raise Verdict("mismatch", f"{name}: expected {ref!r}, got {describe(out)}")
    return Stats()


def _compare_tensor(out: torch.Tensor, ref: torch.Tensor, tol: dict[str, Any], name: str) -> Stats:
    if out.shape != ref.shape:
        raise Verdict("mismatch", f"{name}: shape {describe(out)}, expected {describe(ref)}")
    if out.dtype != ref.dtype:
        raise Verdict("mismatch", f"{name}: dtype {describe(out)}, expected {describe(ref)}")
    if out.device != ref.device:
        raise Verdict("mismatch", f"{name}: on {out.device}, expected {ref.device}")
    if out.numel() == 0:
        return Stats()
    if not (ref.is_floating_point() or ref.is_complex()):
        bad = out != ref
        if bool(bad.any()):
            flat = int(bad.reshape(-1).nonzero()[0])
            raise Verdict("mismatch", f"{name}: {int(bad.sum()):,} of {ref.numel():,} elements differ, "
                          f"first at {_index(name, flat, ref.shape)}")
        return Stats()
    o = out.detach().to(torch.float64 if out.device.type == "cpu" else torch.float32)
    r = ref.detach().to(o.dtype)
    # NaN/Inf in the candidate where the reference has a finite value
    bad_nonfinite = ~torch.isfinite(o) & torch.isfinite(r)
    if bool(bad_nonfinite.any()):
        n = int(bad_nonfinite.sum())
        flat = int(bad_nonfinite.reshape(-1).nonzero()[0])
        kind = "NaN" if bool(torch.isnan(o.reshape(-1)[flat])) else "Inf"
        raise Verdict("mismatch", f"{name}: {kind} where the reference is finite ({n:,} of {ref.numel():,} "
                      f"elements, first at {_index(name, flat, ref.shape)})")
    atol, rtol = float(tol["atol"]), float(tol["rtol"])
    close = torch.isclose(o, r, atol=atol, rtol=rtol, equal_nan=True)
    both_finite = torch.isfinite(o) & torch.isfinite(r)
    diff = torch.where(both_finite, (o - r).abs(), torch.zeros_like(o))
    flat = int(diff.reshape(-1).argmax())
    max_abs = float(diff.reshape(-1)[flat])
    ref_norm = float(torch.where(both_finite, r, torch.zeros_like(r)).norm())
    diff_norm = float(diff.norm())
    rel = diff_norm / ref_norm if ref_norm > 0 else (0.0 if diff_norm == 0 else math.inf)
    worst = _index(name, flat, ref.shape)
    stats = Stats(max_abs_err=max_abs, rel_err=rel, worst_index=worst if max_abs > 0 else None)
    if not bool(close.all()):
        n_bad = int((~close).sum())
        if max_abs == 0.0:  # the mismatch is an Inf/NaN pattern, not a numeric difference
            flat = int((~close).reshape(-1).nonzero()[0])
            raise Verdict("mismatch", f"{name}: {n_bad:,} of {ref.numel():,} elements differ in NaN/Inf "
                          f"pattern, first at {_index(name, flat, ref.shape)}")
        err = Verdict("mismatch", f"{n_bad:,} of {ref.numel():,} elements beyond atol={atol:g} rtol={rtol:g}, "
                      f"max |Δ| {_fmt(max_abs)} at {worst}, rel err {_sci(rel)}")
        err.stats = stats  # type: ignore[attr-defined]
        raise err
    limit = rel_norm_limit(tol)
    ref_rms = ref_norm / math.sqrt(ref.numel())
    if rel > limit and ref_rms > atol * NOISE_FLOOR:
        err = Verdict("mismatch", f"{name}: relative error norm {_sci(rel)} above {_sci(limit)} "
                      f"(||out - ref|| / ||ref||; every element within atol={atol:g} rtol={rtol:g}, "
                      f"reference RMS {_sci(ref_rms)})")
        err.stats = stats  # type: ignore[attr-defined]
        raise err
    return stats


# ---- probe --------------------------------------------------------------------------------------------


def _recipe(loaded: Loaded, seed: int, device: torch.device) -> tuple[list, list]:
    seed_all(seed)
    try:
        init = loaded.get_init_inputs()
    except Exception as e:
        raise RecipeError(f"get_init_inputs() raised {_exc_line(e)}") from None
    try:
        inputs = loaded.get_inputs()
    except Exception as e:
        raise RecipeError(f"get_inputs() raised {_exc_line(e)}") from None
    if not isinstance(inputs, (list, tuple)):
        raise RecipeError(f"get_inputs() returned {type(inputs).__name__}; expected a list of inputs")
    if not isinstance(init, (list, tuple)):
        raise RecipeError(f"get_init_inputs() returned {type(init).__name__}; expected a list")
    return list(init), list(to_device(list(inputs), device))


def _reference(loaded: Loaded, init: list, seed: int, device: torch.device) -> torch.nn.Module:
    seed_all(seed)
    try:
        model = loaded.model_cls(*copy.deepcopy(init))
    except Exception as e:
        raise RecipeError(f"{loaded.model_cls.__name__}(*get_init_inputs()) raised {_exc_line(e)}") from None
    return model.to(device)


def _run_reference(model: torch.nn.Module, inputs: list, device: torch.device) -> Any:
    try:
        with torch.no_grad():
            out = model(*inputs)
        synchronize(device)
    except Exception as e:
        raise RecipeError(f"{type(model).__name__}.forward raised {_exc_line(e)}") from None
    return out


def probe(job: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    opts = Options.from_dict(job.get("options", {}))
    set_precision(opts.allow_tf32)
    ctx.stage("loading the problem")
    loaded = load_problem(job["source"], job["class_name"], ctx.job_dir)
    ctx.stage("running the recipe")
    init, inputs = _recipe(loaded, BASE_SEED, ctx.device)
    model = _reference(loaded, init, BASE_SEED, ctx.device)
    ctx.stage("running the reference")
    out = _run_reference(model, inputs, ctx.device)
    if not any(True for _ in tensors(out)):
        raise RecipeError(f"{type(model).__name__}.forward returned {describe(out)}; expected tensors")
    dtype = output_dtype(out)
    return {
        "dtype": dtype,
        "input_shapes": [describe(x) for x in inputs],
        "output_shapes": [describe(t) for _, t in tensors(out)],
        "tolerance": tolerance(dtype, opts),
        "output_bytes": nbytes(out),
    }


# ---- verify ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What `verify` sends back: CandidateResult fields (the pool adds id, origin, code, seconds)."""

    passed: bool = False
    kind: str | None = None
    message: str = ""
    drop_in: bool | None = None
    max_abs_err: float | None = None
    rel_err: float | None = None
    worst_index: str | None = None
    seeds: int = 0
    kernels_launched: int = 0
    timing: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    recycle: bool = False
    # seconds per phase, for benchmarks: load (static + import), first_forward (includes JIT),
    # correctness (the other seeds), timing
    phases: dict[str, float] = field(default_factory=dict)


class Candidate:
    """The candidate module, imported from a file in the job dir under a unique module name."""

    def __init__(self, code: str, ctx: JobContext) -> None:
        self.code = code
        self.ctx = ctx
        self.name = f"tritonize_candidate_{os.getpid()}_{time.monotonic_ns()}"
        self.path = os.path.join(ctx.job_dir, "candidate.py")
        self.module: Any = None

    def load(self) -> type:
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(self.code)
        try:
            with guarded(self.ctx.job_dir):
                self.module = import_file(self.path, self.name)
        except Verdict:
            raise
        except (ImportError, ModuleNotFoundError) as e:
            raise Verdict("import", _exc_line(e)) from None
        except SyntaxError as e:
            raise Verdict("syntax", f"line {e.lineno}: {e.msg}") from None
        except BaseException as e:
            raise self.failure(e, "importing the candidate") from None
        model_new = getattr(self.module, "ModelNew", None)
        if not isinstance(model_new, type) or not issubclass(model_new, torch.nn.Module):
            raise Verdict("import", "the candidate defines no ModelNew(nn.Module) class")
        return model_new

    def failure(self, e: BaseException, where: str) -> Verdict:
        """Classify an exception raised by candidate code."""
        line = _candidate_line(e, self.path)
        at = f" (candidate line {line})" if line else ""
        text = f"{where} raised {_exc_line(e)}{at}"
        if is_cuda_fault(e):
            return Verdict("crash", text, recycle=True)
        if _is_compile_error(e):
            return Verdict("compile", text)
        if isinstance(e, torch.OutOfMemoryError):
            return Verdict("runtime", text)
        return Verdict("runtime", text)

    def unload(self) -> None:
        """Drop the candidate's module (and anything imported from the job dir) from the worker."""
        for name, mod in list(sys.modules.items()):
            file = getattr(mod, "__file__", None) or ""
            if name == self.name or (file and file.startswith(self.ctx.job_dir + os.sep)):
                sys.modules.pop(name, None)
        with contextlib.suppress(Exception):
            from triton.runtime.interpreter import InterpretedFunction

            cache = InterpretedFunction.rewritten_fn
            for fn in [f for f in cache if getattr(f, "__module__", None) == self.name]:
                cache.pop(fn, None)
        self.module = None


@contextlib.contextmanager
def guarded(job_dir: str) -> Iterator[None]:
    """Run candidate code inside the sandbox; anything it refused makes the candidate a `cheat`
    (even when the refusal then surfaced as an exception in the candidate)."""
    try:
        with sandbox.guard(job_dir):
            yield
    finally:
        refused = sandbox.violations()
        if refused:
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            raise Verdict("cheat", f"sandbox: {refused[0]}{more}")


def _is_compile_error(e: BaseException) -> bool:
    names = {c.__name__ for c in type(e).__mro__}
    # InterpreterError: under TRITON_INTERPRET=1 errors in kernel code (what compiling would reject)
    return bool(names & {"CompilationError", "CompileTimeAssertionFailure", "OutOfResources", "PTXASError",
                         "InterpreterError"})


def verify(job: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    opts = Options.from_dict(job.get("options", {}))
    outcome = Outcome()
    candidate = Candidate(job["code"], ctx)
    try:
        _verify(job, opts, ctx, candidate, outcome)
        outcome.passed = True
    except Verdict as v:
        outcome.kind = v.kind
        outcome.message = v.message
        outcome.recycle = outcome.recycle or v.recycle
        stats = getattr(v, "stats", None)
        if stats is not None:
            outcome.max_abs_err, outcome.rel_err, outcome.worst_index = stats.max_abs_err, stats.rel_err, stats.worst_index
    except RecipeError as e:
        outcome.kind = "problem"
        outcome.message = str(e)
    finally:
        candidate.unload()
    outcome.recycle = outcome.recycle or ctx.recycle
    return dataclasses.asdict(outcome)


def _verify(job: dict[str, Any], opts: Options, ctx: JobContext, candidate: Candidate, outcome: Outcome) -> None:
    code = job["code"]
    set_precision(opts.allow_tf32)

    ctx.stage("static checks")
    findings = static.scan(code, opts.strict)
    outcome.findings = [dataclasses.asdict(f) for f in findings]
    fatal = [f for f in findings if f.fatal]
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
    loaded = load_problem(job["source"], job["class_name"], ctx.job_dir)
    ctx.stage("importing the candidate")
    model_new = candidate.load()
    ctx.check_untouched("importing the candidate")

    tol: dict[str, Any] | None = None
    total = Stats()
    first: tuple[Any, ...] | None = None
    mark = time.monotonic()
    outcome.phases["load"] = mark - ctx.started
    base = input_seed_base()
    outcome.findings.append({"rule": "seeds", "message": f"inputs drawn with seeds {base}..{base + opts.seeds - 1} "
                             f"(new each run; {SEED_ENV}={base} repeats them)", "fatal": False, "line": None})
    for i in range(opts.seeds):
        seed = base + i
        models, inputs, stats, tol = _check_seed(loaded, model_new, candidate, seed, BASE_SEED + i, opts, ctx,
                                                 outcome, tol)
        total.merge(stats)
        outcome.seeds = i + 1
        if first is None:
            first = (models, inputs)
            outcome.phases["first_forward"] = time.monotonic() - mark
            mark = time.monotonic()
    outcome.phases["correctness"] = time.monotonic() - mark
    outcome.max_abs_err, outcome.rel_err, outcome.worst_index = total.max_abs_err, total.rel_err, total.worst_index

    if ctx.device.type == "cuda" and opts.time and first is not None:
        mark = time.monotonic()
        _time(job, loaded, model_new, candidate, first, opts, ctx, outcome, tol)
        outcome.phases["timing"] = time.monotonic() - mark


def _check_seed(
    loaded: Loaded,
    model_new: type,
    candidate: Candidate,
    seed: int,
    init_seed: int,
    opts: Options,
    ctx: JobContext,
    outcome: Outcome,
    tol: dict[str, Any] | None,
) -> tuple[tuple[torch.nn.Module, torch.nn.Module], list, Stats, dict[str, Any]]:
    """One seed: inputs from `seed` (drawn per job), both models constructed under `init_seed` (fixed:
    the weights are no secret, and constructing ModelNew under the input seed would hand it the seed
    the inputs came from)."""
    dev = ctx.device
    ctx.stage(f"building inputs (seed {seed})")
    init, pristine = _recipe(loaded, seed, dev)
    ref_model = _reference(loaded, init, init_seed, dev)
    ctx.stage(f"constructing ModelNew (seed {seed})")
    seed_all(init_seed)
    try:
        with guarded(ctx.job_dir):
            new_model = model_new(*copy.deepcopy(init))
            new_model = new_model.to(dev)
    except Verdict:
        raise
    except BaseException as e:
        raise _stop(candidate.failure(e, "ModelNew(*get_init_inputs())"), ctx) from None
    ctx.check_untouched("ModelNew.__init__")
    drop_in = True
    try:
        new_model.load_state_dict(ref_model.state_dict(), strict=True)
    except Exception:
        drop_in = False  # both were built under the same seed; reported as "not drop-in"
    outcome.drop_in = drop_in if outcome.drop_in is None else (outcome.drop_in and drop_in)

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
        raise _stop(candidate.failure(e, "ModelNew.forward"), ctx) from None
    launched = launches() - before
    ctx.check_untouched("ModelNew.forward")
    _record_ops(recorder, opts, outcome)

    ctx.stage(f"reference forward (seed {seed})")
    poison(dev, hint)
    ref_out = _run_reference(ref_model, ref_in, dev)
    if tol is None:
        tol = tolerance(output_dtype(ref_out), opts)

    if launched == 0:
        raise Verdict("cheat", "no Triton kernel was launched during ModelNew.forward")
    outcome.kernels_launched = max(outcome.kernels_launched, launched)
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
        stats = compare(out, ref_out, tol)
    except Verdict as v:
        v.message = f"mismatch: {v.message} (seed {seed})"
        raise
    return (ref_model, new_model), pristine, stats, tol


def _stop(v: Verdict, ctx: JobContext) -> Verdict:
    if v.recycle:
        ctx.recycle = True
    return v


def _record_ops(recorder: Any, opts: Options, outcome: Outcome) -> None:
    """Torch compute ops that ran inside ModelNew.forward: a note, or `cheat` in strict mode."""
    ops = getattr(recorder, "compute_ops", None)
    if not ops:
        return
    rule = "torch-fallback-runtime"
    listed = recorder.describe() if hasattr(recorder, "describe") else ", ".join(sorted(ops))
    message = f"ModelNew.forward ran torch compute ops: {listed}"
    if opts.strict:
        raise Verdict("cheat", f"{rule}: {message} (strict mode)")
    if not any(f.get("rule") == rule for f in outcome.findings):
        outcome.findings.append({"rule": rule, "message": message, "fatal": False, "line": None})


# ---- timing (GPU) ----------------------------------------------------------------------------------

_BASELINES: dict[str, dict[str, Any]] = {}  # per (worker, problem + precision): eager/compile medians


def _time(
    job: dict[str, Any],
    loaded: Loaded,
    model_new: type,
    candidate: Candidate,
    first: tuple[Any, ...],
    opts: Options,
    ctx: JobContext,
    outcome: Outcome,
    tol: dict[str, Any] | None,
) -> None:
    from . import timing

    (ref_model, new_model), pristine = first
    dev = ctx.device
    key = hashlib.sha256(f"{job['source']}|{job['class_name']}|{opts.allow_tf32}".encode()).hexdigest()
    base = _BASELINES.get(key)
    if base is None:
        ctx.stage("timing eager and torch.compile baselines")
        mark = time.monotonic()
        base = timing.baselines(ref_model, clone_tree(pristine), dev)
        _BASELINES[key] = base
        outcome.phases["baselines"] = time.monotonic() - mark
    ctx.stage("timing the candidate")
    inputs = clone_tree(pristine)
    try:
        with guarded(ctx.job_dir), torch.no_grad():
            bench = timing.bench(lambda: new_model(*inputs), dev)
    except Verdict:
        raise
    except BaseException as e:
        raise _stop(candidate.failure(e, "ModelNew.forward (timing)"), ctx) from None
    outcome.timing = {"ms": bench.ms, "eager_ms": base.get("eager_ms"), "compile_ms": base.get("compile_ms"),
                      "runs": bench.runs}
    if base.get("compile_error"):
        outcome.findings.append({"rule": "baseline", "message": f"torch.compile baseline failed: {base['compile_error']}",
                                 "fatal": False, "line": None})

    # A speedup too good to be true: check again on inputs the candidate has never seen.
    reference_ms = base.get("compile_ms") or base.get("eager_ms")
    if reference_ms and bench.ms > 0 and reference_ms / bench.ms > SUSPICIOUS_SPEEDUP:
        ctx.stage("re-checking a suspicious speedup on fresh inputs")
        seed = input_seed_base() + FRESH_SEED_OFFSET + opts.seeds
        try:
            _check_seed(loaded, model_new, candidate, seed, BASE_SEED + opts.seeds, opts, ctx, outcome, tol)
        except Verdict as v:
            if v.kind in ("crash",):
                raise
            raise Verdict("cheat", f"result changed after timing ({reference_ms / bench.ms:.0f}× faster than "
                          f"the baseline): {v.message}") from None
