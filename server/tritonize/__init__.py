"""tritonize: turn a PyTorch nn.Module into verified, fast Triton kernels."""

from __future__ import annotations


def _version() -> str:
    """The version has one home, pyproject.toml: installed, it is read from the package metadata; run
    from a checkout that was never installed (a worker interpreter given only PYTHONPATH), from the file."""
    from importlib import metadata

    try:
        return metadata.version("tritonize")
    except metadata.PackageNotFoundError:
        pass
    import os
    import re

    pyproject = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pyproject.toml")
    try:
        with open(pyproject, encoding="utf-8") as f:
            m = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M)
    except OSError:
        m = None
    return m.group(1) if m else "0+unknown"


def __getattr__(name: str) -> str:
    # Computed on first use, not at import: every worker and model host process imports this package,
    # and importlib.metadata costs tens of milliseconds there for nothing.
    if name == "__version__":
        global __version__
        __version__ = _version()
        return __version__
    raise AttributeError(f"module 'tritonize' has no attribute {name!r}")
