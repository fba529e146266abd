"""Template generator: drop-in behaviour with other constructor arguments, and in-place ops.

Candidates are built from the problem's own `get_init_inputs()`; a user then builds `ModelNew` with
*other* arguments. Numeric attributes (`self.scale`, `nn.LeakyReLU(negative_slope)`, `nn.LayerNorm.eps`,
`nn.GroupNorm(num_groups)`) must be read at run time, and values that decide structure (a softmax
dim, a loop count) must raise a clear error rather than compute something else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

from test_template import ACTIVATIONS, load, problem  # noqa: E402
from tritonize.worker.template.build import build_candidates  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent


def build_one(prob: dict) -> str:
    result = build_candidates({"problem": prob, "n": 1})
    assert result["skipped"] is None, result["skipped"]
    return result["candidates"][0]["code"]


def compare_with_args(prob: dict, code: str, init: list, inputs: list, atol: float = 1e-4) -> None:
    """ModelNew(*init) with the reference's state_dict matches Model(*init) on `inputs`."""
    ref_ns = load(prob["source"], "ref")
    cls = ref_ns.get("Model") or ref_ns[prob["name"]]
    torch.manual_seed(0)
    model = cls(*init)
    new = load(code)["ModelNew"](*init)
    new.load_state_dict(model.state_dict())
    with torch.no_grad():
        ref = model(*[x.clone() for x in inputs])
        out = new(*inputs)
    refs = ref if isinstance(ref, (tuple, list)) else [ref]
    outs = out if isinstance(out, (tuple, list)) else [out]
    for r, o in zip(refs, outs, strict=True):
        torch.testing.assert_close(o, r, atol=atol, rtol=atol)


# ---- constructor arguments are read at run time ------------------------------------------------


def test_example_scale_argument_is_not_baked_in():
    prob = {"source": (ROOT / "examples" / "fused_activation.py").read_text(), "name": "FusedGeluScale"}
    code = build_one(prob)  # built with the default scale=0.5
    assert "= x * scale" in code and "scale_gelu_bias(x, self.bias, self.scale)" in code
    x = torch.randn(4, 64)
    compare_with_args(prob, code, [64, 2.0], [x])
    compare_with_args(prob, code, [64], [x])


SUBMODULES = """
class Model(nn.Module):
    def __init__(self, c, slope=0.01, eps=1e-5, lo=-1.0, hi=1.0, groups=2, scale=0.5, alpha=1.0):
        super().__init__()
        self.ln = nn.LayerNorm(c, eps=eps)
        self.act = nn.LeakyReLU(slope)
        self.clip = nn.Hardtanh(lo, hi)
        self.gn = nn.GroupNorm(groups, 8, eps=eps)
        self.elu = nn.ELU(alpha)
        self.scale = scale
        self.alpha = alpha
        self.eps = eps

    def forward(self, x, y):
        a = self.clip(self.act(self.ln(x)) * self.scale)
        b = F.leaky_relu(x, self.alpha) + F.layer_norm(x, (x.shape[-1],), eps=self.eps)
        return a, b, self.elu(self.gn(y))
"""


def test_submodule_and_functional_arguments_follow_the_constructor():
    prob = problem(SUBMODULES, "[torch.randn(5, 16), torch.randn(2, 8, 3, 5)]", "[16]")
    code = build_one(prob)
    forward = code[code.index("    def forward(") :]
    for attr in ("self.act.negative_slope", "self.ln.eps", "self.clip.min_val", "self.gn.num_groups", "self.scale", "self.eps"):
        assert attr in forward, attr
    x, y = torch.randn(5, 16), torch.randn(2, 8, 3, 5)
    compare_with_args(prob, code, [16], [x, y])
    # every argument different: slope, a large eps, a narrow clip, 4 groups instead of 2, ...
    compare_with_args(prob, code, [16, 0.3, 0.1, -0.25, 0.5, 4, 2.0, 0.7], [x * 3, y])


