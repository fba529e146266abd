"""What every `tritonize` command shares: exit codes, arguments → Settings, loading FILE[::CLASS],
the progress printer and how problem errors are printed.

Runs in the CLI process: no torch, triton or model runtimes (DESIGN.md, invariant 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from ..cancel import ProgressEvent
from ..problem import Problem, ProblemError
from ..settings import Settings
from ..target import load_file

# The one definition of the exit codes. EXIT_NONE: no correct kernel was found (convert, bench),
# the candidate failed (verify), or the machine lacks something a command needs (doctor, bench).
EXIT_OK, EXIT_NONE, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, SIGTERM or a cancel: what shells report for SIGINT

# argparse destinations that map one-to-one onto a Settings field, and onto a ModelSettings field.
_SETTING_ARGS = ("n", "seeds", "atol", "rtol", "timeout_s", "device", "cache_dir", "inputs", "init_inputs", "placement")
_MODEL_ARGS = (("model", "path"), ("model_url", "url"), ("model_name", "name"), ("runtime", "runtime"),
               ("temperature", "temperature"), ("top_p", "top_p"), ("max_new_tokens", "max_new_tokens"),
               ("seed", "seed"), ("prompt", "prompt"))


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
    settings, problems = Settings.from_dict(data)
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
    model: dict = {}
    for name, key in _MODEL_ARGS:
        value = getattr(args, name, None)
        if value is not None:
            model[key] = value
    if model:
        overrides["model"] = model
    problems += settings.update(overrides)
    return settings, problems


def report_settings_problems(problems: list[str]) -> bool:
    """Print each settings problem; True when there were any (the command then exits with EXIT_BAD_INPUT)."""
    for p in problems:
        print(f"tritonize: {p}", file=sys.stderr)
    return bool(problems)


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


def print_problem_error(err: ProblemError, path: str | None, as_json: bool) -> None:
    """A problem error as `tritonize: FILE:LINE:COL: kind: message` on stderr (and as JSON on stdout)."""
    where = ""
    if err.range is not None:
        where = f":{err.range.start_line + 1}:{err.range.start_col + 1}"
    if as_json:
        print(json.dumps({"error": {"kind": err.kind, "message": err.message,
                                    "range": err.range.to_dict() if err.range else None}}))
    print(f"tritonize: {path or ''}{where}: {err.kind}: {err.message}", file=sys.stderr)


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
