"""Converting a class from the editor: the actions offered, the run, its diagnostics and its edit.

`convert_class` runs the pipeline in a runner thread (with progress and cancellation), records
the diagnostics, and returns an `Outcome`; `edit_for` turns an outcome into the WorkspaceEdit,
only for the document version the conversion started from.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from ..cancel import Cancelled
from ..edit import SiblingFile, block_names, compute_edits, generated_name, sibling_path
from ..positions import TextIndex
from ..problem import Problem, ProblemError, extract
from ..report import Report
from . import features as F
from .documents import ClassDiagnostics
from .logs import USER
from .state import TritonizeServer

log = logging.getLogger("tritonize.lsp")


@dataclass
class Outcome:
    report: Report | None
    problem: Problem | None
    text: str  # the document text the conversion started from
    version: int | None
    message: str = ""


# ---- listing (cheap: runs on every cursor move) --------------------------------------------------


def list_actions(ls: TritonizeServer, uri: str, rng: lsp.Range, only: list | None) -> list | None:
    """Convert / re-run / show-report actions for the classes under the cursor or selection."""
    if only and not F.wants_rewrite(only):
        return None
    doc = ls.document(uri)
    names = F.targets_at(ls.modules(uri), doc.source, rng)
    if not names:
        return None
    blocks = set(block_names(doc.source))
    store = ls.store()
    targets = [F.ActionTarget(n, generated_name(n) in blocks, store.has(n, doc.path)) for n in names]
    return F.code_actions(uri, doc.version, targets, resolve_edit=ls.support.resolve_edit,
                          literal_support=ls.support.code_action_literals)


# ---- running -------------------------------------------------------------------------------------


async def convert_class(ls: TritonizeServer, uri: str, name: str, rerun: bool) -> Outcome:
    """Run the pipeline for class `name` of the document; diagnostics and progress included."""
    doc = ls.document(uri)
    text, version = doc.source, doc.version
    settings = ls.settings.copy(use_cache=False) if rerun else ls.settings.copy()
    try:
        problem = await asyncio.to_thread(
            extract, text, name, path=doc.path, inputs=settings.inputs, init_inputs=settings.init_inputs
        )
    except ProblemError as err:
        _problem_error(ls, uri, name, err)
        ls.show(lsp.MessageType.Warning, f"{name}: {err.message}")
        return Outcome(None, None, text, version, err.message)

    ptoken = await ls.begin_progress(f"Tritonize {problem.name}")
    job = ls.runner.submit(problem, settings, ls.progress_callback(ptoken))
    try:
        report = await ls.await_job(job, ptoken)
    except Cancelled:
        ls.end_progress(ptoken, "cancelled")
        return Outcome(None, problem, text, version, "cancelled")
    except Exception as exc:
        log.exception("conversion of %s failed", name)
        ls.end_progress(ptoken, f"failed: {exc}")
        ls.show(lsp.MessageType.Error, f"converting {name} failed: {exc}")
        return Outcome(None, problem, text, version, str(exc))
    outcome = F.outcome_message(report)
    ls.end_progress(ptoken, outcome)
    _report_diagnostics(ls, uri, text, problem, report)
    log.info("%s: %s", name, outcome, extra=USER)
    return Outcome(report, problem, text, version, outcome)


def _problem_error(ls: TritonizeServer, uri: str, name: str, err: ProblemError) -> None:
    mod = next((m for m in ls.modules(uri) if m.name == name), None)
    diag = F.problem_error_diagnostic(err, mod.name_range if mod else None)
    ls.set_class_diagnostics(uri, name, ClassDiagnostics(None, 0, [diag] if diag else []))


def _report_diagnostics(ls: TritonizeServer, uri: str, text: str, problem: Problem, report: Report) -> None:
    diags = F.report_diagnostics(report, problem.name_range)
    if report.error:  # the problem (recipe, reference) is at fault: fixed anywhere in the file
        ls.set_class_diagnostics(uri, problem.name, ClassDiagnostics(None, 0, diags))
        return
    # Kept while the class's text is unchanged: remember that text and where the name sits in it.
    index = TextIndex(text)
    class_at, class_end = index.span(problem.class_range)
    name_at = index.offset(problem.name_range.start_line, problem.name_range.start_col)
    entry = ClassDiagnostics(text[class_at:class_end], name_at - class_at, diags)
    ls.set_class_diagnostics(uri, problem.name, entry)


# ---- the edit ------------------------------------------------------------------------------------


def edit_for(ls: TritonizeServer, outcome: Outcome, uri: str) -> lsp.WorkspaceEdit | None:
    """The WorkspaceEdit for a finished conversion, or None (with a message saying why)."""
    report, problem = outcome.report, outcome.problem
    if report is None or problem is None:
        return None
    if report.best is None:
        ls.show(lsp.MessageType.Warning, f"{problem.name}: {outcome.message}; see the diagnostics")
        return None
    doc = ls.document(uri)
    if doc.version != outcome.version or doc.source != outcome.text:
        ls.show(lsp.MessageType.Warning, f"document changed while converting {problem.name}; run again")
        return None
    sibling, sibling_version = None, None
    placement = ls.settings.placement
    if placement == "sibling" and not problem.path:
        placement = "inline"
    if placement == "sibling":
        sibling, sibling_version = _sibling(ls, sibling_path(problem.path))
    edits = compute_edits(outcome.text, problem, report, placement, sibling=sibling)
    return F.workspace_edit(uri, outcome.version, edits, document_changes=ls.support.document_changes,
                            can_create=ls.support.create_files, path_to_uri=from_fs_path,
                            other_versions={sibling.path: sibling_version} if sibling else None)


def _sibling(ls: TritonizeServer, path: str) -> tuple[SiblingFile, int | None]:
    """The sibling module as the user has it: the open buffer (unsaved edits included, and its
    version to pin the edit to), else the file on disk, else none yet."""
    uri = from_fs_path(path)
    if uri and ls.is_open(uri):
        doc = ls.document(uri)
        return SiblingFile(path, doc.source), doc.version
    try:
        with open(path, encoding="utf-8") as f:
            return SiblingFile(path, f.read()), None
    except FileNotFoundError:
        return SiblingFile(path, None), None


async def convert_and_apply(ls: TritonizeServer, uri: str, name: str, rerun: bool) -> dict:
    """`tritonize.convert` (clients without resolve): convert, then `workspace/applyEdit`."""
    outcome = await convert_class(ls, uri, name, rerun)
    edit = edit_for(ls, outcome, uri)
    applied = False
    if edit is not None:
        result = await ls.workspace_apply_edit_async(lsp.ApplyWorkspaceEditParams(edit=edit, label=f"Tritonize {name}"))
        applied = bool(result and result.applied)
        if not applied:
            reason = (result.failure_reason if result else None) or "the editor refused it"
            ls.show(lsp.MessageType.Warning, f"the edit for {name} was not applied: {reason}")
    return {"applied": applied, "outcome": outcome.message}


__all__ = ["Outcome", "convert_and_apply", "convert_class", "edit_for", "list_actions"]
