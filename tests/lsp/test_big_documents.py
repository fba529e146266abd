"""A document above the size parsed off the event loop (lsp/parsing.py): its classes come from the
helper process, edits are applied by the server with the line index carried over, and the answers
are the same as for a small file."""

from __future__ import annotations

import pathlib
import time

from lspkit import change_doc, code_actions, debug_info, open_doc, session
from lsprotocol import types as lsp
from tritonize.lsp.parsing import BIG

CLASS = '''

class Block{i}(nn.Module):
    """Block {i}."""

    def forward(self, x):
{filler}        return x * {i}
'''


def _big_file(classes: int = 60) -> str:
    filler = "".join(f"        # padding line {k}: notes for this block, to make the file big\n" for k in range(80))
    text = "import torch.nn as nn\n" + "".join(CLASS.format(i=i, filler=filler) for i in range(classes))
    assert len(text) > BIG
    return text


async def test_a_big_document_is_parsed_off_the_loop_and_follows_edits(tmp_path: pathlib.Path):
    path = tmp_path / "a big file.py"  # its uri is percent-encoded (%20), as editors send it
    path.write_text(_big_file())
    async with session("vscode", tmp_path) as client:
        uri = open_doc(client, path)
        lines = path.read_text().splitlines()
        last = max(i for i, s in enumerate(lines) if s.startswith("class Block"))
        at = lsp.Range(lsp.Position(last + 3, 8), lsp.Position(last + 3, 8))
        assert [a.title for a in await code_actions(client, uri, at)] == ["Convert Block59 to Triton kernel"]
        # Type a comment line above it, one character at a time, then paste a class under it.
        version = 1
        for col, ch in enumerate("# typed\n"):
            version += 1
            client.text_document_did_change(lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(lsp.Position(0, col), lsp.Position(0, col)), text=ch)]))
        version += 1
        change_doc(client, uri, version, 1, "class Fresh(nn.Module):\n    def forward(self, x):\n        return x\n\n")
        shifted = lsp.Range(lsp.Position(last + 3 + 5, 8), lsp.Position(last + 3 + 5, 8))
        t0 = time.monotonic()
        titles = [a.title for a in await code_actions(client, uri, shifted)]  # awaits the helper's parse
        assert time.monotonic() - t0 < 30
        info = await debug_info(client)
        assert info["heavy_modules"] == []
        assert titles == ["Convert Block59 to Triton kernel"]
        fresh = [a.title for a in await code_actions(client, uri, lsp.Range(lsp.Position(3, 8), lsp.Position(3, 8)))]
        assert fresh == ["Convert Fresh to Triton kernel"]
