"""The tritonize language server (pygls 2): code actions, resolve/command, diagnostics, hover, progress.

Everything on the event loop is cheap (`ast` on the document, one indexed SQLite row); the
conversion itself runs in a `ConversionRunner` thread. State is only touched on the loop thread;
the conversion thread reaches it through `loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import uuid
from dataclasses import dataclass
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import from_fs_path, to_fs_path

from .. import __version__
from ..cancel import Cancelled, CancelToken, ProgressEvent
from ..edit import compute_edits
from ..problem import ModuleClass, Problem, ProblemError, extract, list_modules
from ..report import Report
from ..settings import Settings
from . import features as F
from . import verify_command as V
from .convert_job import ConversionRunner, Job
from .logs import USER, LogForwarder
from .logs import configure as configure_logging
from .settings import SECTION, SettingsLayers

log = logging.getLogger("tritonize.lsp")

HEAVY_MODULES = ("torch", "triton", "transformers", "llama_cpp")
DEBUG_INFO = "tritonize/debugInfo"


class TritonizeProtocol(LanguageServerProtocol):
    def _handle_cancel_notification(self, msg_id):
        # `$/cancelRequest` for a running conversion: stop its pipeline and workers too, not just
        # the asyncio task that waits for it.
        server = self._server
        if isinstance(server, TritonizeServer):
            server.cancel_request(msg_id)
        super()._handle_cancel_notification(msg_id)


@dataclass
class ClassDiagnostics:
    """Diagnostics of one class and the class text they were computed for."""

    class_text: str | None  # None: a problem error, cleared on any change of the document
    name_offset: int  # offset of the class name inside class_text
    diagnostics: list[lsp.Diagnostic]


@dataclass
class Outcome:
    report: Report | None
    problem: Problem | None
    text: str
    version: int | None
    message: str = ""


class TritonizeServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("tritonize", __version__, protocol_cls=TritonizeProtocol,
                         text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.layers = SettingsLayers()
        self.runner = ConversionRunner(self.store_for)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._modules: dict[str, tuple[int | None, int, list[ModuleClass]]] = {}
        self._lines: dict[str, tuple[tuple, list[str]]] = {}
        self._diagnostics: dict[str, dict[str, ClassDiagnostics]] = {}
        self._request_tokens: dict[object, CancelToken] = {}
        self._progress_tokens: dict[object, CancelToken] = {}
        self._stores: dict[str, object] = {}
        self._settings_problems: list[str] = []
        self._announced: list[str] = []
        self.shutdown_requested = False

    @property
    def settings(self) -> Settings:
        return self.layers.current

    # ---- client capabilities ----------------------------------------------------------------

    def _caps(self) -> lsp.ClientCapabilities:
        try:
            return self.client_capabilities or lsp.ClientCapabilities()
        except AttributeError:
            return lsp.ClientCapabilities()

    def resolve_supports_edit(self) -> bool:
        ca = self._caps().text_document and self._caps().text_document.code_action
        props = ca and ca.resolve_support and ca.resolve_support.properties
        return bool(props and "edit" in props)

    def code_action_literals(self) -> bool:
        ca = self._caps().text_document and self._caps().text_document.code_action
        return bool(ca and ca.code_action_literal_support)

    def supports_pull_diagnostics(self) -> bool:
        td = self._caps().text_document
        return bool(td and td.diagnostic)

    def supports_progress(self) -> bool:
        w = self._caps().window
        return bool(w and w.work_done_progress)

    def supports_document_changes(self) -> tuple[bool, bool]:
        ws = self._caps().workspace
        we = ws and ws.workspace_edit
        doc_changes = bool(we and we.document_changes)
        create = bool(we and we.resource_operations and lsp.ResourceOperationKind.Create in we.resource_operations)
        return doc_changes, create

    # ---- store and modules ------------------------------------------------------------------

    def store_for(self, settings: Settings):
        from ..store import Store

        directory = settings.resolved_cache_dir()
        if directory not in self._stores:
            self._stores[directory] = Store(directory)
        return self._stores[directory]

    def modules(self, uri: str) -> list[ModuleClass]:
        """The document's module classes, parsed once per version (listing must stay cheap)."""
        doc = self.workspace.get_text_document(uri)
        text = doc.source
        cached = self._modules.get(uri)
        if cached and cached[0] == doc.version and cached[1] == hash(text):
            return cached[2]
        try:
            found = list_modules(text)
        except (ProblemError, SyntaxError, ValueError):
            found = []
        self._modules[uri] = (doc.version, hash(text), found)
        return found

    def line_at(self, uri: str, line: int) -> str | None:
        """One line of the document; the split is cached per version (hover must stay cheap)."""
        doc = self.workspace.get_text_document(uri)
        key = (doc.version, len(doc.source))
        cached = self._lines.get(uri)
        if cached is None or cached[0] != key:
            cached = (key, doc.source.splitlines())
            self._lines[uri] = cached
        lines = cached[1]
        return lines[line] if 0 <= line < len(lines) else None

    # ---- cancellation -----------------------------------------------------------------------

    def cancel_request(self, msg_id) -> None:
        token = self._request_tokens.get(msg_id)
        if token is not None:
            log.info("request %s cancelled by the client; stopping its job", msg_id)
            token.cancel()

    def cancel_progress(self, progress_token) -> None:
        token = self._progress_tokens.get(progress_token)
        if token is not None:
            log.info("cancelled from the progress UI; stopping the job")
            token.cancel()

    # ---- diagnostics ------------------------------------------------------------------------

    def set_class_diagnostics(self, uri: str, name: str, entry: ClassDiagnostics | None) -> None:
        per_doc = self._diagnostics.setdefault(uri, {})
        if entry is None or not entry.diagnostics:
            per_doc.pop(name, None)
        else:
            per_doc[name] = entry
        self.publish(uri)

    def diagnostics_for(self, uri: str) -> list[lsp.Diagnostic]:
        return [d for entry in self._diagnostics.get(uri, {}).values() for d in entry.diagnostics]

    def publish(self, uri: str) -> None:
        if self.supports_pull_diagnostics():
            ws = self._caps().workspace
            if ws and ws.diagnostics and ws.diagnostics.refresh_support:
                self.workspace_diagnostic_refresh(None)
            return
        doc = self.workspace.get_text_document(uri)
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, version=doc.version, diagnostics=self.diagnostics_for(uri))
        )

    def refresh_after_change(self, uri: str) -> None:
        """Keep diagnostics whose class text is unchanged (moved to its new place); drop the rest."""
        per_doc = self._diagnostics.get(uri)
        if not per_doc:
            return
        text = self.workspace.get_text_document(uri).source
        changed = False
        for name, entry in list(per_doc.items()):
            at = text.find(entry.class_text) if entry.class_text else -1
            if at < 0:
                del per_doc[name]
                changed = True
                continue
            line, col = _position(text, at + entry.name_offset)
            old = entry.diagnostics[0].range
            if (old.start.line, old.start.character) != (line, col):
                width = old.end.character - old.start.character
                rng = lsp.Range(lsp.Position(line, col), lsp.Position(line, col + width))
                for d in entry.diagnostics:
                    d.range = rng
                changed = True
        if changed:
            self.publish(uri)

    # ---- conversions ------------------------------------------------------------------------

    async def convert_class(self, uri: str, name: str, rerun: bool) -> Outcome:
        """Run the pipeline for class `name` of the document; diagnostics and progress included."""
        doc = self.workspace.get_text_document(uri)
        text, version = doc.source, doc.version
        settings = self.settings.copy(use_cache=False) if rerun else self.settings.copy()
        try:
            problem = await asyncio.to_thread(
                extract, text, name, path=doc.path, inputs=settings.inputs, init_inputs=settings.init_inputs
            )
        except ProblemError as err:
            self._problem_error(uri, text, name, err)
            self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Warning, f"tritonize: {name}: {err.message}"))
            return Outcome(None, None, text, version, err.message)

        ptoken = await self._begin_progress(f"Tritonize {problem.name}")
        mapper = F.ProgressMapper()
        loop = asyncio.get_running_loop()

        def on_progress(ev: ProgressEvent) -> None:
            loop.call_soon_threadsafe(self._report_progress, ptoken, mapper, ev)

        job = self.runner.submit(problem, settings, on_progress)
        try:
            report = await self._await_job(job, ptoken)
        except Cancelled:
            self._end_progress(ptoken, "cancelled")
            return Outcome(None, problem, text, version, "cancelled")
        except Exception as exc:
            log.exception("conversion of %s failed", name)
            self._end_progress(ptoken, f"failed: {exc}")
            self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Error, f"tritonize: converting {name} failed: {exc}"))
            return Outcome(None, problem, text, version, str(exc))
        outcome = F.outcome_message(report)
        self._end_progress(ptoken, outcome)
        self._report_diagnostics(uri, text, problem, report)
        log.info("%s: %s", name, outcome, extra=USER)
        return Outcome(report, problem, text, version, outcome)

    async def _await_job(self, job: Job, ptoken) -> Any:
        """The job's result. `$/cancelRequest` for this request and cancel in its progress bar fire
        the job's token; both answer at once (Cancelled / CancelledError) while the job winds down."""
        loop = asyncio.get_running_loop()
        msg_id = self.protocol.msg_id
        self._request_tokens[msg_id] = job.token
        if ptoken is not None:
            self._progress_tokens[ptoken] = job.token
        try:
            return await _until_done_or_cancelled(job.future, job.token, loop)
        except asyncio.CancelledError:
            job.token.cancel()
            self._end_progress(ptoken, "cancelled")
            raise
        finally:
            self._request_tokens.pop(msg_id, None)
            self._progress_tokens.pop(ptoken, None)

    # ---- verifying one candidate ----------------------------------------------------------------

    async def verify_candidate(self, args: tuple) -> dict:
        """`tritonize.verifyCandidate`: verdict for one candidate against a module class (see docs/LSP.md)."""
        from ..verify.pool import WorkerStartError

        req = V.parse_request(args)  # ValueError → an error response: the caller's bug
        settings, problems = V.request_settings(self.settings, req.settings)
        if problems:
            return self._verify_failed("settings", "invalid settings: " + "; ".join(problems))
        try:
            text, path = self._problem_source(req)
            candidate = V.read_candidate(req)
            problem = await asyncio.to_thread(V.load_problem, text, req.class_name, path, settings)
        except ProblemError as err:
            return self._verify_failed(err.kind, err.message)
        target = f"{os.path.basename(path) if path else req.uri}::{problem.name}"

        ptoken = await self._begin_progress(f"Verify {req.label} against {problem.name}")
        mapper = F.ProgressMapper()
        loop = asyncio.get_running_loop()

        def on_progress(ev: ProgressEvent) -> None:
            loop.call_soon_threadsafe(self._report_progress, ptoken, mapper, ev)

        job = self.runner.submit_verify(problem, candidate, settings, on_progress)
        try:
            verification = await self._await_job(job, ptoken)
        except Cancelled:
            self._end_progress(ptoken, "cancelled")
            return {"cancelled": True}
        except ProblemError as err:  # the problem's own recipe or reference fails
            self._end_progress(ptoken, f"problem error: {err.message}")
            return self._verify_failed(err.kind, err.message)
        except WorkerStartError as err:
            self._end_progress(ptoken, f"cannot verify: {err}")
            return self._verify_failed("worker", f"cannot start a verify worker: {err}")
        except Exception as exc:  # a bug of ours: an error response, but no progress bar left open
            log.exception("verifying %s against %s failed", req.label, target)
            self._end_progress(ptoken, f"failed: {exc}")
            raise
        line = V.verdict_line(verification.result, req.label, target)
        self._end_progress(ptoken, line)
        log.info("%s", line)
        kind = lsp.MessageType.Info if verification.result.passed else lsp.MessageType.Warning
        self.window_show_message(lsp.ShowMessageParams(kind, f"tritonize: {line}"))
        return V.result_json(verification, target)

    def _problem_source(self, req: V.VerifyRequest) -> tuple[str, str | None]:
        """(text, path) of the problem file: an open document as the editor has it, else the disk."""
        if req.uri and req.uri in self.workspace.text_documents:
            doc = self.workspace.get_text_document(req.uri)
            return doc.source, doc.path
        path = req.path or to_fs_path(req.uri)
        if not path:
            raise ProblemError("read_error", f"not a file: {req.uri}")
        path = os.path.abspath(path)
        return V.read_problem_file(path), path

    def _verify_failed(self, kind: str, message: str) -> dict:
        self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Warning, f"tritonize: verify: {message}"))
        return V.error_json(kind, message)

    def _problem_error(self, uri: str, text: str, name: str, err: ProblemError) -> None:
        mod = next((m for m in self.modules(uri) if m.name == name), None)
        diag = F.problem_error_diagnostic(err, mod.name_range if mod else None)
        self.set_class_diagnostics(uri, name, ClassDiagnostics(None, 0, [diag] if diag else []))

    def _report_diagnostics(self, uri: str, text: str, problem: Problem, report: Report) -> None:
        diags = F.report_diagnostics(report, problem.name_range)
        if report.error:  # the problem (recipe, reference) is at fault: fixed anywhere in the file
            self.set_class_diagnostics(uri, problem.name, ClassDiagnostics(None, 0, diags))
            return
        class_text = _slice(text, problem.class_range)
        name_at = _offset(text, problem.name_range.start_line, problem.name_range.start_col)
        class_at = _offset(text, problem.class_range.start_line, problem.class_range.start_col)
        self.set_class_diagnostics(uri, problem.name, ClassDiagnostics(class_text, name_at - class_at, diags))

    async def _begin_progress(self, title: str):
        if not self.supports_progress():
            return None
        token = f"tritonize/{uuid.uuid4()}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception as exc:  # a client may refuse; converting without a bar is fine
            log.info("client refused a progress token: %s", exc)
            return None
        self.work_done_progress.begin(
            token, lsp.WorkDoneProgressBegin(title=title, cancellable=True, message="starting", percentage=0)
        )
        return token

    def _report_progress(self, token, mapper: F.ProgressMapper, ev: ProgressEvent) -> None:
        if token is None:
            return
        value = mapper.report(ev)
        if value is not None:
            self.work_done_progress.report(token, value)

    def _end_progress(self, token, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message=message))

    def edit_for(self, outcome: Outcome, uri: str) -> lsp.WorkspaceEdit | None:
        """The WorkspaceEdit for a finished conversion, or None (with a message saying why)."""
        report, problem = outcome.report, outcome.problem
        if report is None or problem is None:
            return None
        if report.best is None:
            self.window_show_message(lsp.ShowMessageParams(
                lsp.MessageType.Warning, f"tritonize: {problem.name}: {outcome.message}; see the diagnostics"))
            return None
        doc = self.workspace.get_text_document(uri)
        if doc.version != outcome.version or doc.source != outcome.text:
            self.window_show_message(lsp.ShowMessageParams(
                lsp.MessageType.Warning,
                f"tritonize: document changed while converting {problem.name}; run again"))
            return None
        placement = self.settings.placement
        if placement == "sibling" and not problem.path:
            placement = "inline"
        edits = compute_edits(outcome.text, problem, report, placement)
        doc_changes, create = self.supports_document_changes()
        return F.workspace_edit(uri, outcome.version, edits, document_changes=doc_changes, can_create=create,
                                path_to_uri=from_fs_path)

    # ---- settings ---------------------------------------------------------------------------

    def announce_settings_problems(self, problems: list[str]) -> None:
        # Each layer change re-validates everything: say it once, until the set of problems changes.
        if not problems or problems == self._announced:
            self._announced = problems
            return
        self._announced = problems
        text = "tritonize: invalid settings, defaults used: " + "; ".join(problems)
        log.warning(text)
        self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Warning, text))

    async def pull_configuration(self) -> None:
        ws = self._caps().workspace
        if not (ws and ws.configuration):
            return
        try:
            result = await self.workspace_configuration_async(
                lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section=SECTION)])
            )
        except Exception as exc:
            log.info("workspace/configuration failed: %s", exc)
            return
        self.announce_settings_problems(self.layers.set_config(result[0] if result else None))

    # ---- report command ---------------------------------------------------------------------

    def latest_report(self, uri: str, name: str) -> Report | None:
        doc = self.workspace.get_text_document(uri)
        return self.store_for(self.settings).latest(name, doc.path)

    def close(self) -> None:
        self.runner.close()


