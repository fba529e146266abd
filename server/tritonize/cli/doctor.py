"""`tritonize doctor [--json]`: what this machine can do, and for each problem what fixes it.

Checks, in the order a conversion needs them: the worker Python (torch, triton), GPUs or the Triton
interpreter, a real verify worker's isolation layers, the model settings and runtimes, the report
cache. Runs in the CLI process; the heavy imports happen in the worker Python (`probe_machine`) and
in one real verify worker. Exit 0 when this machine can verify kernels, 1 when it cannot.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass

from .. import worker_python
from ..settings import Settings
from .common import (
    EXIT_BAD_INPUT,
    EXIT_NONE,
    EXIT_OK,
    json_document,
    print_json,
    report_settings_problems,
    settings_from_args,
)

# Run in the worker Python: imports torch/triton and asks CUDA, prints one JSON object.
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
import importlib.util
out["runtimes"] = {name: importlib.util.find_spec(name) is not None for name in ("transformers", "llama_cpp", "gguf")}
print(json.dumps(out))
"""

# What to do about an isolation layer that is not active (the verdicts still hold: the other layers
# and the Python audit hook remain; docs/THREAT_MODEL.md).
_LAYER_FIX = {
    "pidns": "run tritonize as root (or in a container with CAP_SYS_ADMIN) for a private PID and mount namespace",
    "landlock": "use a Linux kernel with Landlock (5.13 or later, `landlock` in the lsm= boot parameter)",
    "seccomp": "use a Linux kernel with seccomp filters (x86_64 or aarch64)",
    "network": "run as root or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)",
    "memory": "needs /proc and a working fork in the worker",
    "audit": "needs CPython 3.8 or later in the worker Python",
}


@dataclass
class Finding:
    """One line of the doctor's answer. `status`: ok | warn (works, but less) | fail (cannot verify)."""

    name: str
    status: str
    detail: str
    fix: str | None = None


