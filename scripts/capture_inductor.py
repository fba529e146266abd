"""Capture torch.compile (Inductor) output for problem files, on a CUDA machine.

For each problem and each mode (default; max-autotune with Triton-only GEMM/conv templates) this
records what the Inductor exporter (generate/inductor.py) needs: the generated output module's
source, the dynamo graph's placeholder sources (which call() argument is which parameter/input),
and the launch configuration each kernel actually ran with after autotuning. The JSON files are the
CPU test fixtures under tests/fixtures/inductor/.

    python scripts/capture_inductor.py benchmarks/problems examples -o /tmp/capture
    python scripts/capture_inductor.py benchmarks/problems --dynamic --only 05_silu,22_softmax -o /tmp/capture

`--dynamic` marks the dimensions worker/shapes.py's plan says a user varies (batch, sequence, image size)
dynamic and writes `<problem>.<mode>-dynamic.json` (the fixtures under tests/fixtures/inductor_dynamic/).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))


def problem_files(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(glob.glob(os.path.join(p, "**", "*.py"), recursive=True))
        else:
            out.append(p)
    return [f for f in out if not os.path.basename(f).startswith("_")]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--modes", default="default,max-autotune-triton")
    ap.add_argument("--budget-s", type=float, default=400.0, help="stop starting new captures after this")
    ap.add_argument("--shard", default="0/1", help="i/n: capture every n-th file starting at i")
    ap.add_argument("--only", default="", help="comma-separated substrings: capture only matching files")
    ap.add_argument("--dynamic", action="store_true", help="mark the shape plan's dimensions dynamic")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    from tritonize.worker.inductor_capture import capture_file

    started = time.monotonic()
    summary = []
    index, count = (int(v) for v in args.shard.split("/"))
    files = problem_files(args.paths)[index::count]
    if args.only:
        files = [f for f in files if any(s in f for s in args.only.split(","))]
    for path in files:
        for mode in args.modes.split(","):
            if time.monotonic() - started > args.budget_s:
                summary.append({"file": path, "mode": mode, "error": "skipped: time budget"})
                continue
            name = os.path.splitext(os.path.basename(path))[0]
            label = f"{mode}-dynamic" if args.dynamic else mode
            t0 = time.monotonic()
            try:
                rec = capture_file(path, mode, dynamic=args.dynamic)
            except Exception as exc:  # keep going: one module's failure is a data point
                rec = {"file": path, "mode": mode, "error": f"{type(exc).__name__}: {exc}",
                       "traceback": traceback.format_exc()[-4000:]}
            rec["capture_s"] = round(time.monotonic() - t0, 2)
            with open(os.path.join(args.out, f"{name}.{label}.json"), "w") as f:
                json.dump(rec, f, indent=1)
            summary.append({"file": path, "mode": label, "error": rec.get("error"), "kernels": len(rec.get("kernels", [])),
                            "s": rec["capture_s"]})
            print(f"{name:40s} {label:30s} {rec['capture_s']:6.1f}s "
                  f"{'ERROR ' + rec['error'][:80] if rec.get('error') else str(len(rec.get('kernels', []))) + ' kernels'}",
                  flush=True)
    with open(os.path.join(args.out, f"summary-{index}-{os.getpid()}.json"), "w") as f:
        json.dump(summary, f, indent=1)  # this shard only
    return 0


if __name__ == "__main__":
    sys.exit(main())
