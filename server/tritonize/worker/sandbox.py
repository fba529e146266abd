"""Sandbox for candidate code inside a verify worker (docs/THREAT_MODEL.md says what it stops and what not).

Layers, outermost first:
1. the worker is a separate process the pool kills and replaces (verify/pool.py);
2. the pool starts it without tokens/keys and with HOME in a throwaway dir (verify/process.py:
   `clean_env`, server side: the server never imports this module);
3. `worker_preexec()` / `install()`: a private network namespace where the kernel allows one
   (root, or an unprivileged user namespace), parent-death signal, and rlimits — no core files, a file
   size cap, a process cap (non-root), address space on CPU, an RSS watchdog process on GPU;
4. `guard(job_dir)`: Python audit hooks, active only while candidate code runs, refuse writes outside
   the candidate's directory and the Triton cache, sockets, new processes (except Triton's own
   compiler tools), signals to other processes, ctypes / gc / frame access from candidate code,
   reads of credential files, of other processes' /proc entries and of this process's command line,
   environment and memory, and rlimit changes. Each refusal raises PermissionError and is recorded;
   `violations()` lists them for the worker's `cheat` verdict.
   "From candidate code" means candidate code anywhere below the call on the stack (`_origin`,
   `_reaches_frames`): torch, numpy and the standard library are looked through, so a call laundered
   through `torch.utils._pytree.tree_map` is still the candidate's. The exceptions are narrow: Triton
   compiling or launching a kernel may start its compiler, a few library functions may look at
   frames for their own bookkeeping, and a library being imported is its own business.
5. Below Python, worker/confine.py (PID namespace, Landlock, seccomp) holds whatever this misses.

Usage in the worker:

    sandbox.install(worker_root)               # once, as early as possible (before importing torch)
    with sandbox.guard(job_dir):
        ...import the candidate, run forward...
    for v in sandbox.violations(): ...         # "refused open('/etc/passwd', 'w')"
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import re
import resource
import signal
import sys
import sysconfig
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NoReturn

MiB = 1024 * 1024

# Executables Triton's own code may run while compiling a kernel (ptxas, the C compiler for its
# launcher stubs, ldconfig to find libcuda, and `file`, which platform.architecture() runs when
# triton/runtime/build.py keys its launcher cache).
TRITON_TOOLS = re.compile(r"^(ptxas(-blackwell)?|nvdisasm|cuobjdump|nvcc|ldconfig(\.real)?|gcc|g\+\+|cc|c\+\+|clang(\+\+)?(-\d+)?|ld(\.lld)?|hipcc|amdclang(\+\+)?|nvidia-smi|file)$")
# Credential files, never readable from candidate code (relative to the real home directory).
SECRET_HOME_PATHS = (".ssh", ".aws", ".gnupg", ".netrc", ".git-credentials", ".docker", ".kube", ".azure",
                     ".config/gh", ".config/gcloud", ".huggingface", ".cache/huggingface/token", ".pypirc",
                     ".npmrc", ".bash_history", ".zsh_history", ".python_history")
SECRET_PATHS = ("/etc/shadow", "/etc/gshadow", "/root/.ssh")
# Modules candidate code may not import at run time (static.py flags the import statements too).
FORBIDDEN_IMPORTS = frozenset({"ctypes", "_ctypes", "gc", "socket", "_socket", "subprocess", "multiprocessing",
                               "pty", "tritonize", "importlib", "inspect", "cffi"})
# Attributes that hand out code or module globals: refused when candidate code reads them directly.
INTROSPECTIVE_ATTRS = frozenset({"__code__", "__globals__"})
# Attributes and calls that reach other frames or objects (the verifier's own locals: the reference's
# output, its model): refused whenever candidate code is below them on the stack (`_reaches_frames`).
FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "f_locals", "f_globals"})
FRAME_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._getframe",
                          "sys._current_frames", "sys._current_exceptions"})
FS_EVENTS = frozenset({"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
                       "os.symlink", "os.truncate", "os.utime", "os.chflags", "os.lchflags", "os.setxattr",
                       "os.removexattr", "shutil.rmtree", "shutil.copyfile", "shutil.copymode", "shutil.copystat",
                       "shutil.copytree", "shutil.move", "shutil.chown", "os.mkfifo", "os.mknod"})
PROCESS_EVENTS = frozenset({"os.system", "os.exec", "os.spawn", "os.fork", "os.forkpty", "os.startfile", "pty.spawn",
                            "os.posix_spawn"})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC

# Overrides the default host-memory limit of a worker (MiB); reaches the worker through the pool's
# clean environment (TRITONIZE_* is kept).
MEMORY_ENV = "TRITONIZE_WORKER_MEMORY_MB"
WATCHDOG_POLL_S = 0.05

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1


@dataclass
class Limits:
    """Resource limits for one worker process."""

    # host memory: RLIMIT_AS on CPU, RSS watchdog on GPU; None: $TRITONIZE_WORKER_MEMORY_MB, else half of
    # RAM (at most 32 GiB)
    memory_mb: int | None = None
    file_mb: int = 1024  # largest file the worker may write (RLIMIT_FSIZE)
    nproc_margin: int = 256  # tasks above the user's current count (RLIMIT_NPROC; not enforced for root)
    cpu_seconds: int = 1800  # CPU seconds a single guarded job may use (RLIMIT_CPU, soft)
    cuda: bool | None = None  # None: decide from TRITON_INTERPRET
    network_namespace: bool = True  # try a private network namespace

    def is_cuda(self) -> bool:
        return self.cuda if self.cuda is not None else os.environ.get("TRITON_INTERPRET") != "1"

    def memory_bytes(self) -> int:
        if self.memory_mb:
            return self.memory_mb * MiB
        with contextlib.suppress(ValueError):
            from_env = int(os.environ.get(MEMORY_ENV, "").strip() or 0)
            if from_env > 0:
                return from_env * MiB
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            total = 16 * 1024 * MiB
        return max(4 * 1024 * MiB, min(total // 2, 32 * 1024 * MiB))


@dataclass
class _State:
    installed: bool = False
    active: bool = False
    job_dir: str = ""
    write_roots: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    layers: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    home: str = ""
    pid: int = 0


_state = _State()
_local = threading.local()
_STDLIB = tuple(
    os.path.realpath(p) + os.sep for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
)
_TRUSTED_SITE = ("site-packages", "dist-packages")


# ---- process-level isolation -----------------------------------------------------------------


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def _unshare(libc: ctypes.CDLL | None, flags: int) -> bool:
    if hasattr(os, "unshare"):  # Python 3.12+
        try:
            os.unshare(flags)  # type: ignore[attr-defined]
            return True
        except OSError:
            return False
    return libc is not None and libc.unshare(flags) == 0


def _write(path: str, text: str) -> bool:
    try:
        with open(path, "w") as f:
            f.write(text)
        return True
    except OSError:
        return False


def _single_threaded() -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1]) == 1
    except OSError:
        pass
    return threading.active_count() == 1


def isolate_network(libc: ctypes.CDLL | None = None) -> str:
    """Move this process into a new, empty network namespace. Returns what was done (for status)."""
    libc = libc or _libc()
    if os.geteuid() == 0 and _unshare(libc, CLONE_NEWNET):
        return "network namespace"
    if _single_threaded():
        uid, gid = os.geteuid(), os.getegid()
        if _unshare(libc, CLONE_NEWUSER | CLONE_NEWNET):
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
            return "user + network namespace"
    return "unavailable (no privileges for a network namespace)"


def _user_task_count(uid: int) -> int:
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"].strip())
        except (OSError, KeyError, ValueError):
            continue
    return count


def apply_rlimits(limits: Limits) -> dict[str, str]:
    """No core files, capped file size, capped task count (non-root), capped address space (CPU)."""
    done: dict[str, str] = {}

    def setlim(which: int, soft: int, name: str) -> None:
        _, hard = resource.getrlimit(which)
        value = soft if hard == resource.RLIM_INFINITY else min(soft, hard)
        try:
            resource.setrlimit(which, (value, hard))
            done[name] = str(value)
        except (ValueError, OSError) as e:
            done[name] = f"not set ({e})"

    setlim(resource.RLIMIT_CORE, 0, "core")
    setlim(resource.RLIMIT_FSIZE, limits.file_mb * MiB, "fsize")
    if os.geteuid() != 0:
        setlim(resource.RLIMIT_NPROC, _user_task_count(os.getuid()) + limits.nproc_margin, "nproc")
    else:
        done["nproc"] = "not enforced for root (audit hook refuses fork/exec instead)"
    if not limits.is_cuda():
        setlim(resource.RLIMIT_AS, limits.memory_bytes(), "as")
    return done


def worker_preexec(limits: Limits | None = None) -> Callable[[], None]:
    """A `preexec_fn` for `subprocess.Popen(..., start_new_session=True, preexec_fn=...)` starting a
    worker: dies with its parent, gets the rlimits and (where allowed) its own network namespace.
    libc is loaded here, in the parent, so the child only calls into it."""
    limits = limits or Limits()
    libc = _libc()

    def preexec() -> None:
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        apply_rlimits(limits)
        if limits.network_namespace:
            isolate_network(libc)

    return preexec


def _rss(pid: int, page: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * page


def _rss_watch(pid: int, limit: int, alive: Callable[[], bool]) -> None:
    """Poll `pid`'s resident memory; SIGKILL it above `limit` (the pool reports a crash)."""
    page = os.sysconf("SC_PAGE_SIZE")
    while alive():
        try:
            rss = _rss(pid, page)
        except (OSError, ValueError):
            return
        if rss > limit:
            os.write(2, f"\nsandbox: host memory {rss // MiB} MiB above the {limit // MiB} MiB limit; worker "
                        f"killed\n".encode())
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(WATCHDOG_POLL_S)


