"""The package version for `initialize`'s serverInfo, without importlib.metadata.

`tritonize.__version__` reads the package metadata through importlib.metadata, which imports
zipfile, email parsing and more: tens of milliseconds on the way to the first answer an editor
waits for. The installed distribution's METADATA file says the same in one small read.
"""

from __future__ import annotations

import os
import sys


def server_version() -> str:
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith("tritonize-") and name.endswith(".dist-info"):
                try:
                    with open(os.path.join(entry, name, "METADATA"), encoding="utf-8") as f:
                        for line in f:
                            if line.startswith("Version:"):
                                return line.split(":", 1)[1].strip()
                            if not line.strip():
                                break
                except OSError:
                    continue
    from .. import __version__  # not installed (a checkout on PYTHONPATH): the package's own answer

    return __version__
