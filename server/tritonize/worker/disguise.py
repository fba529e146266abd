"""Nothing cheap that a candidate can read should say "you are being verified".

A candidate that is right only under verification (and wrong in the user's program) needs a signal to
switch on. This module takes away the cheap ones (docs/THREAT_MODEL.md, "Behaviour that differs under
verification"):

- the candidate is imported as an ordinary module (`model`, from `model.py` in a fresh temporary
  directory of its own: no "candidate", no "tritonize", no "jobs/<n>", no problem.py beside it);
- `sys.argv` / `sys.orig_argv` look like a script run with `python main.py`;
- the worker's own settings (`TRITONIZE_*` variables) leave `os.environ` (kept here for the worker);
- the worker's directories have ordinary temporary names (the pool's `mkdtemp()`, verify/pool.py).

What cannot be hidden this way is listed in THREAT_MODEL.md (the process reading its own /proc entries
is refused by the sandbox instead; the PID namespace makes the worker pid 2).
"""

from __future__ import annotations

import os
import sys

MODULE_NAME = "model"
FILE_NAME = "model.py"
ARGV = ["main.py"]
ENV_PREFIX = "TRITONIZE_"

_hidden: dict[str, str] = {}


def apply() -> None:
    """Idempotent; the worker calls it before each candidate is imported."""
    sys.argv = list(ARGV)
    sys.orig_argv = [sys.executable, *ARGV]
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        _hidden[name] = os.environ.pop(name)


def env(name: str) -> str:
    """A `TRITONIZE_*` setting: from the environment, or from where `apply()` put it."""
    return os.environ.get(name) or _hidden.get(name, "")