def probe_machine(python: str | None = None, timeout: float = 120.0) -> dict:
    """torch, triton, CUDA and the model runtimes as the worker Python sees them."""
    python = python or worker_python.resolve()
    env = dict(os.environ)
    env["PYTHONPATH"] = worker_python.pythonpath(python, env.get("PYTHONPATH"))
    try:
        proc = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"probe_error": f"probing torch/triton took over {timeout:.0f}s"}
    except OSError as e:
        return {"probe_error": str(e)}
    if proc.returncode != 0:
        return {"probe_error": (proc.stderr.strip().splitlines() or ["probe failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def nvidia_driver() -> bool:
    """Whether an NVIDIA driver answers (a GPU the worker Python's torch may fail to see)."""
    if not shutil.which("nvidia-smi"):
        return False
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


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


def check_python(settings: Settings) -> tuple[list[Finding], worker_python.Check]:
    out = [Finding("python", "ok", f"{platform.python_version()} ({sys.executable}) runs tritonize")]
    python = worker_python.resolve(settings.worker_python)
    result = worker_python.check(python)
    if result.ok:
        out.append(Finding("worker python", "ok", f"{result.version} ({python}): torch {result.torch}, "
                                                  f"triton {result.triton}"))
    else:
        out.append(Finding("worker python", "fail", result.problem or "", result.fix))
    return out, result


def check_devices(info: dict, settings: Settings) -> list[Finding]:
    if "probe_error" in info:
        return [Finding("torch", "fail", f"could not be probed: {info['probe_error']}",
                        "install torch and triton into the worker Python (the tritonize[torch] extra)")]
    out: list[Finding] = []
    for name in ("torch", "triton"):
        if info.get(name):
            out.append(Finding(name, "ok", str(info[name])))
        else:
            out.append(Finding(name, "fail", f"cannot be imported: {info.get(name + '_error', 'not installed')}",
                               "install it into the worker Python (the tritonize[torch] extra)"))
    if not (info.get("torch") and info.get("triton")):
        return out
    devices = info.get("devices") or []
    if info.get("cuda_available") and devices:
        for d in devices:
            out.append(Finding(f"cuda:{d['index']}", "ok",
                               f"{d['name']} ({d['memory_gib']} GiB, sm_{d['capability'].replace('.', '')}), "
                               f"CUDA {info.get('cuda_version')}"))
        used = settings.devices if settings.devices is not None else os.environ.get("CUDA_VISIBLE_DEVICES")
        which = f"devices {used}" if used not in (None, "") else f"all {len(devices)} visible GPU(s)"
        out.append(Finding("workers", "ok", f"one verify worker per GPU ({which}); candidates timed against eager "
                                            "and torch.compile"))
        return out
    if nvidia_driver():
        out.append(Finding("gpu", "warn", "an NVIDIA driver is present but torch sees no CUDA device "
                                          f"(torch {info.get('torch')})",
                           "install a CUDA build of torch into the worker Python (pip install torch from PyPI), "
                           "or check CUDA_VISIBLE_DEVICES"))
    else:
        out.append(Finding("gpu", "warn", "no GPU visible: candidates are checked for correctness only, not timed",
                           "for timings, run on a machine with an NVIDIA GPU and a CUDA build of torch"))
    if settings.device == "cuda":
        out.append(Finding("device", "fail", "the device setting is cuda but there is no CUDA device",
                           "use --device auto (or cpu) here"))
    if info.get("interpreter"):
        out.append(Finding("workers", "ok", "one CPU worker under the Triton interpreter (TRITON_INTERPRET=1)"))
    else:
        out.append(Finding("interpreter", "fail", f"the Triton interpreter is not available: "
                                                  f"{info.get('interpreter_error', '')}",
                           "install a triton with the interpreter (3.1 or later) into the worker Python"))
    return out


def check_isolation(settings: Settings) -> tuple[list[Finding], dict[str, str]]:
    from ..render import isolation_layers
    from ..verify.pool import WorkerStartError

    try:
        layers = worker_isolation(settings)
    except WorkerStartError as e:
        return [Finding("verify worker", "fail", f"could not start: {e}", "see the message above; "
                        "`tritonize doctor --json` lists the worker Python's packages")], {}
    out = [Finding("verify worker", "ok", "started; its isolation layers follow, outermost first")]
    for name, active, status in isolation_layers(layers):
        fix = None
        if not active:
            fix = ("unset TRITONIZE_CONFINE" if status.startswith("off") else
                   _LAYER_FIX.get(name, "see docs/THREAT_MODEL.md"))
        out.append(Finding(f"isolation: {name}", "ok" if active else "warn", status, fix))
    return out, layers


def check_model(settings: Settings, runtimes: dict[str, bool]) -> list[Finding]:
    """The llm generator's settings: is there a model, can its runtime load it?"""
    m = settings.model
    uses_llm = "llm" in settings.generators
    skip = "" if uses_llm else " (the llm generator is not among the generators)"
    if m.runtime == "openai":
        if not m.url:
            return [Finding("model", "warn" if uses_llm else "ok", "runtime openai without a URL: the llm generator "
                            "is skipped" + skip, "set --model-url (setting model.url), e.g. http://127.0.0.1:8000/v1")]
        return [reach_server(m.url, uses_llm)]
    runtime_module = {"transformers": "transformers", "llama_cpp": "llama_cpp"}[m.runtime]
    out: list[Finding] = []
    if not m.path:
        out.append(Finding("model", "warn" if uses_llm else "ok", f"runtime {m.runtime}, no model path: the llm "
                           "generator is skipped" + skip,
                           "set --model PATH (setting model.path): an HF checkpoint directory or a GGUF file"))
    elif not os.path.exists(os.path.expanduser(m.path)):
        out.append(Finding("model", "fail" if uses_llm else "warn", f"model path {m.path} does not exist",
                           "point --model (setting model.path) at an HF checkpoint directory or a GGUF file"))
    else:
        out.append(Finding("model", "ok", f"{m.runtime}: {m.path}"))
    if runtimes.get(runtime_module):
        out.append(Finding(f"runtime {m.runtime}", "ok", "importable in the worker Python"))
    else:
        extra = "transformers" if m.runtime == "transformers" else "llama-cpp"
        out.append(Finding(f"runtime {m.runtime}", "warn" if uses_llm and m.path else "ok",
                           "not installed in the worker Python" + ("" if uses_llm and m.path else skip),
                           f"install the tritonize[{extra}] extra into the worker Python (or `make setup-llm`)"))
    return out


def reach_server(url: str, needed: bool, timeout: float = 3.0) -> Finding:
    """GET {url}/models: is an OpenAI-compatible server answering there?"""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/models", timeout=timeout) as resp:
            data = json.loads(resp.read().decode() or "{}")
        names = [m.get("id") for m in data.get("data", []) if isinstance(m, dict)]
        return Finding("model", "ok", f"openai: {url} answers" + (f" (models: {', '.join(map(str, names))})" if names else ""))
    except urllib.error.HTTPError as e:
        return Finding("model", "ok", f"openai: {url} answers (GET /models: HTTP {e.code})")
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return Finding("model", "fail" if needed else "warn", f"cannot connect to {url}: {reason}",
                       "start the server (vLLM, SGLang, llama-server, Ollama) or fix --model-url")


def check_cache(settings: Settings) -> Finding:
    path = settings.resolved_cache_dir()
    try:
        os.makedirs(path, exist_ok=True)
        writable = os.access(path, os.W_OK)
    except OSError:
        writable = False
    if writable:
        return Finding("cache", "ok", path)
    return Finding("cache", "warn", f"{path} is not writable: reports are not cached",
                   "set --cache-dir or TRITONIZE_CACHE_DIR to a writable directory")


def cmd_doctor(args: argparse.Namespace) -> int:
    as_json = bool(getattr(args, "json", False))
    settings, problems = settings_from_args(args)
    if report_settings_problems(problems, as_json):
        return EXIT_BAD_INPUT
    python = worker_python.resolve(settings.worker_python)
    if settings.worker_python:
        os.environ[worker_python.ENV] = python  # the worker started below uses it too
    findings, py = check_python(settings)
    info: dict = {}
    layers: dict[str, str] = {}
    if py.ok:
        info = probe_machine(python)
        findings += check_devices(info, settings)
        if not any(f.status == "fail" for f in findings):
            isolation, layers = check_isolation(settings)
            findings += isolation
    runtimes = info.get("runtimes") or {name: False for name in ("transformers", "llama_cpp", "gguf")}
    findings += check_model(settings, runtimes)
    findings.append(check_cache(settings))
    ok = not any(f.status == "fail" for f in findings)

    if as_json:
        print_json(json_document("doctor", {
            "ok": ok,
            "python": {"version": platform.python_version(), "executable": sys.executable},
            "worker_python": py.to_dict(),
            "torch": info.get("torch"),
            "triton": info.get("triton"),
            "cuda": info.get("cuda_version") if info.get("cuda_available") else None,
            "devices": info.get("devices", []),
            "isolation": layers,
            "runtimes": runtimes,
            "cache": settings.resolved_cache_dir(),
            "checks": [asdict(f) for f in findings],
        }))
    else:
        print(render(findings, ok))
    return EXIT_OK if ok else EXIT_NONE


def render(findings: list[Finding], ok: bool) -> str:
    mark = {"ok": "✓", "warn": "!", "fail": "✗"}
    width = max(len(f.name) for f in findings)
    lines = ["tritonize doctor"]
    for f in findings:
        lines.append(f"  {mark[f.status]} {f.name:<{width}}  {f.detail}")
        if f.fix:
            lines.append(f"    {'':<{width}}  fix: {f.fix}")
    lines.append("")
    lines.append("this machine can verify kernels" if ok else "this machine cannot verify kernels: see the ✗ lines")
    return "\n".join(lines)

