"""OS-level confinement of a verify worker: rules the kernel enforces, so native code cannot undo them.

Runs in the torch worker process (and in nothing else). The Python audit hook (`sandbox.guard`) sees
what Python does; a candidate that reaches native code (ctypes, a compiled extension, a C helper it
builds itself, `_posixsubprocess.fork_exec`, which raises no audit event) is below it. The layers
here hold whatever the candidate runs, and everything the worker starts inherits them:

0. **A PID and mount namespace with its own /proc** (root; `enter_pid_namespace()`), entered first:
   the worker sees only itself, its namespace's init and its own children. The server, the editor and
   every other process are neither readable in /proc (`environ`, `cmdline`, `mem`) nor signalable by
   pid (Landlock does not scope ptrace-class reads between processes of the same user, this does).
1. **Landlock filesystem rules** (Linux ≥5.13; `landlock()`): after it, the process and its children
   may write, create, remove or truncate files only beneath the worker's own directory (jobs, HOME,
   temp files), the Triton/Inductor caches and a few character devices (`/dev/null`, the GPU's
   device files); may read the whole file tree except `/root`, `/home` and raw devices (only the
   paths Python and the toolchain need are granted there: `sys.path`, `sys.prefix`, the caches); may
   execute only the compiler tools Triton starts (ptxas, the C compiler and its internal programs,
   `file`, the dynamic loader). Landlock also scopes ptrace-class access, so `/proc/<pid>/environ`,
   `mem`, `maps` or `fd` of any process outside the worker (the server, the editor) cannot be read.
   Where the kernel's Landlock knows them, it also forbids TCP bind/connect (ABI 4), abstract UNIX
   sockets of other domains and signals to processes outside the worker's domain (ABI 6).
   Applied once, early, while the worker is still single-threaded (Landlock binds the calling thread
   and the threads and processes it creates later).
2. **A seccomp filter** (`seccomp()`), installed on every thread at once (`SECCOMP_FILTER_FLAG_TSYNC`)
   once CUDA and the warm-up are done: no `fork()` (only threads and vfork+exec, which is how
   `subprocess` starts the compiler; `clone3` answers ENOSYS so libc falls back to `clone`, whose
   flags the filter can read); no sockets except netlink; no ptrace, `process_vm_*`, `pidfd_getfd`,
   `pidfd_send_signal`; no mount, namespace, module, key-ring, BPF, perf, reboot or clock calls;
   `kill`/`tgkill` only to this process (when Landlock's signal scope is not there to do it).

Each layer is detected and applied separately and falls back alone: `apply()` returns one line per
layer saying what is active ("landlock: ABI 7 …") or why not ("landlock: unavailable (…)"); the
worker reports them in its hello, `tritonize doctor` and every report print them.
`TRITONIZE_CONFINE=off` (or a comma list of `pidns`, `landlock`, `seccomp` to switch off) exists for
debugging and for the tests of the fallback path.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import importlib.util
import os
import platform
import shutil
import signal
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

DISABLE_ENV = "TRITONIZE_CONFINE"

# ---- syscalls (x86_64 and aarch64 numbers for what differs) ----------------------------------------

_ARCH = platform.machine()
_NR_X86_64 = {
    "landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446, "seccomp": 317,
}
_NR_AARCH64 = {
    "landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446, "seccomp": 277,
}
_NR = _NR_X86_64 if _ARCH == "x86_64" else _NR_AARCH64

PR_SET_NO_NEW_PRIVS = 38

# Landlock (include/uapi/linux/landlock.h)
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV  # rights a file rule may hold
READ = FS_READ_FILE | FS_READ_DIR
WRITE = (FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR | FS_MAKE_REG | FS_MAKE_SYM | FS_MAKE_FIFO
         | FS_REFER | FS_TRUNCATE)

# Programs Triton (and Inductor through Triton) start while compiling a kernel. Candidates get no
# other executable: no shell, no Python, nothing they wrote.
TOOLS = ("ptxas", "ptxas-blackwell", "nvdisasm", "cuobjdump", "nvcc", "gcc", "g++", "cc", "c++", "clang", "clang++",
         "ld", "ld.bfd", "ld.gold", "ld.lld", "as", "collect2", "file", "hipcc", "amdclang", "amdclang++")
# Directories holding the compilers' own programs (cc1, collect2, lto-wrapper, ...).
TOOL_DIRS = ("/usr/lib/gcc", "/usr/libexec/gcc", "/usr/lib/llvm", "/usr/local/cuda/bin", "/usr/local/cuda/nvvm/bin")
# Top-level directories never granted wholesale: users' files and raw devices.
PRIVATE_TOP = ("root", "home", "dev", "lost+found", "mnt", "media")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEVICE_PREFIXES = ("nvidia", "dri", "kfd")

# seccomp (include/uapi/linux/seccomp.h, filter.h, audit.h)
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
CLONE_VM = 0x100
CLONE_VFORK = 0x4000
CLONE_THREAD = 0x10000
AF_NETLINK = 16

_SYSCALLS = {
    # name: (x86_64, aarch64); -1 where the architecture has no such call
    "fork": (57, -1), "clone": (56, 220), "clone3": (435, 435), "socket": (41, 198), "kill": (62, 129),
    "tkill": (200, 130), "tgkill": (234, 131), "ptrace": (101, 117), "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271), "pidfd_send_signal": (424, 424), "pidfd_getfd": (438, 438),
    "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41), "chroot": (161, 51), "unshare": (272, 97),
    "setns": (308, 268), "bpf": (321, 280), "perf_event_open": (298, 241), "keyctl": (250, 219),
    "add_key": (248, 217), "request_key": (249, 218), "kexec_load": (246, 104), "kexec_file_load": (320, 294),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106), "reboot": (169, 142),
    "swapon": (167, 224), "swapoff": (168, 225), "settimeofday": (164, 170), "clock_settime": (227, 112),
    "clock_adjtime": (305, 266), "adjtimex": (159, 171), "acct": (163, 89), "iopl": (172, -1), "ioperm": (173, -1),
    "open_by_handle_at": (304, 265), "name_to_handle_at": (303, 264), "userfaultfd": (323, 282),
    "fanotify_init": (300, 262), "open_tree": (428, 428), "move_mount": (429, 429), "fsopen": (430, 430),
    "fsmount": (432, 432), "fspick": (433, 433), "mount_setattr": (442, 442), "quotactl": (179, 60),
}
DENIED = ("fork", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_send_signal", "pidfd_getfd", "mount",
          "umount2", "pivot_root", "chroot", "unshare", "setns", "bpf", "perf_event_open", "keyctl", "add_key",
          "request_key", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
          "swapon", "swapoff", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "acct", "iopl", "ioperm",
          "open_by_handle_at", "name_to_handle_at", "userfaultfd", "fanotify_init", "open_tree", "move_mount",
          "fsopen", "fsmount", "fspick", "mount_setattr", "quotactl", "tkill")


@dataclass
class Plan:
    """What the worker may touch once confined."""

    write_roots: list[str]  # directories the worker (and its children) may write beneath
    read_extra: list[str] = field(default_factory=list)  # paths under PRIVATE_TOP it must still read
    tools: list[str] = field(default_factory=list)  # executables it may run (resolved by `default_plan`)
    tool_dirs: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)  # device files it may open read-write
    # The process's own /proc/<pid> (resolved when the plan is made): the CUDA driver writes there
    # while it starts (without it cuInit fails with "OS call failed", seen on an H200 host).
    own_proc: str = ""


def disabled() -> set[str]:
    """Layers switched off through $TRITONIZE_CONFINE ("off", or a list such as "landlock,seccomp")."""
    raw = os.environ.get(DISABLE_ENV, "").strip().lower()
    if raw in ("off", "0", "none", "no"):
        return {"pidns", "landlock", "seccomp"}
    return {part.strip() for part in raw.split(",") if part.strip()}


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    """libc, loaded once. Not through ctypes.util.find_library: that runs a compiler with temp files,
    which a confined worker may no longer do."""
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
        except OSError:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return _LIBC


def _syscall(libc: ctypes.CDLL, name: str, *args: object) -> int:
    nr = _NR[name]
    libc.syscall.restype = ctypes.c_long
    return int(libc.syscall(ctypes.c_long(nr), *args))


def _no_new_privs(libc: ctypes.CDLL) -> bool:
    return libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


# ---- the plan ---------------------------------------------------------------------------------------


def _package_root(name: str) -> str | None:
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec(name)  # finds the package without importing it
        if spec is not None and spec.submodule_search_locations:
            return list(spec.submodule_search_locations)[0]
    return None


def _triton_tool_dirs() -> list[str]:
    """Where pip-installed GPU toolchains keep ptxas & co.: Triton's backends, torch's own bin/ (newer
    Tritons use the ptxas torch ships), and the nvidia-* CUDA wheels (nvidia/cuda_nvcc/bin)."""
    dirs = []
    triton = _package_root("triton")
    if triton:
        dirs += [os.path.join(triton, "backends", b, "bin") for b in ("nvidia", "amd")]
    torch = _package_root("torch")
    if torch:
        dirs.append(os.path.join(torch, "bin"))
    nvidia = _package_root("nvidia")
    if nvidia and os.path.isdir(nvidia):
        dirs += [os.path.join(nvidia, d, "bin") for d in sorted(os.listdir(nvidia))]
    return [d for d in dirs if os.path.isdir(d)]


def _resolve(paths: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if p and os.path.exists(p):
            real = os.path.realpath(p)
            if real not in out:
                out.append(real)
    return out


def _tool_paths(path_env: str) -> list[str]:
    found = [shutil.which(name, path=path_env) for name in TOOLS]
    found += [os.environ.get("CC", ""), os.environ.get("CXX", "")]
    # a wrapper script's interpreter (exec of the script opens it with execute access too)
    found += [_interpreter(p) for p in list(found) if p]
    for d in _triton_tool_dirs() + [os.environ.get("TRITON_PTXAS_PATH", ""), os.environ.get("TRITON_PTXAS_BLACKWELL_PATH", "")]:
        if os.path.isdir(d):
            found += [os.path.join(d, f) for f in os.listdir(d)]
        elif d:
            found.append(d)
    # The dynamic loader: exec() of any ELF program opens its interpreter with execute access too.
    found += ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
              "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"]
    return _resolve(p for p in found if p)


SYSTEM_PREFIXES = ("/", "/usr", "/usr/local", "/bin", "/sbin", "/usr/bin", "/usr/sbin")


def _interpreter(path: str) -> str | None:
    """The program a `#!` script names (exec needs execute access on it too)."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].split()
    if not words:
        return None
    prog = os.fsdecode(words[0])
    if os.path.basename(prog) == "env" and len(words) > 1:  # #!/usr/bin/env bash
        return shutil.which(os.fsdecode(words[1]))
    return prog


