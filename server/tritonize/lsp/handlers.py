"""Every LSP method tritonize answers, registered in one place; each handler is a few lines.

Handlers translate a request into a call on the server's public API (state.py) or one of the flows
(conversion.py, verification.py, reports.py) and return the answer; they hold no logic of their own.
"""

from __future__ import annotations

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams

from . import conversion, reports, verification
from . import features as F
from .state import TritonizeServer

DEBUG_INFO = "tritonize/debugInfo"
SYNC = "tritonize/sync"


def _request(args: tuple, command: str) -> dict:
    """The single `{uri, class, ...}` argument object of a convert or report command."""
    data = args[0] if args and isinstance(args[0], dict) else {}
    if command in (F.CMD_CONVERT, F.CMD_REMOVE) and not (
            isinstance(data.get("uri"), str) and isinstance(data.get("class"), str)):
        raise JsonRpcInvalidParams(f"{command} expects [{{uri, class}}]")
    return data


def register(ls: TritonizeServer) -> None:
    # ---- lifecycle and settings ---------------------------------------------------------------

    @ls.feature(lsp.INITIALIZE)
    def initialize(ls: TritonizeServer, params: lsp.InitializeParams) -> None:
        ls.on_initialize(params)

    @ls.feature(lsp.INITIALIZED)
    async def initialized(ls: TritonizeServer, params: lsp.InitializedParams) -> None:
        await ls.on_initialized()

    @ls.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: TritonizeServer, params: lsp.DidChangeConfigurationParams) -> None:
        await ls.on_configuration_changed(params.settings)

    @ls.feature(lsp.SHUTDOWN)
    def shutdown(ls: TritonizeServer, *args) -> None:
        ls.on_shutdown()

    @ls.feature(lsp.EXIT)
    def exit_(ls: TritonizeServer, *args) -> None:
        ls.close()

    # ---- documents ----------------------------------------------------------------------------

    @ls.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TritonizeServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.document_opened(params.text_document.uri)

    @ls.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TritonizeServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.document_changed(params.text_document.uri)

    @ls.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TritonizeServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.document_closed(params.text_document.uri)

    # ---- conversions --------------------------------------------------------------------------

    @ls.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.RefactorRewrite], resolve_provider=True),
    )
    async def code_action(ls: TritonizeServer, params: lsp.CodeActionParams):
        return await conversion.list_actions(ls, params.text_document.uri, params.range, params.context.only)

    @ls.feature(lsp.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: TritonizeServer, action: lsp.CodeAction) -> lsp.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        if isinstance(data.get("candidate"), str):
            outcome = await conversion.choose_candidate(ls, data["uri"], data["class"], data["candidate"])
            action.edit = await conversion.edit_for(ls, outcome, data["uri"]) or action.edit
        elif "uri" in data and "class" in data:
            outcome = await conversion.convert_class(ls, data["uri"], data["class"], bool(data.get("rerun")))
            action.edit = await conversion.edit_for(ls, outcome, data["uri"]) or action.edit
        return action

    @ls.command(F.CMD_CONVERT)
    async def convert_command(ls: TritonizeServer, *args) -> dict:
        data = _request(args, F.CMD_CONVERT)
        candidate = data.get("candidate") if isinstance(data.get("candidate"), str) else None
        return await conversion.convert_and_apply(ls, data["uri"], data["class"], bool(data.get("rerun")), candidate)

    @ls.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancel(ls: TritonizeServer, params: lsp.WorkDoneProgressCancelParams) -> None:
        ls.cancels.cancel_progress(params.token)

    # ---- verification -------------------------------------------------------------------------

    @ls.command(F.CMD_VERIFY)
    async def verify_candidate_command(ls: TritonizeServer, *args) -> dict:
        return await verification.verify_candidate(ls, args)

    # ---- reports and diagnostics --------------------------------------------------------------

    @ls.feature(lsp.TEXT_DOCUMENT_HOVER)
    async def hover(ls: TritonizeServer, params: lsp.HoverParams) -> lsp.Hover | None:
        return await reports.hover(ls, params.text_document.uri, params.position)

    @ls.command(F.CMD_SHOW_REPORT)
    async def show_report_command(ls: TritonizeServer, *args) -> dict | None:
        data = _request(args, F.CMD_SHOW_REPORT)
        return await reports.show_report(ls, data.get("uri", ""), data.get("class"), data.get("show") is not False)

    @ls.feature(lsp.TEXT_DOCUMENT_CODE_LENS, lsp.CodeLensOptions(resolve_provider=False))
    async def code_lens(ls: TritonizeServer, params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
        return await reports.code_lenses(ls, params.text_document.uri)

    @ls.command(F.CMD_REMOVE)
    async def remove_command(ls: TritonizeServer, *args) -> dict:
        data = _request(args, F.CMD_REMOVE)
        return await reports.remove_kernel(ls, data["uri"], data["class"])

    @ls.feature(
        lsp.TEXT_DOCUMENT_DIAGNOSTIC,
        lsp.DiagnosticOptions(identifier="tritonize", inter_file_dependencies=False, workspace_diagnostics=False),
    )
    def pull_diagnostics(ls: TritonizeServer, params: lsp.DocumentDiagnosticParams):
        return lsp.RelatedFullDocumentDiagnosticReport(items=ls.diagnostics_for(params.text_document.uri))

    @ls.feature(SYNC)
    def sync(ls: TritonizeServer, *args) -> None:
        """Sent by the Neovim plugin to flush the changes its client holds back: nothing to do."""

    @ls.feature(DEBUG_INFO)
    def debug_info(ls: TritonizeServer, *args) -> dict:
        return ls.debug_info()
