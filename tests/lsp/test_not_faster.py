"""Never make the user's code slower: on a GPU, a conversion whose fastest correct kernel does not beat
eager by `minSpeedup` inserts nothing, says so (message, warning diagnostic), and still offers the
candidates as code actions, where picking one inserts it anyway.

The timed report is the one a real conversion stored, with GPU timings written into it: this machine
times nothing, and the conversion is then answered from the store under the same key."""

from __future__ import annotations

import pathlib

from lspkit import ROOT, code_actions, convert, diagnostics, line_of, open_doc, session
from lsprotocol import types as lsp
from test_convert import QUICK, needs_template
from tritonize.report import Timing
from tritonize.store import Store

EXAMPLE = ROOT / "examples" / "fused_activation.py"


@needs_template
async def test_a_slower_kernel_is_not_inserted_unless_picked(tmp_path: pathlib.Path):
    path = tmp_path / "fused_activation.py"
    path.write_text(EXAMPLE.read_text())
    line = line_of(path, "class FusedGeluScale")
    async with session("neovim", tmp_path, init_options=QUICK) as client:
        uri = open_doc(client, path)
        edit, _ = await convert(client, "neovim", uri, line)
        assert edit is not None, client.messages  # a real run, stored

    store = Store(str(tmp_path / "cache"))
    report = store.latest("FusedGeluScale", str(path))
    assert report is not None and report.best is not None
    report.timed = True  # as a GPU would have measured it: the best kernel at 0.80× eager
    for r in report.results:
        if r.passed:
            r.timing = Timing(ms=2.5, eager_ms=2.0, compile_ms=1.9, runs=100)
    store.put(report)
    store.close()

    async with session("neovim", tmp_path, init_options=QUICK) as client:
        uri = open_doc(client, path)
        edit, result = await convert(client, "neovim", uri, line)
        assert edit is None and result["applied"] is False, result
        said = " ".join(m.message for m in client.messages)
        assert "no faster kernel found (best 0.80× eager; needs 1.05×); not inserted" in said, said
        warnings = [d for d in await diagnostics(client, "neovim", uri) if d.code == "not_faster"]
        assert warnings and warnings[0].severity == lsp.DiagnosticSeverity.Warning

        # picking a candidate from the code actions inserts it anyway
        actions = await code_actions(client, uri, lsp.Range(lsp.Position(line, 8), lsp.Position(line, 8)))
        picked = [a for a in actions if " — " in a.title]
        assert picked, [a.title for a in actions]
        result = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
            command=picked[0].command.command, arguments=picked[0].command.arguments))
        assert result["applied"] is True, result
        assert "FusedGeluScaleTriton" in str(client.applied_edits[-1].edit)
