"""The runtime checks around a candidate's forward (docs/VERIFY.md, "The checks, in order").

- a Triton kernel was launched (the launcher is wrapped and counts launches);
- the output does not alias the reference's output or the inputs, and the inputs were not modified;
- the allocator is poisoned with NaN before each forward, so `torch.empty` garbage is not a previous result;
- candidate code runs inside the sandbox guard: anything it refused makes the candidate a `cheat`;
- torch compute ops, threads, tensor memory handed to numpy and dispatch switched off, seen at run time,
  are notes, or `cheat` in strict mode (guards.Recorder);
- a fingerprint of what the checker and the reference rely on (torch, nn classes, builtins, copy,
  nn.Module's global hooks, triton, the clock, the recorder's wrappers) shows a candidate patching it;
- errors after which the CUDA context is unusable, and Triton compile errors, are recognised.
"""

from __future__ import annotations

import collections
import contextlib
import os
import types
from collections.abc import Iterator
from typing import Any

import torch

from ..report import Finding
from . import sandbox
from .errors import Verdict
from .guards import THREAD_STARTERS, Recorder, checkpoint, install_thread_watch
from .trees import tensors

# ---- launch counting ----------------------------------------------------------------------------

_LAUNCHES = [0]


def install_launch_hook() -> None:
    """Count Triton kernel launches by wrapping the launcher that `kernel[grid](...)` calls, and check
    at each launch that the recorder is still listening (guards.checkpoint: a sentinel inside forward).
    Also wraps the thread starters (guards.install_thread_watch). Once per worker, at start.

    `KernelInterface.__getitem__` returns a proxy calling `self.run(grid=..., warmup=False, ...)`,
    and autotuners/heuristics end in the wrapped function's `run` too, so wrapping `run` on
    `JITFunction` (compiled) and `InterpretedFunction` (TRITON_INTERPRET=1) sees every launch.
    """
    from triton.runtime.jit import JITFunction

    install_thread_watch()
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
                checkpoint("a Triton launch")
            return _original(self, *args, **kwargs)

        run._tritonize_counted = True  # type: ignore[attr-defined]
        cls.run = run


def launches() -> int:
    return _LAUNCHES[0]


def warm_up(device: torch.device) -> None:
    """Pay one-time lazy work at worker start (first dispatch-mode entry, first kernels of the
    allocator), not in the first job. The recorder does not import torch._dynamo (guards.py)."""
    with contextlib.suppress(Exception), Recorder():
        (torch.ones(2, device=device) + 1).sum().tolist()


# ---- aliasing and mutation ------------------------------------------------------------------------


def same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise-equal contents, NaNs in the same places counting as equal."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        if bool(torch.equal(a, b)):  # one pass; False wherever a NaN is, so those take the full test
            return True
        return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
    return bool(torch.equal(a, b))