def start_rss_watchdog(limit: int) -> str:
    """GPU workers cannot cap their address space (CUDA reserves terabytes); watch RSS instead.

    The watchdog is a forked process, not a thread: a thread needs the GIL, and C code that fills
    memory while holding it (`bytearray(200 << 30)` memsets under the GIL) would never let it run.
    Forked while the worker is still single-threaded (before torch); it closes the worker's pipes,
    dies with the worker (PR_SET_PDEATHSIG; the pool also kills the whole process group) and never
    returns into the worker's code. Falls back to a thread where fork fails."""
    parent = os.getpid()
    libc = _libc()
    try:
        pid = os.fork()
    except OSError:
        threading.Thread(target=_rss_watch, args=(parent, limit, lambda: True), daemon=True,
                         name="rss-watchdog").start()
        return f"RSS watchdog thread at {limit // MiB} MiB"
    if pid == 0:
        _watchdog_child(parent, limit, libc)
    return f"RSS watchdog process at {limit // MiB} MiB"


def _watchdog_child(parent: int, limit: int, libc: ctypes.CDLL | None) -> NoReturn:
    """The forked watchdog: never returns into the worker's code."""
    try:
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.closerange(3, 1 << 16)  # the job pipes: the pool must see EOF as soon as the worker dies
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the server
        _rss_watch(parent, limit, lambda: os.getppid() == parent)
    finally:
        os._exit(0)


