"""`tritonize.verifyCandidate`: one hand-written kernel against a module class, on the shared pool.

verify_command.py parses the request and shapes the answer (the same JSON `tritonize verify --json`
prints); this module runs it: problem text from the open buffer or the disk, a progress bar, the
job on the runner, cancellation, and what the user is told.
"""

from __future__ import annotations

import asyncio
import logging
import os

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from ..cancel import Cancelled
from ..problem import ProblemError
from . import verify_command as V
from .state import TritonizeServer

log = logging.getLogger("tritonize.lsp")


async def verify_candidate(ls: TritonizeServer, args: tuple) -> dict:
    """The verdict for one candidate against a module class (see docs/LSP.md)."""
    from ..verify.pool import WorkerStartError

    try:
        req = V.parse_request(args)
    except ValueError as exc:  # the caller's bug: InvalidParams, not an internal error
        raise JsonRpcInvalidParams(str(exc)) from None
    settings, problems = V.request_settings(ls.settings, req.settings)
    if problems:
        return _failed(ls, "settings", "invalid settings: " + "; ".join(problems), req.quiet)
    try:
        text, path = _problem_source(ls, req)
        candidate = V.read_candidate(req)
        problem = await asyncio.to_thread(V.load_problem, text, req.class_name, path, settings)
    except ProblemError as err:
        return _failed(ls, err.kind, err.message, req.quiet)
    target = f"{os.path.basename(path) if path else req.uri}::{problem.name}"

    ptoken = await ls.begin_progress(f"Verify {req.label} against {problem.name}")
    job = ls.runner.submit_verify(problem, candidate, settings, ls.progress_callback(ptoken))
    try:
        verification = await ls.await_job(job, ptoken)
    except Cancelled:
        ls.end_progress(ptoken, "cancelled")
        return {"cancelled": True}
    except ProblemError as err:  # the problem's own recipe or reference fails
        ls.end_progress(ptoken, f"problem error: {err.message}")
        return _failed(ls, err.kind, err.message, req.quiet)
    except WorkerStartError as err:
        ls.end_progress(ptoken, f"cannot verify: {err}")
        return _failed(ls, "worker", f"cannot start a verify worker: {err}", req.quiet)
    except Exception as exc:  # a bug of ours: an error response, but no progress bar left open
        log.exception("verifying %s against %s failed", req.label, target)
        ls.end_progress(ptoken, f"failed: {exc}")
        raise
    line = V.verdict_line(verification.result, req.label, target)
    ls.end_progress(ptoken, line)
    log.info("%s", line)
    if not req.quiet:
        ls.show(lsp.MessageType.Info if verification.result.passed else lsp.MessageType.Warning, line)
    return V.result_json(verification, target)


def _problem_source(ls: TritonizeServer, req: V.VerifyRequest) -> tuple[str, str | None]:
    """(text, path) of the problem file: an open document as the editor has it, else the disk."""
    if req.uri and ls.is_open(req.uri):
        doc = ls.document(req.uri)
        return doc.source, doc.path
    path = req.path or to_fs_path(req.uri)
    if not path:
        raise ProblemError("read_error", f"not a file: {req.uri}")
    path = os.path.abspath(path)
    return V.read_problem_file(path), path


def _failed(ls: TritonizeServer, kind: str, message: str, quiet: bool = False) -> dict:
    if not quiet:
        ls.show(lsp.MessageType.Warning, f"verify: {message}")
    return V.error_json(kind, message)
