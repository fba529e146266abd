"""The `tritonize` command line as a user runs it: exit codes, JSON, --write, doctor, no heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "fused_activation.py")


def run_cli(*args: str, cwd: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("TRITON_INTERPRET", None)  # as a user runs it: the worker must pick the interpreter itself
    return subprocess.run(
        [sys.executable, "-m", "tritonize.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT, env=env,
    )


FAST = ["--generators", "template", "-n", "1", "--seeds", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def converted_json(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict]:
    cache = tmp_path_factory.mktemp("cache")
    proc = run_cli("convert", f"{EXAMPLE}::FusedGeluScale", *FAST, "--json", "--cache-dir", str(cache))
    return proc, json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}


def test_convert_finds_a_verified_kernel_and_prints_json(converted_json) -> None:
    proc, report = converted_json
    assert proc.returncode == 0, proc.stderr
    assert report["problem_name"] == "FusedGeluScale"
    best = [r for r in report["results"] if r["candidate_id"] == report["best"]]
    assert best and best[0]["passed"] and "@triton.jit" in best[0]["code"]
    assert report["timed"] is False and "TRITON_INTERPRET" in report["device"]
    assert report["tolerance"]["atol"] == pytest.approx(1e-4) and report["dtype"] == "float32"
    assert report["input_shapes"] == ["float32[16, 1024]"]
    # every report says which isolation layers the verdicts were reached under
    assert {"pidns", "landlock", "seccomp", "network", "audit"} <= set(report["isolation"])
    if sys.platform.startswith("linux") and os.geteuid() == 0:  # CI: root on a Landlock kernel
        assert report["isolation"]["seccomp"].startswith("all threads"), report["isolation"]


def test_convert_prints_the_kernel_on_stdout_and_the_report_on_stderr(tmp_path) -> None:
    proc = run_cli("convert", f"{EXAMPLE}::FusedGeluScale", *FAST, "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert "class FusedGeluScaleTriton(nn.Module)" in proc.stdout
    assert "tritonize report" not in proc.stdout  # `> kernel.py` saves valid Python
    assert "not timed (no GPU)" in proc.stderr
    assert "chosen: template:" in proc.stderr
    assert "isolation: " in proc.stderr and "seccomp" in proc.stderr


def test_write_inserts_the_kernel_into_a_copy_and_the_copy_runs(tmp_path) -> None:
    out = tmp_path / "converted.py"
    proc = run_cli("convert", f"{EXAMPLE}::FusedGeluScale", *FAST, "--no-cache", "--write", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.count("class FusedGeluScale(nn.Module)") == 1
    assert text.count("class FusedGeluScaleTriton(nn.Module)") == 1
    # The written file is importable and the generated class is a drop-in replacement.
    check = textwrap.dedent(f"""
        import importlib.util, torch
        spec = importlib.util.spec_from_file_location("converted", {str(out)!r})
        m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
        ref = m.FusedGeluScale(*m.get_init_inputs()); new = m.FusedGeluScaleTriton(*m.get_init_inputs())
        new.load_state_dict(ref.state_dict())
        x = m.get_inputs()[0]
        assert torch.allclose(ref(x), new(x), atol=1e-4, rtol=1e-4)
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TRITON_INTERPRET": "1"})
    assert res.stdout.strip().endswith("ok"), res.stderr


def test_convert_a_reduction_kernel_without_triton_interpret_in_the_environment() -> None:
    # Kernels that call triton.language's own @jit helpers (tl.max, tl.sum) need the interpreter to be
    # chosen before triton is imported in the worker; users don't set TRITON_INTERPRET themselves.
    proc = run_cli("convert", os.path.join(ROOT, "examples", "softmax.py"), *FAST, "--no-cache", "--json")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    report = json.loads(proc.stdout)
    assert report["best"] and report["best"].startswith("template:softmax")


def test_exit_code_2_for_a_missing_file() -> None:
    proc = run_cli("convert", "does/not/exist.py", *FAST)
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr


