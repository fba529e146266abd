"""`tritonize serve` over stdio: answer `initialize` while the language server loads.

Importing pygls and lsprotocol (about 600 attrs classes built at import) takes most of a second,
and pygls cannot answer `initialize` before it is done. The editor waits for that answer before
it sends anything else, so this module, which imports nothing but the standard library, stands in
front of pygls for that time:

1. A reader thread reads the framed JSON-RPC stream from stdin while the main thread imports and
   builds the server. When the first message is `initialize` and a stored answer matches this
   server (`<cache dir>/lsp/initialize-<key>.json`, written from the real server's own answer; the
   key hashes the tritonize, pygls and lsprotocol versions and the source of every module of this
   package, where the features are registered), it answers at once with exactly that result.
2. Every byte read stays queued, in order. When the server is ready the reader stops at once and
   pygls reads the queue (the `initialize` first, replayed) and then stdin itself; nothing is
   parsed twice by pygls, lost or reordered.
3. pygls answers the replayed `initialize` too: that duplicate is not sent. It is compared with the
   answer already given; a difference is logged as an error and the stored answer rewritten (the
   next start is right again). With no stored answer (first start after an upgrade), pygls's answer
   goes out as usual and is stored.
4. `exit` before the server is ready ends the process at once (nothing has started yet; code 0
   after `shutdown`, else 1); `shutdown` waits in the queue like any request. When the server
   cannot be loaded at all, the traceback goes to the log and every request is answered with an
   error that says so (`shutdown` and `exit` still work).

Requests before `initialize` are not answered here: they reach pygls, which says -32002.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import select
import sys
import threading
import time
from typing import Any

from ..settings import Settings
from .logs import configure as configure_logging
from .version import server_version

log = logging.getLogger("tritonize.lsp.bootstrap")

HEADER_END = b"\r\n\r\n"
CONTENT_TYPE = "application/vscode-jsonrpc; charset=utf-8"
# Bodies longer than this are not parsed by the reader: `exit` and `shutdown` are tiny.
PEEK_LIMIT = 4096
# The distributions whose code builds the InitializeResult, besides tritonize itself.
DEPENDENCIES = ("pygls", "lsprotocol")
SERVER_ERROR = -32603


# ---- the stored answer ----------------------------------------------------------------------------


def _dist_versions(names: tuple[str, ...]) -> dict[str, str]:
    """name → version of the installed distributions, from their .dist-info folder names."""
    found: dict[str, str] = {}
    prefixes = {n.replace("-", "_").lower() + "-": n for n in names}
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        for name in listing:
            if not name.endswith(".dist-info"):
                continue
            low = name.lower()
            for prefix, dist in prefixes.items():
                if dist not in found and low.startswith(prefix):
                    found[dist] = name[len(prefix):-len(".dist-info")]
    return found


def answer_key() -> str:
    """What the InitializeResult depends on: the versions of tritonize, pygls and lsprotocol and the
    source of this package (handlers.py registers the features, state.py shapes `initialize`)."""
    h = hashlib.sha256()
    h.update(f"tritonize={server_version()}\n".encode())
    for name, version in sorted(_dist_versions(DEPENDENCIES).items()):
        h.update(f"{name}={version}\n".encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()[:20]


def answer_path(key: str, cache_dir: str | None = None) -> str:
    return os.path.join(cache_dir or Settings().resolved_cache_dir(), "lsp", f"initialize-{key}.json")


def load_answer(path: str, key: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            stored = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the stored initialize answer %s: %s", path, exc)
        return None
    if not isinstance(stored, dict) or stored.get("key") != key or not isinstance(stored.get("result"), dict):
        log.warning("ignoring the stored initialize answer %s: not for this server", path)
        return None
    return stored["result"]


def store_answer(path: str, key: str, result: dict) -> None:
    """Written next to the other files of the cache directory; atomically (servers may start together)."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"key": key, "tritonize": server_version(), "result": result}, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not store the initialize answer in %s: %s", path, exc)


# ---- framing --------------------------------------------------------------------------------------


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return f"Content-Length: {len(body)}\r\nContent-Type: {CONTENT_TYPE}\r\n\r\n".encode("ascii") + body


