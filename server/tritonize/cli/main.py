"""`tritonize` command line: convert | verify | bench | serve | doctor | repl. Argument parsing and
dispatch only; each command lives in its own module of this package, shared pieces in common.py.

Each command lists only the options it reads. Exit codes (common.py): 0 success, 1 no correct kernel
(or this machine cannot verify), 2 bad input, 130 interrupted. This process never imports torch,
triton or model runtimes (DESIGN.md, invariant 1); command modules are imported only when their
command runs, so `tritonize serve` starts without loading the pipeline.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from collections.abc import Sequence

from ..settings import ALL_GENERATORS

EXIT_CODES = """exit codes:
  0    {ok}
  1    {none}
  2    bad input: unreadable file, syntax error, no input recipe, a recipe that raises, a bad flag or setting
  130  interrupted (Ctrl-C, SIGTERM)"""


def _wrap(text: str) -> str:
    """A description wrapped for the terminal (RawDescriptionHelpFormatter keeps the examples' layout)."""
    return textwrap.fill(text, width=min(100, shutil.get_terminal_size().columns - 2))


def _epilog(examples: str, ok: str, none: str) -> str:
    return f"examples:\n{examples.rstrip()}\n\n" + EXIT_CODES.format(ok=ok, none=none) + \
        "\n\nMore: docs/CLI.md (every command, the JSON documents and their schema)."


# ---- option groups: each command adds the groups it uses -------------------------------------------


def add_problem_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input recipe (when the file has no get_inputs())")
    g.add_argument("--inputs", help="Python expression for get_inputs(), e.g. '[torch.randn(8, 64)]'")
    g.add_argument("--init-inputs", dest="init_inputs", help="Python expression for get_init_inputs()")


def add_generation_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("generation")
    g.add_argument("--generators", help=f"comma-separated, from {','.join(ALL_GENERATORS)} (default: all)")
    g.add_argument("-n", type=int, help="samples per model / variants per pattern (default 4)")
    g.add_argument("--autotune-budget-s", dest="autotune_budget_s", type=float, metavar="S",
                   help="seconds Inductor's max-autotune capture may take before it is stopped (default 120)")
    m = p.add_argument_group("language model (the llm generator; docs/LLM.md)")
    m.add_argument("--model", help="HF checkpoint directory or GGUF file")
    m.add_argument("--model-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    m.add_argument("--model-name", help="model name for an OpenAI-compatible server")
    m.add_argument("--runtime", choices=["transformers", "llama_cpp", "openai"], help="model runtime")
    m.add_argument("--temperature", type=float, help="sampling temperature (default 1.0)")
    m.add_argument("--top-p", dest="top_p", type=float, help="nucleus sampling (default 0.97)")
    m.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, help="per sample (default 2048)")
    m.add_argument("--seed", type=int, help="sampling seed")
    m.add_argument("--prompt", help="prompt template file overriding the built-in KernelLLM prompt")
    r = p.add_argument_group("refinement (the llm generator learns from the verifier; docs/LLM.md)")
    r.add_argument("--rounds", type=int, metavar="R",
                   help="rounds of n samples; after each, the verifier's findings go into the next prompt (default 1)")
    r.add_argument("--target-speedup", dest="target_speedup", type=float, metavar="X",
                   help="stop once the best correct kernel is X times as fast as torch.compile (eager when compile "
                        "is not timed)")
    r.add_argument("--refine-budget-s", dest="refine_budget_s", type=float, metavar="S",
                   help="wall seconds for all rounds together; the round running then stops")
    r.add_argument("--refine-prompt", dest="refine_prompt", metavar="FILE",
                   help="template for rounds 2 and later ({problem} and {feedback} placeholders)")


def add_verify_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("verification")
    g.add_argument("--seeds", type=int, help="random input sets per candidate (default 3)")
    g.add_argument("--atol", type=float, help="absolute tolerance (default by dtype: fp32 1e-4, fp16/bf16 1e-2)")
    g.add_argument("--rtol", type=float, help="relative tolerance (default by dtype)")
    g.add_argument("--tf32", action="store_true", help="allow TF32 matmuls (the report states it)")
    g.add_argument("--strict", action="store_true", help="torch compute-op fallbacks in a candidate are fatal")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to verify (default auto)")
    g.add_argument("--timeout-s", dest="timeout_s", type=float, help="per-candidate time limit (default 120)")
    g.add_argument("--no-timing", action="store_true", help="check correctness only, even on a GPU")
    g.add_argument("--no-shape-checks", dest="no_shape_checks", action="store_true",
                   help="check candidates on the recipe's shapes only, not on the shape families "
                        "(other batch and sequence sizes; docs/PROBLEMS.md)")
    g.add_argument("--shape-specialised", dest="shape_specialised", action="store_true",
                   help="a kernel right only for the recipe's shapes may be chosen; the inserted class runs "
                        "the original module's code, on the same weights, for other shapes")


def add_environment_options(p: argparse.ArgumentParser, settings: bool = True) -> None:
    g = p.add_argument_group("environment")
    g.add_argument("--worker-python", dest="worker_python", metavar="PATH",
                   help="the Python that runs verify workers and the model host; it needs torch and triton "
                        "(default: this tritonize's own Python; env TRITONIZE_WORKER_PYTHON)")
    if settings:
        g.add_argument("--settings", metavar="FILE.json", help="settings file (the same keys as the editor settings)")


def add_json_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as one JSON document on stdout")


# ---- the parser ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Usage errors say what is wrong in one line (and, with --json, as the error document)."""

    json_requested = False

    def error(self, message: str) -> None:  # type: ignore[override]
        from .common import EXIT_BAD_INPUT, fail

        self.print_usage(sys.stderr)
        fail("usage", message, EXIT_BAD_INPUT, as_json=_Parser.json_requested,
             fix=f"see `{self.prog} --help`")
        sys.exit(EXIT_BAD_INPUT)


class _Version(argparse.Action):
    """--version reads the installed package metadata only when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        from .. import __version__

        print(f"tritonize {__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="tritonize", formatter_class=raw,
        description=_wrap("Turn PyTorch nn.Modules into verified Triton kernels."),
        epilog="examples:\n"
               "  tritonize convert model.py::Block > block_triton.py\n"
               "  tritonize convert model.py --write model.py          # insert the kernel next to the class\n"
               "  tritonize verify model.py::Block my_kernel.py\n"
               "  tritonize doctor\n\n"
               "Run `tritonize COMMAND --help` for a command's options, examples and exit codes.")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "convert", help="convert one module class of a file", formatter_class=raw,
        description=_wrap("Generate candidate Triton kernels for FILE's class, verify each against it, time the "
                    "correct ones and print the fastest as a self-contained module on stdout (the report "
                    "goes to stderr). --json prints the report instead; --write puts the kernel into a file."),
        epilog=_epilog(
            "  tritonize convert examples/rmsnorm.py > rmsnorm_triton.py\n"
            "  tritonize convert model.py::Block --generators template,inductor --json > report.json\n"
            "  tritonize convert model.py::Block --write model.py -q\n"
            "  tritonize convert model.py::Block --generators llm --runtime openai \\\n"
            "      --model-url http://127.0.0.1:8000/v1 --model-name facebook/KernelLLM\n"
            "  tritonize convert model.py --worker-python ~/torch-env/bin/python",
            ok="a correct kernel was found (on a GPU: one faster than eager by --min-speedup)",
            none="no candidate passed, none was faster than eager (see --insert-slower), or this machine cannot "
                 "verify (see doctor)"))
    p.add_argument("target", metavar="FILE[::CLASS]", help="the file, and the class (default: Model, else the only nn.Module)")
    add_json_flag(p, "the report")
    out = p.add_argument_group("output")
    out.add_argument("--write", metavar="PATH", help="write the file with the kernel inserted to PATH (may be FILE itself); "
                     "with --placement sibling, write <PATH stem>_triton.py next to it instead")
    out.add_argument("--placement", choices=["inline", "sibling"], help="where --write puts the kernel (default inline)")
    out.add_argument("--min-speedup", type=float, metavar="X",
                     help="on a GPU, print or write a kernel only when it beats eager PyTorch by X (default 1.05)")
    out.add_argument("--insert-slower", action="store_true",
                     help="print or write the fastest correct kernel even when it does not beat eager by --min-speedup")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress and no report on stderr (errors still)")
    out.add_argument("--no-cache", action="store_true", help="ignore and do not store cached reports")
    out.add_argument("--cache-dir", help="report cache directory (default: the user cache dir)")
    add_generation_options(p)
    add_verify_options(p)
    add_problem_options(p)
    add_environment_options(p)

    p = sub.add_parser(
        "verify", help="verify a kernel file against a module", formatter_class=raw,
        description=_wrap("Run the same checks as a conversion (and timing on a GPU) on CANDIDATE.py, a module "
                    "that defines ModelNew, against PROBLEM.py's class. The verdict goes to stdout."),
        epilog=_epilog(
            "  tritonize verify examples/rmsnorm.py my_rmsnorm_kernel.py\n"
            "  tritonize verify model.py::Block block_triton.py --seeds 5 --json",
            ok="the candidate passed", none="the candidate failed, or this machine cannot verify (see doctor)"))
    p.add_argument("target", metavar="PROBLEM.py[::CLASS]")
    p.add_argument("candidate", metavar="CANDIDATE.py", help="module defining ModelNew (the same constructor arguments)")
    add_json_flag(p, "the verdict")
    add_verify_options(p)
    add_problem_options(p)
    add_environment_options(p)

    p = sub.add_parser(
        "bench", help="run the pipeline over folders of KernelBench-format problems", formatter_class=raw,
        description=_wrap("Convert every problem file under PATH (KernelBench format) and summarise pass@k, fast_p "
                    "and speedups. The table goes to stdout (--json: the results as JSON instead); "
                    "progress to stderr. docs/BENCH.md explains the metrics."),
        epilog=_epilog(
            "  tritonize bench benchmarks/problems --generators template,inductor --resume\n"
            "  tritonize bench tests/data/bench_small --json-out results.json --markdown report.md\n"
            "  timeout 540 tritonize bench benchmarks/problems --resume   # continue later with --resume",
            ok="the run finished (whatever the pass rate)",
            none="the verifier could not start on this machine (see doctor)"))
    p.add_argument("paths", nargs="+", metavar="PATH", help="problem files or folders of them")
    add_json_flag(p, "the results")
    out = p.add_argument_group("results")
    out.add_argument("--json-out", dest="json_out", metavar="PATH", help="also write the JSON results to PATH")
    out.add_argument("--markdown", metavar="PATH", help="write a markdown report to PATH")
    out.add_argument("--plot", metavar="PNG", help="write a speedup-distribution plot (needs matplotlib)")
    out.add_argument("--k", default="1,10,20", help="pass@k values (default 1,10,20)")
    out.add_argument("--p", default="0,1,1.25,2", help="fast_p thresholds (default 0,1,1.25,2)")
    out.add_argument("--resume", action="store_true", help="skip problems already in the results directory")
    out.add_argument("--results-dir", default=".bench", help="per-problem results (for --resume; default .bench)")
    out.add_argument("--report-only", action="store_true", help="with --resume: summarise the stored results, run nothing")
    out.add_argument("--limit", type=int, help="only the first N problems")
    add_generation_options(p)
    add_verify_options(p)
    add_environment_options(p)

    p = sub.add_parser(
        "serve", help="run the language server (what the editors start)", formatter_class=raw,
        description=_wrap("Speak the Language Server Protocol on stdio (the default) or TCP."),
        epilog="examples:\n  tritonize serve\n  tritonize serve --tcp 127.0.0.1:2087\n\n"
               "exit codes:\n  0    the client shut the server down\n  2    bad flag (e.g. --tcp without a port)")
    p.add_argument("--stdio", action="store_true", help="speak LSP over stdio (the default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead")
    add_environment_options(p, settings=False)

    p = sub.add_parser(
        "doctor", help="what this machine can do, and how to fix what is missing", formatter_class=raw,
        description=_wrap("Check the worker Python (torch, triton), GPUs, the Triton interpreter, a real verify "
                    "worker's isolation layers, the model settings and runtimes, and the report cache. "
                    "Every problem comes with a fix."),
        epilog=_epilog("  tritonize doctor\n  tritonize doctor --json\n  tritonize doctor --worker-python ~/torch-env/bin/python",
                       ok="this machine can verify kernels", none="it cannot (each problem is listed with its fix)"))
    add_json_flag(p, "the findings")
    add_generation_options(p)
    add_environment_options(p)

    p = sub.add_parser(
        "repl", help="paste a module, watch generation and verification", formatter_class=raw,
        description=_wrap("Paste an nn.Module (end with Ctrl-D on an empty line); the model's text streams as it is "
                    "written, then every candidate's verdict and the chosen kernel. Workers and the model "
                    "stay loaded between modules."),
        epilog=_epilog("  tritonize repl --generators llm --model /models/KernelLLM\n  tritonize repl --generators template",
                       ok="the session ended", none="-"))
    add_generation_options(p)
    add_verify_options(p)
    add_problem_options(p)
    add_environment_options(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _Parser.json_requested = "--json" in argv
    args = build_parser().parse_args(argv)
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command; returns the process exit code."""
    if args.command == "convert":
        from .convert import cmd_convert

        return cmd_convert(args)
    if args.command == "verify":
        from .verify import cmd_verify

        return cmd_verify(args)
    if args.command == "bench":
        from .bench import cmd_bench

        return cmd_bench(args)
    if args.command == "serve":
        from .serve import cmd_serve

        return cmd_serve(args)
    if args.command == "doctor":
        from .doctor import cmd_doctor

        return cmd_doctor(args)
    if args.command == "repl":
        from .repl import cmd_repl

        return cmd_repl(args)
    raise ValueError(f"unknown command {args.command!r}")  # build_parser() admits no other


if __name__ == "__main__":
    sys.exit(main())
