"""`tritonize doctor`: what this machine can do. Runs in the CLI process; the heavy imports happen in
a child interpreter (`probe_machine`)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys

from ..settings import Settings
from .common import EXIT_NONE, EXIT_OK

# Run in a child interpreter: imports torch/triton and asks CUDA, prints one JSON object.
_PROBE = r"""
import json, os, sys
out = {}
try:
    import torch
    out["torch"] = torch.__version__
    out["cuda_available"] = bool(torch.cuda.is_available())
    out["cuda_version"] = torch.version.cuda
    out["devices"] = [
        {"index": i, "name": torch.cuda.get_device_name(i),
         "memory_gib": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1),
         "capability": ".".join(map(str, torch.cuda.get_device_capability(i)))}
        for i in range(torch.cuda.device_count())
    ] if out["cuda_available"] else []
except Exception as e:
    out["torch_error"] = f"{type(e).__name__}: {e}"
try:
    import triton
    out["triton"] = triton.__version__
    try:
        from triton.runtime.interpreter import InterpretedFunction  # noqa: F401
        out["interpreter"] = True
    except Exception as e:
        out["interpreter"] = False
        out["interpreter_error"] = str(e)
except Exception as e:
    out["triton_error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
"""


def probe_machine(timeout: float = 120.0) -> dict:
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"probe_error": f"probing torch/triton took over {timeout:.0f}s"}
    if proc.returncode != 0:
        return {"probe_error": (proc.stderr.strip().splitlines() or ["probe failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def runtimes() -> dict[str, bool]:
    """Which model runtimes are importable (checked without importing them)."""
    return {name: importlib.util.find_spec(mod) is not None for name, mod in
            (("transformers", "transformers"), ("llama_cpp", "llama_cpp"), ("gguf", "gguf"))}


def worker_isolation(settings: Settings) -> dict[str, str]:
    """Start one real verify worker and return the isolation layers it reports (what every verdict on
    this machine runs under). Raises WorkerStartError when no worker can start."""
    from ..verify.pool import WorkerPool

    pool = WorkerPool(settings, standby=False)
    try:
        pool.start()
        return dict(pool.device_info().sandbox)
    finally:
        pool.close()


def isolation_lines() -> list[str]:
    from ..render import isolation_layers
    from ..verify.pool import WorkerStartError

    try:
        layers = worker_isolation(Settings())
    except WorkerStartError as e:
        return [f"  isolation    could not start a verify worker: {e}"]
    out = ["  isolation    (a verify worker's layers, outermost first)"]
    for name, active, status in isolation_layers(layers):
        out.append(f"    {'✓' if active else '✗'} {name:<9} {status}")
    return out


def cmd_doctor(args: argparse.Namespace) -> int:
    settings = Settings()
    info = probe_machine()
    lines = [
        "tritonize doctor",
        f"  python       {platform.python_version()} ({sys.executable})",
    ]
    ok = True
    if "probe_error" in info:
        lines.append(f"  torch/triton could not be probed: {info['probe_error']}")
        ok = False
    else:
        lines.append(f"  torch        {info.get('torch') or 'NOT INSTALLED: ' + info.get('torch_error', '')}")
        lines.append(f"  triton       {info.get('triton') or 'NOT INSTALLED: ' + info.get('triton_error', '')}")
        ok = ok and "torch" in info and "triton" in info
        if info.get("cuda_available"):
            lines.append(f"  CUDA         {info.get('cuda_version')}, {len(info['devices'])} device(s)")
            for d in info["devices"]:
                lines.append(f"    cuda:{d['index']}     {d['name']} ({d['memory_gib']} GiB, sm_{d['capability'].replace('.', '')})")
            lines.append("  verify on    GPU (candidates timed against eager and torch.compile)")
        else:
            lines.append("  CUDA         no GPU visible")
            interp = info.get("interpreter")
            lines.append(f"  interpreter  {'available (TRITON_INTERPRET=1)' if interp else 'NOT available'}")
            lines.append("  verify on    CPU under the Triton interpreter (correctness only, not timed)")
    if ok:
        lines += isolation_lines()
    for name, present in runtimes().items():
        lines.append(f"  {name:<12} {'importable' if present else 'not installed'}")
    lines.append(f"  cache        {settings.resolved_cache_dir()}")
    lines.append(f"  workers      {os.environ.get('CUDA_VISIBLE_DEVICES', 'all visible GPUs')}")
    print("\n".join(lines))
    return EXIT_OK if ok else EXIT_NONE
