"""What every `tritonize` command shares: exit codes, arguments → Settings, loading FILE[::CLASS],
the JSON documents (one shape for every error, a `format` version in each), the worker-Python check,
the progress printer and how errors are printed.

The output contract (docs/CLI.md): stdout carries one thing, what the command was asked for (the
kernel module, a JSON document with --json); messages, progress and human reports go to stderr.

Runs in the CLI process: no torch, triton or model runtimes (DESIGN.md, invariant 1).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any, TextIO

from .. import worker_python
from ..cancel import ProgressEvent
from ..positions import Range
from ..problem import Problem, ProblemError
from ..settings import Settings
from ..target import load_file

# The one definition of the exit codes. EXIT_NONE: no correct kernel was found (convert, bench),
# the candidate failed (verify), or the machine lacks something a command needs (doctor, bench).
EXIT_OK, EXIT_NONE, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, SIGTERM or a cancel: what shells report for SIGINT

# The version of the JSON documents the commands print (schema: tritonize/schema/cli.schema.json).
# Raised when a field changes meaning or goes away; new fields do not change it.
JSON_FORMAT = 1

# argparse destinations that map one-to-one onto a Settings field, and onto a ModelSettings field.
_SETTING_ARGS = ("n", "seeds", "atol", "rtol", "timeout_s", "device", "cache_dir", "inputs", "init_inputs", "placement",
                 "worker_python", "min_speedup", "autotune_budget_s", "rounds", "target_speedup", "refine_budget_s")
_MODEL_ARGS = (("model", "path"), ("model_url", "url"), ("model_name", "name"), ("runtime", "runtime"),
               ("temperature", "temperature"), ("top_p", "top_p"), ("max_new_tokens", "max_new_tokens"),
               ("seed", "seed"), ("prompt", "prompt"), ("refine_prompt", "refine_prompt"))


def settings_from_args(args: argparse.Namespace) -> tuple[Settings, list[str]]:
    """Settings from `--settings FILE` overridden by the flags given. Returns (settings, problems):
    every problem is a message for the user, and a command with any of them stops with EXIT_BAD_INPUT."""
    data: dict = {}
    if getattr(args, "settings", None):
        try:
            with open(args.settings) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            return Settings(), [f"cannot read settings file {args.settings}: {e}"]
    settings, problems = Settings.from_dict(data, keep_going=False)
    overrides: dict = {}
    for name in _SETTING_ARGS:
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "generators", None):
        overrides["generators"] = args.generators
    if getattr(args, "strict", False):
        overrides["strict"] = True
    if getattr(args, "tf32", False):
        overrides["allow_tf32"] = True
    if getattr(args, "no_cache", False):
        overrides["use_cache"] = False
    if getattr(args, "no_timing", False):
        overrides["time_candidates"] = False
    if getattr(args, "insert_slower", False):
        overrides["insert_slower"] = True
    if getattr(args, "no_shape_checks", False):
        overrides["shape_checks"] = False
    if getattr(args, "shape_specialised", False):
        overrides["shape_specialised"] = True
    model: dict = {}
    for name, key in _MODEL_ARGS:
        value = getattr(args, name, None)
        if value is not None:
            model[key] = value
    if model:
        overrides["model"] = model
    problems += settings.update(overrides, keep_going=False)
    return settings, problems


def report_settings_problems(problems: list[str], as_json: bool = False) -> bool:
    """Print each settings problem; True when there were any (the command then exits with EXIT_BAD_INPUT).
    With --json the first one is also the error document on stdout."""
    for p in problems:
        print(f"tritonize: {p}", file=sys.stderr)
    if problems and as_json:
        print_json(error_document("settings", "; ".join(problems), EXIT_BAD_INPUT,
                                  fix="see `tritonize COMMAND --help` and docs/CLI.md for the settings"))
    return bool(problems)


def check_worker_python(settings: Settings, as_json: bool = False) -> int | None:
    """Up front, before any worker starts: can the worker Python run verify workers (torch, triton)?
    None when it can; else the one message is printed and the exit code (EXIT_NONE) returned.
    Also makes the choice the process-wide default, so every worker and model host this command
    starts uses it."""
    python = worker_python.resolve(settings.worker_python)
    if settings.worker_python:
        os.environ[worker_python.ENV] = python
    result = worker_python.check(python)
    if result.ok:
        return None
    return fail("worker_python", result.problem or "", EXIT_NONE, as_json=as_json, fix=result.fix)


# ---- JSON documents ------------------------------------------------------------------------------


def json_document(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A JSON document of type `kind` ("report", "verdict", "bench", "doctor", "error")."""
    return {"format": JSON_FORMAT, "type": kind, **body}


