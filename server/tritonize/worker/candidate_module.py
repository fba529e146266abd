"""The candidate as a Python module inside the worker: written to the job directory, imported under a
unique name inside the sandbox, its exceptions classified into failure kinds, and dropped afterwards
(the candidate's text and origin are `tritonize.candidate.Candidate`)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any

import torch

from .checks import guarded, is_compile_error, is_cuda_fault
from .context import JobContext
from .errors import Verdict, exc_line, line_in
from .inputs import import_file


class CandidateModule:
    """The candidate module, imported from a file in the job dir under a unique module name."""

    def __init__(self, code: str, ctx: JobContext) -> None:
        self.code = code
        self.ctx = ctx
        self.name = f"tritonize_candidate_{os.getpid()}_{time.monotonic_ns()}"
        self.path = os.path.join(ctx.job_dir, "candidate.py")
        self.module: Any = None

    def load(self) -> type:
        """Import it and return its ModelNew class."""
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(self.code)
        try:
            with guarded(self.ctx.job_dir):
                self.module = import_file(self.path, self.name)
        except Verdict:
            raise
        except (ImportError, ModuleNotFoundError) as e:
            raise Verdict("import", exc_line(e)) from None
        except SyntaxError as e:
            raise Verdict("syntax", f"line {e.lineno}: {e.msg}") from None
        except BaseException as e:
            raise self.failure(e, "importing the candidate") from None
        model_new = getattr(self.module, "ModelNew", None)
        if not isinstance(model_new, type) or not issubclass(model_new, torch.nn.Module):
            raise Verdict("import", "the candidate defines no ModelNew(nn.Module) class")
        return model_new

    def failure(self, e: BaseException, where: str) -> Verdict:
        """Classify an exception raised by candidate code."""
        line = line_in(e, self.path)
        at = f" (candidate line {line})" if line else ""
        text = f"{where} raised {exc_line(e)}{at}"
        if is_cuda_fault(e):
            return Verdict("crash", text, recycle=True)
        if is_compile_error(e):
            return Verdict("compile", text)
        return Verdict("runtime", text)  # CUDA out of memory included

    def unload(self) -> None:
        """Drop the candidate's module (and anything imported from the job dir) from the worker."""
        for name, mod in list(sys.modules.items()):
            file = getattr(mod, "__file__", None) or ""
            if name == self.name or (file and file.startswith(self.ctx.job_dir + os.sep)):
                sys.modules.pop(name, None)
        with contextlib.suppress(Exception):
            from triton.runtime.interpreter import InterpretedFunction

            cache = InterpretedFunction.rewritten_fn
            for fn in [f for f in cache if getattr(f, "__module__", None) == self.name]:
                cache.pop(fn, None)
        self.module = None
