"""`tritonize verify PROBLEM.py[::CLASS] CANDIDATE.py [--json]`: judge one candidate file.

`pipeline.verify_one` runs the same checks as a conversion (and timing on a GPU) and this prints
the verdict. Exit codes: 0 the candidate passed, 1 it failed, 2 bad input (unreadable file, the
problem's own recipe or reference fails). Runs in the CLI process: no torch here, the work happens
in a worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from ..candidate import Candidate
from ..pipeline import verify_one
from ..problem import ProblemError
from ..render import verdict_text
from ..verify.pool import WorkerStartError
from .common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NONE,
    EXIT_OK,
    load_target,
    report_settings_problems,
    settings_from_args,
)


def cmd_verify(args: argparse.Namespace) -> int:
    as_json = bool(getattr(args, "json", False))
    settings, problems = settings_from_args(args)
    if report_settings_problems(problems):
        return EXIT_BAD_INPUT
    try:
        problem, _text = load_target(args.target, settings)
    except ProblemError as err:
        return _bad_input(f"{args.target}: {err.kind}: {err.message}", err.kind, as_json)
    try:
        with open(args.candidate, encoding="utf-8") as f:
            code = f.read()
    except (OSError, UnicodeDecodeError) as e:
        return _bad_input(f"cannot read {args.candidate}: {getattr(e, 'strerror', None) or e}", "read_error", as_json)

    candidate = Candidate(code=code, origin="file:" + os.path.basename(args.candidate),
                          candidate_id=os.path.basename(args.candidate))
    try:
        verification = verify_one(problem, candidate, settings)
    except ProblemError as err:
        return _bad_input(f"{args.target}: {err.kind}: {err.message}", err.kind, as_json)
    except WorkerStartError as e:
        return _bad_input(f"cannot start a verify worker: {e}", "worker", as_json)
    except KeyboardInterrupt:
        print("\ntritonize: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED

    result, probe, device = verification.result, verification.probe, verification.device
    if as_json:
        data = dataclasses.asdict(result)
        data.update(device=device.name, timed=result.timing is not None, dtype=probe.dtype,
                    input_shapes=probe.input_shapes, tolerance=dataclasses.asdict(probe.tolerance))
        print(json.dumps(data, indent=2))
    else:
        print(verdict_text(result, probe, device, args.candidate, args.target))
    return EXIT_OK if result.passed else EXIT_NONE


def _bad_input(message: str, kind: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": {"kind": kind, "message": message}}))
    print(f"tritonize: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
