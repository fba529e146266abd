"""Preview and choose: after a conversion, each of the best three passing candidates is its own
code action; a chosen one is inserted from the report (no new run) and, where the client
supports change annotations, as an edit that asks for confirmation (VS Code's refactor preview)."""

from __future__ import annotations

import pathlib

from lspkit import ROOT, code_actions, line_of, open_doc, session
from lsprotocol import types as lsp
from test_edit import CANDIDATE
from tritonize.edit import TextEdit, apply_edits
from tritonize.positions import Range
from tritonize.report import CandidateResult, Report, Timing
from tritonize.store import Store

EXAMPLE = ROOT / "examples" / "fused_activation.py"


def _report(path: pathlib.Path) -> Report:
    def result(cid: str, ms: float, passed: bool = True, block: int = 1024) -> CandidateResult:
        return CandidateResult(candidate_id=cid, origin=cid.split("/")[0], passed=passed,
                               code=CANDIDATE.replace("BLOCK = 1024", f"BLOCK = {block}"),
                               timing=Timing(ms=ms, eager_ms=0.030, compile_ms=0.020) if passed else None,
                               kind=None if passed else "mismatch")
    results = [result("template:gelu/b1024", 0.015), result("template:gelu/b512", 0.010, block=512),
               result("llm:kernelllm#1", 0.5, passed=False), result("inductor:default", 0.040, block=256),
               result("llm:kernelllm#2", 0.050, block=128)]
    return Report(problem_name="FusedGeluScale", key="k", path=str(path), device="NVIDIA H100 80GB HBM3",
                  timed=True, results=results, best="template:gelu/b512", created="2025-01-01T00:00:00+00:00")


def _apply(edit: lsp.WorkspaceEdit, text: str) -> str:
    edits = edit.document_changes[0].edits if edit.document_changes else next(iter(edit.changes.values()))
    return apply_edits(text, [TextEdit(Range(e.range.start.line, e.range.start.character, e.range.end.line,
                                             e.range.end.character), e.new_text) for e in edits])


async def test_one_action_per_passing_candidate_among_the_best_three(profile: str, tmp_path: pathlib.Path):
    path = tmp_path / "fused_activation.py"
    path.write_text(EXAMPLE.read_text())
    Store(str(tmp_path / "cache")).put(_report(path))
    async with session(profile, tmp_path) as client:
        uri = open_doc(client, path)
        line = line_of(path, "class FusedGeluScale")
        actions = await code_actions(client, uri, lsp.Range(lsp.Position(line, 8), lsp.Position(line, 8)))
        assert [a.title for a in actions] == [
            "Convert FusedGeluScale to Triton kernel",
            "Convert FusedGeluScale — template gelu/b512, 2.00× compile",  # fastest first
            "Convert FusedGeluScale — template gelu/b1024, 1.33× compile",
            "Convert FusedGeluScale — inductor default, 0.50× compile",
            "Show conversion report for FusedGeluScale",
        ]
        chosen = actions[2]  # not the report's own choice
        if profile == "vscode":
            resolved = await client.code_action_resolve_async(chosen)
            edit = resolved.edit
            (annotation,) = edit.change_annotations.values()
            assert annotation.needs_confirmation is True and "FusedGeluScaleTriton" in annotation.label
            (doc_edit,) = edit.document_changes
            assert all(isinstance(e, lsp.AnnotatedTextEdit) for e in doc_edit.edits)
        else:
            result = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
                command=chosen.command.command, arguments=chosen.command.arguments))
            assert result["applied"] is True
            (params,) = client.applied_edits
            edit = params.edit
        new_text = _apply(edit, path.read_text())
        assert "BLOCK = 1024" in new_text and "BLOCK = 512" not in new_text  # the chosen candidate's code
        assert "# chosen: template:gelu/b1024" in new_text
        compile(new_text, str(path), "exec")
        # nothing ran: no worker pool was started for it
        assert (await client.protocol.send_request_async("tritonize/debugInfo", {})).pool_started is False