def install(worker_root: str, limits: Limits | None = None) -> dict[str, str]:
    """Once per worker, before any candidate runs: rlimits, network isolation, the audit hook.
    Returns which layers are active (also `status()`)."""
    if _state.installed:
        return dict(_state.layers)
    limits = limits or Limits()
    _state.limits = limits
    _state.pid = os.getpid()
    _state.home = _real_home()
    layers = {f"rlimit-{k}": v for k, v in apply_rlimits(limits).items()}
    if limits.network_namespace:
        layers["network"] = isolate_network()
    if limits.is_cuda():
        layers["memory"] = start_rss_watchdog(limits.memory_bytes())
    else:
        layers["memory"] = f"RLIMIT_AS {limits.memory_bytes() // MiB} MiB"
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead of killing us
    cache = os.environ.get("TRITON_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".triton", "cache")
    _state.write_roots = [os.path.realpath(worker_root), os.path.realpath(cache)]
    sys.addaudithook(_hook)
    layers["audit"] = "active inside guard()"
    _state.layers = layers
    _state.installed = True
    return dict(layers)


def status() -> dict[str, str]:
    return dict(_state.layers)


def _real_home() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir
    except (KeyError, ImportError):
        return os.path.expanduser("~")


# ---- the guard -----------------------------------------------------------------------------


@contextlib.contextmanager
def guard(job_dir: str) -> Iterator[None]:
    """Refuse escapes while candidate code is imported and run. Temporary files (Triton's build
    dirs, ptxas outputs) land in job_dir/tmp for the duration."""
    if not _state.installed:
        raise RuntimeError("sandbox.install() must run before guard()")
    job_dir = os.path.realpath(job_dir)
    tmp = os.path.join(job_dir, "tmp")
    os.makedirs(tmp, exist_ok=True)
    saved_tmp, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = tmp
    os.environ["TMPDIR"] = tmp
    cpu_soft, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    used = resource.getrusage(resource.RUSAGE_SELF)
    budget = int(used.ru_utime + used.ru_stime) + _state.limits.cpu_seconds
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (budget if cpu_hard == resource.RLIM_INFINITY else min(budget, cpu_hard), cpu_hard))
    _state.violations = []
    if len(_kinds) > 50_000:  # keyed by (file, job dir): old jobs' entries are dead weight
        _kinds.clear()
    _state.job_dir = job_dir
    _state.active = True
    try:
        yield
    finally:
        _state.active = False
        tempfile.tempdir = saved_tmp
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_soft, cpu_hard))


