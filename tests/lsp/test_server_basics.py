"""Language server behaviour that needs no conversion: actions, settings, hover, problem diagnostics,
the no-torch invariant and the lifecycle. Each test runs against both client profiles."""

from __future__ import annotations

import asyncio
import pathlib

import pytest
from lspkit import (
    FIXTURES,
    change_doc,
    code_actions,
    copy_fixture,
    debug_info,
    diagnostics,
    line_of,
    open_doc,
    session,
)
from lsprotocol import types as lsp
from tritonize.report import CandidateResult, Report, Timing
from tritonize.store import Store


def _actions(client, uri: str, line: int, col: int = 4, end: tuple[int, int] | None = None):
    start = lsp.Position(line, col)
    stop = lsp.Position(*end) if end else start
    return code_actions(client, uri, lsp.Range(start, stop))


def _title(a) -> str:
    return a.title


async def test_actions_only_on_module_classes(profile: str, tmp_path: pathlib.Path):
    path = copy_fixture(tmp_path, "two_modules.py")
    async with session(profile, tmp_path) as client:
        uri = open_doc(client, path)
        # on the class name, and deep inside its body
        for needle in ("class Scale", "return x * self.factor"):
            actions = await _actions(client, uri, line_of(path, needle))
            assert [_title(a) for a in actions] == ["Convert Scale to Triton kernel"]
            a = actions[0]
            assert a.kind == lsp.CodeActionKind.RefactorRewrite
            assert a.edit is None  # listing never computes the conversion
            if profile == "vscode":
                assert a.command is None
                assert a.data == {"uri": uri, "version": 1, "class": "Scale", "rerun": False}
            else:  # no resolve support for `edit`: a command does the work instead
                assert a.command.command == "tritonize.convert"
                assert a.command.arguments[0]["class"] == "Scale"
        # a plain class, a function, the imports: nothing to offer
        for needle in ("class NotAModule", "return x + 1", "import torch.nn"):
            assert not await _actions(client, uri, line_of(path, needle))
        # a selection spanning both module classes offers each
        actions = await _actions(client, uri, line_of(path, "class Scale"), 0, (line_of(path, "return helper(x)"), 5))
        assert sorted(_title(a) for a in actions) == ["Convert AddOne to Triton kernel", "Convert Scale to Triton kernel"]


async def test_rerun_and_report_actions_when_generated_block_exists(profile: str, tmp_path: pathlib.Path):
    text = (FIXTURES / "two_modules.py").read_text().replace(
        "class NotAModule:",
        "# >>> tritonize: ScaleTriton (generated; re-running replaces this block)\n"
        "class ScaleTriton(nn.Module):\n    def forward(self, x):\n        return x * 2\n"
        "# <<< tritonize: ScaleTriton\n\n\nclass NotAModule:",
    )
    path = tmp_path / "with_block.py"
    path.write_text(text)
    Store(str(tmp_path / "cache")).put(_report(str(path)))
    async with session(profile, tmp_path) as client:
        uri = open_doc(client, path)
        for needle in ("class Scale(", "class ScaleTriton"):  # the original and the generated class
            titles = [_title(a) for a in await _actions(client, uri, line_of(path, needle))]
            assert titles == ["Re-run conversion of Scale to Triton",
                              "Convert Scale — template elementwise/b1024, 1.67× compile",  # a passing candidate
                              "Show conversion report for Scale"]


def _report(path: str, name: str = "Scale") -> Report:
    result = CandidateResult(
        candidate_id="template:elementwise/b1024", origin="template:elementwise", passed=True,
        code="", timing=Timing(ms=0.012, eager_ms=0.030, compile_ms=0.020),
    )
    failed = CandidateResult(candidate_id="llm:kernelllm#1", origin="llm:kernelllm", passed=False,
                             kind="mismatch", message="max |Δ| 0.31 at out[0, 12]", max_abs_err=0.31,
                             worst_index="out[0, 12]")
    return Report(problem_name=name, key=f"k-{name}", path=path, device="NVIDIA H100 80GB HBM3", timed=True,
                  dtype="float32", input_shapes=["4x32"], results=[result, failed], best=result.candidate_id,
                  created="2025-01-01T00:00:00+00:00")


async def test_hover_reads_the_store(profile: str, tmp_path: pathlib.Path):
    path = copy_fixture(tmp_path, "two_modules.py")
    Store(str(tmp_path / "cache")).put(_report(str(path)))
    async with session(profile, tmp_path) as client:
        uri = open_doc(client, path)
        line = line_of(path, "class Scale")
        hover = await client.text_document_hover_async(
            lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line, 8))
        )
        assert hover is not None, "no hover on a class that has a report"
        md = hover.contents.value
        assert "template:elementwise/b1024" in md and "(chosen)" in md and "2.50x" in md
        assert "NVIDIA H100" in md
        assert hover.range.start == lsp.Position(line, 6)
        # a class without a report, and a word that is no class: no hover
        for needle, col in (("class AddOne", 8), ("return x * self.factor", 17)):
            none = await client.text_document_hover_async(
                lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri),
                                position=lsp.Position(line_of(path, needle), col))
            )
            assert none is None


