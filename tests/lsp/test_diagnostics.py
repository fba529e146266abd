"""Diagnostics from conversion reports: one per failure kind, with the numbers; severity by outcome."""

from __future__ import annotations

import pathlib

from lspkit import change_doc, code_actions, copy_fixture, diagnostics, line_of, open_doc, session
from lsprotocol import types as lsp
from test_convert import QUICK, needs_template
from tritonize.lsp.features import report_diagnostics
from tritonize.problem import Range
from tritonize.report import CandidateResult, GeneratorRun, Report

NAME = Range(4, 6, 4, 18)


def _result(i: int, passed: bool, kind: str | None = None, **kw) -> CandidateResult:
    return CandidateResult(candidate_id=f"c{i}", origin="llm:kernelllm", passed=passed, kind=kind, **kw)


def test_one_diagnostic_per_failure_kind_with_numbers():
    results = [_result(0, True), _result(1, True)]
    results += [_result(2 + i, False, "mismatch", max_abs_err=err, worst_index=f"out[0, {i}]")
                for i, err in enumerate((0.9, 0.31, 2.5))]
    results += [_result(5, False, "compile", message="triton.CompilationError: at 12:4: unsupported op"),
                _result(6, False, "timeout", message="no answer in 120 s"),
                _result(7, False, "timeout", message="no answer in 120 s")]
    report = Report(problem_name="FusedGeluScale", results=results, best="c0")
    diags = report_diagnostics(report, NAME)
    messages = sorted(d.message for d in diags)
    assert messages == [
        "1 of 8 candidates: compile, triton.CompilationError: at 12:4: unsupported op",
        "2 of 8 candidates: timeout, no answer in 120 s",
        "3 of 8 candidates: mismatch, max |Δ| 0.31 at out[0, 1]",
    ]
    assert {d.severity for d in diags} == {lsp.DiagnosticSeverity.Information}  # a kernel was found
    assert all(d.source == "tritonize" and d.range.start == lsp.Position(4, 6) for d in diags)


def test_a_kernel_slower_than_eager_is_a_warning_the_outcome_and_the_hover_say():
    """On a GPU, the fastest correct kernel at 0.87× eager: a `not_faster` warning on the class name that
    says how to insert it anyway, the outcome line says no faster kernel was found, the hover says it
    was not inserted; at 1.25× none of that."""
    from tritonize.lsp.features import outcome_message
    from tritonize.render import hover_markdown
    from tritonize.report import Timing

    slow = Report(problem_name="Matmul", timed=True, best="c0", settings={"min_speedup": 1.05},
                  results=[_result(0, True, timing=Timing(ms=2.3, eager_ms=2.0, compile_ms=1.9))])
    diags = [d for d in report_diagnostics(slow, NAME, 1.05) if d.code == "not_faster"]
    assert len(diags) == 1 and diags[0].severity == lsp.DiagnosticSeverity.Warning
    assert diags[0].message.startswith("no faster kernel found (best 0.87× eager; needs 1.05×): not inserted")
    assert "code actions" in diags[0].message
    assert outcome_message(slow, 1.05) == "1 of 1 passed; no faster kernel found (best 0.87× eager; needs 1.05×)"
    assert "**no faster kernel found (best 0.87× eager; needs 1.05×)**: not inserted" in hover_markdown(slow)
    fast = Report(problem_name="Matmul", timed=True, best="c0", settings={"min_speedup": 1.05},
                  results=[_result(0, True, timing=Timing(ms=1.6, eager_ms=2.0, compile_ms=1.9))])
    assert not [d for d in report_diagnostics(fast, NAME, 1.05) if d.code == "not_faster"]
    assert "chose c0, 1.25x eager" in outcome_message(fast, 1.05) and "no faster" not in hover_markdown(fast)


def test_errors_when_nothing_passed_or_nothing_was_produced():
    report = Report(problem_name="M", results=[_result(0, False, "runtime", message="IndexError")], best=None)
    (d,) = report_diagnostics(report, NAME)
    assert d.severity == lsp.DiagnosticSeverity.Error and "no candidate passed" in d.message
    empty = Report(problem_name="M", generators=[GeneratorRun("template", skipped="no pattern for `sort`")])
    (d,) = report_diagnostics(empty, NAME)
    assert d.severity == lsp.DiagnosticSeverity.Error and "no pattern for `sort`" in d.message
    broken = Report(problem_name="M", error="get_inputs() raised ValueError", error_kind="recipe_error")
    (d,) = report_diagnostics(broken, NAME)
    assert d.code == "recipe_error" and d.severity == lsp.DiagnosticSeverity.Error


@needs_template
async def test_unconvertible_class_gets_error_diagnostic_until_it_changes(profile: str, tmp_path: pathlib.Path):
    path = copy_fixture(tmp_path, "unconvertible.py")
    async with session(profile, tmp_path, init_options=QUICK) as client:
        uri = open_doc(client, path)
        line = line_of(path, "class SortedCumsum")
        (action,) = await code_actions(client, uri, lsp.Range(lsp.Position(line, 8), lsp.Position(line, 8)))
        if profile == "vscode":
            assert (await client.code_action_resolve_async(action)).edit is None
        else:
            cmd = action.command
            result = await client.workspace_execute_command_async(
                lsp.ExecuteCommandParams(command=cmd.command, arguments=cmd.arguments))
            assert result["applied"] is False
        diags = await diagnostics(client, profile, uri)
        assert len(diags) == 1, [d.message for d in diags]
        d = diags[0]
        assert d.severity == lsp.DiagnosticSeverity.Error and d.source == "tritonize"
        # "no candidates were produced (template: ... `sort` ...)"; anything else (a worker that
        # failed to start, a generator that raised) is named here rather than lost
        assert "sort" in d.message and d.range.start.line == line, d.message
        # an edit above the class moves the diagnostic with it ...
        change_doc(client, uri, 2, 0, "# a comment\n")
        if profile == "neovim":  # pushed; vscode pulls (the change is handled before the pull)
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        (d,) = await diagnostics(client, profile, uri)
        assert d.range.start.line == line + 1
        # ... an edit of the class clears it
        change_doc(client, uri, 3, line + 3, "        x = x + 0\n")
        if profile == "neovim":  # pushed; vscode pulls (the change is handled before the pull)
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        assert await diagnostics(client, profile, uri) == []


def test_no_candidates_names_each_generator_once():
    """A generator's reason may already start with its name ("template: no pattern …"): the
    diagnostic says "template: no pattern …", not "template: template: no pattern …"."""
    report = Report(problem_name="Sorter", results=[], generators=[
        GeneratorRun(name="template", skipped="template: no pattern for `sort`"),
        GeneratorRun(name="llm", skipped="no model configured (tritonize.model.path)"),
    ])
    (diag,) = report_diagnostics(report, NAME)
    assert diag.code == "no_candidates" and diag.severity == lsp.DiagnosticSeverity.Error
    assert diag.message == ("no candidates were produced (template: no pattern for `sort`; "
                            "llm: no model configured (tritonize.model.path))")
