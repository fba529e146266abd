"""`tritonize verify PROBLEM.py[::CLASS] CANDIDATE.py [--json]`: judge one candidate file.

Runs the same checks as a conversion (verify/runtime.py, and timing on a GPU) and prints a verdict.
Exit codes: 0 the candidate passed, 1 it failed, 2 bad input (unreadable file, the problem's own
recipe or reference fails). Runs in the CLI process: no torch here, the work happens in a worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from ..candidate import Candidate
from ..problem import ProblemError
from ..report import CandidateResult
from ..verify.pool import DeviceInfo, ProbeResult, WorkerPool, WorkerStartError

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def cmd_verify(args: argparse.Namespace) -> int:
    from .main import _settings_from_args, load_problem

    as_json = bool(getattr(args, "json", False))
    settings, problems = _settings_from_args(args)
    for p in problems:
        print(f"tritonize: {p}", file=sys.stderr)
    if problems:
        return EXIT_BAD_INPUT
    try:
        problem, _text = load_problem(args.target, settings)
    except ProblemError as err:
        return _bad_input(f"{args.target}: {err.kind}: {err.message}", err.kind, as_json)
    try:
        with open(args.candidate, encoding="utf-8") as f:
            code = f.read()
    except (OSError, UnicodeDecodeError) as e:
        return _bad_input(f"cannot read {args.candidate}: {getattr(e, 'strerror', None) or e}", "read_error", as_json)

    candidate = Candidate(code=code, origin="file:" + os.path.basename(args.candidate),
                          candidate_id=os.path.basename(args.candidate))
    pool = WorkerPool(settings, standby=False)  # one job, then exit: a spare worker would only cost CPU
    try:
        pool.start()
        device = pool.device_info()
        probe = pool.probe(problem, settings)
        result = pool.submit(problem, candidate, settings).result()
    except ProblemError as err:
        return _bad_input(f"{args.target}: {err.kind}: {err.message}", err.kind, as_json)
    except WorkerStartError as e:
        return _bad_input(f"cannot start a verify worker: {e}", "worker", as_json)
    except KeyboardInterrupt:
        print("\ntritonize: interrupted", file=sys.stderr)
        return 130
    finally:
        pool.close()

    if as_json:
        data = dataclasses.asdict(result)
        data.update(device=device.name, timed=result.timing is not None, dtype=probe.dtype,
                    input_shapes=probe.input_shapes, tolerance=dataclasses.asdict(probe.tolerance))
        print(json.dumps(data, indent=2))
    else:
        print(verdict_text(result, probe, device, args.candidate, args.target))
    return EXIT_PASS if result.passed else EXIT_FAIL


def _bad_input(message: str, kind: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": {"kind": kind, "message": message}}))
    print(f"tritonize: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def verdict_text(r: CandidateResult, probe: ProbeResult, device: DeviceInfo, candidate: str, target: str) -> str:
    """A few readable lines: the verdict, what was checked, timing, findings."""
    head = "PASS" if r.passed else f"FAIL ({r.kind})"
    lines = [f"{head}  {candidate} vs {target}  [{device.name}]"]
    if not r.passed:
        lines.append(f"  {r.message}")
    if r.passed:
        lines.append(f"  checked on {r.seeds} seed(s) at {probe.tolerance.describe()}, "
                     f"inputs {', '.join(probe.input_shapes)}")
    else:
        lines.append(f"  tolerance {probe.tolerance.describe()}, inputs {', '.join(probe.input_shapes)}")
    details = []
    if r.passed and r.max_abs_err is not None:
        details.append(f"max |Δ| {r.max_abs_err:.3g}" + (f" at {r.worst_index}" if r.worst_index else ""))
    if r.passed and r.rel_err is not None:
        details.append(f"rel err {r.rel_err:.2g}")
    if r.kernels_launched:
        details.append(f"{r.kernels_launched} Triton kernel launch(es) per forward")
    if r.drop_in is not None:
        details.append("drop-in (weights load with load_state_dict)" if r.drop_in else
                       "not drop-in (load_state_dict failed; compared with same-seed initialisation)")
    if details:
        lines.append("  " + "; ".join(details))
    t = r.timing
    if t is not None:
        parts = [f"{t.ms:.4g} ms (median of {t.runs} runs)"]
        if t.eager_ms:
            parts.append(f"eager {t.eager_ms:.4g} ms → {t.speedup_eager:.2f}×")
        if t.compile_ms:
            parts.append(f"torch.compile {t.compile_ms:.4g} ms → {t.speedup_compile:.2f}×")
        lines.append("  timing: " + ", ".join(parts))
    elif r.passed:
        lines.append("  not timed" + ("" if device.timed else " (no GPU: correctness only, TRITON_INTERPRET=1)"))
    for f in r.findings:
        where = f" (line {f.line})" if f.line else ""
        lines.append(f"  {'fatal' if f.fatal else 'note'}: {f.rule}: {f.message}{where}")
    return "\n".join(lines)