async def test_invalid_settings_warn_and_keep_defaults(profile: str, tmp_path: pathlib.Path):
    init = {"tritonize": {"n": "many", "bogusKey": 1, "seeds": 2}}
    async with session(profile, tmp_path, init_options=init, configuration={"tritonize": {"timeoutS": 30}}) as client:
        await asyncio.sleep(0.3)  # initialized → workspace/configuration round trip
        warnings = [m.message for m in client.messages if m.type == lsp.MessageType.Warning]
        assert any("'n'" in m and "bogusKey" in m for m in warnings), warnings
        info = await debug_info(client)
        assert info["settings"]["n"] == 4  # the default, not "many"
        assert info["settings"]["seeds"] == 2
        assert info["settings"]["timeout_s"] == (30.0 if profile == "vscode" else 120.0)
        # later changes: pushed in didChangeConfiguration (neovim) or pulled again (vscode)
        if profile == "vscode":
            client.set_configuration({"tritonize": {"seeds": 5, "placement": "nowhere"}})
        client.workspace_did_change_configuration(
            lsp.DidChangeConfigurationParams(settings={"tritonize": {"seeds": 5, "placement": "nowhere"}})
        )
        for _ in range(50):
            info = await debug_info(client)
            if info["settings"]["seeds"] == 5:
                break
            await asyncio.sleep(0.05)
        assert info["settings"]["seeds"] == 5 and info["settings"]["placement"] == "inline"
        assert any("placement" in m.message for m in client.messages if m.type == lsp.MessageType.Warning)


async def test_shape_settings_reach_the_server_as_the_editors_send_them(profile: str, tmp_path: pathlib.Path):
    # camelCase, as vscode-client/package.json names them (and the Neovim plugin passes them on)
    sent = {"tritonize": {"shapeChecks": False, "shapeSpecialised": True, "minSpeedup": 1.2}}
    init = sent if profile == "neovim" else None
    async with session(profile, tmp_path, init_options=init, configuration=sent) as client:
        for _ in range(50):  # vscode: initialized → workspace/configuration round trip
            info = await debug_info(client)
            if not info["settings"]["shape_checks"]:
                break
            await asyncio.sleep(0.05)
        assert (info["settings"]["shape_checks"], info["settings"]["shape_specialised"],
                info["settings"]["min_speedup"]) == (False, True, 1.2)
        assert not [m.message for m in client.messages if m.type == lsp.MessageType.Warning]


async def test_problem_without_inputs_gets_a_diagnostic(profile: str, tmp_path: pathlib.Path):
    path = copy_fixture(tmp_path, "no_inputs.py")
    async with session(profile, tmp_path) as client:
        uri = open_doc(client, path)
        line = line_of(path, "class Doubler")
        (action,) = await _actions(client, uri, line)
        if profile == "vscode":
            resolved = await client.code_action_resolve_async(action)
            assert resolved.edit is None
        else:
            result = await client.workspace_execute_command_async(
                lsp.ExecuteCommandParams(command=action.command.command, arguments=action.command.arguments)
            )
            assert result["applied"] is False
            assert not client.applied_edits
        diags = await diagnostics(client, profile, uri)
        assert len(diags) == 1
        d = diags[0]
        assert d.source == "tritonize" and d.severity == lsp.DiagnosticSeverity.Error
        assert d.code == "no_recipe" and "get_inputs" in d.message
        assert d.range.start.line == line
        # adding the recipe (a change anywhere in the file) clears it
        change_doc(client, uri, 2, 0, "# recipe coming\n")
        await asyncio.sleep(0.2)
        assert await diagnostics(client, profile, uri) == []
        # nothing heavy was imported to find that out
        assert (await debug_info(client))["heavy_modules"] == []


async def test_server_never_loads_torch(tmp_path: pathlib.Path):
    path = copy_fixture(tmp_path, "two_modules.py")
    async with session("vscode", tmp_path) as client:
        uri = open_doc(client, path)
        await _actions(client, uri, line_of(path, "class Scale"))
        info = await debug_info(client)
        assert info["heavy_modules"] == []
        assert info["pool_started"] is False  # no conversion yet: no workers either
        maps = pathlib.Path(f"/proc/{info['pid']}/maps").read_text()
        assert "libtorch" not in maps and "libtriton" not in maps


@pytest.mark.parametrize("how", ["exit", "eof"])
async def test_server_exits_on_exit_and_on_eof(how: str, tmp_path: pathlib.Path):
    async with session("neovim", tmp_path) as client:
        proc = client._server
        if how == "exit":
            await client.shutdown_async(None)
            client.exit(None)
        else:
            proc.stdin.close()
        code = await asyncio.wait_for(proc.wait(), 10)
        assert code == (0 if how == "exit" else 1)
        client.capabilities = None  # already gone: nothing left to shut down
