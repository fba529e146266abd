"""JSON-RPC errors the way LSP defines them, so a client can tell its own mistake from the server's:
-32002 before `initialize`, -32602 for params that do not parse, and no traceback for a request
about a file that is neither open nor on disk."""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys
import uuid
from concurrent.futures import Future

import pytest
from lspkit import make_client, session
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig


async def _error_of(request) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as info:
        await asyncio.wait_for(request, 10)
    return info.value


def _raw_request(client, method: str, params) -> asyncio.Future:
    """A request as a buggy client writes it: params the typed client could not even serialize."""
    msg_id = f"raw-{uuid.uuid4()}"
    future: Future = Future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return asyncio.wrap_future(future)


async def test_a_request_before_initialize_gets_server_not_initialized(tmp_path: pathlib.Path):
    env = dict(os.environ, TRITONIZE_CACHE_DIR=str(tmp_path / "cache"))
    config = ClientServerConfig(server_command=[sys.executable, "-m", "tritonize.cli.main", "serve"],
                                client_factory=make_client, server_env=env)
    client = await config.start()
    try:
        hover = {"textDocument": {"uri": (tmp_path / "x.py").as_uri()}, "position": {"line": 0, "character": 0}}
        err = await _error_of(_raw_request(client, lsp.TEXT_DOCUMENT_HOVER, hover))
        assert err.code == -32002, err
        assert "traceback" not in str(err.data or "").lower()
        # and the server still initializes normally afterwards
        result = await client.initialize_session(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
        assert result.capabilities.hover_provider
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_params_that_do_not_parse_get_invalid_params(profile: str, tmp_path: pathlib.Path):
    async with session(profile, tmp_path) as client:
        err = await _error_of(_raw_request(client, lsp.TEXT_DOCUMENT_HOVER, {"textDocument": 5, "position": {"line": "x"}}))
        assert err.code == -32602 and "textDocument/hover" in err.message, err
        for arguments in ([], [{"uri": "file:///x.py"}], ["not an object"]):
            err = await _error_of(client.protocol.send_request_async(
                lsp.WORKSPACE_EXECUTE_COMMAND, lsp.ExecuteCommandParams(command="tritonize.convert", arguments=arguments)))
            assert err.code == -32602 and "{uri, class}" in err.message, (arguments, err)
        err = await _error_of(client.protocol.send_request_async(
            lsp.WORKSPACE_EXECUTE_COMMAND, lsp.ExecuteCommandParams(command="tritonize.verifyCandidate", arguments=[{}])))
        assert err.code == -32602, err
        # the server is still there and answers
        assert await client.protocol.send_request_async("tritonize/debugInfo", {})


async def test_requests_about_a_missing_unopened_file_answer_nothing(profile: str, tmp_path: pathlib.Path):
    missing = (tmp_path / "gone.py").as_uri()
    async with session(profile, tmp_path) as client:
        doc = lsp.TextDocumentIdentifier(missing)
        pos = lsp.Position(3, 4)
        actions = await client.protocol.send_request_async(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionParams(
            doc, lsp.Range(pos, pos), lsp.CodeActionContext(diagnostics=[])))
        assert actions is None
        assert await client.text_document_hover_async(lsp.HoverParams(doc, pos)) is None
        assert not await client.text_document_code_lens_async(lsp.CodeLensParams(doc))
        result = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
            command="tritonize.convert", arguments=[{"uri": missing, "class": "Gone"}]))
        assert result["applied"] is False and "cannot be read" in result["outcome"]