def violations() -> list[str]:
    """What the last (or current) guard refused, one line each."""
    return list(_state.violations)


def _refuse(what: str) -> None:
    line = f"refused {what}"
    if line not in _state.violations:
        _state.violations.append(line)
    raise PermissionError(f"sandbox: {line}")


def _hook(event: str, args: tuple) -> None:
    if not _state.active or getattr(_local, "busy", False):
        return
    _local.busy = True
    try:
        _check(event, args)
    finally:
        _local.busy = False


def _check(event: str, args: tuple) -> None:
    if event == "open":
        _check_open(*args[:3])
    elif event in FS_EVENTS:
        for p in args:
            if isinstance(p, (str, bytes)) and not _writable(p):
                _refuse(f"{event}({_show(p)})")
    elif event.startswith("socket."):
        _refuse(f"{event}{_args(args)} (no network)")
    elif event == "subprocess.Popen" or event == "os.posix_spawn":
        exe = args[0] if args and args[0] else (args[1][0] if len(args) > 1 and args[1] else "")
        name = os.path.basename(os.fsdecode(exe)) if exe else ""
        if not (TRITON_TOOLS.match(name) and _origin() == "triton"):
            _refuse(f"{event}({_show(exe)}) (no child processes)")
    elif event in PROCESS_EVENTS:
        _refuse(f"{event}{_args(args)} (no child processes)")
    elif event == "os.kill":
        pid = args[0]
        if pid != os.getpid():
            _refuse(f"os.kill({pid}, {args[1]}) (only this process may be signalled)")
    elif event == "os.killpg":
        _refuse(f"os.killpg{_args(args)}")
    elif event.startswith("ctypes."):
        if _origin() == "candidate":
            _refuse(f"{event} (no native memory access)")
    elif event in FRAME_EVENTS:
        if _reaches_frames(event):
            _refuse(f"{event}() (no access to other objects or frames)")
    elif event == "object.__getattr__" and len(args) > 1 and args[1] in FRAME_ATTRS:
        if _reaches_frames(args[1]):
            _refuse(f"access to .{args[1]}")
    elif event == "object.__getattr__" and len(args) > 1 and args[1] in INTROSPECTIVE_ATTRS:
        if _code_caller_is_candidate():
            _refuse(f"access to .{args[1]}")
    elif event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__" and _origin() == "candidate":
        _refuse("replacing a function's __code__")
    elif event in ("exec", "compile") and _code_caller_is_candidate():
        _refuse(f"{event}() (no run-time code)")
    elif event == "import" and args and str(args[0]).split(".")[0] in FORBIDDEN_IMPORTS:
        if _origin() == "candidate":
            _refuse(f"import {args[0]}")
    elif event in ("resource.setrlimit", "resource.prlimit", "sys.addaudithook", "sys.settrace", "sys.setprofile"):
        _refuse(f"{event}()")


