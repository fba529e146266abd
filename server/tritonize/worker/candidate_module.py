"""The candidate as a Python module inside the worker: written to a fresh directory of its own under an
ordinary name (disguise.py), imported inside the sandbox, its exceptions classified into failure kinds,
and dropped afterwards (the candidate's text and origin are `tritonize.candidate.Candidate`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from typing import Any

import torch

from . import disguise
from .checks import guarded, is_compile_error, is_cuda_fault
from .context import JobContext
from .errors import Verdict, exc_line, line_in
from .inputs import import_file
from .outputs import type_name


class CandidateModule:
    """The candidate module, imported from `model.py` in its own temporary directory (the sandbox's
    job directory for everything the candidate runs: its writes and temp files land there)."""

    def __init__(self, code: str, ctx: JobContext) -> None:
        self.code = code
        self.ctx = ctx
        self.name = disguise.MODULE_NAME
        # Not under the job dir (".../jobs/<n>/" would say "verifier"): a temporary directory like
        # any other, in the worker's own temp dir. Removed by unload().
        self.dir = os.path.realpath(tempfile.mkdtemp())
        self.path = os.path.join(self.dir, disguise.FILE_NAME)
        self.module: Any = None

    def load(self) -> type:
        """Import it and return its ModelNew class. Looking ModelNew up can run candidate code (a module
        `__getattr__`), so that happens inside the guard too."""
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(self.code)
        model_new: Any = None
        failure: Verdict | None = None
        with guarded(self.dir):
            try:
                self.module = import_file(self.path, self.name)
                model_new = vars(self.module).get("ModelNew")
            except BaseException as e:  # noqa: BLE001 - classified inside the guard (str(e) is candidate code)
                failure = self._import_failure(e)
        if failure is not None:
            raise failure
        if not issubclass(type(model_new), type) or not issubclass(model_new, torch.nn.Module):
            raise Verdict("import", "the candidate defines no ModelNew(nn.Module) class")
        return model_new

    def _import_failure(self, e: BaseException) -> Verdict:
        if isinstance(e, (ImportError, ModuleNotFoundError)):
            return Verdict("import", safe_exc_line(e))
        if isinstance(e, SyntaxError):
            return Verdict("syntax", f"line {e.lineno}: {e.msg}")
        return self.failure(e, "importing the candidate")

    def failure(self, e: BaseException, where: str) -> Verdict:
        """Classify an exception raised by candidate code (call inside the guard: its message is the
        candidate's code)."""
        line = line_in(e, self.path)
        at = f" (candidate line {line})" if line else ""
        text = f"{where} raised {safe_exc_line(e)}{at}"
        try:
            cuda_fault = is_cuda_fault(e)
        except BaseException:  # noqa: BLE001 - str(e) is candidate code
            cuda_fault = False
        if cuda_fault:
            return Verdict("crash", text, recycle=True)
        if is_compile_error(e):
            return Verdict("compile", text)
        return Verdict("runtime", text)  # CUDA out of memory included

    def unload(self) -> None:
        """Drop the candidate's module (and anything imported from its directory) from the worker."""
        for name, mod in list(sys.modules.items()):
            file = getattr(mod, "__file__", None) or ""
            if name == self.name or (isinstance(file, str) and file.startswith(self.dir + os.sep)):
                sys.modules.pop(name, None)
        with contextlib.suppress(Exception):
            from triton.runtime.interpreter import InterpretedFunction

            cache = InterpretedFunction.rewritten_fn
            for fn in [f for f in cache if getattr(f, "__module__", None) == self.name]:
                cache.pop(fn, None)
        self.module = None

    def remove_files(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def safe_exc_line(e: BaseException) -> str:
    """exc_line for an exception a candidate may have defined: its `__str__` may raise or return junk."""
    try:
        return exc_line(e)
    except BaseException:  # noqa: BLE001 - candidate code
        return type_name(e)
