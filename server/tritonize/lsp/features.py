"""Pure translations between tritonize data and LSP types: actions, diagnostics, progress, edits, hover.

No I/O and no server state here, so every function is cheap and testable on its own; the flows
(conversion.py, verification.py, reports.py) wire them to requests. Columns: `Range`s and LSP
positions are both UTF-16 (positions.py), so they map 1:1; a `str` index never crosses here
without positions.py converting it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from lsprotocol import types as lsp

from ..cancel import ProgressEvent
from ..edit import TextEdit, block_names
from ..positions import Range, str_index, utf16_col
from ..problem import ModuleClass, ProblemError
from ..report import Report

SOURCE = "tritonize"
CMD_CONVERT = "tritonize.convert"
CMD_SHOW_REPORT = "tritonize.showReport"
CMD_VERIFY = "tritonize.verifyCandidate"
CMD_REMOVE = "tritonize.removeKernel"
COMMANDS = (CMD_CONVERT, CMD_SHOW_REPORT, CMD_VERIFY, CMD_REMOVE)
GENERATED_SUFFIX = "Triton"


# ---- ranges --------------------------------------------------------------------------------------


def to_lsp_range(r: Range) -> lsp.Range:
    return lsp.Range(lsp.Position(r.start_line, r.start_col), lsp.Position(r.end_line, r.end_col))


def overlaps(r: Range, sel: lsp.Range) -> bool:
    """Does the class range contain the cursor, or overlap the selection?"""
    start = (sel.start.line, sel.start.character)
    end = (sel.end.line, sel.end.character)
    lo, hi = (r.start_line, r.start_col), (r.end_line, r.end_col)
    return start <= hi and end >= lo


# ---- code actions --------------------------------------------------------------------------------


@dataclass
class ActionTarget:
    """One class the cursor/selection is on, and what can be done with it."""

    name: str  # the original class name (for a generated class: the class it was made from)
    has_block: bool  # a generated `<Name>Triton` block exists in the document
    has_report: bool  # the store has a report for it
    # (candidate id, "template softmax, 1.31× compile"): passing candidates of the class's
    # current report, best first, each offered as its own action (preview and choose)
    choices: list[tuple[str, str]] = field(default_factory=list)


def candidate_choices(report: Report, limit: int = 3) -> list[tuple[str, str]]:
    """The best `limit` passing candidates of a report, fastest first (untimed: report order)."""
    passed = report.passed()
    if report.timed:
        passed = sorted(passed, key=lambda r: r.timing.ms if r.timing and r.timing.ms else float("inf"))
    out = []
    for r in passed[:limit]:
        label = r.candidate_id.replace(":", " ", 1)
        t = r.timing
        if report.timed and t is not None and (t.speedup_compile or t.speedup_eager):
            speed = f"{t.speedup_compile:.2f}× compile" if t.speedup_compile else f"{t.speedup_eager:.2f}× eager"
        else:
            speed = "not timed"
        out.append((r.candidate_id, f"{label}, {speed}"))
    return out


def wants_rewrite(only: list) -> bool:
    """Does a `context.only` filter admit our `refactor.rewrite` actions?"""
    ours = str(lsp.CodeActionKind.RefactorRewrite.value)
    return any(ours.startswith(str(getattr(o, "value", o))) for o in only)


def targets_at(modules: list[ModuleClass], text: str, sel: lsp.Range) -> list[str]:
    """Original class names for the classes under the cursor/selection, innermost first.

    A cursor inside a generated `<Name>Triton` class means `<Name>`: the actions then re-run or
    report on the original instead of converting generated code.
    """
    hits = [m for m in modules if overlaps(m.range, sel)]
    is_cursor = sel.start == sel.end
    if is_cursor and hits:  # only the innermost class at a cursor; a selection offers each
        hits = [min(hits, key=lambda m: (m.range.end_line - m.range.start_line, m.range.end_col))]
    generated = set(block_names(text))
    names: list[str] = []
    for m in hits:
        name = m.name
        if name in generated and name.endswith(GENERATED_SUFFIX):
            name = name[: -len(GENERATED_SUFFIX)]
        if name not in names:
            names.append(name)
    return names


def code_actions(
    uri: str,
    version: int | None,
    targets: list[ActionTarget],
    *,
    resolve_edit: bool,
    literal_support: bool,
) -> list[lsp.CodeAction | lsp.Command]:
    """The cheap listing: no execution, no edit. `resolve_edit` picks data+resolve over a command."""
    out: list[lsp.CodeAction | lsp.Command] = []
    for t in targets:
        data = {"uri": uri, "version": version, "class": t.name}
        entries: list[tuple[str, str, dict]] = []
        if t.has_block:
            entries.append((f"Re-run conversion of {t.name} to Triton", "rerun", {**data, "rerun": True}))
        else:
            entries.append((f"Convert {t.name} to Triton kernel", "convert", {**data, "rerun": False}))
        for cid, label in t.choices:
            entries.append((f"Convert {t.name} — {label}", "choose", {**data, "rerun": False, "candidate": cid}))
        for title, _kind, payload in entries:
            if resolve_edit and literal_support:
                out.append(lsp.CodeAction(title=title, kind=lsp.CodeActionKind.RefactorRewrite, data=payload))
            else:
                cmd = lsp.Command(title=title, command=CMD_CONVERT, arguments=[payload])
                out.append(lsp.CodeAction(title=title, kind=lsp.CodeActionKind.RefactorRewrite, command=cmd)
                           if literal_support else cmd)
        if t.has_report:
            title = f"Show conversion report for {t.name}"
            cmd = lsp.Command(title=title, command=CMD_SHOW_REPORT, arguments=[{"uri": uri, "class": t.name}])
            out.append(lsp.CodeAction(title=title, kind=lsp.CodeActionKind.Empty, command=cmd) if literal_support else cmd)
    return out


# ---- diagnostics ---------------------------------------------------------------------------------


def report_diagnostics(report: Report, name_range: Range, min_speedup: float = 1.0) -> list[lsp.Diagnostic]:
    """One diagnostic per failure kind among the candidates (or one for a problem error), and a warning
    when the fastest correct kernel does not beat eager by `min_speedup` (it is not inserted then)."""
    rng = to_lsp_range(name_range)
    if report.error:
        return [_diag(rng, lsp.DiagnosticSeverity.Error, report.error_kind or "problem", report.error)]
    total = len(report.results)
    by_kind = report.failures_by_kind()
    none_passed = report.best is None
    if total == 0:
        why = "; ".join(_skip_reason(g.name, g.skipped) for g in report.generators if g.skipped) or "no generator ran"
        return [_diag(rng, lsp.DiagnosticSeverity.Error, "no_candidates", f"no candidates were produced ({why})")]
    severity = lsp.DiagnosticSeverity.Error if none_passed else lsp.DiagnosticSeverity.Information
    out = []
    for kind, results in by_kind.items():
        message = f"{len(results)} of {total} candidates: {kind}"
        detail = _failure_detail(kind, results)
        if detail:
            message += f", {detail}"
        if none_passed and kind == next(iter(by_kind)):
            message += " (no candidate passed)"
        out.append(_diag(rng, severity, kind, message))
    specialised = report.specialised_only()
    if specialised:
        out.append(_diag(rng, lsp.DiagnosticSeverity.Warning, "shape_specialised", specialised))
    elif (best := report.best_result()) is not None and not best.shape_general:
        out.append(_diag(rng, lsp.DiagnosticSeverity.Information, "shape_specialised", report.shapes_line() or ""))
    slower = report.not_faster(min_speedup)
    if slower:
        out.append(_diag(rng, lsp.DiagnosticSeverity.Warning, "not_faster",
                         f"{slower}: not inserted (pick a candidate from the code actions to insert it anyway)"))
    return out


def _skip_reason(generator: str, skipped: str) -> str:
    """"template: no pattern …", whether or not the generator already named itself."""
    return skipped if skipped.startswith(f"{generator}:") else f"{generator}: {skipped}"


def _failure_detail(kind: str, results) -> str:
    if kind == "mismatch":
        with_err = [r for r in results if r.max_abs_err is not None]
        if with_err:
            worst = min(with_err, key=lambda r: r.max_abs_err)  # the closest miss says the most
            at = f" at {worst.worst_index}" if worst.worst_index else ""
            return f"max |Δ| {worst.max_abs_err:.3g}{at}"
    first = next((r.message for r in results if r.message), "")
    return first.splitlines()[0][:200] if first else ""


def problem_error_diagnostic(err: ProblemError, fallback: Range | None) -> lsp.Diagnostic | None:
    rng = err.range or fallback
    if rng is None:
        return None
    return _diag(to_lsp_range(rng), lsp.DiagnosticSeverity.Error, err.kind, err.message)


def _diag(rng: lsp.Range, severity: lsp.DiagnosticSeverity, code: str, message: str) -> lsp.Diagnostic:
    return lsp.Diagnostic(range=rng, message=message, severity=severity, source=SOURCE, code=code)


# ---- progress ------------------------------------------------------------------------------------

# Share of the bar per stage, so the percentage never goes backwards while stages interleave.
_STAGE_SPAN = {"start": (0, 0), "load": (0, 5), "generate": (5, 40), "verify": (40, 90), "time": (90, 99)}


@dataclass
class ProgressMapper:
    """Pipeline ProgressEvents → `$/progress` report values (message + non-decreasing percentage)."""

    percentage: int = 0
    last_message: str = ""
    seen: list[str] = field(default_factory=list)

    def report(self, ev: ProgressEvent) -> lsp.WorkDoneProgressReport | None:
        if ev.stage in ("start", "done"):
            return None
        lo, hi = _STAGE_SPAN.get(ev.stage, (self.percentage, self.percentage))
        pct = lo + (hi - lo) * ev.done // ev.total if ev.total else lo
        self.percentage = max(self.percentage, pct)
        message = ev.message if ev.stage in ev.message.split(":")[0] else f"{ev.stage}: {ev.message}"
        if ev.total and f"{ev.done}/{ev.total}" not in message:
            message += f" ({ev.done}/{ev.total})"
        if message == self.last_message:
            return None
        self.last_message = message
        self.seen.append(ev.stage)
        return lsp.WorkDoneProgressReport(message=message, percentage=self.percentage, cancellable=True)


def outcome_message(report: Report, min_speedup: float | None = None) -> str:
    if report.error:
        return f"problem error ({report.error_kind}): {report.error}"
    best = report.best_result()
    passed = len(report.passed())
    if best is None:
        return report.specialised_only() or f"no candidate passed ({len(report.results)} tried)"
    speed = ""
    if report.timed and best.timing and best.timing.speedup_eager:
        speed = f", {best.timing.speedup_eager:.2f}x eager"
    elif not report.timed:
        speed = ", not timed (no GPU)"
    slower = report.not_faster(min_speedup) if min_speedup is not None else None
    if slower:
        return f"{passed} of {len(report.results)} passed; {slower}"
    return f"{passed} of {len(report.results)} passed; chose {best.candidate_id}{speed}"


# ---- edits ---------------------------------------------------------------------------------------


def workspace_edit(
    uri: str,
    version: int | None,
    edits: list[TextEdit],
    *,
    document_changes: bool,
    can_create: bool,
    path_to_uri,
    other_versions: dict[str, int | None] | None = None,
    confirm: lsp.ChangeAnnotation | None = None,
) -> lsp.WorkspaceEdit:
    """Our TextEdits as a WorkspaceEdit pinned to `version` where the client supports it.

    Edits of other files (the sibling module) are pinned to their version in `other_versions`
    (an open buffer), else unpinned. `confirm` (clients with change annotations): every edit
    carries it, so the editor shows the change as a preview to accept first.
    """
    other_versions = other_versions or {}
    by_file: dict[str | None, list[TextEdit]] = {}
    for e in edits:
        by_file.setdefault(e.path, []).append(e)
    if not document_changes:
        changes = {}
        for path, group in by_file.items():
            changes[uri if path is None else path_to_uri(path)] = [_text_edit(e) for e in group]
        return lsp.WorkspaceEdit(changes=changes)
    doc_changes: list = []
    for path, group in by_file.items():
        target = uri if path is None else path_to_uri(path)
        if any(e.create for e in group) and can_create:
            doc_changes.append(lsp.CreateFile(uri=target, options=lsp.CreateFileOptions(overwrite=False, ignore_if_exists=True)))
        pinned = version if path is None else other_versions.get(path)
        ident = lsp.OptionalVersionedTextDocumentIdentifier(uri=target, version=pinned)
        text_edits = [_annotated(e) if confirm else _text_edit(e) for e in group]
        doc_changes.append(lsp.TextDocumentEdit(text_document=ident, edits=text_edits))
    if confirm:
        return lsp.WorkspaceEdit(document_changes=doc_changes, change_annotations={ANNOTATION: confirm})
    return lsp.WorkspaceEdit(document_changes=doc_changes)


ANNOTATION = "tritonize"


def _annotated(e: TextEdit) -> lsp.AnnotatedTextEdit:
    return lsp.AnnotatedTextEdit(range=to_lsp_range(e.range), new_text=e.new_text, annotation_id=ANNOTATION)


def _text_edit(e: TextEdit) -> lsp.TextEdit:
    return lsp.TextEdit(range=to_lsp_range(e.range), new_text=e.new_text)


# ---- code lens -----------------------------------------------------------------------------------


def lens_summary(report: Report | None) -> str:
    """The first lens above a converted class: how the chosen kernel did, e.g.
    "tritonize: 1.31× compile · 2.80× eager"."""
    best = report.best_result() if report else None
    if best is None:
        return "tritonize: kernel inserted (no report in the store)"
    t = best.timing
    if report.timed and t is not None and t.speedup_eager:
        parts = [f"{t.speedup_compile:.2f}× compile"] if t.speedup_compile else []
        return "tritonize: " + " · ".join([*parts, f"{t.speedup_eager:.2f}× eager"])
    return "tritonize: correct, not timed (no GPU)"


def class_lenses(uri: str, name: str, name_range: Range, report: Report | None,
                 stale: str | None) -> list[lsp.CodeLens]:
    """"tritonize: 1.31× compile · 2.80× eager · Re-run · Report · Remove" above a converted class."""
    rng = to_lsp_range(name_range)
    arg = {"uri": uri, "class": name}
    head = f"tritonize: stale — {stale}" if stale else lens_summary(report)
    entries = [(head, CMD_SHOW_REPORT, arg), ("Re-run", CMD_CONVERT, {**arg, "rerun": True}),
               ("Report", CMD_SHOW_REPORT, arg), ("Remove", CMD_REMOVE, arg)]
    return [lsp.CodeLens(range=rng, command=lsp.Command(title=t, command=c, arguments=[a])) for t, c, a in entries]


# ---- hover ---------------------------------------------------------------------------------------

def _continues(ch: str) -> bool:
    """Can `ch` be part of a Python identifier? (Combining marks too: `É` typed as E + U+0301.)"""
    return ("_" + ch).isidentifier()


def word_at(line_text: str, col: int) -> tuple[str, int, int] | None:
    """The identifier at UTF-16 column `col` and its UTF-16 start and end columns."""
    at = str_index(line_text, col)
    start = end = at
    while start > 0 and _continues(line_text[start - 1]):
        start -= 1
    while end < len(line_text) and _continues(line_text[end]):
        end += 1
    while start < end and not line_text[start].isidentifier():  # `2x`: the word starts after the digits
        start += 1
    if start >= end:
        return None
    return line_text[start:end], utf16_col(line_text, start), utf16_col(line_text, end)


def _defines_class(text: str, name: str) -> bool:
    """Is there a `class <name>` statement? (str.find: a multiline regex is slow on big files)"""
    needle = f"class {name}"
    at = text.find(needle)
    while at >= 0:
        end = at + len(needle)
        line_start = text.rfind("\n", 0, at) + 1
        if not text[line_start:at].strip(" \t") and (end == len(text) or not (text[end].isalnum() or text[end] == "_")):
            return True
        at = text.find(needle, end)
    return False


def hover_class(text: str, word: str) -> str | None:
    """The original class name a hovered word stands for, if it is a class defined in `text`.

    As Python knows it: identifiers are NFKC-normalised, so `É` typed as E + U+0301 in the file is
    the composed `É` in the class's name (and in the store)."""
    if not _defines_class(text, word):
        return None
    name = unicodedata.normalize("NFKC", word)
    if name.endswith(GENERATED_SUFFIX) and name in block_names(text):
        return name[: -len(GENERATED_SUFFIX)]
    return name


__all__ = [
    "ActionTarget",
    "ProgressMapper",
    "candidate_choices",
    "class_lenses",
    "lens_summary",
    "code_actions",
    "hover_class",
    "outcome_message",
    "problem_error_diagnostic",
    "report_diagnostics",
    "targets_at",
    "to_lsp_range",
    "wants_rewrite",
    "word_at",
    "workspace_edit",
]
