"""`tritonize` command line: convert | verify | bench | serve | doctor | repl.

Exit codes: 0 a correct kernel was found (or the command succeeded), 1 none was, 2 bad input.
This process never imports torch, triton or model runtimes (DESIGN.md, invariant 1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..cancel import Cancelled, ProgressEvent
from ..settings import ALL_GENERATORS, Settings

EXIT_OK, EXIT_NONE, EXIT_BAD_INPUT = 0, 1, 2


class ProgressPrinter:
    """A one-line bar on a terminal, plain lines when piped, nothing with --json/--quiet."""

    def __init__(self, stream=None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = ""

    def __call__(self, ev: ProgressEvent) -> None:
        if not self.enabled:
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


def _split_target(target: str) -> tuple[str, str | None]:
    if "::" in target:
        path, cls = target.rsplit("::", 1)
        return path, cls or None
    return target, None


def _settings_from_args(args: argparse.Namespace) -> tuple[Settings, list[str]]:
    data: dict = {}
    if getattr(args, "settings", None):
        try:
            with open(args.settings) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            return Settings(), [f"cannot read settings file {args.settings}: {e}"]
    settings, problems = Settings.from_dict(data)
    overrides: dict = {}
    for name in ("n", "seeds", "atol", "rtol", "timeout_s", "device", "cache_dir", "inputs", "init_inputs", "placement"):
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
    for name, key in (("model", "path"), ("model_url", "url"), ("model_name", "name"), ("runtime", "runtime"),
                      ("temperature", "temperature"), ("top_p", "top_p"), ("max_new_tokens", "max_new_tokens"),
                      ("seed", "seed"), ("prompt", "prompt")):
        value = getattr(args, name, None)
        if value is not None:
            model[key] = value
    if model:
        overrides["model"] = model
    problems += settings.update(overrides)
    return settings, problems


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--generators", help=f"comma-separated, from {','.join(ALL_GENERATORS)} (default: all)")
    p.add_argument("-n", type=int, help="samples per model / variants per pattern (default 4)")
    p.add_argument("--seeds", type=int, help="random input sets per candidate (default 3)")
    p.add_argument("--atol", type=float, help="absolute tolerance (default by dtype: fp32 1e-4, fp16/bf16 1e-2)")
    p.add_argument("--rtol", type=float, help="relative tolerance (default by dtype)")
    p.add_argument("--tf32", action="store_true", help="allow TF32 matmuls (the report states it)")
    p.add_argument("--strict", action="store_true", help="torch compute-op fallbacks in a candidate are fatal")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to verify (default auto)")
    p.add_argument("--timeout-s", dest="timeout_s", type=float, help="per-candidate time limit (default 120)")
    p.add_argument("--no-timing", action="store_true", help="check correctness only, even on a GPU")
    p.add_argument("--inputs", help="input recipe: Python expression for get_inputs(), e.g. '[torch.randn(8, 64)]'")
    p.add_argument("--init-inputs", dest="init_inputs", help="Python expression for get_init_inputs()")
    p.add_argument("--model", help="model path: HF checkpoint directory or GGUF file (llm generator)")
    p.add_argument("--model-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model-name", help="model name for an OpenAI-compatible server")
    p.add_argument("--runtime", choices=["transformers", "llama_cpp", "openai"], help="model runtime")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", dest="top_p", type=float)
    p.add_argument("--max-new-tokens", dest="max_new_tokens", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--prompt", help="prompt template file overriding the built-in KernelLLM prompt")
    p.add_argument("--settings", help="JSON file with settings (same keys as the editor settings)")
    p.add_argument("--cache-dir", help="report cache directory (default: the user cache dir)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tritonize", description="Turn PyTorch nn.Modules into verified Triton kernels.")
    parser.add_argument("--version", action="version", version=f"tritonize {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="convert one module class of a file")
    p.add_argument("target", help="FILE or FILE::CLASS")
    _add_common(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--write", metavar="PATH", help="write the file with the kernel inserted to PATH (may be FILE itself); "
                   "with --placement sibling, write <PATH stem>_triton.py next to it instead")
    p.add_argument("--placement", choices=["inline", "sibling"], help="where --write puts the kernel (default inline)")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not use cached reports")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    p = sub.add_parser("verify", help="verify a candidate file against a problem")
    p.add_argument("target", help="PROBLEM.py or PROBLEM.py::CLASS")
    p.add_argument("candidate", help="candidate module defining ModelNew")
    _add_common(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("bench", help="run the pipeline over folders of KernelBench-format problems")
    p.add_argument("paths", nargs="+")
    _add_common(p)
    p.add_argument("--k", default="1,10,20", help="pass@k values (default 1,10,20)")
    p.add_argument("--p", default="0,1,1.25,2", help="fast_p thresholds (default 0,1,1.25,2)")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the JSON results to OUT")
    p.add_argument("--markdown", metavar="OUT", help="write a markdown report to OUT")
    p.add_argument("--plot", metavar="PNG", help="write a speedup-distribution plot")
    p.add_argument("--resume", action="store_true", help="skip problems already in the results directory")
    p.add_argument("--results-dir", default=".bench", help="per-problem results (for --resume)")
    p.add_argument("--report-only", action="store_true",
                   help="with --resume: summarise the stored results, run nothing")
    p.add_argument("--limit", type=int, help="only the first N problems")

    p = sub.add_parser("serve", help="run the language server")
    p.add_argument("--stdio", action="store_true", help="speak LSP over stdio (the default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead")

    sub.add_parser("doctor", help="what this machine can do: Python, torch, triton, GPUs, model runtimes")

    p = sub.add_parser("repl", help="paste a module, watch generation and verification")
    _add_common(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "convert":
        return cmd_convert(args)
    if args.command == "verify":
        from .verify import cmd_verify

        return cmd_verify(args)
    if args.command == "bench":
        from .bench import cmd_bench

        return cmd_bench(args)
    if args.command == "serve":
        from ..lsp.server import serve

        return serve(args)
    if args.command == "doctor":
        from .doctor import cmd_doctor

        return cmd_doctor(args)
    if args.command == "repl":
        from .repl import cmd_repl

        return cmd_repl(args)
    parser.error(f"unknown command {args.command}")
    return EXIT_BAD_INPUT


def load_problem(target: str, settings: Settings):
    """Read FILE[::CLASS] and extract the Problem. Returns (problem, text) or raises ProblemError."""
    from ..problem import ProblemError, extract, list_modules

    path, cls = _split_target(target)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ProblemError("read_error", f"cannot read {path}: {e.strerror or e}") from None
    if cls is None:
        classes = list_modules(text)
        names = [c.name for c in classes]
        if len(names) > 1 and "Model" not in names:
            raise ProblemError(
                "not_found",
                f"{path} has several nn.Module classes ({', '.join(names)}); choose one with {path}::CLASS",
            )
        cls = "Model" if "Model" in names else (names[0] if names else None)
    problem = extract(text, cls, path=os.path.abspath(path), inputs=settings.inputs, init_inputs=settings.init_inputs)
    return problem, text


def _print_problem_error(err, path: str | None, as_json: bool) -> None:
    where = ""
    if err.range is not None:
        where = f":{err.range.start_line + 1}:{err.range.start_col + 1}"
    if as_json:
        print(json.dumps({"error": {"kind": err.kind, "message": err.message, "range": err.range.to_dict() if err.range else None}}))
    print(f"tritonize: {path or ''}{where}: {err.kind}: {err.message}", file=sys.stderr)


def cmd_convert(args: argparse.Namespace) -> int:
    from ..pipeline import convert
    from ..problem import ProblemError
    from ..render import report_text
    from ..store import Store

    settings, problems = _settings_from_args(args)
    for p in problems:
        print(f"tritonize: {p}", file=sys.stderr)
    if problems:
        return EXIT_BAD_INPUT
    path, _ = _split_target(args.target)
    try:
        problem, text = load_problem(args.target, settings)
    except ProblemError as err:
        _print_problem_error(err, path, args.json)
        return EXIT_BAD_INPUT
    store = Store(settings.resolved_cache_dir()) if settings.use_cache else None
    printer = ProgressPrinter(enabled=not (args.json or args.quiet))
    try:
        report = convert(problem, settings, progress=printer, store=store)
    except Cancelled:
        print("tritonize: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ntritonize: interrupted", file=sys.stderr)
        return 130
    if report.error:
        if args.json:
            print(report.to_json(indent=2))
        print(f"tritonize: {path}: {report.error_kind}: {report.error}", file=sys.stderr)
        if report.error_kind == "no_verifier":  # this machine cannot verify (see `tritonize doctor`): not bad input
            return EXIT_NONE
        return EXIT_BAD_INPUT
    best = report.best_result()
    if args.json:
        print(report.to_json(indent=2))
    else:
        if best is not None:
            from ..edit import generated_class_code

            print(generated_class_code(problem, best.code))
            print()
        print(report_text(report))
    if best is not None and args.write:
        from ..edit import apply_to_text, sibling_path, sibling_text

        if settings.placement == "sibling":
            target = sibling_path(args.write)
            existing = open(target, encoding="utf-8").read() if os.path.exists(target) else None
            new_text = sibling_text(existing, problem, report)
        else:
            target = args.write
            new_text = apply_to_text(text, problem, report)
        with open(target, "w", encoding="utf-8") as f:
            f.write(new_text)
        print(f"tritonize: wrote {target}", file=sys.stderr)
    return EXIT_OK if best is not None else EXIT_NONE


if __name__ == "__main__":
    sys.exit(main())
