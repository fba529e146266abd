"""Which Python runs the verify workers and the model host, and whether it can.

The server/CLI process never imports torch (DESIGN.md, invariant 1), so it may live in an isolated
environment (`pipx`, `uv tool`) while torch and triton live in another: `--worker-python PATH`, the
`workerPython` setting or the `TRITONIZE_WORKER_PYTHON` environment variable name that interpreter.
It runs `python -m tritonize.worker.main`, so it must find this package: another interpreter gets a
PYTHONPATH entry holding only `tritonize` (never the rest of this environment's site-packages).

`check` asks the interpreter, without importing anything heavy, whether torch and triton are
installed, so a missing one is one clear message up front instead of a worker traceback.
Runs in the server/CLI process: standard library only.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

ENV = "TRITONIZE_WORKER_PYTHON"
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))  # .../tritonize
PACKAGE_PARENT = os.path.dirname(PACKAGE_DIR)  # a checkout's server/, or site-packages
FIX_FLAG = "--worker-python PATH (setting workerPython)"

# Run by the interpreter being checked: find_spec locates a package without importing it.
_PROBE = r"""
import importlib.util, json, sys
from importlib import metadata
out = {"python": ".".join(map(str, sys.version_info[:3])), "executable": sys.executable}
for mod, dist in (("torch", "torch"), ("triton", "triton"), ("tritonize", "tritonize")):
    try:
        found = importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
        found = False
    version = None
    if found and mod != "tritonize":
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "unknown"
    out[mod] = found if mod == "tritonize" else version  # a version, or None when it is not installed
print(json.dumps(out))
"""


def resolve(configured: str | None = None) -> str:
    """The worker interpreter: the setting, else $TRITONIZE_WORKER_PYTHON, else this process's own."""
    chosen = configured or os.environ.get(ENV) or sys.executable
    return os.path.expanduser(chosen)


def is_own(python: str) -> bool:
    """Whether `python` is the interpreter running this process (no extra PYTHONPATH needed)."""
    try:
        return os.path.samefile(python, sys.executable)
    except OSError:
        return python == sys.executable


def package_path(python: str) -> str:
    """The PYTHONPATH entry that lets `python` import this tritonize package.

    From a checkout that is `server/` (nothing else lives there). An installed package sits in
    site-packages next to everything else this environment holds; another interpreter gets a copy of
    the package alone in a directory of its own, so none of this environment's libraries (built for
    another Python, maybe) shadow its own. A copy, not a link: the confined worker may read only its
    own interpreter's directories beneath /home (worker/confine.py), and this environment may live there."""
    if is_own(python) or os.path.basename(PACKAGE_PARENT) == "server":
        return PACKAGE_PARENT
    return _package_copy()


@functools.lru_cache(maxsize=1)
def _package_copy() -> str:
    files = []
    for folder, dirs, names in os.walk(PACKAGE_DIR):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        files += [os.path.join(folder, n) for n in names if not n.endswith(".pyc")]
    stamp = hashlib.sha256(PACKAGE_DIR.encode())
    for f in sorted(files):
        with contextlib.suppress(OSError):
            st = os.stat(f)
            stamp.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    root = os.path.join(tempfile.gettempdir(), f"tritonize-path-{os.getuid()}-{stamp.hexdigest()[:16]}")
    if os.path.isdir(os.path.join(root, "tritonize")):
        return root
    tmp = ""
    try:
        tmp = tempfile.mkdtemp(prefix=os.path.basename(root) + ".", dir=os.path.dirname(root))
        shutil.copytree(PACKAGE_DIR, os.path.join(tmp, "tritonize"), ignore=shutil.ignore_patterns("__pycache__"))
        os.rename(tmp, root)  # atomic; another process may have won the race, which is as good
    except OSError:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        if not os.path.isdir(os.path.join(root, "tritonize")):
            return PACKAGE_PARENT  # cannot copy: fall back to the whole directory
    return root


def pythonpath(python: str, existing: str | None) -> str:
    """`existing` PYTHONPATH with this package's entry first."""
    return os.pathsep.join(p for p in (package_path(python), existing or "") if p)


@dataclass(frozen=True)
class Check:
    """What the worker interpreter has. `problem` is one line for the user, `fix` what to do."""

    python: str
    version: str | None = None
    torch: str | None = None
    triton: str | None = None
    problem: str | None = None
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def message(self) -> str:
        return f"{self.problem}; {self.fix}" if self.problem else ""

    def to_dict(self) -> dict:
        return {"python": self.python, "version": self.version, "torch": self.torch, "triton": self.triton,
                "ok": self.ok, "problem": self.problem, "fix": self.fix}


@functools.lru_cache(maxsize=8)
def check(python: str, timeout: float = 60.0) -> Check:
    """Ask `python` whether it can run verify workers (cached: the answer holds for this process)."""
    own = is_own(python)
    who = "this Python" if own else "the worker Python"
    if not own and not os.path.exists(python):
        return Check(python, problem=f"the worker Python {python} does not exist",
                     fix=f"set {FIX_FLAG} to a Python that has torch and triton")
    env = dict(os.environ)
    env["PYTHONPATH"] = pythonpath(python, env.get("PYTHONPATH"))
    try:
        proc = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
        info = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
        return Check(python, problem=f"{who} {python} cannot run: {e}", fix=f"set {FIX_FLAG} to a working Python")
    if info is None:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return Check(python, problem=f"{who} {python} cannot run: {last}", fix=f"set {FIX_FLAG} to a working Python")
    version, torch, triton = info.get("python"), info.get("torch"), info.get("triton")
    missing = [name for name, v in (("torch", torch), ("triton", triton)) if not v]
    if missing:
        py = shlex.quote(python)
        return Check(python, version, torch, triton,
                     problem=f"{who} ({python}) has no {' or '.join(missing)}, which verify workers need",
                     fix=f"install them into it (the tritonize[torch] extra: `{py} -m pip install torch triton "
                         f"numpy`) or set {FIX_FLAG} to a Python that has them")
    if not info.get("tritonize"):
        return Check(python, version, torch, triton, problem=f"{who} ({python}) cannot import tritonize",
                     fix=f"install tritonize into it or set {FIX_FLAG} to a Python of the same version")
    return Check(python, version, torch, triton)