def next_message(buf: bytes | bytearray, start: int) -> tuple[int, int] | None:
    """(body start, body end) of the complete message at `start`, None when it is not all there yet.
    Raises ValueError for a header without Content-Length."""
    head_end = buf.find(HEADER_END, start)
    if head_end < 0:
        return None
    length = None
    for line in bytes(buf[start:head_end]).split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError("a message header without Content-Length")
    body = head_end + len(HEADER_END)
    if len(buf) < body + length:
        return None
    return body, body + length


def _body_of(data: bytes) -> Any:
    """The JSON body of one framed message as pygls writes it (one write per message)."""
    at = data.find(HEADER_END)
    try:
        return json.loads(data[at + len(HEADER_END):] if at >= 0 else data)
    except ValueError:
        return None


# ---- the reader in front of pygls -----------------------------------------------------------------


class Front:
    """Reads stdin until the server is ready, answering `initialize` from the stored answer."""

    def __init__(self, fd: int, out: Any, answer: dict | None) -> None:
        self.fd = fd
        self.out = out  # binary stdout
        self.answer = answer  # the stored InitializeResult, if any
        self.buf = bytearray()  # every byte read so far, in order (handed to pygls as it is)
        self.scanned = 0  # offset of the first message not looked at yet
        self.initialize_id: Any = None  # id of `initialize` when it was the first message
        self.answered = False  # the stored answer was sent
        self.answered_at: float | None = None
        self.shutdown_seen = False
        self.eof = False
        self._unframed = False  # something we could not frame: leave all of it to pygls
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="tritonize-bootstrap", daemon=True)
        self.write_lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> bytes:
        """Stop reading (at once, between two reads) and return everything read."""
        os.write(self._wake_w, b"x")
        self._thread.join()
        os.close(self._wake_r)
        os.close(self._wake_w)
        return bytes(self.buf)

    def _run(self) -> None:
        try:
            while True:
                ready, _, _ = select.select([self.fd, self._wake_r], [], [])
                if self._wake_r in ready:
                    return
                data = os.read(self.fd, 1 << 16)
                if not data:
                    self.eof = True
                    return
                self.buf += data
                self._scan()
        except Exception:  # the server still gets every byte read; only the early answer is lost
            log.exception("the stdin reader in front of the server failed")

    def _scan(self) -> None:
        while not self._unframed:
            try:
                span = next_message(self.buf, self.scanned)
            except ValueError as exc:
                log.warning("cannot frame the client's messages (%s); the server will read them", exc)
                self._unframed = True
                return
            if span is None:
                return
            first = self.scanned == 0
            self.scanned = span[1]
            body_start, end = span
            if first or end - body_start <= PEEK_LIMIT:
                try:
                    message = json.loads(bytes(self.buf[body_start:end]))
                except ValueError:
                    message = None
                if isinstance(message, dict):
                    self._look_at(message, first)

    def _look_at(self, message: dict, first: bool) -> None:
        method = message.get("method")
        if first and method == "initialize" and "id" in message:
            self.initialize_id = message["id"]
            if self.answer is not None:
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": self.answer})
                self.answered = True
                self.answered_at = time.monotonic()
        elif method == "shutdown":
            self.shutdown_seen = True
        elif method == "exit":
            code = 0 if self.shutdown_seen else 1
            log.info("exit before the server finished loading: leaving now (code %d)", code)
            logging.shutdown()
            os._exit(code)

    def send(self, message: dict) -> None:
        with self.write_lock:
            self.out.write(frame(message))
            self.out.flush()

    # ---- when the server cannot be loaded -----------------------------------------------------

    def serve_failure(self, reason: str) -> int:
        """Answer every request with an error saying the server could not start, until `exit` or
        the end of input. Runs on the main thread once the reader has stopped."""
        buf = bytearray(self.stop())
        at, told = 0, False
        shutdown = False
        while True:
            span = next_message(buf, at) if not self._unframed else None
            if span is None:
                if self.eof:
                    return 1
                data = os.read(self.fd, 1 << 16)
                if not data:
                    return 1
                buf += data
                continue
            at = span[1]
            try:
                message = json.loads(bytes(buf[span[0]:span[1]]))
            except ValueError:
                continue
            if not isinstance(message, dict) or "method" not in message:
                continue
            method = message["method"]
            if method == "exit":
                return 0 if shutdown else 1
            if "id" not in message:
                continue
            if method == "shutdown":
                shutdown = True
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                continue
            if method == "initialize" and message["id"] == self.initialize_id and self.answered:
                continue  # answered already (the replayed copy of the first message)
            if not told and (self.answered or method != "initialize"):
                told = True  # once, before the first error answer (a client may show only this)
                self.send({"jsonrpc": "2.0", "method": "window/showMessage",
                           "params": {"type": 1, "message": f"tritonize: {reason}"}})
            self.send({"jsonrpc": "2.0", "id": message["id"],
                       "error": {"code": SERVER_ERROR, "message": f"tritonize: {reason}"}})


