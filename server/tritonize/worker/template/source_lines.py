"""Quote the problem's source lines in refusal messages ("at line 12: `x = self.conv(x)`").

Runs in the torch worker. build.py compiles the problem source under PROBLEM_FILENAME and registers
its text in linecache, so tracebacks and fx stack traces name that file; these helpers find the
problem's frame in them.
"""

from __future__ import annotations

import re
import traceback
from types import TracebackType

import torch.fx as fx

PROBLEM_FILENAME = "<tritonize-problem>"


def where_from_traceback(tb: TracebackType | None) -> str:
    """The innermost problem line of an exception's traceback, or ""."""
    frames = [f for f in traceback.extract_tb(tb) if f.filename == PROBLEM_FILENAME]
    if not frames:
        return ""
    f = frames[-1]
    return f"line {f.lineno}: `{(f.line or '').strip()}`"


def where(n: fx.Node) -> str:
    """The problem line an fx node was traced from (from its recorded stack trace), or ""."""
    trace = n.stack_trace or ""
    hits = re.findall(r'File "' + re.escape(PROBLEM_FILENAME) + r'", line (\d+), in \w+\n\s*(.*)', trace)
    if not hits:
        return ""
    line, text = hits[-1]
    return f"line {line}: `{text.strip()}`"
