"""Converting a class from the editor: the actions offered, the run, its diagnostics and its edit.

`convert_class` runs the pipeline in a runner thread (with progress and cancellation), records
the diagnostics, and returns an `Outcome`; `edit_for` turns an outcome into the WorkspaceEdit,
only for the document version the conversion started from.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from ..cancel import Cancelled
from ..edit import (
    Anchor,
    SiblingFile,
    TextEdit,
    block_names,
    compute_edits,
    generated_class_code,
    generated_name,
    inserted_code,
    problem_anchor,
    reanchored,
    relocate,
    sibling_path,
)
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
    anchor: Anchor | None = None  # the class by content (name + digest), to find it again later
    chosen: bool = False  # the user picked the candidate: the editor shows the edit to confirm first


# ---- listing (cheap: runs on every cursor move) --------------------------------------------------


async def list_actions(ls: TritonizeServer, uri: str, rng: lsp.Range, only: list | None) -> list | None:
    """Convert / re-run / show-report actions for the classes under the cursor or selection."""
    if only and not F.wants_rewrite(only):
        return None
    doc = ls.readable(uri)
    if doc is None:
        return None
    version = doc.version
    text, modules = await ls.modules_async(uri)
    names = F.targets_at(modules, text, rng)
    if not names:
        return None
    blocks = set(block_names(text))
    store = ls.store()
    targets = []
    for n in names:
        has_report = store.has(n, doc.path)
        report = store.latest(n, doc.path) if has_report else None
        # Choosing among the candidates of a report made for another text of the class would
        # insert a kernel for code that is no longer there.
        fresh = report is not None and not report.error and not await ls.report_is_stale(uri, n)
        choices = F.candidate_choices(report) if fresh else []
        targets.append(F.ActionTarget(n, generated_name(n) in blocks, has_report, choices))
    return F.code_actions(uri, version, targets, resolve_edit=ls.support.resolve_edit,
                          literal_support=ls.support.code_action_literals)


# ---- running -------------------------------------------------------------------------------------


async def convert_class(ls: TritonizeServer, uri: str, name: str, rerun: bool) -> Outcome:
    """Run the pipeline for class `name` of the document; diagnostics and progress included."""
    doc = ls.readable(uri)
    if doc is None:
        ls.show(lsp.MessageType.Warning, f"cannot read {uri}: open the file to convert {name}")
        return Outcome(None, None, "", None, "the document cannot be read")
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
    outcome = F.outcome_message(report, ls.settings.min_speedup)
    ls.end_progress(ptoken, outcome)
    _report_diagnostics(ls, uri, text, problem, report)
    anchor = problem_anchor(text, problem)
    ls.remember_conversion(uri, anchor)
    log.info("%s: %s", name, outcome, extra=USER)
    return Outcome(report, problem, text, version, outcome, anchor)


async def choose_candidate(ls: TritonizeServer, uri: str, name: str, candidate_id: str) -> Outcome:
    """One passing candidate of the class's latest report, picked by the user: no pipeline run,
    the report is re-read and that candidate becomes the one inserted."""
    doc = ls.readable(uri)
    report = ls.latest_report(uri, name) if doc is not None else None
    chosen = next((r for r in report.results if r.candidate_id == candidate_id and r.passed), None) if report else None
    if doc is None or report is None or chosen is None:
        ls.show(lsp.MessageType.Warning, f"{name}: candidate {candidate_id} is no longer in the report; convert again")
        return Outcome(None, None, "", None, "candidate not found")
    if await ls.report_is_stale(uri, name):
        ls.show(lsp.MessageType.Warning, f"{name} changed since its conversion; convert again")
        return Outcome(None, None, "", None, "stale report")
    text, version = doc.source, doc.version
    settings = ls.settings
    try:
        problem = await asyncio.to_thread(
            extract, text, name, path=doc.path, inputs=settings.inputs, init_inputs=settings.init_inputs)
    except ProblemError as err:
        ls.show(lsp.MessageType.Warning, f"{name}: {err.message}")
        return Outcome(None, None, text, version, err.message)
    report = dataclasses.replace(report, best=candidate_id)
    return Outcome(report, problem, text, version, f"chose {candidate_id}", problem_anchor(text, problem),
                   chosen=True)


def _problem_error(ls: TritonizeServer, uri: str, name: str, err: ProblemError) -> None:
    mod = next((m for m in ls.modules(uri) if m.name == name), None)
    diag = F.problem_error_diagnostic(err, mod.name_range if mod else None)
    ls.set_class_diagnostics(uri, name, ClassDiagnostics(None, 0, [diag] if diag else []))


def _report_diagnostics(ls: TritonizeServer, uri: str, text: str, problem: Problem, report: Report) -> None:
    diags = F.report_diagnostics(report, problem.name_range, ls.settings.min_speedup)
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

# After the client refused an edit: how long to wait for the change that made it refuse (clients
# such as Neovim send changes after a debounce) and how often to re-anchor and try again.
SETTLE_S = 1.0
APPLY_ATTEMPTS = 3


@dataclass
class PreparedEdit:
    """A WorkspaceEdit for the document as the server has it now, and what it was made from."""

    edit: lsp.WorkspaceEdit
    version: int | None
    text: str
    problem: Problem
    moved: bool  # the class had moved since the conversion started: the edit was re-anchored
    sibling: str | None  # the sibling module's path with placement "sibling"
    file_edits: list[TextEdit]


async def prepare_edit(ls: TritonizeServer, outcome: Outcome, uri: str, *, quiet: bool = False) -> PreparedEdit | None:
    """The edit for a finished conversion, anchored to the class's content: made against the
    document as it is now, where the class (same name, same text) is now. None, with a message
    saying why, when nothing passed or the class changed or is gone."""
    report, problem = outcome.report, outcome.problem
    if report is None or problem is None or outcome.anchor is None:
        return None
    if report.best is None:
        if not quiet:
            ls.show(lsp.MessageType.Warning, f"{problem.name}: {outcome.message}; see the diagnostics")
        return None
    slower = report.not_faster(ls.settings.min_speedup)
    if slower and not outcome.chosen and not ls.settings.insert_slower:
        # never make the user's code slower unless they ask: a candidate picked from the code actions
        # (choose_candidate) or the insertSlower setting
        if not quiet:
            ls.show(lsp.MessageType.Warning, f"{problem.name}: {slower}; not inserted (pick a candidate from the "
                    "code actions, or set insertSlower, to insert it anyway)")
        return None
    doc = ls.readable(uri)
    if doc is None:
        ls.show(lsp.MessageType.Warning, f"{problem.name}: the document is gone; the kernel was not inserted")
        return None
    text, version, moved = doc.source, doc.version, False
    if version != outcome.version or text != outcome.text:
        # Typed elsewhere while converting: find the class again by name and content.
        mod = relocate(text, outcome.anchor, await ls.parser.modules(text))
        if mod is None:
            ls.show(lsp.MessageType.Warning,
                    f"{problem.name} changed while it was being converted; run the conversion again")
            return None
        moved = (mod.range != problem.class_range)
        problem = reanchored(problem, mod)
    sibling, sibling_version = None, None
    placement = ls.settings.placement
    if placement == "sibling" and not problem.path:
        placement = "inline"
    if placement == "sibling":
        sibling, sibling_version = _sibling(ls, sibling_path(problem.path))
    edits = compute_edits(text, problem, report, placement, sibling=sibling)
    confirm = None
    if outcome.chosen and ls.support.change_annotations:
        best = report.best_result()
        confirm = lsp.ChangeAnnotation(label=f"Insert {generated_name(problem.name)} ({report.best})",
                                       needs_confirmation=True, description=F.outcome_message(report)
                                       if best is None else f"{best.candidate_id}: {best.origin}")
    edit = F.workspace_edit(uri, version, edits, document_changes=ls.support.document_changes,
                            can_create=ls.support.create_files, path_to_uri=from_fs_path,
                            other_versions={sibling.path: sibling_version} if sibling else None, confirm=confirm)
    return PreparedEdit(edit, version, text, problem, moved, sibling.path if sibling else None, edits)


async def edit_for(ls: TritonizeServer, outcome: Outcome, uri: str) -> lsp.WorkspaceEdit | None:
    """codeAction/resolve: the edit pinned to the current version (the client refuses it when the
    document changed after this answer)."""
    prepared = await prepare_edit(ls, outcome, uri)
    return prepared.edit if prepared else None


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


async def convert_and_apply(ls: TritonizeServer, uri: str, name: str, rerun: bool,
                            candidate: str | None = None) -> dict:
    """`tritonize.convert` (clients without resolve): convert, then `workspace/applyEdit`.

    The answer always carries the kernel when one passed, so it is never lost: `applied` says
    whether the editor took the edit; otherwise `edit` is the WorkspaceEdit to apply and `where`
    says where the kernel went (the sibling file written, or only this answer)."""
    if candidate:
        outcome = await choose_candidate(ls, uri, name, candidate)
    else:
        outcome = await convert_class(ls, uri, name, rerun)
    answer: dict = {"applied": False, "outcome": outcome.message}
    best = outcome.report.best_result() if outcome.report else None
    if best is not None and outcome.problem is not None:
        answer["kernel"] = generated_class_code(outcome.problem, inserted_code(outcome.problem, best))
    for attempt in range(APPLY_ATTEMPTS):
        prepared = await prepare_edit(ls, outcome, uri)
        if prepared is None:
            return answer
        answer["moved"] = prepared.moved
        if not ls.support.apply_edit:
            return _without_apply_edit(ls, answer, prepared, name, "the editor cannot apply edits")
        timeout = ls.settings.apply_edit_timeout_s
        try:
            result = await asyncio.wait_for(ls.workspace_apply_edit_async(
                lsp.ApplyWorkspaceEditParams(edit=prepared.edit, label=f"Tritonize {name}")), timeout)
        except asyncio.TimeoutError:
            return _without_apply_edit(ls, answer, prepared, name,
                                       f"the editor did not answer workspace/applyEdit in {timeout:g} s")
        except Exception as exc:  # "method not found" and the like: the kernel must not be lost
            return _without_apply_edit(ls, answer, prepared, name, f"workspace/applyEdit failed: {exc}")
        if result and result.applied:
            answer.update(applied=True, where=prepared.sibling or uri)
            return answer
        reason = (result.failure_reason if result else None) or "the editor refused it"
        # A client that sends changes after a debounce refuses an edit for a version the server
        # has not heard of yet: wait for that change, re-anchor, and try again.
        if attempt + 1 < APPLY_ATTEMPTS and await _changed_since(ls, uri, prepared.version, SETTLE_S):
            log.info("the edit for %s was refused (%s) after a change; re-anchoring", name, reason)
            continue
        ls.show(lsp.MessageType.Warning, f"the edit for {name} was not applied: {reason}")
        answer["reason"] = reason
        return answer
    return answer


async def _changed_since(ls: TritonizeServer, uri: str, version: int | None, within_s: float) -> bool:
    """Has (or will, within `within_s`) the document moved past `version`?"""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        doc = ls.readable(uri)
        if doc is None:
            return False
        if doc.version != version:
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.02)


def _without_apply_edit(ls: TritonizeServer, answer: dict, prepared: PreparedEdit, name: str, why: str) -> dict:
    """The editor cannot take the edit: the answer carries it; with placement "sibling" the
    sibling module is written (the user asked for the kernel in that file)."""
    answer["edit"] = ls.protocol._converter.unstructure(prepared.edit)
    sibling = next((e for e in prepared.file_edits if e.path), None)
    if sibling is not None and ls.settings.placement == "sibling":
        try:
            with open(sibling.path, "w", encoding="utf-8") as f:
                f.write(sibling.new_text)
        except OSError as exc:
            answer["where"] = "result"
            ls.show(lsp.MessageType.Warning, f"{why}; could not write {sibling.path} ({exc}): "
                    "the kernel is in the command's result")
            return answer
        answer["where"] = sibling.path
        ls.show(lsp.MessageType.Info, f"{why}; {generated_name(name)} was written to {sibling.path}")
        return answer
    answer["where"] = "result"
    ls.show(lsp.MessageType.Warning, f"{why}; {generated_name(name)} is in the command's result "
            "(`kernel`), not in the file")
    return answer


__all__ = ["Outcome", "PreparedEdit", "choose_candidate", "convert_and_apply", "convert_class", "edit_for", "list_actions", "prepare_edit"]
