"""`tritonize` command line: convert | verify | bench | serve | doctor | repl. Argument parsing and
dispatch only; each command lives in its own module of this package, shared pieces in common.py.

Exit codes (common.py): 0 a correct kernel was found (or the command succeeded), 1 none was, 2 bad
input, 130 interrupted. This process never imports torch, triton or model runtimes (DESIGN.md,
invariant 1); command modules are imported only when their command runs, so `tritonize serve`
starts without loading the pipeline.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..settings import ALL_GENERATORS


def add_common_options(p: argparse.ArgumentParser) -> None:
    """The pipeline flags of convert, verify, bench and repl (common.settings_from_args reads them)."""
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
    add_common_options(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--write", metavar="PATH", help="write the file with the kernel inserted to PATH (may be FILE itself); "
                   "with --placement sibling, write <PATH stem>_triton.py next to it instead")
    p.add_argument("--placement", choices=["inline", "sibling"], help="where --write puts the kernel (default inline)")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not use cached reports")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    p = sub.add_parser("verify", help="verify a candidate file against a problem")
    p.add_argument("target", help="PROBLEM.py or PROBLEM.py::CLASS")
    p.add_argument("candidate", help="candidate module defining ModelNew")
    add_common_options(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("bench", help="run the pipeline over folders of KernelBench-format problems")
    p.add_argument("paths", nargs="+")
    add_common_options(p)
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
    add_common_options(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
