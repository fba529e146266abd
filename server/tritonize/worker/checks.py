"""The runtime checks around a candidate's forward (docs/VERIFY.md, "The checks, in order").

- a Triton kernel was launched (the launcher is wrapped and counts launches);
- the output does not alias the reference's output or the inputs, and the inputs were not modified;
- the allocator is poisoned with NaN before each forward, so `torch.empty` garbage is not a previous result;
- candidate code runs inside the sandbox guard: anything it refused makes the candidate a `cheat`;
- torch compute ops seen at run time are a note, or `cheat` in strict mode;
- a fingerprint of what the checker relies on (torch, triton, the clock) shows a candidate patching it;
- errors after which the CUDA context is unusable, and Triton compile errors, are recognised.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

import torch

from ..report import Finding
from . import sandbox
from .errors import Verdict
from .guards import TorchOpRecorder
from .trees import tensors

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


# ---- aliasing and mutation ------------------------------------------------------------------------


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


# ---- memory and device -----------------------------------------------------------------------------


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


def is_compile_error(e: BaseException) -> bool:
    names = {c.__name__ for c in type(e).__mro__}
    # InterpreterError: under TRITON_INTERPRET=1 errors in kernel code (what compiling would reject)
    return bool(names & {"CompilationError", "CompileTimeAssertionFailure", "OutOfResources", "PTXASError",
                         "InterpreterError"})


# ---- sandbox and torch ops --------------------------------------------------------------------------


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


def torch_ops_finding(recorder: TorchOpRecorder, strict: bool) -> Finding | None:
    """Torch compute ops that ran inside ModelNew.forward: a note, or `cheat` in strict mode."""
    ops = getattr(recorder, "compute_ops", None)
    if not ops:
        return None
    rule = "torch-fallback-runtime"
    listed = recorder.describe() if hasattr(recorder, "describe") else ", ".join(sorted(ops))
    message = f"ModelNew.forward ran torch compute ops: {listed}"
    if strict:
        raise Verdict("cheat", f"{rule}: {message} (strict mode)")
    return Finding(rule=rule, message=message, fatal=False, line=None)


# ---- tampering ----------------------------------------------------------------------------------------


def fingerprint() -> dict[str, Any]:
    """Identity of the callables and global state the checker relies on, by name.

    A change between two snapshots means candidate code patched torch, triton or the clock.
    """
    import time as time_mod

    import torch.nn.functional as F
    from triton.runtime import jit

    objs: dict[str, Any] = {}
    for name in sorted(vars(F)):
        value = getattr(F, name)
        if callable(value):
            objs[f"torch.nn.functional.{name}"] = value
    for name in ("clone", "copy_", "to", "contiguous", "abs", "__sub__", "sub", "norm", "sum", "all", "any",
                 "isnan", "data_ptr", "untyped_storage", "reshape", "argmax", "nonzero", "fill_", "zero_",
                 "__eq__", "__ne__", "__or__", "__and__", "__invert__", "__getitem__", "__setitem__", "equal",
                 "float", "double", "numel", "element_size", "item", "__bool__", "__float__", "__int__",
                 "detach", "is_floating_point"):
        objs[f"torch.Tensor.{name}"] = getattr(torch.Tensor, name, None)
    for name in ("allclose", "isclose", "equal", "isfinite", "isnan", "where", "zeros_like", "empty", "randn",
                 "rand", "manual_seed", "no_grad", "Tensor"):
        objs[f"torch.{name}"] = getattr(torch, name, None)
    for name in ("__call__", "_call_impl", "load_state_dict", "state_dict", "to"):
        objs[f"torch.nn.Module.{name}"] = getattr(torch.nn.Module, name)
    for name in ("synchronize", "Event", "empty_cache"):
        objs[f"torch.cuda.{name}"] = getattr(torch.cuda, name)
    for name in ("record", "elapsed_time"):
        objs[f"torch.cuda.Event.{name}"] = getattr(torch.cuda.Event, name, None)
    objs["triton JITFunction.run"] = jit.JITFunction.run
    objs["triton KernelInterface.__getitem__"] = jit.KernelInterface.__getitem__
    with contextlib.suppress(ImportError):
        from triton.runtime.interpreter import InterpretedFunction

        objs["triton InterpretedFunction.run"] = InterpretedFunction.run
    for name in ("perf_counter", "perf_counter_ns", "time", "monotonic"):
        objs[f"time.{name}"] = getattr(time_mod, name)
    # torch._dynamo, imported lazily (e.g. by a TorchDispatchMode), wraps manual_seed once: compare
    # what is inside the wrapper.
    objs["torch.manual_seed"] = inspect.unwrap(torch.manual_seed)
    out: dict[str, Any] = {}
    for name, o in objs.items():
        code = getattr(o, "__code__", None)  # a function whose code object was swapped in place
        out[name] = (id(o), id(code) if code is not None else None)
    out["torch default dtype"] = torch.get_default_dtype()
    out["torch default device"] = str(torch.get_default_device())
    out["torch grad mode"] = torch.is_grad_enabled()
    out["torch deterministic algorithms"] = torch.are_deterministic_algorithms_enabled()
    return out


def changed_since(pristine: dict[str, Any]) -> list[str]:
    """Names whose identity or value differs from the snapshot taken at worker start."""
    now = fingerprint()
    return [name for name in pristine if now.get(name) != pristine[name]]