def print_json(doc: dict[str, Any]) -> None:
    print(json.dumps(doc, indent=2))


def error_document(kind: str, message: str, exit_code: int, *, path: str | None = None,
                   range: Range | None = None, fix: str | None = None) -> dict[str, Any]:
    """The one shape of every error: input errors, pipeline errors, settings, the worker Python."""
    return json_document("error", {
        "error": {
            "kind": kind,
            "message": message,
            "path": path,
            "line": range.start_line + 1 if range else None,  # 1-based, as people count
            "column": range.start_col + 1 if range else None,
            "range": range.to_dict() if range else None,  # 0-based LSP range
            "fix": fix,
        },
        "exit_code": exit_code,
    })


def fail(kind: str, message: str, exit_code: int, *, as_json: bool, path: str | None = None,
         range: Range | None = None, fix: str | None = None) -> int:
    """Report an error: one line on stderr (`tritonize: [FILE:LINE:COL: ]kind: message[; fix]`) and,
    with --json, the error document on stdout. Returns `exit_code`."""
    where = f"{path}:{range.start_line + 1}:{range.start_col + 1}: " if path and range else f"{path}: " if path else ""
    # One line says what is wrong; a message that carries an example keeps it indented below.
    text = f"{where}{kind}: {message}" + (f"; {fix}" if fix else "")
    print("tritonize: " + "\n    ".join(line.strip() for line in text.splitlines()), file=sys.stderr)
    if as_json:
        print_json(error_document(kind, message, exit_code, path=path, range=range, fix=fix))
    return exit_code


def split_target(target: str) -> tuple[str, str | None]:
    """FILE::CLASS → (FILE, CLASS); FILE → (FILE, None)."""
    if "::" in target:
        path, cls = target.rsplit("::", 1)
        return path, cls or None
    return target, None


def load_target(target: str, settings: Settings) -> tuple[Problem, str]:
    """Read FILE[::CLASS] and extract the Problem. Returns (problem, file text) or raises ProblemError."""
    path, cls = split_target(target)
    return load_file(path, cls, settings)


# "line 6:12: " at the start of a syntax message: the position is said once, in FILE:LINE:COL.
_POSITION_PREFIX = re.compile(r"^line \d+:\d+: ")


def print_problem_error(err: ProblemError, path: str | None, as_json: bool) -> int:
    """A problem error as `tritonize: FILE:LINE:COL: kind: message` on stderr (and the error
    document on stdout with --json). Returns EXIT_BAD_INPUT."""
    message = _POSITION_PREFIX.sub("", err.message) if err.range is not None else err.message
    return fail(err.kind, message, EXIT_BAD_INPUT, as_json=as_json, path=path, range=err.range)


class ProgressPrinter:
    """A one-line bar on a terminal, plain lines when piped, nothing with --json/--quiet."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = ""

    def __call__(self, ev: ProgressEvent) -> None:
        if not self.enabled or ev.stage == "text":  # the model's own text is the REPL's to show
            return
        if ev.total:
            width = 24
            filled = int(width * ev.done / ev.total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {ev.done}/{ev.total}"
            text = f"{ev.stage:<8} {bar} {ev.message}"
        else:
            text = f"{ev.stage:<8} {ev.message}"
        if self.tty:
            self.stream.write("\r\033[K" + text[:150])
            if ev.stage == "done":
                self.stream.write("\n")
        elif text != self._last:
            self.stream.write(text + "\n")
        self._last = text
        self.stream.flush()
