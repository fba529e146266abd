"""Wire format between the pool (server process) and a verify worker.

Messages are JSON objects framed by a 4-byte big-endian length, sent over a dedicated pipe pair,
never over stdout/stderr: a candidate that prints (or writes garbage to fd 1) cannot corrupt the
protocol. JSON rather than pickle because the worker runs untrusted code: the server must never
unpickle what a worker sends.

The messages themselves (job, activate, exit; ready, hello, stage, result) are the typed classes of
messages.py; this module only frames dicts. The model host (generate/host_client.py) uses the same
framing for its own messages.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct(">I")
MAX_MESSAGE = 256 * 1024 * 1024  # a larger length prefix means the stream is corrupt


class ProtocolError(Exception):
    """The byte stream from the other side is not a valid message sequence."""


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":"), allow_nan=True).encode()
    return HEADER.pack(len(body)) + body


def send(fd: int, message: dict[str, Any]) -> None:
    """Write one whole message (blocking)."""
    data = memoryview(encode(message))
    while data:
        n = os.write(fd, data)
        data = data[n:]


class Reader:
    """Incremental reader for one fd: never blocks longer than asked, survives partial messages."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buf = bytearray()
        self.eof = False

    def _pop(self) -> dict[str, Any] | None:
        if len(self._buf) < HEADER.size:
            return None
        (length,) = HEADER.unpack_from(self._buf)
        if length > MAX_MESSAGE:
            raise ProtocolError(f"message length {length} is not plausible")
        if len(self._buf) < HEADER.size + length:
            return None
        body = bytes(self._buf[HEADER.size : HEADER.size + length])
        del self._buf[: HEADER.size + length]
        try:
            msg = json.loads(body)
        except ValueError as e:
            raise ProtocolError(f"message is not JSON: {e}") from None
        if not isinstance(msg, dict):
            raise ProtocolError("message is not a JSON object")
        return msg

    def recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, or None on timeout or end of stream (then `eof` is set)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            msg = self._pop()
            if msg is not None:
                return msg
            if self.eof:
                return None
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                return None
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                self.eof = True
                continue
            self._buf += chunk
