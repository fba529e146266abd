"""A verify worker: `python -m tritonize.worker.main --fd-in R --fd-out W --root DIR --device SPEC`.

One long-lived process per GPU (or CPU slot). Its first act, while still single-threaded, is the
sandbox (rlimits, network namespace: verify/sandbox.py). Then it imports torch and triton and
initialises CUDA once, says hello, and runs jobs sent by the pool (verify/pool.py) over a dedicated
pipe pair. With `--standby` it stops after the imports, says `ready`, and waits for an `activate`
message naming the device: the pool keeps one such spare to replace a failed worker at once, and a
spare holds no CUDA context (no GPU memory) until it is activated. Its fd 1/2
go to a pipe the pool drains (candidate prints never touch the protocol). It dies with its parent
(PR_SET_PDEATHSIG). After a job that may have poisoned the CUDA context, or that changed torch or
triton callables (a candidate monkeypatching them), it asks to be recycled.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import inspect
import os
import shutil
import signal
import sys
import time
import traceback
from typing import Any

from ..wire import protocol

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Get SIGKILLed when the parent dies, even if it is SIGKILLed itself (Linux)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid and os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


def _setup_env(root: str, device: str) -> None:
    os.environ["TRITON_CACHE_DIR"] = os.path.join(root, "triton-cache")
    # In-process compilation: no compile-worker subprocesses to outlive a killed worker.
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    if device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
    elif device.startswith("cuda"):  # a GPU standby imports triton before it knows its device index
        os.environ.pop("TRITON_INTERPRET", None)


def _sandbox(root: str, device: str) -> None:
    """rlimits, network namespace and the audit hook, before torch is imported: an unprivileged
    network namespace needs a single-threaded process, which this still is. (Doing it here rather
    than in a `preexec_fn` keeps fork-unsafe Python out of the threaded server.)"""
    from . import sandbox

    cuda = False if device == "cpu" else True if device.startswith("cuda") else None
    sandbox.install(root, sandbox.Limits(cuda=cuda))


def _select_device(spec: str) -> tuple[Any, dict[str, Any]]:
    """Import torch, pick the device, then import triton (TRITON_INTERPRET must be set first)."""
    import torch

    if spec.startswith("cuda") and not torch.cuda.is_available():
        print(f"tritonize worker: device {spec} requested but torch sees no CUDA device", file=sys.stderr)
        os._exit(2)
    use_cuda = spec.startswith("cuda") or (spec.startswith("auto") and torch.cuda.is_available())
    if use_cuda:
        os.environ.pop("TRITON_INTERPRET", None)
        index = int(spec.split(":", 1)[1]) if ":" in spec else 0
        torch.cuda.set_device(index)
        device = torch.device("cuda", index)
        torch.zeros(1, device=device)  # initialise the CUDA context now, not in the first job
        info = {"kind": "cuda", "name": torch.cuda.get_device_name(index), "count": torch.cuda.device_count(),
                "index": index}
    else:
        os.environ["TRITON_INTERPRET"] = "1"
        device = torch.device("cpu")
        info = {"kind": "cpu", "name": "cpu (TRITON_INTERPRET=1)", "count": 1, "index": None}
    import triton

    info["versions"] = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "triton": triton.__version__,
        "cuda": str(torch.version.cuda or ""),
    }
    return device, info


def fingerprint() -> dict[str, Any]:
    """Identity of the callables and global state the checker relies on, by name.

    A change between two snapshots means candidate code patched torch, triton or the clock.
    """
    import time as time_mod

    import torch
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


class Worker:
    def __init__(self, fd_in: int, fd_out: int, root: str, device_spec: str) -> None:
        self.reader = protocol.Reader(fd_in)
        self.fd_out = fd_out
        self.root = root
        self.device_spec = device_spec
        self.device: Any = None
        self.pristine: dict[str, Any] = {}

    def preload(self) -> None:
        """The slow, device-free part of starting: import torch, triton and the checker."""
        import torch

        # "auto" on a machine without a GPU means the interpreter. It must be on before triton is first
        # imported, or triton.language's own @jit helpers (tl.sum, tl.max, ...) are built for compiling.
        if self.device_spec.startswith("auto"):
            if torch.cuda.is_available():
                os.environ.pop("TRITON_INTERPRET", None)
            else:
                os.environ["TRITON_INTERPRET"] = "1"
        import triton  # noqa: F401

        from . import runtime

        runtime.install_launch_hook()

    def wait_activate(self) -> bool:
        """Standby: say `ready`, then wait for the device to serve (False: the pool is gone)."""
        protocol.send(self.fd_out, {"type": "ready", "pid": os.getpid()})
        while True:
            msg = self.reader.recv()
            if msg is None or msg.get("type") == "exit":
                return False
            if msg.get("type") == "activate":
                self.device_spec = str(msg.get("device") or self.device_spec)
                return True

    def start(self) -> None:
        from . import runtime, sandbox

        self.preload()
        self.device, info = _select_device(self.device_spec)
        runtime.warm_up(self.device)  # lazy work now (during generation), not in the first job
        self.pristine = fingerprint()
        info["sandbox"] = sandbox.status()
        protocol.send(self.fd_out, {"type": "hello", "pid": os.getpid(), **info})

    def serve(self) -> None:
        while True:
            msg = self.reader.recv()
            if msg is None or msg.get("type") == "exit":
                return
            if msg.get("type") == "job":
                self.run_job(msg)

    def run_job(self, job: dict[str, Any]) -> None:
        from . import runtime

        job_id = job.get("id")
        job_dir = os.path.join(self.root, "jobs", str(job_id))
        os.makedirs(job_dir, exist_ok=True)
        reply: dict[str, Any] = {"type": "result", "id": job_id, "nonce": job.get("nonce")}

        def stage(text: str) -> None:
            protocol.send(self.fd_out, {"type": "stage", "id": job_id, "stage": text})

        ctx = runtime.JobContext(job_dir=job_dir, device=self.device, stage=stage,
                                 tampered=lambda: changed_since(self.pristine))
        started = time.monotonic()
        try:
            if changed_since(self.pristine):
                # Something changed torch/triton between jobs: this worker cannot be trusted.
                reply.update(ok=False, tainted=True, error="worker state changed between jobs")
            else:
                reply.update(ok=True, value=self.dispatch(job, ctx))
        except runtime.RecipeError as e:
            reply.update(ok=False, problem_error="recipe_error", error=str(e))
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the pool
            reply.update(ok=False, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
            if runtime.is_cuda_fault(e):
                ctx.recycle = True
        finally:
            with contextlib.suppress(Exception):
                shutil.rmtree(job_dir, ignore_errors=True)
        fault = _pending_cuda_fault(self.device)
        if fault is not None:
            # A kernel of this job faulted asynchronously (e.g. a device-side assert after a verdict was
            # already reached): it belongs to this job, and this worker's CUDA context is now unusable.
            ctx.recycle = True
            value = reply.get("value")
            if reply.get("ok") and isinstance(value, dict) and value.get("passed"):
                value.update(passed=False, kind="crash", message=f"CUDA fault after the run: {fault}")
            elif reply.get("ok") and isinstance(value, dict) and "passed" in value:
                value["message"] = f"{value.get('message', '')}; then a CUDA fault: {fault}"
            elif not reply.get("ok"):
                reply["error"] = f"{reply.get('error')}; then {fault}"
        reply["seconds"] = time.monotonic() - started
        changed = bool(changed_since(self.pristine))
        reply["recycle"] = bool(ctx.recycle or changed or _wants_recycle(reply))
        if changed:
            reply["tainted"] = True
        protocol.send(self.fd_out, _jsonable(reply))

    def dispatch(self, job: dict[str, Any], ctx: Any) -> Any:
        from . import runtime

        op = job.get("op")
        if op == "verify":
            return runtime.verify(job, ctx)
        if op == "probe":
            return runtime.probe(job, ctx)
        if op == "call":
            module_name, _, func_name = str(job["func"]).partition(":")
            func = getattr(importlib.import_module(module_name), func_name)
            return func(job.get("payload"))
        raise ValueError(f"unknown job op {op!r}")


def _pending_cuda_fault(device: Any) -> str | None:
    """Synchronise the GPU after a job; return the CUDA error line if a kernel faulted."""
    if getattr(device, "type", None) != "cuda":
        return None
    import torch

    try:
        torch.cuda.synchronize(device)
    except Exception as e:  # noqa: BLE001 - any CUDA error here poisons the context
        from .runtime import _exc_line

        return _exc_line(e)
    return None


def _wants_recycle(reply: dict[str, Any]) -> bool:
    value = reply.get("value")
    return isinstance(value, dict) and bool(value.get("recycle"))


def _jsonable(obj: Any) -> Any:
    """Make a reply JSON-safe (a `call` may return tuples or numbers torch made)."""
    import json

    try:
        json.dumps(obj)
        return obj
    except (TypeError, ValueError):
        return json.loads(json.dumps(obj, default=_default))


def _default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if hasattr(o, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(o)
    return repr(o)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tritonize.worker.main")
    parser.add_argument("--fd-in", type=int, required=True)
    parser.add_argument("--fd-out", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--parent", type=int, default=0)
    parser.add_argument("--standby", action="store_true", help="import, say ready, wait for `activate`")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    _setup_env(args.root, args.device)
    _sandbox(args.root, args.device)
    worker = Worker(args.fd_in, args.fd_out, args.root, args.device)
    if args.standby:
        worker.preload()
        if not worker.wait_activate():
            os._exit(0)
        _setup_env(args.root, worker.device_spec)
    worker.start()
    worker.serve()
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: candidate atexit hooks must not run or hang


if __name__ == "__main__":
    sys.exit(main())