def test_structural_arguments_raise_a_clear_error():
    body = """
    class Model(nn.Module):
        def __init__(self, dim=-1, n=2, mode="none"):
            super().__init__()
            self.sm = nn.Softmax(dim=dim)
            self.n = n
            self.gelu = nn.GELU(approximate=mode)

        def forward(self, x):
            for _ in range(self.n):
                x = x * 2.0
            return self.gelu(self.sm(x))
    """
    prob = problem(body, "[torch.randn(6, 9)]")
    code = build_one(prob)
    x = torch.randn(6, 9)
    compare_with_args(prob, code, [-1, 2], [x])
    for init, what in (([0], "self.sm.dim == -1"), ([-1, 3], "self.n == 2"), ([-1, 2, "tanh"], "self.gelu.approximate == 'none'")):
        new = load(code)["ModelNew"](*init)
        with pytest.raises(ValueError, match="generated for " + what) as err:
            new(x)
        assert "convert the module again" in str(err.value)


# ---- in-place ops ------------------------------------------------------------------------------------


def test_in_place_ops_on_intermediates_are_functionalised():
    body = """
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(12, 10)
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            h = x * 2.0
            h.add_(1.0)
            g = h.sigmoid_()
            g.mul_(3.0)
            z = self.act(self.fc(x))
            z -= 0.5
            w = F.relu(x - 1.0, inplace=True)
            return h + g, z, w.clamp_(max=0.5)
    """
    prob = problem(body, "[torch.randn(7, 12)]")
    code = build_one(prob)
    compare_with_args(prob, code, [], [torch.randn(7, 12)])


@pytest.mark.parametrize(
    "stmt,what",
    [
        ("x.add_(1.0)", "forward mutates its input x in place"),
        ("x += 1.0", "forward mutates its input x in place"),
        ("F.relu(x, inplace=True)", "forward mutates its input x in place"),
        ("self.buf.mul_(2.0)", "forward mutates self.buf in place"),
    ],
)
def test_mutating_an_input_or_buffer_is_skipped_with_reason(stmt, what):
    body = f"""
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("buf", torch.ones(4))

        def forward(self, x):
            {stmt}
            return x * self.buf
    """
    result = build_candidates({"problem": problem(body, "[torch.randn(3, 4)]"), "n": 1})
    assert result["candidates"] == []
    assert what in result["skipped"] and "not supported" in result["skipped"], result["skipped"]


# ---- the emitted kernels compile for a GPU (no interpreter-only constructs) -------------------------


BMM = """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(17, 20))

    def forward(self, a, b):
        return torch.relu(torch.bmm(a, b)) + a @ self.w.t()[:, :1]
"""

MAX_DIM = """
class Model(nn.Module):
    def forward(self, x):
        v, i = torch.max(x.float(), dim=1)
        return torch.tanh(v) * 2, i, x.sum(dim=(0, 2))
"""