def _check_open(path: object, mode: object, flags: object) -> None:
    if isinstance(path, int) or path is None:
        return
    p = os.fsdecode(path) if isinstance(path, (str, bytes)) else str(path)
    writing = isinstance(mode, str) and any(c in mode for c in "wax+")
    if isinstance(flags, int) and flags & WRITE_FLAGS:
        writing = True
    real = os.path.realpath(p)
    if writing:
        if not _writable(p):
            shown = mode if isinstance(mode, str) else "w"
            _refuse(f"open({_show(p)}, {shown!r}) (writes only inside the job directory)")
        return
    if real.startswith("/proc/"):
        if _secret(real):
            _refuse(f"open({_show(p)}) (a process's command line, environment or memory)")
    elif _secret(real):
        _refuse(f"open({_show(p)}) (credential file)")


def _writable(path: str | bytes) -> bool:
    real = os.path.realpath(os.fsdecode(path))
    if real == "/dev/null":
        return True
    roots = [_state.job_dir, *_state.write_roots]
    return any(real == r or real.startswith(r + os.sep) for r in roots if r)


# This process's own /proc files that describe how it was started (the worker's command line and
# environment say "verifier") or expose its memory. realpath() turns /proc/self into /proc/<pid>.
_OWN_PROC_SECRETS = re.compile(r"^/proc/(?:self|thread-self|\d+)/(?:task/\d+/)?(?:environ|mem|cmdline)$")


def _secret(real: str) -> bool:
    if real.startswith(SECRET_PATHS):
        return True
    m = re.match(r"^/proc/(\d+)/", real + "/")
    if m and int(m.group(1)) != os.getpid():
        return True
    if _OWN_PROC_SECRETS.match(real):
        return True
    home = _state.home.rstrip(os.sep)
    return bool(home) and any(real == f"{home}/{s}" or real.startswith(f"{home}/{s}/") for s in SECRET_HOME_PATHS)


def _show(p: object) -> str:
    text = os.fsdecode(p) if isinstance(p, (str, bytes)) else repr(p)
    return repr(text if len(text) < 120 else text[:117] + "...")


def _args(args: tuple) -> str:
    text = repr(tuple(args))
    return text if len(text) < 120 else text[:117] + "..."


def _frame_kind(filename: str) -> str:
    """stdlib | frozen | candidate | <package name> for a code object's file (cached per job: the
    stack walks below run on every sensitive event)."""
    key = (filename, _state.job_dir)
    kind = _kinds.get(key)
    if kind is None:
        kind = _kinds[key] = _classify(filename)
    return kind


def _classify(filename: str) -> str:
    if filename.startswith("<frozen"):
        return "frozen"
    if not os.path.isabs(filename):
        return "candidate"  # "<string>", "<candidate>": code compiled from text
    real = os.path.realpath(filename)
    if _state.job_dir and real.startswith(_state.job_dir + os.sep):
        return "candidate"
    for pkg, root in _package_roots().items():
        if real.startswith(root):
            return pkg
    if real.startswith(_STDLIB) and not any(s in real for s in _TRUSTED_SITE):
        return "stdlib"
    parts = real.split(os.sep)
    for marker in _TRUSTED_SITE:
        if marker in parts:
            i = parts.index(marker)
            return parts[i + 1] if i + 1 < len(parts) else "site"
    return "other"


_roots: dict[str, str] = {}
_kinds: dict[tuple[str, str], str] = {}


def _package_roots() -> dict[str, str]:
    """Directories of the packages the worker trusts, wherever they are installed (editable too)."""
    for pkg in ("triton", "torch", "numpy", "tritonize"):
        mod = sys.modules.get(pkg)
        if pkg not in _roots and mod is not None and getattr(mod, "__file__", None):
            _roots[pkg] = os.path.dirname(os.path.realpath(mod.__file__)) + os.sep
    return _roots


# Triton files that call functions a candidate hands them (autotuner pre/post hooks, do_bench's
# callable, the interpreter's pre-run hooks): a frame there is not Triton compiling or launching a
# kernel, so it vouches for nothing, and neither do the Triton frames further out.
_TRITON_CALLBACK_FILES = ("runtime/autotuner.py", "testing.py", "runtime/interpreter.py")
# Standard-library functions that look at their caller's frame for their own bookkeeping (a module
# name, a source line, a traceback) and hand no frame back: (file suffix, function).
_BENIGN_FRAME_USERS = frozenset({
    ("typing.py", "_caller"), ("collections/__init__.py", "namedtuple"), ("enum.py", "_create_"),
    ("enum.py", "__call__"), ("logging/__init__.py", "findCaller"), ("traceback.py", "format_stack"),
    ("traceback.py", "print_stack"), ("traceback.py", "extract_stack"), ("warnings.py", "_next_external_frame"),
    ("warnings.py", "warn"), ("typing_extensions.py", "_has_generic_or_protocol_as_origin"),
    ("typing_extensions.py", "_caller"),
})
# traceback's generators hand frames to whoever consumes them: benign only when that is traceback's own
# summary code (format_exc, print_exc, TracebackException), not the candidate.
_FRAME_WALKERS = frozenset({"walk_tb", "_walk_tb_with_full_positions", "walk_stack"})
# torch code that inspects the frame of whoever registers a custom op (torch.library.triton_op).
_BENIGN_TORCH = ("/_library/", "/library.py")