def test_exit_code_2_and_json_error_for_a_syntax_error(tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nclass Model(torch.nn.Module:\n    pass\n")
    proc = run_cli("convert", str(bad), *FAST, "--json")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    err = doc["error"]
    assert doc["format"] == 1 and doc["type"] == "error" and doc["exit_code"] == 2
    assert err["kind"] == "syntax" and err["range"]["start_line"] == 1 and err["line"] == 2
    assert ":2:" in proc.stderr  # 1-based line for people


def test_exit_code_2_when_there_is_no_input_recipe(tmp_path) -> None:
    f = tmp_path / "norecipe.py"
    f.write_text("import torch\nfrom torch import nn\n\nclass Double(nn.Module):\n    def forward(self, x):\n        return x * 2\n")
    proc = run_cli("convert", f"{f}::Double", *FAST)
    assert proc.returncode == 2
    assert "get_inputs" in proc.stderr and "tritonize: inputs" in proc.stderr


def test_exit_code_2_when_the_class_is_not_there() -> None:
    proc = run_cli("convert", f"{EXAMPLE}::NoSuchClass", *FAST)
    assert proc.returncode == 2
    assert "FusedGeluScale" in proc.stderr  # the message lists what the file has


def test_exit_code_2_for_a_recipe_that_raises(tmp_path) -> None:
    f = tmp_path / "raises.py"
    f.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        class Model(nn.Module):
            def forward(self, x):
                return torch.relu(x)
        def get_inputs():
            raise RuntimeError("dataset not found")
        def get_init_inputs():
            return []
    """))
    proc = run_cli("convert", str(f), *FAST)
    assert proc.returncode == 2
    assert "recipe_error" in proc.stderr and "dataset not found" in proc.stderr


def test_exit_code_1_when_no_candidate_passes(tmp_path) -> None:
    # A convolution is outside the template library, so no generator here produces a kernel.
    f = tmp_path / "conv.py"
    f.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)
            def forward(self, x):
                return self.conv(x)
        def get_inputs():
            return [torch.randn(1, 3, 8, 8)]
        def get_init_inputs():
            return []
    """))
    proc = run_cli("convert", str(f), *FAST, "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["best"] is None
    assert "Conv2d" in (report["generators"][0]["skipped"] or "")


def test_bad_setting_is_named_and_exit_code_2() -> None:
    proc = run_cli("convert", EXAMPLE, "--generators", "template,magic")
    assert proc.returncode == 2
    assert "magic" in proc.stderr
    assert "using the default" not in proc.stderr  # it stops; it does not go on with a default


def test_a_pipeline_error_has_the_same_json_shape_as_an_input_error(tmp_path) -> None:
    f = tmp_path / "raises.py"
    f.write_text("import torch\nfrom torch import nn\n\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
                 "        return x\n\n\ndef get_inputs():\n    raise RuntimeError('no data')\n\n\n"
                 "def get_init_inputs():\n    return []\n")
    proc = run_cli("convert", str(f), *FAST, "--no-cache", "--json")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert set(doc) == {"format", "type", "error", "exit_code"} and doc["type"] == "error"
    assert doc["error"]["kind"] == "recipe_error" and "no data" in doc["error"]["message"]
    assert doc["error"]["path"] == str(f)


def test_doctor_reports_the_interpreter_and_cache() -> None:
    proc = run_cli("doctor", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "torch" in proc.stdout and "triton" in proc.stdout and "cache" in proc.stdout
    assert "worker python" in proc.stdout and sys.executable in proc.stdout
    assert ("no GPU visible" in proc.stdout) or ("cuda:0" in proc.stdout)
    if "no GPU visible" in proc.stdout:
        assert "all visible GPUs" not in proc.stdout and "GPU(s)" not in proc.stdout
    # the layers a real worker reports, one line each, active or with the reason it is not
    for layer in ("pidns", "landlock", "seccomp", "network", "audit"):
        assert any(line.strip()[2:].startswith(f"isolation: {layer}") for line in proc.stdout.splitlines()), proc.stdout
    # every line that is not ✓ says what fixes it
    lines = proc.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.strip()[:1] in ("!", "✗"):
            assert lines[i + 1].strip().startswith("fix: "), proc.stdout


def test_doctor_json_checks_model_settings_with_a_fix(tmp_path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("doctor", "--json", "--generators", "llm", "--runtime", "openai",
                   "--model-url", f"http://127.0.0.1:{port}/v1", timeout=300)
    doc = json.loads(proc.stdout)
    assert doc["format"] == 1 and doc["type"] == "doctor"
    model = next(c for c in doc["checks"] if c["name"] == "model")
    assert model["status"] == "fail" and f"cannot connect to http://127.0.0.1:{port}/v1" in model["detail"]
    assert "start the server" in model["fix"]
    assert proc.returncode == 1 and doc["ok"] is False  # the llm generator was asked for and cannot run


def test_cli_import_pulls_in_no_heavy_library() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import tritonize.cli.main, tritonize.pipeline"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & {"torch", "triton", "transformers", "llama_cpp", "numpy"}, imported


def test_asking_for_cuda_without_a_gpu_says_so_and_exits_1() -> None:
    import shutil

    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has an NVIDIA driver: --device cuda may work here")
    proc = run_cli("convert", EXAMPLE, "--generators", "template", "--device", "cuda", "-q", "--no-cache")
    assert proc.returncode == 1
    assert "no_verifier" in proc.stderr and "no CUDA device" in proc.stderr
