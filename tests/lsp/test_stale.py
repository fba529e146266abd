"""A kernel block remembers the class it was made from (a hash in its marker): once that class
changes, a warning and the code lens say the kernel is stale and hover stops showing the old
table. The lens above a converted class: speedups, Re-run, Report, Remove."""

from __future__ import annotations

import asyncio
import pathlib
import unicodedata

from lspkit import ROOT, change_doc, diagnostics, line_of, open_doc, session
from lsprotocol import types as lsp
from test_edit import CANDIDATE
from tritonize.edit import TextEdit, apply_edits, apply_to_text
from tritonize.positions import Range
from tritonize.problem import extract
from tritonize.report import CandidateResult, Report, Timing
from tritonize.store import Store

EXAMPLE = (ROOT / "examples" / "fused_activation.py").read_text()
NAME = "FusedGeluScale"


def _report(path: pathlib.Path, name: str = NAME, code: str = CANDIDATE) -> Report:
    best = CandidateResult(candidate_id="template:gelu/b1024", origin="template:gelu", passed=True, code=code,
                           timing=Timing(ms=0.012, eager_ms=0.030, compile_ms=0.020))
    return Report(problem_name=name, key=f"k-{name}", path=str(path), device="NVIDIA H100 80GB HBM3", timed=True,
                  dtype="float32", input_shapes=["16x1024"], results=[best], best=best.candidate_id,
                  created="2025-01-01T00:00:00+00:00")


def _converted(tmp_path: pathlib.Path) -> tuple[pathlib.Path, str]:
    """A file as a conversion leaves it (block with marker inserted) and its report in the store."""
    path = tmp_path / "fused_activation.py"
    text = apply_to_text(EXAMPLE, extract(EXAMPLE, NAME, path=str(path)), _report(path))
    path.write_text(text)
    Store(str(tmp_path / "cache")).put(_report(path))
    return path, text


async def _lenses(client, uri: str) -> list[lsp.CodeLens]:
    return list(await client.text_document_code_lens_async(lsp.CodeLensParams(lsp.TextDocumentIdentifier(uri))) or [])


async def _hover(client, uri: str, line: int, col: int = 8) -> str | None:
    hover = await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(uri), lsp.Position(line, col)))
    return hover.contents.value if hover else None


async def _stale_diagnostics(client, profile: str, uri: str, want: int) -> list[lsp.Diagnostic]:
    for _ in range(100):
        found = [d for d in await diagnostics(client, profile, uri) if d.code == "stale"]
        if len(found) == want:
            return found
        await asyncio.sleep(0.03)
    return found


async def test_lens_then_stale_warning_and_hover_after_the_class_changes(profile: str, tmp_path: pathlib.Path):
    path, text = _converted(tmp_path)
    assert f"# >>> tritonize: {NAME}Triton (generated from {NAME} " in text
    async with session(profile, tmp_path) as client:
        uri = open_doc(client, path)
        line = line_of(path, f"class {NAME}(")
        lenses = await _lenses(client, uri)
        assert [lens.command.title for lens in lenses] == [
            "tritonize: 1.67× compile · 2.50× eager", "Re-run", "Report", "Remove"]
        assert all(lens.range.start.line == line for lens in lenses)
        assert [lens.command.command for lens in lenses[1:]] == [
            "tritonize.convert", "tritonize.showReport", "tritonize.removeKernel"]
        assert lenses[1].command.arguments[0] == {"uri": uri, "class": NAME, "rerun": True}
        assert "| variant" in await _hover(client, uri, line)
        assert await _stale_diagnostics(client, profile, uri, 0) == []

        # the class changes: the kernel no longer matches it
        forward_return = line_of(path, "return F.gelu")
        change_doc(client, uri, 2, forward_return, "        x = x * 2\n")
        (stale,) = await _stale_diagnostics(client, profile, uri, 1)
        marker = line_of(path, f"# >>> tritonize: {NAME}Triton") + 1
        assert stale.severity == lsp.DiagnosticSeverity.Warning and stale.source == "tritonize"
        assert stale.range.start.line == marker
        assert f"{NAME}Triton is stale: {NAME} changed after it was generated" in stale.message
        assert (await _lenses(client, uri))[0].command.title.startswith("tritonize: stale — ")
        hover = await _hover(client, uri, line)
        assert "| variant" not in hover and "changed since its last conversion" in hover
        # hovering the generated class says the same
        assert "| variant" not in await _hover(client, uri, line_of(path, f"class {NAME}Triton") + 1)

        # undone: fresh again
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
        assert await _stale_diagnostics(client, profile, uri, 0) == []
        assert "| variant" in await _hover(client, uri, line)


async def test_remove_deletes_the_marked_block(profile: str, tmp_path: pathlib.Path):
    path, text = _converted(tmp_path)
    async with session(profile, tmp_path) as client:
        uri = open_doc(client, path)
        remove = (await _lenses(client, uri))[3].command
        result = await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command=remove.command, arguments=remove.arguments))
        assert result["applied"] is True
        (params,) = client.applied_edits
        edit = params.edit
        if edit.document_changes:
            (doc_edit,) = edit.document_changes
            assert doc_edit.text_document.version == 1
            edits = doc_edit.edits
        else:
            edits = edit.changes[uri]
        after = apply_edits(text, [TextEdit(Range(e.range.start.line, e.range.start.character, e.range.end.line,
                                                  e.range.end.character), e.new_text) for e in edits])
        assert "tritonize" not in after and f"class {NAME}Triton" not in after
        # what is left is the original file plus the imports the kernel needed
        assert after.replace("import triton\nimport triton.language as tl\n", "") == EXAMPLE
        compile(after, str(path), "exec")


async def test_hover_on_a_class_name_with_a_combining_accent(profile: str, tmp_path: pathlib.Path):
    """`Échelle` typed as E + U+0301: Python (and the store) know the class by its NFKC name."""
    decomposed = unicodedata.normalize("NFD", "Échelle")
    path = tmp_path / "accents.py"
    path.write_text(f"import torch.nn as nn\n\n\nclass {decomposed}(nn.Module):\n"
                    "    def forward(self, x):\n        return x * 2\n")
    Store(str(tmp_path / "cache")).put(_report(path, name="Échelle"))
    async with session(profile, tmp_path) as client:
        uri = open_doc(client, path)
        for col in (6, 7, 8, 6 + len(decomposed)):  # on the E, the combining accent, inside, at the end
            hover = await client.text_document_hover_async(
                lsp.HoverParams(lsp.TextDocumentIdentifier(uri), lsp.Position(3, col)))
            assert hover is not None and "tritonize: Échelle" in hover.contents.value, col
            assert hover.range == lsp.Range(lsp.Position(3, 6), lsp.Position(3, 6 + len(decomposed)))
