"""pytest-lsp helpers: start `tritonize serve` over stdio as a VS Code-like or a Neovim-0.7-like client.

The two profiles differ where the server must behave differently:
- vscode: codeAction/resolve for `edit`, pull diagnostics, workspace/configuration, progress;
- neovim: no codeAction/resolve (gets a `tritonize.convert` command), push diagnostics only,
  no workspace/configuration (settings via didChangeConfiguration), progress.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import sys

import procs  # tests/procs.py: the one place that walks /proc
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

HERE = pathlib.Path(__file__).parent
FIXTURES = HERE / "fixtures"
ROOT = HERE.parent.parent
PROFILES = ("vscode", "neovim")


def capabilities(profile: str) -> lsp.ClientCapabilities:
    if profile == "vscode":
        caps = client_capabilities("visual-studio-code")
        caps.text_document.diagnostic = lsp.DiagnosticClientCapabilities(dynamic_registration=False)
        caps.text_document.code_action.resolve_support = lsp.ClientCodeActionResolveOptions(properties=["edit"])
        return caps
    caps = client_capabilities("neovim@v0.7.0")
    caps.text_document.code_action.resolve_support = None
    caps.text_document.diagnostic = None
    caps.window.work_done_progress = True
    return caps


def make_client() -> LanguageClient:
    client = make_test_lsp_client()
    client.applied_edits = []  # type: ignore[attr-defined]
    client.edit_requests = []  # type: ignore[attr-defined]  every workspace/applyEdit, answered or not
    # A test may answer workspace/applyEdit its own way: an async callable (params) → result.
    client.on_apply_edit = None  # type: ignore[attr-defined]

    @client.feature(lsp.WORKSPACE_APPLY_EDIT)
    async def apply_edit(client: LanguageClient, params: lsp.ApplyWorkspaceEditParams):
        client.edit_requests.append(params)  # type: ignore[attr-defined]
        if client.on_apply_edit is not None:  # type: ignore[attr-defined]
            result = await client.on_apply_edit(params)  # type: ignore[attr-defined]
            if result.applied:
                client.applied_edits.append(params)  # type: ignore[attr-defined]
            return result
        client.applied_edits.append(params)  # type: ignore[attr-defined]
        return lsp.ApplyWorkspaceEditResult(applied=True)

    # lsprotocol structures a CodeAction that carries a command as a bare Command (a client-side
    # converter quirk): take codeAction results raw and structure them in `code_actions` instead.
    orig = client.protocol.get_result_type
    client.protocol.get_result_type = lambda m: None if m == lsp.TEXT_DOCUMENT_CODE_ACTION else orig(m)
    return client


async def code_actions(client: LanguageClient, uri: str, rng: lsp.Range) -> list:
    params = lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), range=rng, context=lsp.CodeActionContext(diagnostics=[])
    )
    raw = await client.protocol.send_request_async(lsp.TEXT_DOCUMENT_CODE_ACTION, params)
    conv = client.protocol._converter
    return [conv.structure(a, lsp.Command if isinstance(a.get("command"), str) else lsp.CodeAction) for a in raw or []]


@contextlib.asynccontextmanager
async def session(profile: str, tmp_path: pathlib.Path, *, init_options=None, configuration=None,
                  position_encodings: list[str] | None = None, caps: lsp.ClientCapabilities | None = None):
    """A started and initialized server; shut down (and checked to have exited) afterwards.

    `position_encodings`: what the client says it can count columns in, most preferred first
    (Neovim 0.10+ sends utf-8, utf-16, utf-32). `client.initialize_result` keeps the answer.
    """
    env = dict(os.environ)
    env["TRITONIZE_CACHE_DIR"] = str(tmp_path / "cache")
    env.setdefault("TRITON_INTERPRET", "1")
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "tritonize.cli.main", "serve"],
        client_factory=make_client,
        server_env=env,
    )
    client = await config.start()
    if configuration is not None and profile == "vscode":
        client.set_configuration(configuration)
    caps = caps or capabilities(profile)
    if position_encodings is not None:
        caps.general = lsp.GeneralClientCapabilities(position_encodings=position_encodings)
    client.initialize_result = await client.initialize_session(  # type: ignore[attr-defined]
        lsp.InitializeParams(
            capabilities=caps,
            initialization_options=init_options,
            root_uri=tmp_path.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=tmp_path.as_uri(), name="ws")],
        )
    )
    try:
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


async def convert(client, profile: str, uri: str, line: int, *, msg_id: str | None = None):
    """Run the listed conversion the way this client would; returns (edit or None, command result)."""
    (action,) = [a for a in await code_actions(client, uri, lsp.Range(lsp.Position(line, 8), lsp.Position(line, 8)))
                 if a.title.startswith(("Convert", "Re-run")) and " — " not in a.title]  # not a chosen candidate
    if profile == "vscode":
        fut = client.protocol.send_request_async(lsp.CODE_ACTION_RESOLVE, action, msg_id=msg_id)
        resolved = await fut
        return resolved.edit, None
    cmd = action.command
    before = len(client.applied_edits)
    result = await client.protocol.send_request_async(
        lsp.WORKSPACE_EXECUTE_COMMAND, lsp.ExecuteCommandParams(command=cmd.command, arguments=cmd.arguments),
        msg_id=msg_id,
    )
    edits = client.applied_edits[before:]
    return (edits[-1].edit if edits else None), result


def copy_fixture(tmp_path: pathlib.Path, name: str, src: pathlib.Path | None = None) -> pathlib.Path:
    dst = tmp_path / name
    shutil.copy(src or FIXTURES / name, dst)
    return dst


def open_doc(client: LanguageClient, path: pathlib.Path, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=version, text=path.read_text())
        )
    )
    return uri


def change_doc(client: LanguageClient, uri: str, version: int, line: int, text: str) -> None:
    """Insert `text` at the start of `line`."""
    pos = lsp.Position(line, 0)
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangePartial(range=lsp.Range(pos, pos), text=text)],
        )
    )


def line_of(path: pathlib.Path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines()):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


async def debug_info(client: LanguageClient) -> dict:
    """The server's own view of itself (custom request): pid, heavy modules loaded, settings."""
    return _plain(await client.protocol.send_request_async("tritonize/debugInfo", {}))


def _plain(value):
    """pygls hands results of custom requests over as namedtuples; tests want dicts."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def diagnostics(client: LanguageClient, profile: str, uri: str) -> list[lsp.Diagnostic]:
    """What the editor shows: pulled (vscode) or the last pushed set (neovim)."""
    if profile == "vscode":
        report = await client.text_document_diagnostic_async(
            lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )
        return list(report.items)
    return list(client.diagnostics.get(uri, []))


alive = procs.alive
children_of = procs.descendants
