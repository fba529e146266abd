"""Headless Neovim against the real language server, through the plugin in editors/nvim.

tests/nvim/e2e.lua opens a module, asks for code actions at the class, runs the convert action
(codeAction/resolve, or workspace/executeCommand → workspace/applyEdit), and checks the buffer,
the hover, `:TritonizeVerify` on a hand-written kernel file, a failing conversion's diagnostic
and cancellation. It writes what it saw as JSON;
the assertions live here so a failure prints the whole record.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
NVIM_DIR = ROOT / "tests" / "nvim"
PLUGIN_DIR = ROOT / "editors" / "nvim"
NVIM = shutil.which("nvim")


def _nvim_version() -> tuple[int, ...]:
    first = subprocess.run([NVIM, "--version"], capture_output=True, text=True, timeout=30).stdout.split("\n")[0]
    return tuple(int(p) for p in first.split("v")[-1].split("-")[0].split(".")[:3])


def _run_nvim(tmp_path: Path, capabilities: dict | None = None) -> dict:
    convert_file = tmp_path / "scale_relu.py"
    fail_file = tmp_path / "no_recipe.py"
    shutil.copy(NVIM_DIR / "scale_relu.py", convert_file)
    shutil.copy(NVIM_DIR / "no_recipe.py", fail_file)
    verify_candidate = tmp_path / "scale_relu_kernel.py"
    shutil.copy(NVIM_DIR / "scale_relu_kernel.py", verify_candidate)
    (tmp_path / "pyproject.toml").write_text("")  # the project root the plugin looks for
    results = tmp_path / "results.json"
    config = {
        "plugin_dir": str(PLUGIN_DIR),
        "cmd": [sys.executable, "-m", "tritonize.cli.main", "serve"],
        # Fast settings: one built-in generator, one variant, one seed, no cache so the
        # cancel step has something to cancel.
        "init_options": {"generators": ["template"], "n": 1, "seeds": 1, "useCache": False, "device": "cpu"},
        "convert_file": str(convert_file),
        "convert_class": "ScaledReLU",
        "fail_file": str(fail_file),
        "fail_class": "NoRecipe",
        "verify_candidate": str(verify_candidate),
        "results": str(results),
        "timeout_ms": 150_000,
    }
    if capabilities:
        config["capabilities"] = capabilities
    env = dict(os.environ)
    env["TRITONIZE_NVIM_TEST"] = json.dumps(config)
    env["TRITONIZE_CACHE_DIR"] = str(tmp_path / "cache")
    env.setdefault("TRITON_INTERPRET", "1")
    cmd = [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {NVIM_DIR / 'e2e.lua'}"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert results.exists(), f"nvim wrote no results (rc={proc.returncode})\n{proc.stdout}\n{proc.stderr}"
    return json.loads(results.read_text())


@pytest.fixture(scope="module")
def nvim_run(tmp_path_factory) -> dict:
    if NVIM is None:
        pytest.skip("nvim is not installed (make setup-nvim installs Debian's Neovim)")
    if _nvim_version() < (0, 7):
        pytest.skip(f"the plugin needs Neovim 0.7+, found {_nvim_version()}")
    return _run_nvim(tmp_path_factory.mktemp("nvim"))


def _show(record: dict) -> str:
    return json.dumps(record, indent=1)[:6000]


def test_nvim_attaches_and_offers_the_convert_action(nvim_run):
    steps = nvim_run["steps"]
    assert nvim_run["ok"], _show(nvim_run)
    assert steps["attach"]["ok"] and steps["attach"]["filetype"] == "python", _show(nvim_run)
    assert steps["code_actions"]["picked"] == "Convert ScaledReLU to Triton kernel", _show(nvim_run)


def test_nvim_convert_inserts_the_triton_class(nvim_run):
    conv = nvim_run["steps"]["convert"]
    assert conv["finished"] and conv.get("error") is None, _show(nvim_run)
    assert conv["has_triton_class"] and conv["has_triton_jit"] and conv["original_kept"], _show(nvim_run)
    assert any(line.startswith("Tritonize ScaledReLU") for line in conv["progress"]), _show(nvim_run)


def test_nvim_hover_and_report_show_the_result(nvim_run):
    hover = nvim_run["steps"]["hover"]["text"]
    assert "| variant" in hover and "ScaledReLU" in hover and "pass" in hover, _show(nvim_run)
    report = nvim_run["steps"]["report"]
    assert report["finished"] and report.get("error") is None and "ScaledReLU" in report["text"], _show(nvim_run)


def test_nvim_verify_passes_a_correct_kernel_file(nvim_run):
    verify = nvim_run["steps"]["verify"]
    assert verify["finished"] and verify.get("error") is None, _show(nvim_run)
    # The class came from the cursor: the buffer also holds ScaledReLUTriton at this point.
    assert verify["passed"] is True, _show(nvim_run)
    assert verify["verdict"].startswith("PASS scale_relu_kernel.py vs scale_relu.py::ScaledReLU"), _show(nvim_run)
    assert verify["command"] and verify["completes_files"] == [verify["completes_files"][0]], _show(nvim_run)
    assert verify["completes_files"][0].endswith("scale_relu_kernel.py"), _show(nvim_run)
    shown = nvim_run["steps"]["verify_command"]
    assert shown["split_opened"] and shown["buftype"] == "nofile", _show(nvim_run)
    assert shown["first_line"].startswith("PASS  scale_relu_kernel.py"), _show(nvim_run)


def test_nvim_failed_conversion_gives_a_diagnostic(nvim_run):
    fail = nvim_run["steps"]["fail"]
    assert fail["finished"] and not fail["changed"], _show(nvim_run)
    messages = [d for d in fail["diagnostics"] if d["source"] == "tritonize"]
    assert any("get_inputs" in d["message"] for d in messages), _show(nvim_run)


def test_nvim_cancel_stops_the_conversion(nvim_run):
    cancel = nvim_run["steps"]["cancel"]
    # With a kernel in the file the action becomes a re-run; cancelling it must leave one kernel.
    assert cancel["action"] == "Re-run conversion of ScaledReLU to Triton", _show(nvim_run)
    assert cancel["cancel_sent"] and cancel["finished"] and cancel.get("error") == "cancelled", _show(nvim_run)
    assert cancel["progress_ended"] and "cancelled" in cancel["progress"][-1], _show(nvim_run)
    assert cancel["triton_classes"] == 1, _show(nvim_run)
