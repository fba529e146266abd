"""The kernel lands next to the original class or nowhere: edits anchored to the class's content,
a client that refuses an edit because the user typed during the conversion's last step, and
clients that cannot (or do not) apply edits. Real server, real conversions (template generator,
Triton interpreter on CPU, `n: 1, seeds: 1`); later conversions in a session come from the cache."""

from __future__ import annotations

import ast
import asyncio
import pathlib

import pytest
from lspkit import ROOT, capabilities, change_doc, convert, copy_fixture, line_of, open_doc, session
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcMethodNotFound
from tritonize.edit import TextEdit, apply_edits
from tritonize.positions import Range

QUICK = {"generators": ["template"], "n": 1, "seeds": 1, "device": "cpu"}
EXAMPLE = ROOT / "examples" / "fused_activation.py"
NAME = "FusedGeluScale"


def _template_ready() -> bool:
    try:
        from tritonize.generate.template import TemplateGenerator  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _template_ready(), reason="template generator not available yet")


def _edits(edit: lsp.WorkspaceEdit, uri: str) -> tuple[list[lsp.TextEdit], int | None]:
    if edit.document_changes:
        (doc_edit,) = [c for c in edit.document_changes if isinstance(c, lsp.TextDocumentEdit)]
        assert doc_edit.text_document.uri == uri
        return list(doc_edit.edits), doc_edit.text_document.version
    return list(edit.changes[uri]), None


def _apply(edit: lsp.WorkspaceEdit | dict, uri: str, text: str, client=None) -> str:
    if isinstance(edit, dict):  # a command result carries the edit as JSON
        edit = client.protocol._converter.structure(edit, lsp.WorkspaceEdit)
    edits, _ = _edits(edit, uri)
    return apply_edits(text, [TextEdit(Range(e.range.start.line, e.range.start.character, e.range.end.line,
                                             e.range.end.character), e.new_text) for e in edits])


def _assert_block_after_intact_class(text: str) -> None:
    """The block follows the original class, whose forward still ends in its `return`."""
    compile(text, "x.py", "exec")
    tree = ast.parse(text)
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == NAME]
    (forward,) = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "forward"]
    assert isinstance(forward.body[-1], ast.Return), "the block landed inside forward"
    lines = text.splitlines()
    begin = next(i for i, s in enumerate(lines) if s.startswith(f"# >>> tritonize: {NAME}Triton"))
    assert begin > cls.end_lineno, (begin, cls.end_lineno)
    assert not any(s.strip() for s in lines[cls.end_lineno:begin]), "something between the class and its block"


async def _until_progress(client) -> None:
    for _ in range(400):
        if client.progress_reports:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the conversion never reported progress")


async def test_lines_added_above_during_a_conversion_move_the_edit(profile: str, tmp_path: pathlib.Path):
    path = copy_fixture(tmp_path, "fused_activation.py", EXAMPLE)
    async with session(profile, tmp_path, init_options=QUICK) as client:
        uri = open_doc(client, path)
        task = asyncio.ensure_future(convert(client, profile, uri, line_of(path, f"class {NAME}")))
        await _until_progress(client)
        change_doc(client, uri, 2, 0, "# a line added while converting\n")
        edit, result = await task
        assert edit is not None, [m.message for m in client.messages]
        _, version = _edits(edit, uri)
        if profile == "vscode":
            assert version == 2  # pinned to the text it was computed for: the editor refuses it otherwise
        else:
            assert result["applied"] is True and result["moved"] is True
        _assert_block_after_intact_class(_apply(edit, uri, "# a line added while converting\n" + path.read_text()))


