"""`tritonize serve [--stdio | --tcp HOST:PORT] [--worker-python PATH]`: run the language server in this
process.

The server (lsp/server.py) owns its worker pool and model host and closes them when it stops.
main.py imports this module only for this command, so no other command loads pygls.
"""

from __future__ import annotations

import argparse
import os

from .. import worker_python
from .common import EXIT_BAD_INPUT, fail


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
            return fail("usage", str(e), EXIT_BAD_INPUT, as_json=False)
        args.tcp = f"{host}:{port}"
    if args.worker_python:
        # Every worker and model host this server starts uses it (verify/process.py, generate/host_client.py).
        os.environ[worker_python.ENV] = worker_python.resolve(args.worker_python)

    from ..lsp.server import serve

    return serve(args)
