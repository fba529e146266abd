"""How a verification stops, and exceptions described in one line (worker side; no torch needed).

`Verdict` ends a candidate's verification with a failure kind (report.FAILURE_KINDS) and the one-line
message the user sees; `RecipeError` means the problem itself failed and no candidate is to blame.
"""

from __future__ import annotations

import traceback
from typing import Any


class RecipeError(Exception):
    """The problem itself (recipe or reference) failed; no candidate is to blame."""


class Verdict(Exception):
    """Stops a candidate's verification with a failure kind and a one-line message."""

    def __init__(self, kind: str, message: str, recycle: bool = False, stats: Any = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.recycle = recycle  # the CUDA context may be poisoned: replace the worker
        self.stats = stats  # compare.Stats of a numeric mismatch (max |Δ|, rel err, worst index)


def exc_line(e: BaseException) -> str:
    """`Type: last line of the message`, short enough for a diagnostic."""
    text = str(e).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # CUDA errors put the cause first ("CUDA error: an illegal memory access was encountered") and
    # advice last ("Compile with `TORCH_USE_CUDA_DSA` ...").
    cause = [ln for ln in lines if "CUDA error" in ln or "out of memory" in ln]
    last = cause[0] if cause else (lines[-1] if lines else "")
    if len(last) > 300:
        last = last[:297] + "..."
    return f"{type(e).__name__}: {last}" if last else type(e).__name__


def line_in(e: BaseException, path: str) -> int | None:
    """The innermost line of file `path` in the exception's traceback (the candidate's line)."""
    line = None
    for frame, lineno in traceback.walk_tb(e.__traceback__):
        if frame.f_code.co_filename == path:
            line = lineno
    return line
