"""A verify worker: `python -m tritonize.worker.main --fd-in R --fd-out W --root DIR --device SPEC`.

One long-lived process per GPU (or CPU slot). Its first acts, while still single-threaded, are the
OS-level confinement that native code cannot undo (a PID namespace, then Landlock: confine.py) and
the sandbox (rlimits, network namespace, audit hook: sandbox.py). Then it imports torch and triton and initialises
CUDA once, says hello, and runs jobs sent by the pool (verify/pool.py) over a dedicated pipe pair
(wire/messages.py); after the warm-up and before the first job it installs the seccomp filter on
all its threads (confine.py). With `--standby` it stops after the imports, says `ready`, and waits for an
`activate` message naming the device: the pool keeps one such spare to replace a failed worker at
once, and a spare holds no CUDA context (no GPU memory) until it is activated. Its fd 1/2 go to a
pipe the pool drains (candidate prints never touch the protocol). It dies with its parent
(PR_SET_PDEATHSIG). After a job that may have poisoned the CUDA context, or that changed torch or
triton callables (a candidate monkeypatching them), it asks to be recycled.

A job names an entry point: the worker runs only the functions in ENTRY_POINTS below, plus any the
pool's owner named with `--entry-point` when it started the worker (tests use this), never a
module:function string sent with a job. An unknown name gets an error reply.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import json
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from ..report import CandidateResult
from ..wire import messages, protocol
from ..wire.messages import (
    Claim,
    Granted,
    Hello,
    Job,
    ProbeJob,
    ProbeResult,
    Ready,
    Release,
    Result,
    Stage,
    VerifyJob,
)
from .context import JobContext
from .errors import RecipeError, exc_line

PR_SET_PDEATHSIG = 1

# ---- entry points ----------------------------------------------------------------------------------
#
# Each takes the job's payload and its JobContext. They import their modules when first called: this
# module runs before the sandbox is up and must not import torch (a network namespace needs a
# single-threaded process), and the template library is only loaded by a worker that builds templates.

EntryPoint = Callable[[Any, JobContext], Any]


def _verify(job: VerifyJob, ctx: JobContext) -> CandidateResult:
    from .verify import verify

    return verify(job, ctx)


def _probe(job: ProbeJob, ctx: JobContext) -> ProbeResult:
    from .verify import probe

    return probe(job, ctx)


def _baselines(job: ProbeJob, ctx: JobContext) -> dict[str, Any]:
    from .verify import measure_baselines

    return measure_baselines(job, ctx)


def _template_build(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from .template.build import build_candidates

    return build_candidates(payload, ctx.device)


def _inductor_capture(payload: dict[str, Any], _ctx: JobContext) -> dict[str, Any]:
    from .inductor_capture import capture_for_export

    return capture_for_export(payload)


ENTRY_POINTS: dict[str, EntryPoint] = {
    "verify": _verify,  # VerifyJob → report.CandidateResult
    "probe": _probe,  # ProbeJob → ProbeResult, or a `recipe_error` reply
    "baselines": _baselines,  # ProbeJob → {"eager_ms", "compile_ms", "compile_error"} (GPU)
    "template.build": _template_build,  # {"problem", "n", "allow_tf32"} → {"candidates", "skipped"}
    "inductor.capture": _inductor_capture,  # {"source", "mode"} → the capture record
}


class UnknownEntryPoint(LookupError):
    """A job named an entry point this worker does not have."""


def extra_entry_point(spec: str) -> tuple[str, EntryPoint]:
    """`name=package.module:function` from the command line → (name, entry point): a function of the
    payload only, or of the payload and the JobContext when it says `wants_context = True`."""
    name, _, target = spec.partition("=")
    module_name, _, func_name = target.partition(":")
    if not name or not module_name or not func_name:
        raise ValueError(f"--entry-point wants NAME=MODULE:FUNCTION, got {spec!r}")
    if name in ENTRY_POINTS:
        raise ValueError(f"--entry-point {name!r} would replace a built-in entry point")
    func = getattr(importlib.import_module(module_name), func_name)
    if getattr(func, "wants_context", False) is True:  # func(payload, ctx), as the built-in ones
        return name, func
    return name, lambda payload, _ctx: func(payload)


# ---- process set-up ------------------------------------------------------------------------------------


def die_with_parent(parent_pid: int) -> None:
    """Get SIGKILLed when the parent dies, even if it is SIGKILLed itself (Linux)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid and os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


