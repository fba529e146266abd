"""The command line's contract (docs/CLI.md): stdout carries one thing, every JSON document validates
against the schema, every bad input ends in one line and its documented exit code, messages point
at the user's file and line, help shows examples and exit codes, and what --write writes passes ruff
with this project's rules."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
SCHEMA = os.path.join(ROOT, "server", "tritonize", "schema", "cli.schema.json")
FAST = ["--generators", "template", "-n", "1", "--seeds", "1", "--device", "cpu", "--no-cache"]


def run_cli(*args: str, cwd: str | None = None, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "TRITONIZE_WORKER_PYTHON")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "tritonize.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or ROOT, env=full_env)


def validate(doc: dict) -> dict:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (dev extra) validates the JSON documents")
    with open(SCHEMA, encoding="utf-8") as f:
        jsonschema.validate(doc, json.load(f))
    return doc


def ruff(path: str) -> subprocess.CompletedProcess:
    """ruff with this project's rules (pyproject.toml), on a file outside the project's own tree."""
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                           os.path.join(ROOT, "pyproject.toml"), path], capture_output=True, text=True, timeout=120)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("usage:")
             and not line.startswith(" ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


# ---- stdout carries one thing --------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[subprocess.CompletedProcess, str]:
    d = tmp_path_factory.mktemp("convert")
    src = d / "fused.py"
    shutil.copy(os.path.join(EXAMPLES, "fused_activation.py"), src)
    return run_cli("convert", f"{src}::FusedGeluScale", *FAST), str(d)


def test_convert_stdout_is_a_kernel_module_that_imports_and_passes_ruff(converted) -> None:
    proc, d = converted
    assert proc.returncode == 0, proc.stderr
    ast.parse(proc.stdout)
    assert "tritonize report" not in proc.stdout and "tritonize report: FusedGeluScale" in proc.stderr
    module = os.path.join(d, "fused_triton.py")
    with open(module, "w") as f:
        f.write(proc.stdout)
    lint = ruff(module)
    assert lint.returncode == 0, lint.stdout
    # `tritonize convert fused.py > fused_triton.py` gives a drop-in replacement
    check = textwrap.dedent("""
        import torch, fused, fused_triton
        ref = fused.FusedGeluScale(*fused.get_init_inputs())
        new = fused_triton.FusedGeluScaleTriton(*fused.get_init_inputs())
        new.load_state_dict(ref.state_dict())
        x = fused.get_inputs()[0]
        assert torch.allclose(ref(x), new(x), atol=1e-4, rtol=1e-4)
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300, cwd=d,
                         env={**os.environ, "TRITON_INTERPRET": "1"})
    assert res.stdout.strip().endswith("ok"), res.stderr


@pytest.mark.parametrize("example,target", [("fused_activation.py", "FusedGeluScale"), ("softmax.py", None),
                                            ("rmsnorm.py", None)])
def test_write_output_passes_ruff_and_stdout_stays_empty(tmp_path, example, target) -> None:
    src = tmp_path / example
    shutil.copy(os.path.join(EXAMPLES, example), src)
    assert ruff(str(src)).returncode == 0  # the example itself is clean
    proc = run_cli("convert", f"{src}::{target}" if target else str(src), *FAST, "--write", str(src), "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip() == f"tritonize: wrote {src}"
    lint = ruff(str(src))
    assert lint.returncode == 0, lint.stdout + src.read_text()[:3000]


def test_convert_json_is_the_report_document(tmp_path) -> None:
    proc = run_cli("convert", os.path.join(EXAMPLES, "fused_activation.py"), *FAST, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = validate(json.loads(proc.stdout))
    assert doc["format"] == 1 and doc["type"] == "report" and doc["best"]
    assert proc.stderr == ""  # --json: no progress, no human report


def test_verify_json_is_the_verdict_document(tmp_path, converted) -> None:
    proc, d = converted
    kernel = os.path.join(d, "kernel.py")
    with open(kernel, "w") as f:
        f.write(proc.stdout.replace("FusedGeluScaleTriton", "ModelNew"))
    res = run_cli("verify", os.path.join(d, "fused.py::FusedGeluScale"), kernel, "--seeds", "1", "--device", "cpu",
                  "--json")
    assert res.returncode == 0, res.stderr
    doc = validate(json.loads(res.stdout))
    assert doc["type"] == "verdict" and doc["passed"] is True


# ---- bad input: one line, the documented exit code, one JSON shape ----------------------------------


def _bad(tmp_path):
    syntax = tmp_path / "syntax.py"
    syntax.write_text("import torch\n\nclass Model(torch.nn.Module:\n    pass\n")
    norecipe = tmp_path / "norecipe.py"
    norecipe.write_text("import torch\nfrom torch import nn\n\n\nclass Double(nn.Module):\n"
                        "    def forward(self, x):\n        return x * 2\n")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"seeds": "three"}))
    example = os.path.join(EXAMPLES, "fused_activation.py")
    return {
        "missing file": (["convert", str(tmp_path / "nope.py")], 2, "read_error", "cannot read"),
        "syntax error": (["convert", str(syntax)], 2, "syntax", f"{syntax}:3:"),
        "no input recipe": (["convert", f"{norecipe}::Double"], 2, "no_recipe", "Double has no input recipe"),
        "no such class": (["convert", f"{example}::Nope"], 2, "not_found", "FusedGeluScale"),
        "bad flag value": (["convert", example, "-n", "0"], 2, "settings", "must be at least 1, got 0"),
        "bad settings file": (["convert", example, "--settings", str(settings)], 2, "settings", "'seeds'"),
        "unknown generator": (["convert", example, "--generators", "template,magic"], 2, "settings", "magic"),
        "option of another command": (["verify", example, example, "--generators", "template"], 2, "usage",
                                      "--generators"),
        "missing argument": (["convert"], 2, "usage", "required"),
        "missing worker python": (["convert", example, "--worker-python", str(tmp_path / "no-python")], 1,
                                  "worker_python", "does not exist"),
        "unreadable candidate": (["verify", example, str(tmp_path / "nope.py")], 2, "read_error", "cannot read"),
    }