def identical(a: Any, b: Any) -> bool:
    """Same structure, and every tensor equal in dtype, device, shape and values (torch.equal: one pass).
    An output identical to one that already matched the reference matches it too; False says nothing
    (NaNs, a nondeterministic kernel) and the caller compares with the reference."""
    if type(a) is not type(b):
        return False
    if type(a) is torch.Tensor:
        return a.dtype == b.dtype and a.device == b.device and a.shape == b.shape and bool(torch.equal(a, b))
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(identical(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return False


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


def recorder_findings(recorder: Recorder, where: str, strict: bool, forward: bool = True) -> list[Finding]:
    """What the recorder saw while candidate code ran (`where`: "ModelNew.forward"): torch compute ops,
    threads, tensor memory handed to numpy/Python, dispatch recording switched off. Notes, or `cheat`
    in strict mode. Outside forward (construction, load_state_dict, finalizers) only threads count:
    preparing weights with torch or numpy there computes nothing the comparison sees, but a thread
    started there can compute during forward."""
    found: list[tuple[str, str]] = []
    if forward and recorder.compute_ops:
        found.append(("torch-fallback-runtime", f"{where} ran torch compute ops: {recorder.describe()}"))
    found += [(rule, f"{where} {text}") for rule, text in recorder.evasions() if forward or rule == "thread"]
    if strict and found:
        rule, message = found[0]
        raise Verdict("cheat", f"{rule}: {message} (strict mode)")
    return [Finding(rule=rule, message=message, fatal=False, line=None) for rule, message in found]


# ---- tampering ----------------------------------------------------------------------------------------

# nn.Module's global hook tables: a hook registered here runs inside the reference's forward.
GLOBAL_HOOK_TABLES = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                      "_global_backward_pre_hooks", "_global_forward_hooks_with_kwargs",
                      "_global_forward_hooks_always_called", "_global_buffer_registration_hooks",
                      "_global_module_registration_hooks", "_global_parameter_registration_hooks")
TRITON_HOOKS = ("launch_enter_hook", "launch_exit_hook", "jit_cache_hook", "jit_post_compile_hook",
                "kernel_load_start_hook", "kernel_load_end_hook", "add_stages_inspection_hook")


def fingerprint() -> dict[str, Any]:
    """Identity of the callables, tables and global state the checker (and the reference) relies on,
    by name. A change between two snapshots means candidate code patched torch, triton, the clock,
    builtins, copy, nn.Module's global hooks or the recorder's own wrappers. (Swapping a function's
    `__code__` in place is refused by the sandbox.)

    Namespaces are read with vars(): taking the fingerprint must not run an object a candidate planted
    (a module `__getattr__`, a property). It is taken after every step of candidate code, so each
    namespace is two C-level passes (its names, the ids of its values)."""
    import builtins
    import copy
    import copyreg
    import math
    import time as time_mod

    import torch.nn.functional as F
    import torch.nn.modules.module as module_mod

    out: dict[str, Any] = {}
    for label, space in (("torch.nn.functional", F), ("torch", torch), ("torch.nn", torch.nn), ("builtins", builtins),
                         ("math", math), ("copy", copy), ("time", time_mod), ("torch.cuda", torch.cuda)):
        out[label] = _ids(_callables(_without_dynamo_patches(space)), _Grows)
    for label, cls in _classes():
        out[label] = _ids(_without_dynamo_patches(cls))
    out["triton"] = _ids(_triton_objects())
    out["threads"] = _ids({f"{m.__name__}.{n}": vars(m).get(n) for m, n in THREAD_STARTERS})
    # torch._dynamo, imported lazily (e.g. by a TorchDispatchMode), wraps manual_seed once: compare
    # what is inside the wrapper.
    out["torch.manual_seed"] = id(_unwrapped(vars(torch)["manual_seed"]))
    out["copy._deepcopy_dispatch"] = _ids(copy._deepcopy_dispatch)
    # pickling reducers: libraries imported lazily (sympy) register theirs; deepcopy consults the table
    # only for classes without __deepcopy__ (not tensors), so only a replaced entry counts
    out["copyreg.dispatch_table"] = _ids(copyreg.dispatch_table, _Grows)
    for name in GLOBAL_HOOK_TABLES:
        table = vars(module_mod).get(name)
        out[f"torch.nn.modules.module.{name}"] = (id(table), _ids(table) if type(table) in _DICTS else None)
    out["torch default dtype"] = torch.get_default_dtype()
    out["torch default device"] = str(torch.get_default_device())
    out["torch grad mode"] = torch.is_grad_enabled()
    out["torch deterministic algorithms"] = torch.are_deterministic_algorithms_enabled()
    out["torch dispatch mode stack"] = torch._C._len_torch_dispatch_stack()
    out["torch function mode stack"] = torch._C._len_torch_function_stack()
    out["torch function handling"] = torch._C._is_torch_function_enabled()
    out["torch Python dispatch key"] = torch._C._dispatch_tls_is_dispatch_key_excluded(torch._C.DispatchKey.Python)
    return out


_DICTS = (dict, collections.OrderedDict)
_CLASSES: list[tuple[str, type]] = []


def _classes() -> list[tuple[str, type]]:
    """Tensor and every nn.Module class in torch.nn, listed once (replacing one of them in torch.nn
    shows in the torch.nn namespace; changing one shows in its own entry)."""
    if not _CLASSES:
        _CLASSES.extend((c.__name__, c) for c in (torch.Tensor, torch._C.TensorBase, torch.cuda.Event))
        _CLASSES.extend((f"torch.nn.{name}", c) for name, c in vars(torch.nn).items()
                        if issubclass(type(c), type) and issubclass(c, torch.nn.Module))
    return _CLASSES


class _Ids(tuple):
    """(names, ids of the values): a namespace or table as two tuples built in C."""

    __slots__ = ()


class _Grows(_Ids):
    """A module namespace: names added later are lazy imports, not tampering."""

    __slots__ = ()


def _ids(space: Any, kind: type[_Ids] = _Ids) -> _Ids:
    return kind((tuple(space), tuple(map(id, space.values()))))


# What torch._dynamo patches in a process once, the first time it is imported or compiles (the timing
# baselines use torch.compile; so does the Inductor generator): it wraps torch.manual_seed (compared
# unwrapped, separately) and Module.__init__/__setstate__ (to tag modules it has seen).
_DYNAMO_MODULE_PATCHES = ("__init__", "__setstate__")
_DYNAMO_FLAG = "___needs_generation_tag_patch"
_MUTATION_GUARD = os.path.join("_dynamo", "mutation_guard.py")


def _callables(space: Any) -> dict[str, Any]:
    """A module's functions and classes; its data (flags such as torch.cuda._initialized, caches) may
    change legitimately, and its submodules are fingerprinted on their own where it matters."""
    return {k: v for k, v in list(space.items()) if callable(v) and not issubclass(type(v), types.ModuleType)}


def _without_dynamo_patches(space: Any) -> Any:
    """vars(space), with dynamo's own patches seen through (the function each one wraps)."""
    if space is torch:
        members = dict(vars(torch))
        members.pop("manual_seed", None)
        return members
    if space is not torch.nn.Module:
        return vars(space)
    members = dict(vars(space))
    members.pop(_DYNAMO_FLAG, None)
    for name in _DYNAMO_MODULE_PATCHES:
        members[name] = _dynamo_wrapped(members.get(name), name)
    return members


def _dynamo_wrapped(fn: Any, name: str) -> Any:
    """The original `name` inside dynamo's patched_init/patched_setstate (a closure), else `fn` itself."""
    if type(fn) is not types.FunctionType or not fn.__code__.co_filename.endswith(_MUTATION_GUARD):
        return fn
    for cell in fn.__closure__ or ():
        inner = cell.cell_contents
        if type(inner) is types.FunctionType and inner.__code__.co_name == name:
            return inner
    return fn


def _unwrapped(o: Any) -> Any:
    """The function inside `functools.wraps` wrappers (read from the wrappers' __dict__ only)."""
    for _ in range(8):
        if type(o) is not types.FunctionType or "__wrapped__" not in o.__dict__:
            break
        o = o.__dict__["__wrapped__"]
    return o


def _triton_objects() -> dict[str, Any]:
    """The launcher the launch counter wraps, and the hooks Triton calls around compiles and launches."""
    from triton.runtime import jit

    objs = {"JITFunction.run": vars(jit.JITFunction).get("run"),
            "KernelInterface.__getitem__": vars(jit.KernelInterface).get("__getitem__")}
    with contextlib.suppress(ImportError):
        from triton.runtime.interpreter import InterpretedFunction

        objs["InterpretedFunction.run"] = vars(InterpretedFunction).get("run")
    with contextlib.suppress(ImportError, AttributeError):
        import triton

        for name in TRITON_HOOKS:
            objs[f"knobs.runtime.{name}"] = getattr(triton.knobs.runtime, name, None)
    return objs


def _diff(label: str, before: _Ids, after: Any) -> list[str]:
    """Names in `before` whose value is gone or is another object now; names added since count too,
    except in module namespaces, where lazy imports add attributes (`_Grows`)."""
    if not isinstance(after, _Ids):
        return [label]
    now = dict(zip(*after, strict=True))
    changed = [f"{label}.{_show_key(k)}" for k, ident in zip(*before, strict=True) if now.get(k, -1) != ident]
    if type(before) is _Ids:
        known = set(before[0])
        changed += [f"{label}.{_show_key(k)} (added)" for k in after[0] if k not in known]
    return changed  # empty: only names added to a module namespace, or the same names reordered


def _show_key(key: Any) -> str:
    """A pristine table key for a message (the keys compared were there at worker start)."""
    return key if isinstance(key, str) else getattr(key, "__qualname__", None) or repr(key)


def changed_since(pristine: dict[str, Any]) -> list[str]:
    """Names whose identity or value differs from the snapshot taken at worker start ("torch.matmul",
    "copy._deepcopy_dispatch.<class 'list'>")."""
    now = fingerprint()
    changed: list[str] = []
    for label, before in pristine.items():
        after = now.get(label)
        if after == before:
            continue
        changed += _diff(label, before, after) if isinstance(before, _Ids) else [label]
    return changed
