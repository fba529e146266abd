"""The distribution as a user gets it: `python -m build` makes an sdist and a wheel (the wheel from the
sdist), the wheel goes into a fresh venv with its core dependencies only (no torch: a pipx / `uv tool`
style install), and the installed `tritonize` command is run from there.

One build and one venv for the module. The bare install must say in one line how to get torch into
the worker Python; with `--worker-python` pointing at a Python that has torch (the one running these
tests) the same install converts a module. Needs PyPI (or a pip cache) for the build backend and
the core dependencies.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import subprocess
import sys
import tarfile
import venv
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "fused_activation.py")
SCHEMA = os.path.join(ROOT, "server", "tritonize", "schema", "cli.schema.json")

pytestmark = pytest.mark.slow


def _project_version() -> str:
    import re

    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        return re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M).group(1)


def _run(cmd: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, str]:
    pytest.importorskip("build", reason="the `build` package (dev extra) makes the sdist and wheel")
    out = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "build", "--outdir", str(out), ROOT], timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = glob.glob(str(out / "*.whl"))
    sdists = glob.glob(str(out / "*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, os.listdir(out)
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> str:
    """A fresh venv with the wheel and its core dependencies (no torch, no triton). Returns its bin dir."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True, clear=True).create(str(home))
    bindir = os.path.join(str(home), "bin")
    proc = _run([os.path.join(bindir, "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 dist["wheel"]], timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return bindir


def user_env(**extra: str) -> dict[str, str]:
    """The environment of someone running the installed command: nothing of this checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRITON_INTERPRET", "VIRTUAL_ENV",
                                                           "TRITONIZE_WORKER_PYTHON")}
    env.update(extra)
    return env


def tritonize(bindir: str, *args: str, cwd: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return _run([os.path.join(bindir, "tritonize"), *args], timeout=timeout, cwd=cwd, env=user_env())


# ---- what is in the distributions ------------------------------------------------------------------


def test_wheel_holds_the_package_prompts_schema_license_and_metadata(dist) -> None:
    with zipfile.ZipFile(dist["wheel"]) as whl:
        names = set(whl.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = whl.read(meta_name).decode()
        entry_points = whl.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    for prompt in ("kernelllm_v1.txt", "kernelllm_chat_v1.txt", "system_v1.txt"):
        assert f"tritonize/prompts/{prompt}" in names
    assert "tritonize/schema/cli.schema.json" in names
    assert "tritonize/worker/main.py" in names and "tritonize/model_host/main.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert f"Version: {_project_version()}" in meta
    assert "License-Expression: MIT" in meta and "License-File: LICENSE" in meta
    assert "Project-URL: Source," in meta
    for extra in ("torch", "llm", "all", "openai", "llama-cpp", "transformers"):
        assert f"Provides-Extra: {extra}" in meta
    assert 'Requires-Dist: triton>=3.1; sys_platform == "linux" and extra == "torch"' in meta
    assert "llama-cpp-python[server]" in meta
    core = [line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not [line for line in core if any(heavy in line for heavy in ("torch", "triton", "transformers"))], core
    assert "tritonize = tritonize.cli.main:main" in entry_points


def test_sdist_builds_the_same_package(dist) -> None:
    with tarfile.open(dist["sdist"]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"LICENSE", "README.md", "pyproject.toml", "server/tritonize/prompts/kernelllm_v1.txt",
            "server/tritonize/schema/cli.schema.json"} <= names


# ---- the installed command ---------------------------------------------------------------------------


def test_installed_version_comes_from_the_package_metadata(installed, tmp_path) -> None:
    proc = tritonize(installed, "--version", cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"tritonize {_project_version()}"
    where = _run([os.path.join(installed, "python"), "-c",
                  "import tritonize, importlib.resources as r; print(tritonize.__file__); "
                  "print(r.files('tritonize').joinpath('prompts/kernelllm_v1.txt').is_file())"],
                 cwd=str(tmp_path), env=user_env())
    package_file, prompt_found = where.stdout.split()
    assert package_file.startswith(os.path.dirname(installed)), package_file  # the venv's copy, not this checkout
    assert prompt_found == "True"


def test_bare_install_says_how_to_get_torch_and_exits_1(installed, tmp_path) -> None:
    proc = tritonize(installed, "convert", EXAMPLE, "--generators", "template", cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    message = lines[0]
    assert "has no torch or triton" in message
    assert "pip install torch triton" in message and "tritonize[torch]" in message
    assert "--worker-python" in message

    as_json = tritonize(installed, "convert", EXAMPLE, "--json", cwd=str(tmp_path))
    assert as_json.returncode == 1
    doc = json.loads(as_json.stdout)
    assert doc["format"] == 1 and doc["type"] == "error" and doc["exit_code"] == 1
    assert doc["error"]["kind"] == "worker_python" and "--worker-python" in doc["error"]["fix"]


def test_bare_install_doctor_json_names_the_fix(installed, tmp_path) -> None:
    proc = tritonize(installed, "doctor", "--json", cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    _validate(doc)
    assert doc["ok"] is False and doc["worker_python"]["torch"] is None
    failed = [c for c in doc["checks"] if c["status"] == "fail"]
    assert failed and all(c["fix"] for c in failed)
    assert any(c["name"] == "worker python" and "pip install" in c["fix"] for c in failed)


def test_installed_convert_with_a_worker_python_prints_a_module(installed, tmp_path) -> None:
    torch_python = sys.executable  # the Python running these tests has torch and triton
    doctor = tritonize(installed, "doctor", "--json", "--worker-python", torch_python, cwd=str(tmp_path))
    assert doctor.returncode == 0, doctor.stdout[-3000:] + doctor.stderr[-3000:]
    doc = json.loads(doctor.stdout)
    _validate(doc)
    assert doc["ok"] and doc["worker_python"]["ok"] and doc["worker_python"]["python"] == torch_python
    assert doc["isolation"], doc  # a real worker started from the installed package
    if not doc["devices"]:  # no GPU: doctor says so, and never "all visible GPUs"
        workers = next(c for c in doc["checks"] if c["name"] == "workers")
        assert "CPU worker" in workers["detail"] and "GPU" not in workers["detail"]

    proc = tritonize(installed, "convert", f"{EXAMPLE}::FusedGeluScale", "--generators", "template", "-n", "1",
                     "--seeds", "1", "--device", "cpu", "--no-cache", "--worker-python", torch_python,
                     cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    tree = ast.parse(proc.stdout)  # stdout is the kernel module and nothing else
    names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    assert "FusedGeluScaleTriton" in names
    assert "tritonize report: FusedGeluScale" in proc.stderr  # the human report went to stderr


def _validate(doc: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (dev extra) validates the JSON documents")
    with open(SCHEMA, encoding="utf-8") as f:
        jsonschema.validate(doc, json.load(f))
