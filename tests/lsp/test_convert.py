"""End-to-end conversions through the server: a real worker pool, the template generator, the Triton
interpreter on CPU (`n: 1, seeds: 1` keeps each one to seconds)."""

from __future__ import annotations

import asyncio
import pathlib
import time

import pytest
from lspkit import (
    ROOT,
    alive,
    children_of,
    code_actions,
    convert,
    copy_fixture,
    debug_info,
    line_of,
    open_doc,
    session,
)
from lsprotocol import types as lsp
from tritonize.edit import apply_edits
from tritonize.problem import Range

QUICK = {"tritonize": {"generators": ["template"], "n": 1, "seeds": 1, "device": "cpu"}}
EXAMPLE = ROOT / "examples" / "fused_activation.py"


def _template_ready() -> bool:
    try:
        from tritonize.generate.template import TemplateGenerator  # noqa: F401
    except ImportError:
        return False
    return True


needs_template = pytest.mark.skipif(not _template_ready(), reason="template generator not available yet")


def _edited_text(edit: lsp.WorkspaceEdit, uri: str, text: str) -> str:
    if edit.document_changes:
        (doc_edit,) = [c for c in edit.document_changes if isinstance(c, lsp.TextDocumentEdit)]
        assert doc_edit.text_document.uri == uri
        assert doc_edit.text_document.version == 1  # pinned: the client refuses a stale edit
        edits = doc_edit.edits
    else:
        edits = edit.changes[uri]
    from tritonize.edit import TextEdit

    return apply_edits(text, [TextEdit(Range(e.range.start.line, e.range.start.character, e.range.end.line,
                                             e.range.end.character), e.new_text) for e in edits])


def _progress(client) -> list:
    (reports,) = client.progress_reports.values()
    return reports


@needs_template
async def test_convert_inserts_kernel_with_progress_and_hover(profile: str, tmp_path: pathlib.Path):
    path = copy_fixture(tmp_path, "fused_activation.py", EXAMPLE)
    async with session(profile, tmp_path, init_options=QUICK) as client:
        uri = open_doc(client, path)
        line = line_of(path, "class FusedGeluScale")
        edit, result = await convert(client, profile, uri, line)
        assert edit is not None, client.messages
        new_text = _edited_text(edit, uri, path.read_text())
        assert "# >>> tritonize: FusedGeluScaleTriton" in new_text
        assert "class FusedGeluScaleTriton(nn.Module)" in new_text and "ModelNew" not in new_text
        assert "import triton\n" in new_text and "@triton.jit" in new_text
        compile(new_text, str(path), "exec")
        if profile == "neovim":
            assert result["applied"] is True

        # progress: begin "Tritonize <Name>", reports, end with the outcome
        steps = _progress(client)
        assert isinstance(steps[0], lsp.WorkDoneProgressBegin)
        assert steps[0].title == "Tritonize FusedGeluScale" and steps[0].cancellable
        assert isinstance(steps[-1], lsp.WorkDoneProgressEnd) and "passed" in steps[-1].message
        middle = steps[1:-1]
        assert middle and all(isinstance(s, lsp.WorkDoneProgressReport) for s in middle)
        assert any("verify" in (s.message or "") for s in middle)
        pcts = [s.percentage for s in middle if s.percentage is not None]
        assert pcts == sorted(pcts)

        # hover on the original class name, from the store
        hover = await client.text_document_hover_async(
            lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line, 8)))
        assert hover is not None and "(chosen)" in hover.contents.value and "not timed" in hover.contents.value

        # the document now holds the block: re-run and report are offered, and the report command works
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=new_text)]))
        gen_line = new_text.splitlines().index(next(s for s in new_text.splitlines() if "class FusedGeluScaleTriton" in s))
        titles = [a.title for a in await code_actions(client, uri, lsp.Range(lsp.Position(gen_line, 8), lsp.Position(gen_line, 8)))]
        assert titles == ["Re-run conversion of FusedGeluScale to Triton",
                          "Convert FusedGeluScale — template scale_gelu_bias/block1024_w4, not timed",
                          "Show conversion report for FusedGeluScale"]
        report = await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command="tritonize.showReport", arguments=[{"uri": uri, "class": "FusedGeluScale"}]))
        assert "FusedGeluScale" in report["text"] and "chosen:" in report["text"]
        assert (await debug_info(client))["heavy_modules"] == []