# ---- what pygls reads and writes after the hand-over ----------------------------------------------


class _Replay(io.RawIOBase):
    """The bytes the reader read, then stdin itself."""

    def __init__(self, prefix: bytes, fd: int) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._file = io.FileIO(fd, "rb", closefd=False)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._prefix:
            n = min(len(b), len(self._prefix))
            b[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return self._file.readinto(b)


class _Out:
    """stdout for pygls: drops its answer to the replayed `initialize` when the stored one went out
    (checking that they are the same), stores it when none did."""

    def __init__(self, out: Any, front: Front, key: str, path: str) -> None:
        self._out = out
        self._front = front
        self._key = key
        self._path = path
        self._waiting = front.initialize_id is not None

    def write(self, data: bytes) -> None:
        if self._waiting:
            message = _body_of(data)
            if isinstance(message, dict) and "method" not in message and message.get("id") == self._front.initialize_id:
                self._waiting = False
                if self._front.answered:
                    self._check(message)
                    return
                if isinstance(message.get("result"), dict):
                    store_answer(self._path, self._key, message["result"])
        with self._front.write_lock:
            self._out.write(data)
            self._out.flush()

    def _check(self, message: dict) -> None:
        front = self._front
        if "error" in message:
            text = f"the server failed to initialize after the early answer: {message['error'].get('message')}"
            log.error("%s", text)
            self.write(frame({"jsonrpc": "2.0", "method": "window/showMessage",
                              "params": {"type": 1, "message": f"tritonize: {text}"}}))
            return
        result = message.get("result")
        if result != front.answer:
            keys = sorted(k for k in set(result or {}) | set(front.answer or {})
                          if (result or {}).get(k) != (front.answer or {}).get(k))
            log.error("the early initialize answer (%s) differed from the server's in %s; stored the "
                      "server's: restart the language server", self._path, ", ".join(keys) or "its type")
            if isinstance(result, dict):
                store_answer(self._path, self._key, result)
            return
        lead = (time.monotonic() - front.answered_at) * 1000 if front.answered_at else 0.0
        log.info("initialize was answered %.0f ms before the server was ready; the server's answer is the same", lead)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.close()


# ---- entry point ----------------------------------------------------------------------------------


def serve_stdio(args: argparse.Namespace) -> int:
    """`tritonize serve --stdio`. Returns the process exit code."""
    configure_logging()
    if os.name == "nt" or os.environ.get("TRITONIZE_LSP_BOOTSTRAP") == "0":  # select() needs sockets there
        from .server import serve

        return serve(args)
    key = answer_key()
    path = answer_path(key)
    stdin_fd, stdout = sys.stdin.fileno(), sys.stdout.buffer
    front = Front(stdin_fd, stdout, load_answer(path, key))
    front.start()
    try:
        from .server import build_server, run_io

        ls = build_server()
    except Exception as exc:
        log.exception("the language server could not start")
        return front.serve_failure(f"the language server could not start ({type(exc).__name__}: {exc}); see its log")
    queued = front.stop()
    ls.early_initialize = front.answered
    return run_io(ls, io.BufferedReader(_Replay(queued, stdin_fd)), _Out(stdout, front, key, path))