# Runs in a fresh process without TRITON_INTERPRET: triton's own @jit helpers (tl.sigmoid, ...) are
# interpreter objects in a process that imported triton with it, and those cannot be compiled.
COMPILE_DRIVER = r"""
import json, sys
import torch, triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

PTR = {torch.float32: "*fp32", torch.float16: "*fp16", torch.bfloat16: "*bf16", torch.int64: "*i64",
       torch.int32: "*i32", torch.bool: "*i1"}


class Capture:
    # Stands in for a @triton.jit kernel: kernel[grid](*args, **meta) records the launch.
    def __init__(self, fn, launches):
        self.fn, self.launches = fn, launches

    def __getitem__(self, grid):
        return lambda *args, **meta: self.launches.append((self.fn, args, meta))


def compile_for_cuda(fn, args, meta):
    # One launch, compiled for sm_90 by Triton's frontend and NVIDIA backend (no GPU needed).
    values = dict(zip([p.name for p in fn.params], args)) | meta
    signature, constexprs = {}, {}
    for p in fn.params:
        v = values[p.name]
        if p.is_constexpr:
            signature[p.name], constexprs[p.name] = "constexpr", v
        elif isinstance(v, torch.Tensor):
            signature[p.name] = PTR[v.dtype]
        elif isinstance(v, bool):
            signature[p.name] = "i1"
        elif isinstance(v, int):
            signature[p.name] = "i32" if abs(v) < 2**31 else "i64"
        else:
            signature[p.name] = "fp32"
    options = {k: meta[k] for k in ("num_warps", "num_stages") if k in meta}
    triton.compile(ASTSource(fn, signature, constexprs=constexprs), target=GPUTarget("cuda", 90, 32), options=options)


count = 0
for job in json.load(open(sys.argv[1])):
    ns = {"__name__": "candidate"}
    exec(compile(open(job["path"]).read(), job["path"], "exec"), ns)
    launches = []
    for name, value in list(ns.items()):
        if name.endswith("_kernel"):
            assert isinstance(value, triton.runtime.JITFunction), type(value)
            ns[name] = Capture(value, launches)
    problem = {"__name__": "problem"}
    exec(job["problem"], problem)
    init = job["init"] if job["init"] is not None else problem["get_init_inputs"]()
    with torch.no_grad():
        ns["ModelNew"](*init)(*problem["get_inputs"]())
    assert launches, job["path"]
    for fn, args, meta in launches:
        compile_for_cuda(fn, args, {k: v for k, v in meta.items()})
        count += 1
print("compiled", count)
"""


@pytest.mark.slow  # ~20 s: Triton's compiler and ptxas on every kernel shape
def test_kernels_compile_for_a_cuda_target(tmp_path):
    """Every kernel shape (pointwise, rows one-pass and looped, GEMM fp32 and fp16, run-time scalars)
    goes through Triton's real compiler down to a cubin for sm_90: nothing interpreter-only."""
    half_linear = problem(
        """
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(32, 48).half()

            def forward(self, x):
                return torch.relu(self.fc(x))
        """,
        "[torch.randn(8, 32).half()]",
    )
    argmax = problem("class Model(nn.Module):\n    def forward(self, x):\n        return x.argmax(-1), x.var(-1)\n", "[torch.randn(4, 300)]")
    cases = [
        ({"source": (ROOT / "examples" / "fused_activation.py").read_text(), "name": "FusedGeluScale"}, [1024, 2.0]),
        ({"source": (ROOT / "examples" / "softmax.py").read_text(), "name": "Model"}, None),
        ({"source": (ROOT / "examples" / "linear_act.py").read_text(), "name": "LinearGELU"}, None),
        (half_linear, None),
        (argmax, None),
        (problem(SUBMODULES, "[torch.randn(5, 16), torch.randn(2, 8, 3, 5)]", "[16]"), [16, 0.3]),
        (problem(ACTIVATIONS, "[torch.randn(37, 129)]"), None),
        (problem(BMM, "[torch.randn(2, 33, 20), torch.randn(2, 20, 17)]"), None),
        (problem(MAX_DIM, "[torch.randn(3, 37, 5).half()]"), None),
    ]
    jobs = []
    for i, (prob, init) in enumerate(cases):
        cands = build_candidates({"problem": prob, "n": 4})["candidates"]
        # Variants differ in block sizes only, except row kernels: one pass and looped are different code.
        chosen = [cands[0]] + [c for c in cands[-1:] if "loop" in c["candidate_id"] and "loop" not in cands[0]["candidate_id"]]
        for j, cand in enumerate(chosen):
            path = tmp_path / f"cand{i}_{j}.py"  # @triton.jit reads its source from a file
            path.write_text(cand["code"])
            jobs.append({"path": str(path), "problem": prob["source"], "init": init})
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    (tmp_path / "driver.py").write_text(COMPILE_DRIVER)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path / "cache")  # really compile, whatever ran before
    out = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "jobs.json")], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.split()[-1]) >= len(jobs), out.stdout  # every launch of every candidate compiled
