"""`tritonize serve [--stdio | --tcp HOST:PORT] [--worker-python PATH]`: run the language server in this
process.

Over stdio, lsp/bootstrap.py (standard library only) reads the client's first messages and answers
`initialize` while lsp/server.py loads pygls, then hands the stream over. The server owns its
worker pool and model host and closes them when it stops. main.py imports this module only for this
command, so no other command loads pygls; this module imports what it needs only when it needs it
(cli/common.py loads the problem parser: tens of milliseconds on the way to the first answer).
"""

from __future__ import annotations

import argparse
import os


def parse_tcp(text: str) -> tuple[str, int]:
    """HOST:PORT (HOST may be left out: 127.0.0.1) → (host, port). Raises ValueError with the reason."""
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"--tcp {text!r}: expected HOST:PORT, e.g. 127.0.0.1:2087")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--tcp {text!r}: the port must be a number from 1 to 65535")
    return host.strip("[]") or "127.0.0.1", int(port)


def cmd_serve(args: argparse.Namespace) -> int:
    if args.tcp is not None:
        try:
            host, port = parse_tcp(args.tcp)
        except ValueError as e:
            from .common import EXIT_BAD_INPUT, fail

            return fail("usage", str(e), EXIT_BAD_INPUT, as_json=False)
        args.tcp = f"{host}:{port}"
    if args.worker_python:
        from .. import worker_python

        # Every worker and model host this server starts uses it (verify/process.py, generate/host_client.py).
        os.environ[worker_python.ENV] = worker_python.resolve(args.worker_python)

    if args.tcp is None:
        from ..lsp.bootstrap import serve_stdio  # answers `initialize` while the server loads

        return serve_stdio(args)
    from ..lsp.server import serve

    return serve(args)
