"""What the client can do, read once from `initialize`'s ClientCapabilities.

Every "does the client support X" question the server asks is a field here, so the handlers never
walk the nested capability records (any level of which a client may leave out).
"""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types as lsp


@dataclass(frozen=True)
class ClientSupport:
    resolve_edit: bool = False  # codeAction/resolve may fill in `edit` (else: a command does the work)
    code_action_literals: bool = False  # CodeAction objects, not bare Commands
    pull_diagnostics: bool = False  # textDocument/diagnostic (else: publishDiagnostics)
    diagnostic_refresh: bool = False  # workspace/diagnostic/refresh
    progress: bool = False  # window/workDoneProgress
    document_changes: bool = False  # WorkspaceEdit.documentChanges, pinned to a version
    create_files: bool = False  # CreateFile in documentChanges
    show_document: bool = False  # window/showDocument
    configuration: bool = False  # workspace/configuration
    register_configuration: bool = False  # dynamic registration of didChangeConfiguration
    apply_edit: bool = False  # workspace/applyEdit (else: the edit and the kernel go in the command's result)
    change_annotations: bool = False  # WorkspaceEdit.changeAnnotations (a refactor preview to confirm)
    code_lens_refresh: bool = False  # workspace/codeLens/refresh

    @classmethod
    def of(cls, caps: lsp.ClientCapabilities | None) -> ClientSupport:
        caps = caps or lsp.ClientCapabilities()
        td, ws, win = caps.text_document, caps.workspace, caps.window
        ca = td.code_action if td else None
        props = ca.resolve_support.properties if ca and ca.resolve_support else []
        we = ws.workspace_edit if ws else None
        change_config = ws.did_change_configuration if ws else None
        return cls(
            resolve_edit="edit" in (props or []),
            code_action_literals=bool(ca and ca.code_action_literal_support),
            pull_diagnostics=bool(td and td.diagnostic),
            diagnostic_refresh=bool(ws and ws.diagnostics and ws.diagnostics.refresh_support),
            progress=bool(win and win.work_done_progress),
            document_changes=bool(we and we.document_changes),
            create_files=bool(we and we.resource_operations
                              and lsp.ResourceOperationKind.Create in we.resource_operations),
            show_document=bool(win and win.show_document and win.show_document.support),
            configuration=bool(ws and ws.configuration),
            register_configuration=bool(change_config and change_config.dynamic_registration),
            apply_edit=bool(ws and ws.apply_edit),
            change_annotations=bool(we and we.change_annotation_support and we.document_changes),
            code_lens_refresh=bool(ws and ws.code_lens and ws.code_lens.refresh_support),
        )
