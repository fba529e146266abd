"""`tritonize serve`: build the language server and run it over stdio or TCP.

The pieces: state.py (`TritonizeServer`, the state and its public API), handlers.py (every LSP
method, registered in one place), conversion.py / verification.py / reports.py (the flows the
handlers call), features.py (pure translations to LSP types). Nothing on the event loop does more
than cheap work (`ast` on the document, one indexed SQLite row); conversions run in
`ConversionRunner` threads.
"""

from __future__ import annotations

import argparse
import gc
from typing import BinaryIO

from . import handlers
from .logs import configure as configure_logging
from .state import TritonizeServer


def build_server() -> TritonizeServer:
    """A server with every handler registered, not yet started."""
    ls = TritonizeServer()
    handlers.register(ls)
    # Everything imported so far (lsprotocol's ~600 classes, pygls, attrs, cattrs) lives as long as
    # the process: keep it out of the collector's full passes, which would otherwise stop the server
    # for tens of milliseconds now and then while a big document is edited.
    gc.freeze()
    return ls


def serve(args: argparse.Namespace) -> int:
    """`tritonize serve [--stdio | --tcp HOST:PORT]` without the stdio front of bootstrap.py (TCP,
    or `TRITONIZE_LSP_BOOTSTRAP=0`). Returns the process exit code."""
    configure_logging()
    ls = build_server()
    if getattr(args, "tcp", None):
        host, _, port = args.tcp.rpartition(":")
        try:
            ls.start_tcp(host or "127.0.0.1", int(port))
        finally:
            ls.close()  # a lost client: no worker may outlive the server
        return 0 if ls.shutdown_requested else 1
    return run_io(ls)


def run_io(ls: TritonizeServer, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """Serve over stdio (or the streams given: bootstrap.py hands over what it read). Returns the
    process exit code."""
    try:
        ls.start_io(stdin, stdout)
    finally:
        ls.close()  # stdin EOF or a lost client: no worker may outlive the server
    return 0 if ls.shutdown_requested else 1