# ---- handlers ------------------------------------------------------------------------------------

server = None  # set by build_server(); module-level for tests that import it


def build_server() -> TritonizeServer:
    ls = TritonizeServer()

    @ls.feature(lsp.INITIALIZE)
    def initialize(ls: TritonizeServer, params: lsp.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        LogForwarder.install(ls)
        ls._settings_problems = ls.layers.set_init(params.initialization_options)

    @ls.feature(lsp.INITIALIZED)
    async def initialized(ls: TritonizeServer, params: lsp.InitializedParams) -> None:
        ls.announce_settings_problems(ls._settings_problems)
        ws = ls._caps().workspace
        if ws and ws.did_change_configuration and ws.did_change_configuration.dynamic_registration:
            try:
                await ls.client_register_capability_async(lsp.RegistrationParams(registrations=[
                    lsp.Registration(id=str(uuid.uuid4()), method=lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
                ]))
            except Exception as exc:
                log.info("could not register for configuration changes: %s", exc)
        await ls.pull_configuration()

    @ls.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: TritonizeServer, params: lsp.DidChangeConfigurationParams) -> None:
        ws = ls._caps().workspace
        if ws and ws.configuration:
            await ls.pull_configuration()
        else:
            ls.announce_settings_problems(ls.layers.set_config(params.settings))

    @ls.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TritonizeServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls._modules.pop(params.text_document.uri, None)

    @ls.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TritonizeServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.refresh_after_change(params.text_document.uri)

    @ls.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TritonizeServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls._modules.pop(uri, None)
        ls._lines.pop(uri, None)
        if ls._diagnostics.pop(uri, None) and not ls.supports_pull_diagnostics():
            ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @ls.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.RefactorRewrite], resolve_provider=True),
    )
    def code_action(ls: TritonizeServer, params: lsp.CodeActionParams):
        uri = params.text_document.uri
        only = params.context.only
        if only and not any(str(lsp.CodeActionKind.RefactorRewrite.value).startswith(str(getattr(o, "value", o)))
                            for o in only):
            return None
        doc = ls.workspace.get_text_document(uri)
        names = F.targets_at(ls.modules(uri), doc.source, params.range)
        if not names:
            return None
        blocks = set(F.block_names(doc.source))
        store = ls.store_for(ls.settings)
        targets = [F.ActionTarget(n, F.generated_name(n) in blocks, store.has(n, doc.path))
                   for n in names]
        return F.code_actions(uri, doc.version, targets, resolve_edit=ls.resolve_supports_edit(),
                              literal_support=ls.code_action_literals())

    @ls.feature(lsp.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: TritonizeServer, action: lsp.CodeAction) -> lsp.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        if "uri" not in data or "class" not in data:
            return action
        outcome = await ls.convert_class(data["uri"], data["class"], bool(data.get("rerun")))
        edit = ls.edit_for(outcome, data["uri"])
        if edit is not None:
            action.edit = edit
        return action

    @ls.command(F.CMD_CONVERT)
    async def convert_command(ls: TritonizeServer, *args):
        data = args[0] if args and isinstance(args[0], dict) else {}
        if "uri" not in data or "class" not in data:
            raise ValueError("tritonize.convert expects [{uri, class}]")
        outcome = await ls.convert_class(data["uri"], data["class"], bool(data.get("rerun")))
        edit = ls.edit_for(outcome, data["uri"])
        applied = False
        if edit is not None:
            result = await ls.workspace_apply_edit_async(
                lsp.ApplyWorkspaceEditParams(edit=edit, label=f"Tritonize {data['class']}")
            )
            applied = bool(result and result.applied)
            if not applied:
                reason = (result.failure_reason if result else None) or "the editor refused it"
                ls.window_show_message(lsp.ShowMessageParams(
                    lsp.MessageType.Warning, f"tritonize: the edit for {data['class']} was not applied: {reason}"))
        return {"applied": applied, "outcome": outcome.message}

    @ls.command(F.CMD_SHOW_REPORT)
    async def show_report_command(ls: TritonizeServer, *args):
        data = args[0] if args and isinstance(args[0], dict) else {}
        name, uri = data.get("class"), data.get("uri", "")
        report = ls.latest_report(uri, name) if name else None
        if report is None:
            ls.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Info, f"tritonize: no report for {name} yet"))
            return None
        from ..render import hover_markdown, report_text

        text = report_text(report)
        path = _write_report(ls.settings, report, text)
        w = ls._caps().window
        if w and w.show_document and w.show_document.support:
            await ls.window_show_document_async(lsp.ShowDocumentParams(uri=from_fs_path(path), take_focus=True))
        else:
            first = F.outcome_message(report)
            ls.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Info, f"tritonize: {name}: {first} (full report: {path})"))
        return {"markdown": hover_markdown(report), "text": text, "path": path}

    @ls.command(F.CMD_VERIFY)
    async def verify_candidate_command(ls: TritonizeServer, *args):
        return await ls.verify_candidate(args)

    @ls.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: TritonizeServer, params: lsp.HoverParams) -> lsp.Hover | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        line_text = ls.line_at(params.text_document.uri, params.position.line)
        if line_text is None:
            return None
        hit = F.word_at(line_text, params.position.character)
        if hit is None:
            return None
        word, start, end = hit
        name = F.hover_class(doc.source, word)
        if name is None:
            return None
        report = ls.store_for(ls.settings).latest(name, doc.path)
        if report is None:
            return None
        from ..render import hover_markdown

        line = params.position.line
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=hover_markdown(report)),
            range=lsp.Range(lsp.Position(line, start), lsp.Position(line, end)),
        )

    @ls.feature(
        lsp.TEXT_DOCUMENT_DIAGNOSTIC,
        lsp.DiagnosticOptions(identifier="tritonize", inter_file_dependencies=False, workspace_diagnostics=False),
    )
    def pull_diagnostics(ls: TritonizeServer, params: lsp.DocumentDiagnosticParams):
        return lsp.RelatedFullDocumentDiagnosticReport(items=ls.diagnostics_for(params.text_document.uri))

    @ls.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancel(ls: TritonizeServer, params: lsp.WorkDoneProgressCancelParams) -> None:
        ls.cancel_progress(params.token)

    @ls.feature(lsp.SHUTDOWN)
    def shutdown(ls: TritonizeServer, *args) -> None:
        ls.shutdown_requested = True
        ls.close()

    @ls.feature(lsp.EXIT)
    def exit_(ls: TritonizeServer, *args) -> None:
        ls.close()

    @ls.feature(DEBUG_INFO)
    def debug_info(ls: TritonizeServer, *args) -> dict:
        """For tests and `tritonize doctor`: what this process has loaded and spawned."""
        pool = ls.runner.pool
        return {
            "pid": os.getpid(),
            "heavy_modules": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY_MODULES),
            "pool_started": pool is not None,
            "running": ls.runner.running(),
            "settings": ls.settings.to_dict(),
        }

    return ls