@needs_template
async def test_sibling_placement_edits_the_open_buffer_not_the_disk(tmp_path: pathlib.Path):
    """`placement: "sibling"` with `<module>_triton.py` open and unsaved: the edit is computed from
    the buffer (not the stale file on disk) and pinned to the buffer's version."""
    path = copy_fixture(tmp_path, "fused_activation.py", EXAMPLE)
    sibling = tmp_path / "fused_activation_triton.py"
    sibling.write_text("# stale, on disk\n")
    unsaved = '"""Hand-kept kernels 🚀."""\n\nimport torch\n\nKEEP = "🚀🚀"  # unsaved 🚀'
    settings = {"tritonize": {**QUICK["tritonize"], "placement": "sibling"}}
    async with session("vscode", tmp_path, init_options=settings) as client:
        uri = open_doc(client, path)
        sibling_uri = sibling.as_uri()
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
            uri=sibling_uri, language_id="python", version=7, text=unsaved)))
        edit, _ = await convert(client, "vscode", uri, line_of(path, "class FusedGeluScale"))
        assert edit is not None, [m.message for m in client.messages]
        (change,) = edit.document_changes  # no CreateFile: the buffer exists
        assert change.text_document.uri == sibling_uri and change.text_document.version == 7
        (text_edit,) = change.edits
        last = unsaved.splitlines()[-1]
        assert text_edit.range == lsp.Range(lsp.Position(0, 0), lsp.Position(4, len(last) + 3))  # 🚀 = 2 units
        new = text_edit.new_text
        assert new.startswith('"""Hand-kept kernels 🚀."""') and 'KEEP = "🚀🚀"  # unsaved 🚀\n' in new
        assert "stale" not in new and "class FusedGeluScaleTriton(nn.Module)" in new
        compile(new, str(sibling), "exec")


@pytest.mark.parametrize("how", ["progress", "request"])
async def test_cancel_stops_the_conversion_and_its_workers(how: str, tmp_path: pathlib.Path):
    profile = "vscode"
    path = copy_fixture(tmp_path, "fused_activation.py", EXAMPLE)
    async with session(profile, tmp_path, init_options=QUICK) as client:
        server_pid = client._server.pid
        uri = open_doc(client, path)
        line = line_of(path, "class FusedGeluScale")
        task = asyncio.ensure_future(convert(client, profile, uri, line, msg_id="convert-1"))
        for _ in range(200):  # wait until the progress bar is up and workers are starting
            if client.progress_reports and children_of(server_pid):
                break
            await asyncio.sleep(0.05)
        assert children_of(server_pid), "no worker started"
        t0 = time.monotonic()
        if how == "progress":
            (token,) = client.progress_reports
            client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token=token))
            edit, _ = await asyncio.wait_for(task, 10)
            assert edit is None
        else:
            client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="convert-1"))
            with pytest.raises(Exception, match="cancel"):
                await asyncio.wait_for(task, 10)
        # the server keeps serving while (and after) the job is torn down
        t1 = time.monotonic()
        info = await debug_info(client)
        assert time.monotonic() - t1 < 0.5
        for _ in range(60):
            steps = _progress(client)
            if isinstance(steps[-1], lsp.WorkDoneProgressEnd):
                break
            await asyncio.sleep(0.05)
        assert isinstance(steps[-1], lsp.WorkDoneProgressEnd) and steps[-1].message == "cancelled"
        assert time.monotonic() - t0 < 6
        for _ in range(40):
            if (await debug_info(client))["running"] == 0:
                break
            await asyncio.sleep(0.1)
        assert (await debug_info(client))["running"] == 0
        assert info["heavy_modules"] == []
        workers = children_of(server_pid)
        await client.shutdown_async(None)
        client.exit(None)
        await asyncio.wait_for(client._server.wait(), 15)
        client.capabilities = None  # already shut down
        assert [p for p in workers if alive(p)] == []
