"""Headless Neovim against the real language server, through the plugin in editors/nvim.

tests/nvim/e2e.lua opens a module, asks for code actions at the class, runs the convert action
(codeAction/resolve, or workspace/executeCommand → workspace/applyEdit), and checks the buffer,
the hover, `:TritonizeVerify` on a hand-written kernel file, a failing conversion's diagnostic
and cancellation. It writes what it saw as JSON;
the assertions live here so a failure prints the whole record.
"""

from __future__ import annotations

import ast
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
    race_file = tmp_path / "race.py"
    shutil.copy(NVIM_DIR / "scale_relu.py", race_file)
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
        "race_file": str(race_file),
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
    # one message per verdict: the plugin's line, no window/showMessage or progress line as well
    (verdict,) = shown["verdict_messages"]
    assert verdict.startswith("tritonize: PASS scale_relu_kernel.py vs scale_relu.py::ScaledReLU"), _show(nvim_run)
    assert not any("PASS" in m for m in shown["notified"]), _show(nvim_run)


def test_nvim_failed_conversion_gives_a_diagnostic(nvim_run):
    fail = nvim_run["steps"]["fail"]
    assert fail["finished"] and not fail["changed"], _show(nvim_run)
    messages = [d for d in fail["diagnostics"] if d["source"] == "tritonize"]
    assert any("get_inputs" in d["message"] for d in messages), _show(nvim_run)


def test_nvim_a_line_typed_during_the_last_step_does_not_move_the_kernel_into_the_class(nvim_run):
    """Neovim 0.7 advertises no versioned edits and sends changes after a debounce: the server
    computed the edit for the text before the typed line. The plugin refuses that edit (its
    version is older than the buffer), the server finds the class again and sends a new one."""
    race = nvim_run["steps"]["race"]
    assert race["finished"] and race.get("error") is None, _show(nvim_run)
    assert race["typed_at"] and "verify" in race["typed_at"], _show(nvim_run)
    text = race["text"]
    assert text.startswith("# typed during the last step\n"), _show(nvim_run)
    tree = ast.parse(text)
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ScaledReLU"]
    (forward,) = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "forward"]
    assert isinstance(forward.body[-1], ast.Return), text  # the block did not land inside forward
    lines = text.splitlines()
    begin = next(i for i, line in enumerate(lines) if line.startswith("# >>> tritonize: ScaledReLUTriton"))
    assert begin > cls.end_lineno and not any(line.strip() for line in lines[cls.end_lineno:begin]), text
    assert [n.name for n in tree.body if isinstance(n, ast.ClassDef)] == ["ScaledReLU", "ScaledReLUTriton"], text


def test_nvim_cancel_stops_the_conversion(nvim_run):
    cancel = nvim_run["steps"]["cancel"]
    # With a kernel in the file the action becomes a re-run; cancelling it must leave one kernel.
    assert cancel["action"] == "Re-run conversion of ScaledReLU to Triton", _show(nvim_run)
    assert cancel["cancel_sent"] and cancel["finished"] and cancel.get("error") == "cancelled", _show(nvim_run)
    assert cancel["progress_ended"] and "cancelled" in cancel["progress"][-1], _show(nvim_run)
    assert cancel["triton_classes"] == 1, _show(nvim_run)


@pytest.fixture(scope="module")
def nvim_misc(tmp_path_factory) -> dict:
    if NVIM is None:
        pytest.skip("nvim is not installed (make setup-nvim installs Debian's Neovim)")
    tmp_path = tmp_path_factory.mktemp("nvim-misc")
    python_file = tmp_path / "scale_relu.py"
    shutil.copy(NVIM_DIR / "scale_relu.py", python_file)
    (tmp_path / "pyproject.toml").write_text("")
    preview_file = tmp_path / "preview.py"
    shutil.copy(NVIM_DIR / "scale_relu.py", preview_file)
    # A finished conversion in the store: its passing candidate is offered as its own action.
    from tritonize.report import CandidateResult, Report
    from tritonize.store import Store

    kernel = (NVIM_DIR / "scale_relu_kernel.py").read_text()
    passed = CandidateResult(candidate_id="template:relu_scale/b1024", origin="template:relu_scale", passed=True,
                             code=kernel)
    Store(str(tmp_path / "cache")).put(Report(problem_name="ScaledReLU", key="k", path=str(preview_file),
                                              device="cpu (TRITON_INTERPRET=1)", results=[passed],
                                              best=passed.candidate_id, created="2025-01-01T00:00:00+00:00"))
    results = tmp_path / "results.json"
    config = {"plugin_dir": str(PLUGIN_DIR), "cmd": [sys.executable, "-m", "tritonize.cli.main", "serve"],
              "missing_program": "tritonize-not-on-path", "python_file": str(python_file), "results": str(results),
              "preview_file": str(preview_file)}
    env = dict(os.environ, TRITONIZE_NVIM_TEST=json.dumps(config), TRITONIZE_CACHE_DIR=str(tmp_path / "cache"))
    cmd = [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {NVIM_DIR / 'misc.lua'}"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert results.exists(), f"nvim wrote no results (rc={proc.returncode})\n{proc.stdout}\n{proc.stderr}"
    record = json.loads(results.read_text())
    assert record["ok"], _show(record)
    return record


def test_nvim_without_the_server_program_says_what_to_install(nvim_misc):
    missing = nvim_misc["missing"]
    assert not missing["client"], _show(nvim_misc)
    (message,) = [n["message"] for n in missing["notified"] if "tritonize-not-on-path" in n["message"]]
    assert "is not on PATH" in message and "pip install tritonize" in message, message
    assert '"-m", "tritonize.cli.main", "serve"' in message and ":checkhealth tritonize" in message, message


def test_nvim_checkhealth_reports_server_version_and_device(nvim_misc):
    health = "\n".join(nvim_misc["health"])
    from tritonize import __version__

    assert "tritonize: language server" in health and "server command found" in health, health
    assert f"version: tritonize {__version__}" in health, health
    assert "tritonize: device and model runtimes" in health, health
    assert "no GPU" in health or "device:" in health, health
    assert "model runtime" in health, health


def test_nvim_preview_shows_a_chosen_candidate_as_a_diff_to_accept_or_reject(nvim_misc):
    preview = nvim_misc["preview"]
    assert "Convert ScaledReLU — template relu_scale/b1024, not timed" in preview["titles"], _show(nvim_misc)
    assert preview["shown"] and preview["diff_windows"] == 2 and preview["scratch_has_kernel"], _show(nvim_misc)
    assert preview["unchanged_while_shown"] and preview["unchanged_after_reject"], _show(nvim_misc)
    text = preview["accepted_text"]
    assert "class ScaledReLUTriton(nn.Module)" in text and "# chosen: template:relu_scale/b1024" in text, text
    compile(text, "preview.py", "exec")
    assert preview["windows_after"] == preview["windows_before"], _show(nvim_misc)  # the split is gone


def test_nvim_lsp_config_for_vim_lsp_enable(nvim_misc):
    lsp_config = nvim_misc["lsp_config"]
    assert lsp_config["filetypes"] == ["python"] and "pyproject.toml" in lsp_config["root_markers"], _show(nvim_misc)
    assert lsp_config["document_changes"] is True, _show(nvim_misc)
    assert sorted(lsp_config["handlers"]) == ["$/progress", "workspace/applyEdit"], _show(nvim_misc)