def _toolchain_dirs(tools: list[str]) -> list[str]:
    """Where a compiler found outside the system prefixes keeps its own programs (cc1, as, ld…):
    /opt/gcc/bin/gcc → /opt/gcc. System compilers get TOOL_DIRS instead (granting /usr would grant
    every program on the machine)."""
    roots = []
    for tool in tools:
        root = os.path.dirname(os.path.dirname(tool))
        if root not in SYSTEM_PREFIXES and os.path.basename(os.path.dirname(tool)) == "bin":
            roots.append(root)
    return _resolve(roots)


def _device_paths() -> list[str]:
    paths = [f"/dev/{d}" for d in DEVICES]
    with contextlib.suppress(OSError):
        paths += [f"/dev/{d}" for d in os.listdir("/dev") if d.startswith(DEVICE_PREFIXES)]
    return [p for p in paths if os.path.exists(p)]


def default_plan(write_roots: Iterable[str]) -> Plan:
    """The plan for this worker: its own directories writable, the toolchain executable."""
    roots = _resolve(write_roots)
    read_extra = _resolve([*sys.path, sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable),
                           os.getcwd(), *roots])
    own_proc = os.path.realpath("/proc/self")
    tools = _tool_paths(os.environ.get("PATH", os.defpath))
    return Plan(write_roots=roots, read_extra=read_extra, tools=tools,
                tool_dirs=_resolve(TOOL_DIRS) + _toolchain_dirs(tools), devices=_device_paths(),
                own_proc=own_proc if own_proc != "/proc/self" else "")


