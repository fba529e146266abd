"""The stdio front of the server (lsp/bootstrap.py): `initialize` is answered from the answer the
real server gave before, while pygls loads; nothing the client sends meanwhile is lost or
reordered; `shutdown` and `exit` work at any moment; a stored answer that is wrong, and a server
that cannot load, are said in the log.

These tests speak raw JSON-RPC over the server's real stdin/stdout: they must see every byte the
server writes (a duplicate `initialize` answer would be a bug) and control when each message goes.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import pathlib
import sys

import pytest
from lspkit import FIXTURES, capabilities, line_of
from lsprotocol import types as lsp
from pygls.protocol import default_converter

CONVERTER = default_converter()


class Raw:
    """A JSON-RPC peer over a `tritonize serve` subprocess; every message the server sends is kept."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.received: list[dict] = []
        self._waiters: dict[object, asyncio.Future] = {}
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, cache: pathlib.Path, **env_extra: str) -> Raw:
        env = dict(os.environ, TRITONIZE_CACHE_DIR=str(cache), TRITONIZE_LOG_LEVEL="INFO", **env_extra)
        env.setdefault("TRITON_INTERPRET", "1")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tritonize.cli.main", "serve", env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return cls(proc)

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, msg_id: int, method: str, params=None) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._waiters[msg_id] = fut
        self.send({"id": msg_id, "method": method, "params": params})
        return fut

    async def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = await out.readline()
                if not line:
                    return
                if line == b"\r\n":
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            message = json.loads(await out.readexactly(length))
            self.received.append(message)
            if "method" in message and "id" in message:  # a request from the server: accept it
                self.send({"id": message["id"], "result": None})
            elif "method" not in message and message.get("id") in self._waiters:
                self._waiters.pop(message["id"]).set_result(message)

    async def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the process to end; its exit code and its log."""
        rc = await asyncio.wait_for(self.proc.wait(), timeout)
        await self._reader
        return rc, (await self.proc.stderr.read()).decode()

    async def close(self) -> tuple[int, str]:
        shutdown = await asyncio.wait_for(self.request(9999, "shutdown"), 60)
        assert shutdown.get("result", "missing") is None, shutdown
        self.send({"method": "exit"})
        self.proc.stdin.close()
        return await self.finish()


def _caps(name: str) -> dict:
    if name in ("vscode", "neovim"):
        caps = capabilities(name)
    elif name == "neovim-0.10-utf8":  # lists utf-8 first: the server still answers utf-16
        caps = capabilities("neovim")
        caps.general = lsp.GeneralClientCapabilities(position_encodings=["utf-8", "utf-16", "utf-32"])
    else:
        caps = lsp.ClientCapabilities()
    return CONVERTER.unstructure(caps)


def _initialize(client: Raw, caps: dict, root: pathlib.Path) -> asyncio.Future:
    return client.request(1, "initialize", {
        "processId": os.getpid(), "capabilities": caps, "rootUri": root.as_uri(),
        "workspaceFolders": [{"uri": root.as_uri(), "name": "ws"}]})


async def _session_answer(cache: pathlib.Path, caps: dict, root: pathlib.Path) -> tuple[dict, bool, list[dict]]:
    """One whole session: the initialize answer, whether it came early, every message received."""
    client = await Raw.start(cache)
    answer = await asyncio.wait_for(_initialize(client, caps, root), 60)
    client.send({"method": "initialized", "params": {}})
    info = await asyncio.wait_for(client.request(2, "tritonize/debugInfo", {}), 60)
    rc, log = await client.close()
    assert rc == 0, log
    return answer, info["result"]["early_initialize"], client.received


async def _stored(cache: pathlib.Path, tmp_path: pathlib.Path) -> list[str]:
    """Run one session so the server stores its initialize answer; the stored files."""
    await _session_answer(cache, _caps("bare"), tmp_path)
    files = glob.glob(str(cache / "lsp" / "initialize-*.json"))
    assert len(files) == 1, files
    return files


@pytest.mark.parametrize("client_name", ["vscode", "neovim", "neovim-0.10-utf8", "bare"])
async def test_the_early_answer_is_the_one_pygls_gives(client_name: str, tmp_path: pathlib.Path):
    cache, caps = tmp_path / "cache", _caps(client_name)
    # nothing stored yet: pygls answers (and the answer is stored)
    own, early, received = await _session_answer(cache, caps, tmp_path)
    assert not early
    assert glob.glob(str(cache / "lsp" / "initialize-*.json"))
    # stored: the front answers while pygls loads, with exactly what pygls said
    fast, early, received = await _session_answer(cache, caps, tmp_path)
    assert early
    assert fast == own
    assert fast["result"]["capabilities"]["positionEncoding"] == "utf-16"
    # and pygls's own answer to the replayed initialize was not sent as well
    assert [m for m in received if m.get("id") == 1] == [fast]


async def test_messages_sent_while_the_server_loads_are_all_answered_in_order(tmp_path: pathlib.Path):
    cache = tmp_path / "cache"
    await _stored(cache, tmp_path)
    path = tmp_path / "two_modules.py"
    # a document bigger than one pipe read, so the front sees it arrive in pieces
    text = (FIXTURES / "two_modules.py").read_text() + "".join(f"# filler {i:06d} {'.' * 60}\n" for i in range(3000))
    path.write_text(text)
    uri = path.as_uri()
    client = await Raw.start(cache)
    # everything at once, without waiting for any answer
    init = _initialize(client, _caps("neovim"), tmp_path)
    client.send({"method": "initialized", "params": {}})
    client.send({"method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": text}}})
    line = line_of(path, "class Scale")
    pos = {"line": line, "character": 8}
    actions = client.request(2, "textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": pos, "end": pos}, "context": {"diagnostics": []}})
    client.send({"method": "textDocument/didChange", "params": {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"range": {"start": {"line": line, "character": 6},
                                      "end": {"line": line, "character": 11}}, "text": "Gain"}]}})
    actions_after = client.request(3, "textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": pos, "end": pos}, "context": {"diagnostics": []}})
    info = client.request(4, "tritonize/debugInfo", {})
    answers = await asyncio.wait_for(asyncio.gather(init, actions, actions_after, info), 90)
    assert "capabilities" in answers[0]["result"]
    assert [a["title"] for a in answers[1]["result"]] == ["Convert Scale to Triton kernel"]
    assert [a["title"] for a in answers[2]["result"]] == ["Convert Gain to Triton kernel"]  # after the change
    assert answers[3]["result"]["early_initialize"] is True
    assert [m["id"] for m in client.received if m.get("id") in (1, 2, 3, 4) and "method" not in m] == [1, 2, 3, 4]
    rc, log = await client.close()
    assert rc == 0, log


@pytest.mark.parametrize("after_shutdown", [True, False])
async def test_shutdown_and_exit_right_after_initialize(after_shutdown: bool, tmp_path: pathlib.Path):
    cache = tmp_path / "cache"
    await _stored(cache, tmp_path)
    client = await Raw.start(cache)
    await asyncio.wait_for(_initialize(client, _caps("vscode"), tmp_path), 60)
    if after_shutdown:
        client.send({"method": "initialized", "params": {}})
        shutdown = await asyncio.wait_for(client.request(2, "shutdown"), 60)
        assert shutdown["result"] is None
    client.send({"method": "exit"})  # whether or not the server has finished loading
    rc, log = await client.finish()
    assert rc == (0 if after_shutdown else 1), log


async def test_a_wrong_stored_answer_is_logged_and_replaced(tmp_path: pathlib.Path):
    cache = tmp_path / "cache"
    (stored,) = await _stored(cache, tmp_path)
    good = json.loads(pathlib.Path(stored).read_text())
    bad = json.loads(json.dumps(good))
    del bad["result"]["capabilities"]["hoverProvider"]
    pathlib.Path(stored).write_text(json.dumps(bad))
    client = await Raw.start(cache)
    answer = await asyncio.wait_for(_initialize(client, _caps("bare"), tmp_path), 60)
    assert "hoverProvider" not in answer["result"]["capabilities"]  # what was stored went out...
    client.send({"method": "initialized", "params": {}})
    await asyncio.wait_for(client.request(2, "tritonize/debugInfo", {}), 60)
    rc, log = await client.close()
    assert rc == 0
    assert "ERROR" in log and "differed from the server's in capabilities" in log  # ...and the log says so
    assert json.loads(pathlib.Path(stored).read_text())["result"] == good["result"]  # replaced
    again, early, _ = await _session_answer(cache, _caps("bare"), tmp_path)
    assert early and again["result"] == good["result"]


@pytest.mark.parametrize("stored", [True, False])
async def test_a_server_that_cannot_load_says_so_and_still_shuts_down(stored: bool, tmp_path: pathlib.Path):
    cache = tmp_path / "cache"
    if stored:
        await _stored(cache, tmp_path)
    broken = tmp_path / "broken"
    (broken / "pygls").mkdir(parents=True)
    (broken / "pygls" / "__init__.py").write_text("raise ImportError('pygls is broken in this test')\n")
    client = await Raw.start(cache, PYTHONPATH=os.pathsep.join([str(broken), os.environ.get("PYTHONPATH", "")]))
    init = await asyncio.wait_for(_initialize(client, _caps("vscode"), tmp_path), 60)
    if stored:
        assert "capabilities" in init["result"]
        client.send({"method": "initialized", "params": {}})
        answer = await asyncio.wait_for(client.request(2, "textDocument/hover", {
            "textDocument": {"uri": (tmp_path / "x.py").as_uri()}, "position": {"line": 0, "character": 0}}), 60)
    else:
        answer = init
    assert answer["error"]["code"] == -32603
    assert "could not start" in answer["error"]["message"] and "pygls is broken" in answer["error"]["message"]
    if stored:
        shown = [m for m in client.received if m.get("method") == "window/showMessage"]
        assert len(shown) == 1 and "could not start" in shown[0]["params"]["message"]
    rc, log = await client.close()
    assert rc == 0
    assert "Traceback" in log and "ImportError: pygls is broken in this test" in log
