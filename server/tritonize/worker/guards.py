"""Runtime guard: what a candidate's code did while it ran, beyond what the sandbox refuses.

Static checks see names; this sees what actually happened, so aliasing, `getattr` tricks, ops hidden in
containers or in third-party helpers are all caught:

- `TorchOpRecorder` (a TorchDispatchMode): every ATen op that reached the dispatcher. Triton kernel
  launches do not go through it: on a GPU the launcher only reads `data_ptr()`, and under
  `TRITON_INTERPRET=1` the interpreter moves data with copies, which are on the allowed list below.
- `Recorder` adds what the dispatch mode cannot see (docs/THREAT_MODEL.md, "Recorder"):
  * tensor memory handed to numpy or Python (`Tensor.numpy`, `__array__`, `__dlpack__`, `tolist`
    called from candidate code), seen by a TorchFunctionMode above the dispatcher;
  * the dispatch mode switched off or bypassed (`_DisableTorchDispatch`, an excluded Python key,
    modes popped off the stack, however it was reached): its state is checked at every torch call
    the function mode sees, at every Triton launch (a sentinel inside forward) and at the end;
  * threads started from candidate code (the modes are thread-local, so work on another thread is
    invisible to them): `_thread.start_new_thread` is wrapped once per worker (`install_thread_watch`).

Used by the worker around every run of candidate code (not around timing: the modes add overhead):

    with Recorder() as rec:
        out = model_new(*inputs)
    rec.compute_ops ...  # Finding("torch-fallback-runtime", fatal=settings.strict)
    rec.evasions() ...   # threads, tensor export, dispatch disabled: notes, fatal with strict
"""

from __future__ import annotations

import _thread
import threading
from collections.abc import Callable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from . import sandbox

# ATen ops that allocate, re-view, copy or describe tensors. Everything else counts as compute.
NON_COMPUTE_OPS = frozenset(
    """
    empty empty_like empty_strided empty_permuted new_empty new_empty_strided zeros zeros_like new_zeros
    ones ones_like new_ones full full_like new_full fill fill_ zero zero_ arange scalar_tensor
    view _unsafe_view view_as as_strided as_strided_ t transpose transpose_ permute expand expand_as
    reshape _reshape_alias clone contiguous copy copy_ _copy_from _copy_from_and_resize _to_copy to
    detach detach_ lift_fresh lift_fresh_copy alias slice select unsqueeze unsqueeze_ squeeze squeeze_
    unbind split split_with_sizes chunk narrow flatten unflatten diagonal movedim resize_ set_
    _local_scalar_dense item is_nonzero sym_size sym_stride sym_numel sym_storage_offset stride size
    dim numel is_contiguous is_same_size _has_compatible_shallow_copy_type randn rand randint normal_
    uniform_ random_ bernoulli_ _conj _neg_view resolve_conj resolve_neg _pin_memory record_stream
    """.split()
)

# Tensor methods that hand a tensor's memory (or its values) to numpy or plain Python, where the
# dispatcher sees no compute.
EXPORTS = {
    torch.Tensor.numpy: "Tensor.numpy",
    torch.Tensor.__array__: "Tensor.__array__",
    torch.Tensor.__dlpack__: "Tensor.__dlpack__",
    torch.Tensor.tolist: "Tensor.tolist",
}
_PYTHON_KEY = torch._C.DispatchKey.Python