async def test_a_change_the_server_hears_of_late_is_refused_then_reanchored(tmp_path: pathlib.Path):
    """The Neovim 0.7 race: the user types during the last step and the editor sends the change
    after a debounce, so the server computes the edit for the old text. The editor refuses it
    (its buffer moved on); the server waits for the change, finds the class again and re-sends.
    When the class itself changed, nothing is inserted and the user is told."""
    path = copy_fixture(tmp_path, "fused_activation.py", EXAMPLE)
    async with session("neovim", tmp_path, init_options=QUICK) as client:
        uri = open_doc(client, path)
        text = path.read_text()
        late: list[tuple[int, int, str]] = []

        async def refuse_first_then_apply(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
            if len(client.edit_requests) == 1:
                version, line, typed = late.pop(0)
                asyncio.get_running_loop().call_later(0.15, change_doc, client, uri, version, line, typed)
                return lsp.ApplyWorkspaceEditResult(applied=False, failure_reason="the buffer changed since")
            return lsp.ApplyWorkspaceEditResult(applied=True)

        client.on_apply_edit = refuse_first_then_apply
        late.append((2, 0, "# typed during the last step\n"))
        edit, result = await convert(client, "neovim", uri, line_of(path, f"class {NAME}"))
        assert result["applied"] is True and result["moved"] is True, (result, [m.message for m in client.messages])
        assert len(client.edit_requests) == 2
        _assert_block_after_intact_class(_apply(edit, uri, "# typed during the last step\n" + text))

        # Now the class itself changes during the last step: refused, the kernel still in the answer.
        client.edit_requests.clear()
        text = "# typed during the last step\n" + text
        forward = line_of(path, "return ") + 1
        late.append((3, forward, "        x = x + 0\n"))
        edit, result = await convert(client, "neovim", uri, line_of(path, f"class {NAME}") + 1)
        assert result["applied"] is False and f"class {NAME}Triton" in result["kernel"], result
        assert len(client.edit_requests) == 1
        assert any(f"{NAME} changed while it was being converted" in m.message for m in client.messages)


async def test_without_apply_edit_the_kernel_comes_back_and_the_sibling_is_written(tmp_path: pathlib.Path):
    caps = capabilities("neovim")
    caps.workspace.apply_edit = False
    path = copy_fixture(tmp_path, "fused_activation.py", EXAMPLE)
    async with session("neovim", tmp_path, init_options=QUICK, caps=caps) as client:
        uri = open_doc(client, path)
        line = line_of(path, f"class {NAME}")
        _, result = await convert(client, "neovim", uri, line)
        assert client.edit_requests == []  # never sent to a client that cannot apply it
        assert result["applied"] is False and result["where"] == "result", result
        assert f"class {NAME}Triton" in result["kernel"] and "@triton.jit" in result["kernel"]
        _assert_block_after_intact_class(_apply(result["edit"], uri, path.read_text(), client))
        assert any("is in the command's result" in m.message for m in client.messages)

        # placement "sibling": the user asked for the kernel in <module>_triton.py, so it is written
        client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
            settings={"tritonize": {**QUICK, "placement": "sibling"}}))
        _, result = await convert(client, "neovim", uri, line)
        sibling = tmp_path / "fused_activation_triton.py"
        assert result["where"] == str(sibling), result
        written = sibling.read_text()
        assert f"class {NAME}Triton(nn.Module)" in written
        compile(written, str(sibling), "exec")
        assert any(f"written to {sibling}" in m.message for m in client.messages)


async def test_a_client_that_fails_or_never_answers_apply_edit_keeps_the_kernel(tmp_path: pathlib.Path):
    path = copy_fixture(tmp_path, "fused_activation.py", EXAMPLE)
    async with session("neovim", tmp_path, init_options={**QUICK, "applyEditTimeoutS": 1}) as client:
        uri = open_doc(client, path)
        line = line_of(path, f"class {NAME}")

        async def not_found(params):
            raise JsonRpcMethodNotFound.of(lsp.WORKSPACE_APPLY_EDIT)

        client.on_apply_edit = not_found
        _, result = await convert(client, "neovim", uri, line)
        assert result["applied"] is False and result["where"] == "result", result
        assert f"class {NAME}Triton" in result["kernel"] and result["edit"]

        never = asyncio.Event()

        async def silent(params):
            await never.wait()
            return lsp.ApplyWorkspaceEditResult(applied=False)

        client.on_apply_edit = silent
        _, result = await asyncio.wait_for(convert(client, "neovim", uri, line), 30)
        assert result["applied"] is False and f"class {NAME}Triton" in result["kernel"], result
        assert any("did not answer workspace/applyEdit in 1 s" in m.message for m in client.messages)

        # A conversion whose applyEdit is still unanswered when the client shuts down: the
        # shutdown succeeds (the session's exit checks it), the command is answered.
        client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
            settings={"tritonize": {**QUICK, "applyEditTimeoutS": 600}}))
        await asyncio.sleep(0.1)
        pending = asyncio.ensure_future(convert(client, "neovim", uri, line))
        for _ in range(400):
            if len(client.edit_requests) == 3:
                break
            await asyncio.sleep(0.025)
        assert len(client.edit_requests) == 3
        await asyncio.wait_for(client.shutdown_async(None), 10)
        never.set()  # (the test client's own handler must end before the server goes away)
        await asyncio.sleep(0.05)
        client.exit(None)
        await asyncio.wait_for(client._server.wait(), 10)
        assert client._server.returncode == 0
        pending.cancel()
        client.capabilities = None  # already shut down
