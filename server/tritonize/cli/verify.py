"""`tritonize verify PROBLEM.py[::CLASS] CANDIDATE.py [--json]`: judge one candidate file.

`pipeline.verify_one` runs the same checks as a conversion (and timing on a GPU) and this prints
the verdict. Exit codes: 0 the candidate passed, 1 it failed (or no verifier could start), 2 bad
input (unreadable file, the problem's own recipe or reference fails). Runs in the CLI process: no torch here, the work happens
in a worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from ..candidate import Candidate
from ..pipeline import verify_one
from ..problem import ProblemError, problem_lines
from ..render import verdict_text
from ..verify.pool import WorkerStartError
from .common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NONE,
    EXIT_OK,
    check_worker_python,
    fail,
    json_document,
    load_target,
    print_json,
    print_problem_error,
    report_settings_problems,
    settings_from_args,
    split_target,
)


def cmd_verify(args: argparse.Namespace) -> int:
    as_json = bool(getattr(args, "json", False))
    settings, problems = settings_from_args(args)
    if report_settings_problems(problems, as_json):
        return EXIT_BAD_INPUT
    path, _ = split_target(args.target)
    try:
        problem, _text = load_target(args.target, settings)
    except ProblemError as err:
        return print_problem_error(err, path, as_json)
    try:
        with open(args.candidate, encoding="utf-8") as f:
            code = f.read()
    except (OSError, UnicodeDecodeError) as e:
        return fail("read_error", f"cannot read {args.candidate}: {getattr(e, 'strerror', None) or e}", EXIT_BAD_INPUT,
                    as_json=as_json, path=args.candidate)
    bad_python = check_worker_python(settings, as_json)
    if bad_python is not None:
        return bad_python

    candidate = Candidate(code=code, origin="file:" + os.path.basename(args.candidate),
                          candidate_id=os.path.basename(args.candidate))
    try:
        verification = verify_one(problem, candidate, settings)
    except ProblemError as err:
        return fail(err.kind, problem_lines(problem, err.message), EXIT_BAD_INPUT, as_json=as_json, path=path)
    except WorkerStartError as e:
        return fail("no_verifier", f"cannot start a verify worker: {e}", EXIT_NONE, as_json=as_json,
                    fix="run `tritonize doctor`")
    except KeyboardInterrupt:
        print("\ntritonize: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED

    result, probe, device = verification.result, verification.probe, verification.device
    if as_json:
        data = dataclasses.asdict(result)
        data.update(device=device.name, timed=result.timing is not None, dtype=probe.dtype,
                    input_shapes=probe.input_shapes, tolerance=dataclasses.asdict(probe.tolerance))
        print_json(json_document("verdict", data))
    else:
        print(verdict_text(result, probe, device, args.candidate, args.target))
    return EXIT_OK if result.passed else EXIT_NONE