CASES = ["missing file", "syntax error", "no input recipe", "no such class", "bad flag value", "bad settings file",
         "unknown generator", "option of another command", "missing argument", "missing worker python",
         "unreadable candidate"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_the_documented_exit_code(tmp_path, case) -> None:
    args, code, kind, needle = _bad(tmp_path)[case]
    proc = run_cli(*args)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert proc.stdout == ""
    line = one_line(proc.stderr)
    assert line.startswith("tritonize: ") and needle in line, line
    assert "using the default" not in line  # the command line stops on a bad setting; it never goes on

    as_json = run_cli(*args, "--json")
    assert as_json.returncode == code
    doc = validate(json.loads(as_json.stdout))
    assert doc["type"] == "error" and doc["exit_code"] == code and doc["error"]["kind"] == kind


def test_a_syntax_error_gives_its_position_once(tmp_path) -> None:
    args, *_ = _bad(tmp_path)["syntax error"]
    line = one_line(run_cli(*args).stderr)
    assert line.count(":3:") == 1 and "line 3" not in line, line
    doc = json.loads(run_cli(*args, "--json").stdout)["error"]
    assert (doc["line"], doc["range"]["start_line"]) == (3, 2)


@pytest.mark.parametrize("tcp,needle", [("foo", "expected HOST:PORT"), ("127.0.0.1:http", "port must be a number"),
                                        (":99999", "port must be a number")])
def test_serve_with_a_bad_tcp_address_is_one_line_exit_2(tcp, needle) -> None:
    proc = run_cli("serve", "--tcp", tcp, timeout=60)
    assert proc.returncode == 2
    assert needle in one_line(proc.stderr)


def test_template_diagnostics_give_the_users_line(tmp_path) -> None:
    f = tmp_path / "running_sum.py"
    f.write_text(textwrap.dedent('''\
        """A running sum."""
        import math

        import torch
        from torch import nn

        UNUSED = math.pi


        class Model(nn.Module):
            def forward(self, x):
                y = torch.cumsum(x, dim=1)
                return y * 2


        def get_inputs():
            return [torch.randn(4, 8)]


        def get_init_inputs():
            return []
    '''))
    proc = run_cli("convert", str(f), *FAST, "--json")
    assert proc.returncode == 1, proc.stderr
    skipped = json.loads(proc.stdout)["generators"][0]["skipped"]
    assert "`cumsum` at line 12: `y = torch.cumsum(x, dim=1)`" in skipped, skipped
    quiet = run_cli("convert", str(f), *FAST, "-q")
    assert quiet.returncode == 1 and "at line 12" in one_line(quiet.stderr)


# ---- help: examples, exit codes, only a command's own options ------------------------------------


@pytest.mark.parametrize("command", ["convert", "verify", "bench", "doctor", "serve", "repl"])
def test_help_shows_examples_and_exit_codes(command) -> None:
    proc = run_cli(command, "--help", timeout=60)
    assert proc.returncode == 0
    assert "examples:" in proc.stdout and "exit codes:" in proc.stdout
    assert f"tritonize {command}" in proc.stdout.split("examples:")[1]


def test_each_command_lists_only_its_options() -> None:
    verify = run_cli("verify", "--help", timeout=60).stdout
    for option in ("--generators", "--model", "-n N", "--write", "--cache-dir", "--json-out", "--temperature"):
        assert option not in verify, option
    for option in ("--seeds", "--atol", "--inputs", "--worker-python", "--json"):
        assert option in verify, option
    serve = run_cli("serve", "--help", timeout=60).stdout
    assert "--seeds" not in serve and "--tcp" in serve
    bench = run_cli("bench", "--help", timeout=60).stdout
    assert "--json-out PATH" in bench and "--write" not in bench


def test_bench_json_prints_the_document_and_json_out_writes_it(tmp_path) -> None:
    problem = tmp_path / "problems" / "1_relu.py"
    problem.parent.mkdir()
    problem.write_text(textwrap.dedent("""\
        import torch
        from torch import nn


        class Model(nn.Module):
            def forward(self, x):
                return torch.relu(x)


        def get_inputs():
            return [torch.randn(8, 32)]


        def get_init_inputs():
            return []
    """))
    out = tmp_path / "results.json"
    proc = run_cli("bench", str(problem.parent), "--generators", "template", "-n", "1", "--seeds", "1",
                   "--device", "cpu", "--results-dir", str(tmp_path / "r"), "--json", "--json-out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = validate(json.loads(proc.stdout))
    assert doc["type"] == "bench" and doc["problems"][0]["correct"] > 0
    assert validate(json.loads(out.read_text()))["problems"][0]["problem"] == doc["problems"][0]["problem"]
