"""Template-generator kernels against the device's limits, measured side by side in one run (GPU).

Memory-bound problems: achieved bandwidth (bytes read + written once each, over the median time)
as a share of a device-to-device copy measured in the same run. GEMM + epilogue problems: achieved
TFLOP/s as a share of `torch.matmul` at the same shapes and precision, and against eager (matmul
plus the epilogue's extra passes).

    python benchmarks/template_bandwidth.py [--problems 41_gelu_fp16,22_softmax,...]

Without a GPU, `--compile-only` builds the same candidates and compiles every kernel launch for
sm_90 with Triton's real compiler (ints equal to 1 and multiples of 16 specialised as the JIT does),
then prints ptxas's register count, spill bytes and the shared memory per launch:

    python benchmarks/template_bandwidth.py --compile-only [--problems ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "server"))

MEMORY_BOUND = [
    "01_relu", "13_bias_gelu_scale", "41_gelu_fp16", "16_sum_dim", "21_row_l2_norm",
    "22_softmax", "24_softmax_long_row", "25_layer_norm", "26_rms_norm", "43_layer_norm_fp16",
]
GEMM = ["28_linear_bias_gelu", "29_linear_relu_scale", "30_matmul", "44_linear_relu_fp16"]


def _load(path: str):
    from tritonize.problem import extract

    with open(path) as f:
        text = f.read()
    return extract(text, "Model", path=path)


def _module_from_code(code: str, name: str):
    import tempfile

    d = tempfile.mkdtemp(prefix="tritonize-bw-")
    path = os.path.join(d, f"{name}.py")
    with open(path, "w") as f:
        f.write(code)
    mod = types.ModuleType(name)
    mod.__file__ = path
    sys.modules[name] = mod
    exec(compile(code, path, "exec"), mod.__dict__)
    return mod


def _bench(fn) -> float:
    import triton.testing

    return triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median")


def _nbytes(obj) -> int:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(o) for o in obj)
    return 0


def _copy_gbs(dev) -> tuple[float, float]:
    """Device-to-device copy bandwidth: 1 GiB read + 1 GiB written."""
    import torch

    src = torch.empty(2**28, dtype=torch.float32, device=dev).normal_()
    dst = torch.empty_like(src)
    copy_ms = _bench(lambda: dst.copy_(src))
    return 2 * src.numel() * 4 / copy_ms / 1e6, copy_ms


class _Capture:
    """Stands in for a @triton.jit kernel: kernel[grid](*args, **meta) records the launch."""

    def __init__(self, fn, launches: list):
        self.fn, self.launches = fn, launches

    def __getitem__(self, grid):
        return lambda *args, **meta: self.launches.append((self.fn, args, meta, grid))


def _compile_sm90(fn, args, meta) -> tuple[int, int, int]:
    """(registers, spill-store bytes, shared bytes) of one launch compiled for sm_90, no GPU needed."""
    import re
    import subprocess
    import tempfile

    import torch
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    ptr = {torch.float32: "*fp32", torch.float16: "*fp16", torch.bfloat16: "*bf16", torch.int64: "*i64", torch.int32: "*i32", torch.bool: "*i1"}
    values = dict(zip([p.name for p in fn.params], args, strict=False)) | meta
    signature, constexprs, attrs = {}, {}, {}
    for i, p in enumerate(fn.params):
        v = values[p.name]
        if p.is_constexpr:
            signature[p.name], constexprs[p.name] = "constexpr", v
        elif isinstance(v, torch.Tensor):
            signature[p.name], attrs[(i,)] = ptr[v.dtype], [["tt.divisibility", 16]]
        elif isinstance(v, bool):
            signature[p.name] = "i1"
        elif isinstance(v, int) and v == 1:  # the JIT specialises 1 as a constant
            signature[p.name], constexprs[p.name] = "constexpr", 1
        elif isinstance(v, int):
            signature[p.name] = "i32" if abs(v) < 2**31 else "i64"
            if v % 16 == 0:
                attrs[(i,)] = [["tt.divisibility", 16]]
        else:
            signature[p.name] = "fp32"
    options = {k: meta[k] for k in ("num_warps", "num_stages") if k in meta}
    kernel = triton.compile(ASTSource(fn, signature, constexprs=constexprs, attrs=attrs), target=GPUTarget("cuda", 90, 32), options=options)
    with tempfile.NamedTemporaryFile("w", suffix=".ptx", delete=False) as f:
        f.write(kernel.asm["ptx"])
    ptxas = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "ptxas")
    info = subprocess.run([ptxas, "-arch=sm_90a", "-v", f.name, "-o", os.devnull], capture_output=True, text=True).stderr
    os.unlink(f.name)
    regs = re.search(r"Used (\d+) registers", info)
    spill = re.search(r"(\d+) bytes spill stores", info)
    return int(regs.group(1)) if regs else -1, int(spill.group(1)) if spill else -1, kernel.metadata.shared


def compile_only(names: list[str], n: int) -> int:
    """Every candidate's launches compiled for sm_90; returns the number of failures."""
    import torch
    from tritonize.worker.template.build import build_candidates

    failures = 0
    for name in names:
        path = os.path.join(ROOT, "benchmarks", "problems", f"{name}.py")
        problem = _load(path)
        res = build_candidates({"problem": problem.to_dict(), "n": n})
        if not res.get("candidates"):
            print(f"{name:24s} no template candidate: {res.get('skipped')}")
            continue
        ns: dict = {}
        exec(compile(problem.source, path, "exec"), ns)
        torch.manual_seed(0)
        inputs, init = ns["get_inputs"](), ns["get_init_inputs"]()
        for i, c in enumerate(res["candidates"]):
            mod = _module_from_code(c["code"], f"cc_{name}_{i}")
            launches: list = []
            for attr, value in list(vars(mod).items()):
                if attr.endswith("_kernel"):
                    setattr(mod, attr, _Capture(value, launches))
            with torch.no_grad():
                mod.ModelNew(*init)(*inputs)  # launches are recorded, not run
            for fn, args, meta, grid in launches:
                try:
                    regs, spill, smem = _compile_sm90(fn, args, meta)
                    flag = "  SPILLS" if spill > 0 else ""
                    print(f"{name:24s} {c['candidate_id']:48s} {fn.__name__:28s} grid={grid} regs={regs} spill={spill} smem={smem}{flag}")
                except Exception as e:  # noqa: BLE001 - report and go on with the next launch
                    failures += 1
                    print(f"{name:24s} {c['candidate_id']:48s} {fn.__name__:28s} COMPILE FAILED: {type(e).__name__}: {str(e)[-300:]}")
    return failures


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", default=",".join(MEMORY_BOUND + GEMM))
    ap.add_argument("-n", type=int, default=4)
    ap.add_argument("--all", action="store_true", help="print every variant's time, not only the best")
    ap.add_argument("--compile-only", action="store_true", help="no GPU: compile every launch for sm_90, print registers and spills")
    args = ap.parse_args()
    if args.compile_only:
        os.environ.pop("TRITON_INTERPRET", None)
        return 1 if compile_only(args.problems.split(","), args.n) else 0
    import torch
    from tritonize.worker.template.build import build_candidates

    dev = torch.device("cuda")
    copy_gbs, copy_ms = _copy_gbs(dev)
    print(f"device: {torch.cuda.get_device_name(0)}  torch {torch.__version__}")
    print(f"copy bandwidth (1 GiB d2d, read+write): {copy_gbs:,.0f} GB/s  ({copy_ms:.3f} ms)\n")
    header = f"{'problem':28s} {'best variant':34s} {'ms':>8s} {'eager ms':>9s} {'x eager':>8s} {'GB/s or TF/s':>13s} {'% of limit':>10s}"
    print(header)
    print("-" * len(header))
    rows = []
    for name in args.problems.split(","):
        path = os.path.join(ROOT, "benchmarks", "problems", f"{name}.py")
        problem = _load(path)
        ns: dict = {}
        exec(compile(problem.source, path, "exec"), ns)
        torch.manual_seed(0)
        ref = ns["Model"](*ns["get_init_inputs"]()).to(dev).eval()
        inputs = [t.to(dev) if isinstance(t, torch.Tensor) else t for t in ns["get_inputs"]()]
        with torch.no_grad():
            expected = ref(*inputs)
        res = build_candidates({"problem": problem.to_dict(), "n": args.n})
        if not res.get("candidates"):
            print(f"{name:28s} no template candidate: {res.get('skipped')}")
            continue
        best = None
        for i, c in enumerate(res["candidates"]):
            mod = _module_from_code(c["code"], f"bw_{name}_{i}")
            new = mod.ModelNew(*ns["get_init_inputs"]()).to(dev).eval()
            new.load_state_dict(ref.state_dict())
            with torch.no_grad():
                got = new(*inputs)
            tol = 1e-2 if expected.dtype in (torch.float16, torch.bfloat16) else 1e-4
            if got.shape != expected.shape or not torch.allclose(got.float(), expected.float(), atol=tol, rtol=tol):
                print(f"  {c['candidate_id']}: WRONG (max |d| {(got.float() - expected.float()).abs().max().item():.3g})")
                continue
            with torch.no_grad():
                ms = _bench(lambda new=new, inputs=inputs: new(*inputs))
            if args.all:
                print(f"  {c['candidate_id']:60s} {ms:8.4f} ms")
            if best is None or ms < best[1]:
                best = (c["candidate_id"], ms)
        if best is None:
            continue
        with torch.no_grad():
            eager_ms = _bench(lambda ref=ref, inputs=inputs: ref(*inputs))
        if name in GEMM:
            x = inputs[0]
            weights = [p for p in ref.parameters() if p.dim() == 2]
            a = x.reshape(-1, x.shape[-1])
            b = weights[0].t() if weights else inputs[1]  # nn.Linear weight, or a plain A @ B
            m, k = a.shape
            n = b.shape[-1]
            mm_ms = _bench(lambda a=a, b=b: torch.matmul(a, b))
            tflops = 2 * m * n * k / best[1] / 1e9
            mm_tflops = 2 * m * n * k / mm_ms / 1e9
            share = 100 * tflops / mm_tflops
            rows.append((name, best, eager_ms, f"{tflops:,.0f} TF/s", share, f"matmul {mm_tflops:,.0f} TF/s"))
        else:
            traffic = _nbytes(inputs) + _nbytes(expected) + sum(_nbytes(p) for p in ref.parameters())
            gbs = traffic / best[1] / 1e6
            share = 100 * gbs / copy_gbs
            rows.append((name, best, eager_ms, f"{gbs:,.0f} GB/s", share, f"{traffic / 2**20:,.0f} MiB traffic"))
        r = rows[-1]
        print(f"{r[0]:28s} {r[1][0]:34s} {r[1][1]:8.4f} {r[2]:9.4f} {r[2] / r[1][1]:7.2f}x {r[3]:>13s} {r[4]:9.1f}%  {r[5]}")
    if rows:
        shares = [r[4] for r in rows if r[0] not in GEMM]
        if shares:
            print(f"\nmemory-bound: median {statistics.median(shares):.1f}% of copy bandwidth (goal >= 85%)")
        gshares = [r[4] for r in rows if r[0] in GEMM]
        if gshares:
            print(f"GEMM + epilogue: median {statistics.median(gshares):.1f}% of torch.matmul throughput (goal >= 70%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