def _frames() -> Iterator[tuple[types.FrameType, str]]:
    """(frame, kind) from the innermost frame outside this module outwards. The import system running a
    module's code is kind "import": what happens nearer than that is the imported module's own doing
    (a library torch imports lazily, such as sympy, looks at frames while it loads), and the walks
    below stop there. A candidate module's own frames are nearer, so its import-time code is still the
    candidate's."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_filename
        if name != __file__:
            kind = _frame_kind(name)
            yield f, ("import" if kind == "frozen" and f.f_code.co_name == "_call_with_frames_removed" else kind)
        f = f.f_back


def _origin() -> str:
    """Who is really asking: "candidate" when candidate code is below this call on the stack and the
    nearest Triton frame (if any, nearer than the candidate) is not Triton compiling or launching a
    kernel; "triton" when it is (Triton starting ptxas); "harness" when no candidate code is below.
    torch, numpy, functools and the rest of the standard library are looked through, so
    `tree_map(ctypes.CDLL, ...)` is the candidate's call, not torch's; so is a hook the autotuner
    calls for the candidate."""
    triton_seen = False
    for f, kind in _frames():
        if kind == "import":
            return "harness"
        if kind == "candidate":
            return "candidate"
        if kind == "triton" and not triton_seen:
            triton_seen = True
            if not f.f_code.co_filename.endswith(_TRITON_CALLBACK_FILES):
                return "triton"
    return "harness"


def candidate_on_stack() -> bool:
    """Is candidate code (not shielded by Triton's own compile/launch code) below the caller? For the
    recorder (guards.py). The walk's own frame access must not trip the audit hook."""
    busy = getattr(_local, "busy", False)
    _local.busy = True
    try:
        return _origin() == "candidate"
    finally:
        _local.busy = busy


def active() -> bool:
    """Is a guard up (candidate code may be running)?"""
    return _state.active


def _benign_frame_user(f: types.FrameType, kind: str, what: str) -> bool:
    if what == "f_locals":  # nothing in the standard library needs another frame's locals
        return False
    name = f.f_code.co_filename.replace(os.sep, "/")
    if kind == "torch":
        return any(part in name for part in _BENIGN_TORCH)
    func = f.f_code.co_name
    back = f.f_back
    if func == "<lambda>" and name.endswith("logging/__init__.py"):  # logging.currentframe, for findCaller
        func = back.f_code.co_name if back is not None else func
    if func in _FRAME_WALKERS and name.endswith("traceback.py"):
        return back is not None and back.f_code.co_filename == f.f_code.co_filename
    return any(name.endswith("/" + suffix) and func == fn for suffix, fn in _BENIGN_FRAME_USERS)


def _reaches_frames(what: str) -> bool:
    """Frame and gc introspection (`what`: the event or attribute): refused when candidate code asks,
    directly or through any helper (torch, numpy, the standard library), unless the nearest frame is
    Triton's or one of the few library functions that only use the frame for their own bookkeeping."""
    for f, kind in _frames():
        if kind == "candidate":
            return True
        if kind in ("triton", "import") or _benign_frame_user(f, kind, what):
            return False
    return False


def _code_caller_is_candidate() -> bool:
    """For `exec`/`compile` and `__code__`/`__globals__`: the nearest frame that is not torch or numpy
    (helpers a candidate can hand a callable to) is candidate code. The standard library (dataclasses,
    namedtuple, inspect.signature) and the import system legitimately compile and read code objects."""
    for _f, kind in _frames():
        if kind in ("torch", "numpy"):
            continue
        return kind == "candidate"
    return False
