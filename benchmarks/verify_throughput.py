"""Verification throughput: 20 candidates of one KernelBench-level-1-sized problem through WorkerPool.

On a GPU: row softmax of a 4096×4096 fp32 tensor, 20 candidates (16 correct variants of one kernel
with different BLOCK/num_warps, 4 that fail in different ways), 3 seeds each, timing on. Goal: all
20 in ≤ 30 s wall, start-up included. On a CPU-only machine a tiny version (16×256) runs under
TRITON_INTERPRET=1, without timing.

    python benchmarks/verify_throughput.py [--device auto|cpu|cuda] [--n 20] [--json]

Prints one row per candidate and a breakdown: worker start-up, import + static checks, first
forward (includes the JIT), the other seeds, eager/torch.compile baselines, candidate timing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "server"))

from tritonize.candidate import Candidate  # noqa: E402
from tritonize.problem import Problem, Range  # noqa: E402
from tritonize.settings import Settings  # noqa: E402
from tritonize.verify.pool import WorkerPool  # noqa: E402

PROBLEM = '''
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.softmax(x, dim=1)


def get_inputs():
    return [torch.randn({rows}, {cols})]


def get_init_inputs():
    return []
'''

KERNEL = '''
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def softmax_kernel(x_ptr, y_ptr, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    # pass 1: row max; pass 2: sum of exponentials; pass 3: normalised output
    m = tl.full([BLOCK], float("-inf"), tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + row * stride + cols, mask=cols < n_cols, other=float("-inf"))
        m = tl.maximum(m, x)
    row_max = tl.max(m, 0)
    s = tl.zeros([BLOCK], tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + row * stride + cols, mask=cols < n_cols, other=float("-inf"))
        s += tl.exp(x - row_max)
    total = tl.sum(s, 0)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < n_cols
        x = tl.load(x_ptr + row * stride + cols, mask=mask, other=float("-inf"))
        tl.store(y_ptr + row * stride + cols, {expr}, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        rows, cols = x.shape
        softmax_kernel[(rows,)](x, y, cols, x.stride(0), BLOCK={block}, num_warps={warps})
        return y{tail}
'''

CORRECT = "tl.exp(x - row_max) / total"
FAILING = [
    ("wrong-scale", "tl.exp(x - row_max) / (total * 1.1)", ""),  # mismatch
    ("no-normalise", "tl.exp(x - row_max)", ""),  # mismatch
    ("wrong-shape", CORRECT, "[:, :-1]"),  # mismatch (shape)
    ("syntax", CORRECT, ")"),  # syntax
]


def candidates(n: int, blocks: list[int]) -> list[Candidate]:
    out: list[Candidate] = []
    correct = max(0, n - len(FAILING))
    variants = [(b, w) for b in blocks for w in (1, 2, 4, 8)]
    for i in range(correct):
        block, warps = variants[i % len(variants)]
        code = KERNEL.format(expr=CORRECT, block=block, warps=warps, tail="")
        out.append(Candidate(code=code, origin="bench", candidate_id=f"b{block}w{warps}" + (f"#{i}" if i >= len(variants) else "")))
    for name, expr, tail in FAILING[: n - correct]:
        code = KERNEL.format(expr=expr, block=blocks[0], warps=4, tail=tail)
        out.append(Candidate(code=code, origin="bench", candidate_id=name))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the numbers as JSON too")
    ap.add_argument("--no-shape-checks", action="store_true", help="skip the shape families (their cost)")
    args = ap.parse_args()

    t0 = time.monotonic()
    settings = Settings(device=args.device, seeds=args.seeds, timeout_s=120.0, shape_checks=not args.no_shape_checks)
    pool = WorkerPool(settings)
    pool.start()
    info = pool.device_info()
    gpu = info.kind == "cuda"
    rows, cols = (4096, 4096) if gpu else (16, 256)
    blocks = [256, 512, 1024, 2048] if gpu else [64, 128, 256, 512]
    source = PROBLEM.format(rows=rows, cols=cols)
    zero = Range(0, 0, 0, 0)
    problem = Problem(name="Model", source=source, class_range=zero, name_range=zero)
    startup = time.monotonic() - t0

    cands = candidates(args.n, blocks)
    t1 = time.monotonic()
    probe = pool.probe(problem, settings)
    pool.start_baselines(problem, settings)  # as `convert` does: measured beside the checks
    results = pool.verify_all(problem, cands, settings)
    pool.complete_baselines(problem, settings, results)
    wall = time.monotonic() - t0
    verify_wall = time.monotonic() - t1
    pool.close()

    stats = pool.stats()
    spread = ", ".join(f"slot {k[9:]}: {int(v)}" for k, v in sorted(stats.items()) if k.startswith("jobs_slot"))
    print(f"device: {info.name} × {info.count}   jobs per worker: {spread}")
    print(f"problem: softmax {probe.input_shapes[0]}   tolerance {probe.tolerance.describe()}")
    print(f"{'candidate':<16} {'status':<9} {'ms':>9} {'×eager':>7} {'×compile':>8} {'verify s':>8}  message")
    for r in results:
        t = r.timing
        ms = f"{t.ms:.4f}" if t else "-"
        xe = f"{t.speedup_eager:.2f}" if t and t.speedup_eager else "-"
        xc = f"{t.speedup_compile:.2f}" if t and t.speedup_compile else "-"
        print(f"{r.candidate_id:<16} {r.status:<9} {ms:>9} {xe:>7} {xc:>8} {r.seconds:8.2f}  {r.message[:70]}")

    phases = [("worker start-up (first hello)", stats.get("startup_s", startup)),
              ("import + static checks", stats.get("phase_load_s", 0.0)),
              ("first forward (incl. JIT)", stats.get("phase_first_forward_s", 0.0)),
              ("other seeds (correctness)", stats.get("phase_correctness_s", 0.0)),
              ("stress input families", stats.get("phase_stress_s", 0.0)),
              ("repeat calls", stats.get("phase_repeats_s", 0.0)),
              ("shape families", stats.get("phase_shapes_s", 0.0)),
              ("eager + torch.compile baselines (verify worker)", stats.get("phase_baselines_s", 0.0)),
              ("baselines beside (generation worker)", stats.get("baselines_measured_s", 0.0)),
              ("candidate timing", stats.get("phase_timing_s", 0.0) - stats.get("phase_baselines_s", 0.0))]
    print()
    print(f"{'phase':<48} {'seconds':>8}")
    for name, secs in phases:
        print(f"{name:<48} {secs:8.2f}")
    passed = sum(r.passed for r in results)
    print(f"{'verification wall (probe + 20 jobs)':<48} {verify_wall:8.2f}")
    print(f"{'TOTAL wall':<48} {wall:8.2f}   ({len(results)} candidates, {passed} passed, "
          f"{args.seeds} seeds{', timed' if gpu else ', not timed'}; goal ≤ 30 s on one GPU)")
    if args.json:
        print(json.dumps({"device": info.name, "wall_s": wall, "verify_wall_s": verify_wall, "startup_s": startup,
                          "passed": passed, "n": len(results), "stats": stats}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
