"""`tritonize.verifyCandidate`: judge one hand-written (or pasted) kernel against a module class.

The LSP side of `tritonize verify`: the arguments name a problem file (an open document's text is
used as the editor has it, unsaved edits included) and a candidate (code, or a file to read), the
verifier runs on the server's warm worker pool (`pipeline.verify_one`, through convert_job.py), and
the answer is the `CandidateResult` as JSON plus what it was checked under (the same object
`tritonize verify --json` prints). Pure helpers here, run in the language server process;
verification.py wires them to the request, progress and cancellation.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..candidate import Candidate
from ..problem import Problem, ProblemError
from ..render import verdict_text
from ..settings import Settings
from ..target import load_problem as load_target_problem
from ..target import read_source
from .features import CMD_VERIFY

if TYPE_CHECKING:
    from ..pipeline import Verification

ORIGIN = "user"


@dataclass
class VerifyRequest:
    uri: str | None = None
    path: str | None = None
    class_name: str | None = None
    code: str | None = None
    candidate_path: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    # The caller shows the verdict itself (the Neovim plugin, the VS Code extension): no
    # window/showMessage as well, so the user reads it once.
    quiet: bool = False

    @property
    def label(self) -> str:
        """How the candidate is named in the result, the progress bar and messages."""
        return os.path.basename(self.candidate_path) if self.candidate_path else "candidate"


def _first(data: dict[str, Any], *keys: str) -> Any:
    return next((data[k] for k in keys if data.get(k) is not None), None)


def parse_request(args: tuple) -> VerifyRequest:
    """The command's single argument object. Raises ValueError (→ an error response) when it is
    malformed: that is the calling extension's bug, not the user's."""
    data = args[0] if args and isinstance(args[0], dict) else None
    if data is None:
        raise ValueError(f"{CMD_VERIFY} expects [{{uri | path, className?, candidate | candidatePath, settings?}}]")
    req = VerifyRequest(
        uri=_first(data, "uri"),
        path=_first(data, "path"),
        class_name=_first(data, "className", "class_name", "class"),
        code=_first(data, "candidate", "code"),
        candidate_path=_first(data, "candidatePath", "candidate_path"),
        settings=_first(data, "settings") or {},
        quiet=data.get("quiet") is True,
    )
    if not (req.uri or req.path):
        raise ValueError(f"{CMD_VERIFY}: give the problem file as `uri` or `path`")
    if req.code is None and not req.candidate_path:
        raise ValueError(f"{CMD_VERIFY}: give the candidate as `candidate` (code) or `candidatePath`")
    for key, value, kind in (("uri", req.uri, str), ("path", req.path, str), ("className", req.class_name, str),
                             ("candidate", req.code, str), ("candidatePath", req.candidate_path, str),
                             ("settings", req.settings, dict)):
        if value is not None and not isinstance(value, kind):
            raise ValueError(f"{CMD_VERIFY}: `{key}` must be a {kind.__name__}")
    return req


def request_settings(base: Settings, overrides: dict[str, Any]) -> tuple[Settings, list[str]]:
    """The server's settings with the request's overrides (same keys as the settings, e.g. `strict`)."""
    settings = base.copy()
    problems = settings.update(overrides) if overrides else []
    return settings, problems


def read_candidate(req: VerifyRequest) -> Candidate:
    """The candidate as given (code wins over the path, so an editor can send an unsaved buffer).
    Raises ProblemError("read_error") when the file cannot be read."""
    code = req.code
    if code is None:
        try:
            with open(req.candidate_path, encoding="utf-8") as f:  # type: ignore[arg-type]
                code = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise ProblemError("read_error", f"cannot read {req.candidate_path}: "
                                             f"{getattr(e, 'strerror', None) or e}") from None
    return Candidate(code=code, origin=ORIGIN, candidate_id=req.label)


def read_problem_file(path: str) -> str:
    return read_source(path)


def load_problem(text: str, class_name: str | None, path: str | None, settings: Settings) -> Problem:
    """The Problem for `class_name`, or without one the file's `Model` (KernelBench), or its only
    module class (target.py's rule, as in the CLI). Raises ProblemError with a fix-it message."""
    return load_target_problem(text, class_name, path, settings, how_to_choose="say which one with `className`")


def result_json(verification: Verification, target: str) -> dict[str, Any]:
    """`CandidateResult` (dataclasses.asdict) plus device, dtype, input shapes and tolerance —
    the object `tritonize verify --json` prints — and `text`, the verdict for people."""
    r, probe, device = verification.result, verification.probe, verification.device
    data = dataclasses.asdict(r)
    data.update(device=device.name, timed=r.timing is not None, dtype=probe.dtype,
                input_shapes=list(probe.input_shapes), tolerance=dataclasses.asdict(probe.tolerance))
    data["text"] = verdict_text(r, probe, device, r.candidate_id, target)
    return data


def error_json(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"kind": kind, "message": message}}


def verdict_line(result, label: str, target: str) -> str:
    """One line for a message or the end of the progress bar."""
    if result.passed:
        return f"PASS {label} vs {target}"
    return f"FAIL ({result.kind}) {label} vs {target}: {result.message}"
