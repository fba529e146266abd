"""Classes on lines outside ASCII, through the real server: every column the server sends or reads
is a UTF-16 unit (🚀 and 𠀀 count two, É one), whatever encoding the client prefers.

The edits are applied here the way an editor applies them (UTF-16, independently of positions.py),
so a column counted in str indexes or UTF-8 bytes shows up as a misplaced block or a split 🚀.
"""

from __future__ import annotations

import pathlib

from lspkit import code_actions, convert, copy_fixture, diagnostics, line_of, open_doc, session
from lsprotocol import types as lsp
from test_convert import QUICK, needs_template
from tritonize.report import CandidateResult, Report
from tritonize.store import Store

# Neovim 0.10+ prefers utf-8; the server must still answer in utf-16 (what tritonize counts in).
NEOVIM_ENCODINGS = ["utf-8", "utf-16", "utf-32"]


def _units(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _apply_utf16(text: str, edits: list[lsp.TextEdit]) -> str:
    """Apply LSP edits as a client does: lines split at \\n, columns in UTF-16 code units. A column
    inside a surrogate pair raises (UnicodeDecodeError), as it should."""
    lines = text.split("\n")

    def offset(pos: lsp.Position) -> int:
        if pos.line >= len(lines):
            return len(text)
        head = lines[pos.line].encode("utf-16-le")[: 2 * pos.character].decode("utf-16-le")
        return sum(len(line) + 1 for line in lines[: pos.line]) + len(head)

    spans = sorted(((offset(e.range.start), offset(e.range.end), e.new_text) for e in edits), reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


def _edits_for(edit: lsp.WorkspaceEdit, uri: str) -> list[lsp.TextEdit]:
    if edit.document_changes:
        (doc_edit,) = [c for c in edit.document_changes if isinstance(c, lsp.TextDocumentEdit)]
        assert doc_edit.text_document.uri == uri
        return list(doc_edit.edits)
    return list(edit.changes[uri])


async def _hover(client, uri: str, line: int, col: int) -> lsp.Hover | None:
    return await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line, col)))


def _on_line(line: int, start: int, end: int) -> lsp.Range:
    return lsp.Range(lsp.Position(line, start), lsp.Position(line, end))


@needs_template
async def test_convert_and_hover_a_non_ascii_class_on_lines_with_emoji(profile: str, tmp_path: pathlib.Path):
    path = copy_fixture(tmp_path, "unicode_classes.py")
    text = path.read_text()
    async with session(profile, tmp_path, init_options=QUICK, position_encodings=NEOVIM_ENCODINGS) as client:
        assert client.initialize_result.capabilities.position_encoding == lsp.PositionEncodingKind.Utf16
        uri = open_doc(client, path)
        line = line_of(path, "class Écheller")

        edit, _ = await convert(client, profile, uri, line)
        assert edit is not None, [m.message for m in client.messages]
        new_text = _apply_utf16(text, _edits_for(edit, uri))
        compile(new_text, str(path), "exec")
        # The class is the file's last statement and its last line ends in 🚀🚀 with no newline:
        # the block goes right after that line (not two units early, inside a 🚀), the imports
        # after the file's own, and nothing else changes.
        after = new_text.index("import torch.nn as nn\n") + len("import torch.nn as nn\n")
        added = new_text[after: new_text.index("\n\n", after) + 1]
        assert "import triton\n" in added and all(s.startswith(("import ", "from ")) for s in added.splitlines())
        block_at = new_text.index("\n\n\n# >>> tritonize: ÉchellerTriton")
        assert new_text[:block_at].replace(added, "", 1) == text
        assert "class ÉchellerTriton(nn.Module)" in new_text and "@triton.jit" in new_text

        # hover on the class name: the range is the name, in UTF-16 units
        hover = await _hover(client, uri, line, 8)
        assert hover is not None and "(chosen)" in hover.contents.value
        assert hover.range == _on_line(line, 6, 14)
        # ... and on the name after four 🚀 in the comment above (8 units, 4 str indexes)
        comment = text.splitlines()[line - 1]
        start = _units(comment[: comment.index("Écheller")])
        assert start == len(comment[: comment.index("Écheller")]) + 4
        hover = await _hover(client, uri, line - 1, start + 1)
        assert hover is not None and hover.range == _on_line(line - 1, start, start + 8)

        # the document with the block: the generated class offers a re-run and hovers too
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=new_text)]))
        gen_line = next(i for i, s in enumerate(new_text.splitlines()) if s.startswith("class ÉchellerTriton"))
        cursor = lsp.Range(lsp.Position(gen_line, 8), lsp.Position(gen_line, 8))
        titles = [a.title for a in await code_actions(client, uri, cursor)]
        assert titles[0] == "Re-run conversion of Écheller to Triton"
        assert titles[-1] == "Show conversion report for Écheller"
        assert [t for t in titles[1:-1] if not t.startswith("Convert Écheller — template ")] == []
        hover = await _hover(client, uri, gen_line, 10)
        assert hover is not None and hover.range == _on_line(gen_line, 6, 6 + len("ÉchellerTriton"))


ASTRAL = '''"""A class whose name starts outside the Basic Multilingual Plane: 𠀀 is two UTF-16 units."""
import torch.nn as nn


class 𠀀Scale(nn.Module):  # 🚀
    def forward(self, x):
        return x * 2  # 🚀
'''


async def test_astral_class_name_actions_diagnostics_and_hover(profile: str, tmp_path: pathlib.Path):
    path = tmp_path / "astral.py"
    path.write_text(ASTRAL)
    passed = CandidateResult(candidate_id="template:elementwise/b1024", origin="template:elementwise",
                             passed=True, code="")
    Store(str(tmp_path / "cache")).put(Report(problem_name="𠀀Scale", key="k", path=str(path), results=[passed],
                                              best=passed.candidate_id, created="2025-01-01T00:00:00+00:00"))
    async with session(profile, tmp_path, position_encodings=NEOVIM_ENCODINGS) as client:
        uri = open_doc(client, path)
        line = line_of(path, "class 𠀀Scale")
        name = _on_line(line, 6, 6 + 2 + len("Scale"))

        # on the 'S' after the 𠀀 (column 8 in UTF-16, index 7 in the str)
        actions = await code_actions(client, uri, lsp.Range(lsp.Position(line, 8), lsp.Position(line, 8)))
        assert [a.title for a in actions] == ["Convert 𠀀Scale to Triton kernel",
                                              "Convert 𠀀Scale — template elementwise/b1024, not timed",
                                              "Show conversion report for 𠀀Scale"]

        hover = await _hover(client, uri, line, 9)
        assert hover is not None and "template:elementwise/b1024" in hover.contents.value
        assert hover.range == name

        # the file has no input recipe: the error sits on the whole name, in UTF-16 units
        convert = actions[0]
        if profile == "vscode":
            assert (await client.code_action_resolve_async(convert)).edit is None
        else:
            await client.workspace_execute_command_async(
                lsp.ExecuteCommandParams(command=convert.command.command, arguments=convert.command.arguments))
        (diag,) = await diagnostics(client, profile, uri)
        assert diag.code == "no_recipe" and diag.range == name
