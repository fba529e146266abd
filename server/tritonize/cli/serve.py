"""`tritonize serve [--stdio | --tcp HOST:PORT]`: run the language server in this process.

The server (lsp/server.py) owns its worker pool and model host and closes them when it stops.
main.py imports this module only for this command, so no other command loads pygls.
"""

from __future__ import annotations

import argparse

from ..lsp.server import serve


def cmd_serve(args: argparse.Namespace) -> int:
    return serve(args)