# ---- helpers -------------------------------------------------------------------------------------


async def _until_done_or_cancelled(future, token: CancelToken, loop: asyncio.AbstractEventLoop) -> Report:
    """The job's report, or Cancelled as soon as the token fires.

    The pipeline notices a cancel at its next check (and may be waiting for a worker to start); the
    user should not wait for that: we answer at once and the job winds down in its thread.
    """
    cancelled = loop.create_future()

    def fire() -> None:
        loop.call_soon_threadsafe(lambda: cancelled.done() or cancelled.set_result(None))

    remove = token.on_cancel(fire)
    done_fut = asyncio.wrap_future(future)
    try:
        await asyncio.wait({done_fut, cancelled}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        done_fut.cancel()
        raise
    finally:
        remove()
    if done_fut.done():
        return done_fut.result()
    done_fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieve, never log
    raise Cancelled()


def _offset(text: str, line: int, col: int) -> int:
    at = 0
    for _ in range(line):
        nl = text.find("\n", at)
        if nl < 0:
            return len(text)
        at = nl + 1
    return at + col


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)


def _slice(text: str, r) -> str:
    return text[_offset(text, r.start_line, r.start_col): _offset(text, r.end_line, r.end_col)]


def _write_report(settings: Settings, report: Report, text: str) -> str:
    directory = os.path.join(settings.resolved_cache_dir(), "reports")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{report.problem_name}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return path


def serve(args: argparse.Namespace) -> int:
    """`tritonize serve [--stdio | --tcp HOST:PORT]`. Returns the process exit code."""
    global server
    configure_logging()
    ls = server = build_server()
    try:
        if getattr(args, "tcp", None):
            host, _, port = args.tcp.rpartition(":")
            ls.start_tcp(host or "127.0.0.1", int(port))
        else:
            ls.start_io()
    finally:
        ls.close()  # stdin EOF or a lost client: no worker may outlive the server
    return 0 if ls.shutdown_requested else 1