class TorchOpRecorder(TorchDispatchMode):
    """Counts non-allocation ATen ops (by overload packet, e.g. "aten.mm") run inside the block."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # By default torch wraps __torch_dispatch__ in torch._disable_dynamo, whose first call
        # imports torch._dynamo (seconds at worker start). This mode never compiles, so the
        # wrapper buys nothing.
        return False

    def __init__(self) -> None:
        super().__init__()
        self.compute_ops: dict[str, int] = {}
        self.all_ops: dict[str, int] = {}
        self.handling = 0  # inside our own handler, where torch has taken this mode off the stack

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        packet = func.overloadpacket
        name = f"{func.namespace}.{packet.__name__}"
        self.all_ops[name] = self.all_ops.get(name, 0) + 1
        if packet.__name__ not in NON_COMPUTE_OPS:
            self.compute_ops[name] = self.compute_ops.get(name, 0) + 1
        self.handling += 1
        try:
            return func(*args, **(kwargs or {}))
        finally:
            self.handling -= 1

    def describe(self, limit: int = 5) -> str:
        """One line for a finding: "aten.mm ×3, aten.add ×1"."""
        return _counts(self.compute_ops, limit)


class _ExportWatch(TorchFunctionMode):
    """Above the dispatcher: sees every torch call, checks that the dispatch recorder below is still
    listening, and notes tensor memory handed to numpy/Python by candidate code."""

    def __init__(self, owner: Recorder) -> None:
        super().__init__()
        self.owner = owner

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        self.owner.check_dispatch("a torch call")
        name = EXPORTS.get(func)
        if name is not None and sandbox.candidate_on_stack():
            self.owner.note(self.owner.exports, name)
        return func(*args, **(kwargs or {}))


class Recorder:
    """The dispatch recorder plus what it cannot see by itself (module docstring). A context manager;
    not re-entrant."""

    def __init__(self) -> None:
        self.ops = TorchOpRecorder()
        self._watch = _ExportWatch(self)
        self.exports: dict[str, int] = {}
        self.threads: dict[str, int] = {}
        self.disabled: dict[str, int] = {}
        self._depth = 0  # the dispatch stack depth with our recorder on top

    @property
    def compute_ops(self) -> dict[str, int]:
        return self.ops.compute_ops

    def describe(self, limit: int = 5) -> str:
        return self.ops.describe(limit)

    def note(self, table: dict[str, int], what: str) -> None:
        table[what] = table.get(what, 0) + 1

    def __enter__(self) -> Recorder:
        self._watch.__enter__()
        self.ops.__enter__()
        self._depth = torch._C._len_torch_dispatch_stack()
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.check_dispatch("the end of the run")
            if not torch._C._is_torch_function_enabled():
                self.note(self.disabled, "torch functions left disabled")
        finally:
            if self in _ACTIVE:
                _ACTIVE.remove(self)
            _leave(self.ops)
            _leave(self._watch)

    def check_dispatch(self, where: str) -> None:
        """Is the dispatch recorder still on top of the mode stack, with the Python key not excluded?
        (Not asked while the recorder itself is running an op: torch takes it off the stack then.)"""
        if self.ops.handling:
            return
        if torch._C._dispatch_tls_is_dispatch_key_excluded(_PYTHON_KEY):
            self.note(self.disabled, f"Python dispatch key excluded at {where}")
        depth = torch._C._len_torch_dispatch_stack()
        if depth < self._depth or (depth and torch._C._get_dispatch_stack_at(self._depth - 1) is not self.ops):
            self.note(self.disabled, f"dispatch recorder off the mode stack at {where}")

    def evasions(self) -> list[tuple[str, str]]:
        """(rule, message) for each kind of work the recorder could not see."""
        out = []
        if self.threads:
            out.append(("thread", f"started {_plural(sum(self.threads.values()), 'thread')} (torch work on "
                                  f"another thread is invisible to the recorder)"))
        if self.exports:
            out.append(("tensor-export", f"handed tensor memory to numpy/Python ({_counts(self.exports)})"))
        if self.disabled:
            out.append(("dispatch-disabled", f"switched off torch dispatch recording ({_counts(self.disabled)})"))
        return out


_ACTIVE: list[Recorder] = []


def checkpoint(where: str) -> None:
    """A sentinel inside candidate code (called at every Triton launch): is the recorder still on?"""
    if _ACTIVE:
        rec = _ACTIVE[-1]
        rec.check_dispatch(where)
        if not torch._C._is_torch_function_enabled():
            rec.note(rec.disabled, f"torch functions disabled at {where}")


def _leave(mode: Any) -> None:
    """Exit a mode even if the candidate left the stack in disorder (the fingerprint reports that)."""
    try:
        mode.__exit__(None, None, None)
    except Exception:  # noqa: BLE001 - a stack a candidate changed; recorded as dispatch-disabled
        pass


# ---- threads ------------------------------------------------------------------------------------------


def _watch_threads(original: Callable[..., Any]) -> Callable[..., Any]:
    def start_new_thread(*args: Any, **kwargs: Any) -> Any:
        if _ACTIVE and sandbox.active() and sandbox.candidate_on_stack():
            _ACTIVE[-1].note(_ACTIVE[-1].threads, "thread")
        return original(*args, **kwargs)

    start_new_thread._tritonize_watch = True  # type: ignore[attr-defined]
    return start_new_thread


# Where every Python thread starts (there is no audit event for threads in 3.11/3.12): the C functions
# and threading's own references to them (3.13 starts threads through start_joinable_thread).
THREAD_STARTERS = ((_thread, "start_new_thread"), (_thread, "start_joinable_thread"),
                   (threading, "_start_new_thread"), (threading, "_start_joinable_thread"))


def install_thread_watch() -> None:
    """Wrap the thread starters, once per worker; the fingerprint (checks.py) shows a candidate that
    puts the originals back."""
    for module, name in THREAD_STARTERS:
        original = getattr(module, name, None)
        if original is not None and not getattr(original, "_tritonize_watch", False):
            setattr(module, name, _watch_threads(original))


def _counts(table: dict[str, int], limit: int = 5) -> str:
    items = sorted(table.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{k} ×{v}" for k, v in items[:limit])
    more = len(items) - limit
    return text + (f" and {more} more" if more > 0 else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


__all__ = ["EXPORTS", "NON_COMPUTE_OPS", "THREAD_STARTERS", "Recorder", "TorchOpRecorder", "checkpoint",
           "install_thread_watch"]