# ---- Landlock ---------------------------------------------------------------------------------------


def landlock_abi(libc: ctypes.CDLL | None = None) -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or disabled."""
    if _ARCH not in ("x86_64", "aarch64"):
        return 0
    try:
        libc = libc or _libc()
        version = _syscall(libc, "landlock_create_ruleset", None, ctypes.c_size_t(0),
                           ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(version, 0)


def _handled_fs(abi: int) -> int:
    rights = (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_READ_DIR | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_CHAR
              | FS_MAKE_DIR | FS_MAKE_REG | FS_MAKE_SOCK | FS_MAKE_FIFO | FS_MAKE_BLOCK | FS_MAKE_SYM)
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _add_path_rule(libc: ctypes.CDLL, ruleset: int, path: str, access: int, handled: int) -> bool:
    access &= handled
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not os.path.isdir(path):
            access &= FILE_RIGHTS
        if not access:
            return False
        attr = struct.pack("=Qi", access, fd)  # struct landlock_path_beneath_attr is packed
        buf = ctypes.create_string_buffer(attr, len(attr))
        return _syscall(libc, "landlock_add_rule", ctypes.c_int(ruleset), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                        buf, ctypes.c_uint32(0)) == 0
    finally:
        os.close(fd)


def landlock(plan: Plan, libc: ctypes.CDLL | None = None) -> str:
    """Apply the plan's filesystem rules (and network and scope rules the ABI knows) to this thread
    and everything it starts afterwards. Returns a status line."""
    libc = libc or _libc()
    abi = landlock_abi(libc)
    if abi <= 0:
        return "unavailable (the kernel has no Landlock, or it is disabled)"
    handled = _handled_fs(abi)
    net = (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0
    scoped = (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0
    attr = struct.pack("=QQQ", handled, net, scoped)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    buf = ctypes.create_string_buffer(attr[:size], size)
    ruleset = _syscall(libc, "landlock_create_ruleset", buf, ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"unavailable (landlock_create_ruleset: {os.strerror(ctypes.get_errno())})"
    try:
        granted = 0
        with contextlib.suppress(OSError):
            for top in sorted(os.listdir("/")):
                if top not in PRIVATE_TOP:
                    granted += _add_path_rule(libc, ruleset, "/" + top, READ, handled)
        granted += _add_path_rule(libc, ruleset, "/", FS_READ_DIR, handled)  # list "/" (not read below it)
        for p in plan.read_extra:
            granted += _add_path_rule(libc, ruleset, p, READ, handled)
        for p in plan.write_roots:
            granted += _add_path_rule(libc, ruleset, p, READ | WRITE, handled)
        for p in plan.devices:
            granted += _add_path_rule(libc, ruleset, p, READ | FS_WRITE_FILE | FS_IOCTL_DEV | FS_TRUNCATE, handled)
        if plan.own_proc:
            granted += _add_path_rule(libc, ruleset, plan.own_proc, READ | FS_WRITE_FILE | FS_TRUNCATE, handled)
        for p in plan.tools:
            granted += _add_path_rule(libc, ruleset, p, FS_EXECUTE | FS_READ_FILE, handled)
        for p in plan.tool_dirs:
            granted += _add_path_rule(libc, ruleset, p, FS_EXECUTE | READ, handled)
        if not _no_new_privs(libc):
            return f"unavailable (no_new_privs: {os.strerror(ctypes.get_errno())})"
        if _syscall(libc, "landlock_restrict_self", ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            return f"unavailable (landlock_restrict_self: {os.strerror(ctypes.get_errno())})"
    finally:
        os.close(ruleset)
    extras = []
    if net:
        extras.append("no TCP")
    if scoped:
        extras.append("signals and abstract sockets scoped")
    tail = f"; {', '.join(extras)}" if extras else ""
    return (f"ABI {abi}: writes only in {len(plan.write_roots)} worker dirs, exec only {len(plan.tools)} "
            f"compiler tools, reads outside /root, /home and /dev{tail}")


def signals_scoped(status: str) -> bool:
    """Did Landlock (ABI 6+) take over signal scoping? Then seccomp need not filter kill()."""
    return "signals" in status and not status.startswith("unavailable")


# ---- seccomp ----------------------------------------------------------------------------------------


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def _nr(name: str) -> int:
    x86, arm = _SYSCALLS[name]
    return x86 if _ARCH == "x86_64" else arm


def seccomp_program(pid: int, filter_kill: bool) -> bytes:
    """The BPF program (struct sock_filter[]). Offsets in struct seccomp_data: nr 0, arch 4, args 16+8i
    (the low 32 bits of each argument on little-endian machines)."""
    errno_eperm = SECCOMP_RET_ERRNO | errno.EPERM
    ins: list[bytes] = []
    ins.append(_ins(BPF_LD_W_ABS, 4))
    ins.append(_ins(BPF_JEQ_K, AUDIT_ARCH[_ARCH], jt=1, jf=0))
    ins.append(_ins(BPF_RET_K, errno_eperm))  # another ABI (x32 / compat): refuse everything
    ins.append(_ins(BPF_LD_W_ABS, 0))
    if _ARCH == "x86_64":
        ins.append(_ins(BPF_JGE_K, 0x40000000, jt=0, jf=1))  # x32 system calls
        ins.append(_ins(BPF_RET_K, errno_eperm))

    def block(name: str, body: list[bytes]) -> None:
        """if nr == name: body (which returns) else skip it; the accumulator holds nr again after."""
        nr = _nr(name)
        if nr < 0:
            return
        ins.append(_ins(BPF_JEQ_K, nr, jt=0, jf=len(body)))
        ins.extend(body)

    for name in DENIED:
        block(name, [_ins(BPF_RET_K, errno_eperm)])
    block("clone3", [_ins(BPF_RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS)])  # libc falls back to clone()
    block("clone", [_ins(BPF_LD_W_ABS, 16), _ins(BPF_JSET_K, CLONE_THREAD | CLONE_VFORK, jt=0, jf=1),
                    _ins(BPF_RET_K, SECCOMP_RET_ALLOW), _ins(BPF_RET_K, errno_eperm)])
    block("socket", [_ins(BPF_LD_W_ABS, 16), _ins(BPF_JEQ_K, AF_NETLINK, jt=0, jf=1),
                     _ins(BPF_RET_K, SECCOMP_RET_ALLOW), _ins(BPF_RET_K, SECCOMP_RET_ERRNO | errno.EACCES)])
    if filter_kill:
        for name in ("kill", "tgkill"):
            block(name, [_ins(BPF_LD_W_ABS, 16), _ins(BPF_JEQ_K, pid, jt=0, jf=1),
                         _ins(BPF_RET_K, SECCOMP_RET_ALLOW), _ins(BPF_RET_K, errno_eperm)])
    ins.append(_ins(BPF_RET_K, SECCOMP_RET_ALLOW))
    return b"".join(ins)


def seccomp(filter_kill: bool = True, libc: ctypes.CDLL | None = None) -> str:
    """Install the filter on every thread of this process. Returns a status line."""
    if _ARCH not in AUDIT_ARCH:
        return f"unavailable (no filter written for {_ARCH})"
    libc = libc or _libc()
    prog = seccomp_program(os.getpid(), filter_kill)
    count = len(prog) // 8
    if count > 4096:
        return "unavailable (filter too long)"
    filt = ctypes.create_string_buffer(prog, len(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(count, ctypes.cast(filt, ctypes.c_void_p))
    if not _no_new_privs(libc):
        return f"unavailable (no_new_privs: {os.strerror(ctypes.get_errno())})"
    rc = _syscall(libc, "seccomp", ctypes.c_uint(SECCOMP_SET_MODE_FILTER), ctypes.c_uint(SECCOMP_FILTER_FLAG_TSYNC),
                  ctypes.byref(fprog))
    if rc != 0:
        why = os.strerror(ctypes.get_errno()) if rc < 0 else f"thread {rc} could not be synchronised"
        return f"unavailable (seccomp: {why})"
    kill = "; kill() only to itself" if filter_kill else ""
    return f"all threads: no fork, no sockets, no ptrace or process-memory access, no mounts or namespaces{kill}"


# ---- PID namespace ------------------------------------------------------------------------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
PR_SET_PDEATHSIG = 1
SIGNAL_EXIT_BASE = 128  # an exit status above this (and ≤ +64) stands for "killed by that signal"


def _die_with_parent(libc: ctypes.CDLL) -> None:
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _relay(child: int, mirror_signal: bool) -> None:
    """Wait for `child` (reaping any orphan the namespace hands us), then end the same way it did.
    Holds no file descriptor but stdio, so the pool sees EOF on the job pipes as soon as the worker
    goes. Never returns."""
    os.closerange(3, 1 << 16)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # meant for the server's terminal; the pool uses SIGKILL
    status = 1
    while True:
        try:
            pid, raw = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == child:
            if os.WIFSIGNALED(raw):
                status = SIGNAL_EXIT_BASE + os.WTERMSIG(raw)
            else:
                status = os.WEXITSTATUS(raw)
            break
    if mirror_signal and SIGNAL_EXIT_BASE < status <= SIGNAL_EXIT_BASE + 64:
        # Outside the namespace a signal can be re-raised, so the pool sees the worker's own end
        # ("killed by SIGSEGV"), as it did before the namespace existed.
        sig = status - SIGNAL_EXIT_BASE
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, signal.SIG_DFL)
        with contextlib.suppress(OSError):
            os.kill(os.getpid(), sig)
    os._exit(status)


def enter_pid_namespace(libc: ctypes.CDLL | None = None) -> str:
    """Put the rest of this process's life in a new PID and mount namespace with its own /proc, so
    no other process on the machine (the server, the editor, other users) is visible or signalable
    by number. Call first thing, single-threaded. The calling process stays behind as a relay that
    ends the way the worker does; a tiny init (pid 1 of the namespace) reaps orphans; the code that
    returns from here is the worker, pid 2 of the namespace. Returns a status line."""
    if "pidns" in disabled():
        return f"off (${DISABLE_ENV})"
    if os.geteuid() != 0:
        return "unavailable (needs root; the user-namespace form is not used)"
    libc = libc or _libc()
    if libc.unshare(CLONE_NEWPID | CLONE_NEWNS) != 0:
        return f"unavailable (unshare: {os.strerror(ctypes.get_errno())})"
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return f"unavailable (private mounts: {os.strerror(ctypes.get_errno())})"
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid > 0:
        _relay(pid, mirror_signal=True)
    _die_with_parent(libc)  # pid 1 of the namespace: dies with the relay, which takes the namespace along
    if libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) != 0:
        os.write(2, f"pid namespace: cannot mount /proc: {os.strerror(ctypes.get_errno())}\n".encode())
        os._exit(1)
    pid = os.fork()
    if pid > 0:
        _relay(pid, mirror_signal=False)  # init cannot re-raise a signal on itself: the relay above does
    _die_with_parent(libc)
    return "own PID and mount namespace: no other process is visible in /proc or can be signalled by pid"


# ---- the worker's entry points ----------------------------------------------------------------------


def apply_filesystem(write_roots: Iterable[str]) -> dict[str, str]:
    """Early (single-threaded, before torch): Landlock. Returns {"landlock": status}."""
    if "landlock" in disabled():
        return {"landlock": f"off (${DISABLE_ENV})"}
    try:
        return {"landlock": landlock(default_plan(write_roots))}
    except Exception as e:  # noqa: BLE001 - a layer that cannot be set up is reported, never fatal
        return {"landlock": f"unavailable ({type(e).__name__}: {e})"}


def apply_syscalls(landlock_status: str) -> dict[str, str]:
    """Late (after CUDA and the warm-up, before the first job): seccomp on all threads."""
    if "seccomp" in disabled():
        return {"seccomp": f"off (${DISABLE_ENV})"}
    try:
        return {"seccomp": seccomp(filter_kill=not signals_scoped(landlock_status))}
    except Exception as e:  # noqa: BLE001
        return {"seccomp": f"unavailable ({type(e).__name__}: {e})"}
