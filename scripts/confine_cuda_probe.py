"""Which confinement layer (worker/confine.py), and which Landlock rule, keeps CUDA from starting?

Run on a GPU machine. Each child confines itself the way a verify worker does, with one layer
switched off ($TRITONIZE_CONFINE) or one Landlock rule widened, then initialises CUDA and runs a
kernel. The first line whose CUDA works names what the driver needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "server")
CHILD = """
import os, sys, tempfile
sys.path.insert(0, SERVER)
from tritonize.worker import confine
variant = sys.argv[1]
root = tempfile.mkdtemp()
plan = confine.default_plan([root])
if variant == "no-ioctl-rule":
    handled = confine._handled_fs
    confine._handled_fs = lambda abi: handled(abi) & ~confine.FS_IOCTL_DEV
if variant == "dev-rw":
    plan.devices.append("/dev")
if variant == "shm-tmp-rw":
    plan.write_roots += ["/dev/shm", "/tmp"]
if variant == "all-writable":
    plan.write_roots.append("/")
if variant.startswith("w:"):  # one more writable tree, e.g. w:/proc
    plan.write_roots.append(variant[2:])
if variant == "all-exec":
    plan.tool_dirs.append("/")
if variant == "all-readable":
    plan.read_extra.append("/")
status = {"landlock": confine.landlock(plan)}
import torch
ok = torch.cuda.is_available()
if ok:
    x = (torch.ones(4, device="cuda") + 1).sum().item()
print("cuda", ok, status["landlock"][:30])
""".replace("SERVER", repr(SERVER))

VARIANTS = sys.argv[1:] or ["default", "no-ioctl-rule", "dev-rw", "shm-tmp-rw", "all-readable", "all-exec",
                            "all-writable"]  # or name them, e.g. w:/proc w:/sys
for variant in VARIANTS:
    env = dict(os.environ, TMPDIR=tempfile.mkdtemp())
    proc = subprocess.run([sys.executable, "-c", CHILD, variant], capture_output=True, text=True, env=env, timeout=300)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    print(f"{variant:<14} rc={proc.returncode} {last}", flush=True)