def _setup_env(root: str, device: str) -> None:
    os.environ["TRITON_CACHE_DIR"] = os.path.join(root, "triton-cache")
    # Every file the worker writes lands in its own directory: the only place it may write (confine.py).
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(root, "inductor-cache"))
    os.environ["TMPDIR"] = os.path.join(root, "tmp")
    for var in ("TRITON_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR", "TMPDIR"):
        os.makedirs(os.environ[var], exist_ok=True)
    # In-process compilation: no compile-worker subprocesses to outlive a killed worker (and a
    # confined worker may not start Python processes).
    # Forced, not defaulted: with more threads Inductor starts a pool of Python processes, which the
    # confined worker may not exec (its torch.compile then fails as BackendCompilerFailed).
    os.environ["TORCHINDUCTOR_COMPILE_THREADS"] = "1"
    if device != "cpu":
        _find_libcuda()
    if device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
    elif device.startswith("cuda"):  # a GPU standby imports triton before it knows its device index
        os.environ.pop("TRITON_INTERPRET", None)


def _find_libcuda() -> None:
    """Triton finds libcuda with `/sbin/ldconfig -p`, a program a confined worker may not run (on
    some systems it is a shell script). Ask once now, before confinement, and tell Triton."""
    if os.environ.get("TRITON_LIBCUDA_PATH"):
        return
    import subprocess

    try:
        listing = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return
    dirs = [line.split()[-1] for line in listing.splitlines() if "libcuda.so.1" in line]
    if dirs:
        os.environ["TRITON_LIBCUDA_PATH"] = os.path.dirname(dirs[0])


def _sandbox(root: str, device: str) -> dict[str, str]:
    """rlimits, network namespace, the audit hook and Landlock, before torch is imported: an
    unprivileged network namespace needs a single-threaded process, and Landlock binds the threads a
    process starts after it, so this runs while the worker is still single-threaded. (Doing it here
    rather than in a `preexec_fn` keeps fork-unsafe Python out of the threaded server.)"""
    from . import confine, sandbox

    cuda = False if device == "cpu" else True if device.startswith("cuda") else None
    layers = sandbox.install(root, sandbox.Limits(cuda=cuda))
    layers.update(confine.apply_filesystem([root, os.environ["TRITON_CACHE_DIR"],
                                            os.environ["TORCHINDUCTOR_CACHE_DIR"]]))
    return layers


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


# ---- the worker ----------------------------------------------------------------------------------------


