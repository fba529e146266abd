"""Server logging: everything to stderr, and only what the user should read to `window/logMessage`.

Editors show the server's stderr in the same output panel as `window/logMessage`, so forwarding
every record would print each line twice. Forwarded: warnings and errors, and info records logged
with `extra=USER` (what the user asked for: a conversion's outcome, a verification's verdict, the
device the workers run on).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lsprotocol import types as lsp

USER = {"tritonize_user": True}  # `log.info(..., extra=USER)`: the user should see this line


class _Server(Protocol):
    loop: object

    def window_log_message(self, params: lsp.LogMessageParams) -> None: ...


def user_facing(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or bool(getattr(record, "tritonize_user", False))


class LogForwarder(logging.Handler):
    """tritonize's user-facing records → `window/logMessage` (stderr gets all of them)."""

    def __init__(self, ls: _Server) -> None:
        # Imported here, not at the top: bootstrap.py uses `configure` before lsprotocol loads.
        from lsprotocol import types as lsp

        super().__init__(logging.INFO)
        self.ls = ls
        self.lsp = lsp
        self.levels = {logging.ERROR: lsp.MessageType.Error, logging.WARNING: lsp.MessageType.Warning,
                       logging.INFO: lsp.MessageType.Info}
        self.addFilter(user_facing)

    @classmethod
    def install(cls, ls: _Server) -> None:
        logger = logging.getLogger("tritonize")
        if not any(isinstance(h, cls) for h in logger.handlers):
            logger.addHandler(cls(ls))

    def emit(self, record: logging.LogRecord) -> None:
        loop = self.ls.loop
        if loop is None or loop.is_closed():
            return
        kind = self.levels.get(min(record.levelno, logging.ERROR), self.lsp.MessageType.Log)
        params = self.lsp.LogMessageParams(type=kind, message=self.format(record))
        try:
            loop.call_soon_threadsafe(self.ls.window_log_message, params)
        except RuntimeError:  # loop closed during shutdown
            pass


def pool_log(logger: logging.Logger):
    """The WorkerPool's `log` callback: it reports the device once ("verify worker ready: …") and
    otherwise only trouble (a worker or standby that cannot start), which the user must see."""

    def emit(message: str) -> None:
        if message.startswith("verify worker ready"):
            logger.info("pool: %s", message, extra=USER)
        else:
            logger.warning("pool: %s", message)

    return emit


def configure(stream=None) -> None:
    """Root logging for `tritonize serve`: stderr only (stdout is the LSP channel)."""
    level = os.environ.get("TRITONIZE_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("tritonize").setLevel(getattr(logging, level, logging.INFO))