class Worker:
    def __init__(self, fd_in: int, fd_out: int, root: str, device_spec: str,
                 extra_entry_points: list[str] | None = None, layers: dict[str, str] | None = None) -> None:
        self.reader = protocol.Reader(fd_in)
        self.fd_out = fd_out
        self.root = root
        self.device_spec = device_spec
        self.device: Any = None
        self.pristine: dict[str, Any] = {}
        self.entry_points: dict[str, EntryPoint] = dict(ENTRY_POINTS)
        self.extra_entry_points = list(extra_entry_points or [])
        self.layers = dict(layers or {})  # isolation layers and their status, for the hello and reports

    def send(self, message: messages.Message) -> None:
        protocol.send(self.fd_out, _jsonable(message.to_dict()))

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

        from . import checks, verify  # noqa: F401 - the checker's imports are paid now, not in the first job

        checks.install_launch_hook()

    def wait_activate(self) -> bool:
        """Standby: say `ready`, then wait for the device to serve (False: the pool is gone)."""
        self.send(Ready(pid=os.getpid()))
        while True:
            raw = self.reader.recv()
            if raw is None or raw.get("type") == messages.Exit.TYPE:
                return False
            if raw.get("type") == messages.Activate.TYPE:
                self.device_spec = str(raw.get("device") or self.device_spec)
                return True

    def start(self) -> None:
        from . import checks, confine

        self.preload()
        for spec in self.extra_entry_points:
            name, func = extra_entry_point(spec)
            self.entry_points[name] = func
        self.device, info = _select_device(self.device_spec)
        checks.warm_up(self.device)  # lazy work now (during generation), not in the first job
        # The system-call filter last: CUDA's initialisation and the first compile have run, and no
        # candidate has yet. It covers every thread the worker has by now (torch's and CUDA's too).
        self.layers.update(confine.apply_syscalls(self.layers.get("landlock", "")))
        self.pristine = checks.fingerprint()
        self.send(Hello(pid=os.getpid(), sandbox=dict(self.layers), **info))

    def serve(self) -> None:
        while True:
            raw = self.reader.recv()
            if raw is None or raw.get("type") == messages.Exit.TYPE:
                return
            if raw.get("type") != Job.TYPE:
                continue
            try:
                job = Job.from_dict(raw)
            except (messages.MessageError, KeyError, TypeError, ValueError) as e:
                self._refuse(raw, f"bad job message: {e}")
                continue
            self.run_job(job)

    def _refuse(self, raw: dict[str, Any], why: str) -> None:
        job_id = raw.get("id")
        if isinstance(job_id, int) and not isinstance(job_id, bool):
            self.send(Result(id=job_id, nonce=str(raw.get("nonce", "")), entry=str(raw.get("entry", "")),
                             error=f"MessageError: {why}"))

    def run_job(self, job: Job) -> None:
        from .checks import changed_since, is_cuda_fault

        job_dir = os.path.join(self.root, "jobs", str(job.id))
        os.makedirs(job_dir, exist_ok=True)
        result = Result(id=job.id, nonce=job.nonce, entry=job.entry)
        ctx = JobContext(job_dir=job_dir, device=self.device,
                         tampered=lambda: changed_since(self.pristine),
                         exclusive=lambda baselines=False: self.exclusive(job.id, baselines))

        def stage(text: str) -> None:
            ctx.current_stage = text
            self.send(Stage(id=job.id, stage=text))

        ctx.stage = stage
        started = time.monotonic()
        try:
            if changed_since(self.pristine):
                # Something changed torch/triton between jobs: this worker cannot be trusted.
                result.ran, result.tainted, result.error = False, True, "worker state changed between jobs"
            else:
                result.value = self.dispatch(job, ctx)
                result.ok = True
        except RecipeError as e:
            result.problem_error, result.error = "recipe_error", str(e)
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the pool
            result.error, result.traceback = f"{type(e).__name__}: {e}", traceback.format_exc()
            if is_cuda_fault(e):
                ctx.recycle = True
        finally:
            with contextlib.suppress(Exception):
                shutil.rmtree(job_dir, ignore_errors=True)
        fault = _pending_cuda_fault(self.device)
        if fault is None:
            _return_gpu_memory(self.device)
        if fault is not None:
            # A kernel of this job faulted asynchronously (e.g. a device-side assert after a verdict was
            # already reached): it belongs to this job, and this worker's CUDA context is now unusable.
            ctx.recycle = True
            _blame_fault(result, fault)
        result.seconds = time.monotonic() - started
        changed = bool(changed_since(self.pristine))
        result.recycle = ctx.recycle or changed
        result.tainted = result.tainted or changed
        self.send(result)

    @contextlib.contextmanager
    def exclusive(self, job_id: int, baselines: bool = False) -> Any:
        """The device to job `job_id` alone: Claim, wait for the pool's Granted (it pauses the other
        workers on this device first), run the block, Release. The pool releases on its own when the
        job ends, so a block that never returns cannot keep the others paused past the job. Yields the
        baselines the Granted carries (asked for with `baselines`), or None."""
        self.send(Claim(id=job_id, baselines=baselines))
        while True:
            raw = self.reader.recv()
            if raw is None or raw.get("type") == messages.Exit.TYPE:
                os._exit(0)  # the pool is gone or shutting down: nothing to time for
            if raw.get("type") == Granted.TYPE and raw.get("id") == job_id:
                shared = raw.get("baselines")
                break
        try:
            yield shared if isinstance(shared, dict) else None
        finally:
            self.send(Release(id=job_id))

    def dispatch(self, job: Job, ctx: JobContext) -> Any:
        entry = self.entry_points.get(job.entry)
        if entry is None:
            raise UnknownEntryPoint(f"unknown entry point {job.entry!r} (this worker runs "
                                    f"{', '.join(sorted(self.entry_points))})")
        return entry(job.payload, ctx)


def _blame_fault(result: Result, fault: str) -> None:
    """Put a CUDA fault found after the job into its result."""
    value = result.value
    if result.ok and isinstance(value, CandidateResult):
        if value.passed:
            value.passed, value.kind, value.message = False, "crash", f"CUDA fault after the run: {fault}"
        else:
            value.message = f"{value.message}; then a CUDA fault: {fault}"
    elif not result.ok:
        result.error = f"{result.error}; then {fault}"


def _pending_cuda_fault(device: Any) -> str | None:
    """Synchronise the GPU after a job; return the CUDA error line if a kernel faulted."""
    if getattr(device, "type", None) != "cuda":
        return None
    import torch

    try:
        torch.cuda.synchronize(device)
    except Exception as e:  # noqa: BLE001 - any CUDA error here poisons the context
        return exc_line(e)
    return None


def _return_gpu_memory(device: Any) -> None:
    """Give the memory the job's tensors were cached in back to the driver: another worker on this GPU
    (the generation lane beside the verify worker) may need it for the next job's inputs."""
    if getattr(device, "type", None) != "cuda":
        return
    import torch

    with contextlib.suppress(Exception):
        torch.cuda.empty_cache()


def _jsonable(obj: Any) -> Any:
    """Make a reply JSON-safe (an entry point may return tuples or numbers torch made)."""
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
    parser.add_argument("--entry-point", action="append", default=[], metavar="NAME=MODULE:FUNCTION",
                        help="an extra entry point, resolved once at start (tests)")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    from . import confine

    # First, while nothing else runs: this process stays behind as a relay and the worker continues
    # as pid 2 of a fresh PID namespace, where no other process of the machine can be seen.
    pidns = confine.enter_pid_namespace()
    _setup_env(args.root, args.device)
    layers = {"pidns": pidns, **_sandbox(args.root, args.device)}
    worker = Worker(args.fd_in, args.fd_out, args.root, args.device, args.entry_point, layers)
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
