"""Template generator: every pattern against PyTorch on small random inputs, under the interpreter.

Each case is a small problem module (Model, get_inputs, get_init_inputs). `build_candidates` turns it
into candidate modules; each one is executed, `ModelNew(*init)` gets the reference's state_dict, and
its outputs must match the reference on fresh random inputs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

from tritonize.worker.template.build import build_candidates  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
ON_CPU = os.environ.get("TRITON_INTERPRET") == "1"


def problem(body: str, inputs: str, init: str = "[]", name: str = "Model") -> dict:
    src = textwrap.dedent(
        """\
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        """
    ) + textwrap.dedent(body) + f"\n\ndef get_inputs():\n    return {inputs}\n\n\ndef get_init_inputs():\n    return {init}\n"
    return {"source": src, "name": name}


def load(code: str, name: str = "cand") -> dict:
    import types

    module = types.ModuleType(name)
    sys.modules[name] = module  # as an import would: `@dataclass` looks the module up here
    try:
        exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module.__dict__


def check(prob: dict, n: int = 4, which: str = "all", atol: float = 1e-4, rtol: float = 1e-4) -> list[dict]:
    """Build candidates and compare each (or the first and the last) with the reference."""
    result = build_candidates({"problem": prob, "n": n})
    assert result["skipped"] is None, result["skipped"]
    cands = result["candidates"]
    assert cands, "no candidates"
    ref_ns = load(prob["source"], "ref")
    cls = ref_ns.get("Model") or ref_ns[prob["name"]]
    chosen = cands if which == "all" else [cands[0], cands[-1]]
    for cand in chosen:
        torch.manual_seed(0)
        init = ref_ns["get_init_inputs"]()
        model = cls(*init)
        new = load(cand["code"])["ModelNew"](*init)
        new.load_state_dict(model.state_dict())  # same parameter and buffer names
        torch.manual_seed(1)
        inputs = ref_ns["get_inputs"]()
        with torch.no_grad():
            ref = model(*[x.clone() if isinstance(x, torch.Tensor) else x for x in inputs])
            out = new(*inputs)
        refs = ref if isinstance(ref, (tuple, list)) else [ref]
        outs = out if isinstance(out, (tuple, list)) else [out]
        assert len(refs) == len(outs)
        for r, o in zip(refs, outs, strict=False):
            assert o.shape == r.shape and o.dtype == r.dtype, (cand["candidate_id"], o.shape, r.shape, o.dtype, r.dtype)
            if r.dtype in (torch.int64, torch.bool):
                assert torch.equal(o, r), cand["candidate_id"]
            else:
                torch.testing.assert_close(o, r, atol=atol, rtol=rtol, msg=lambda m, c=cand: f"{c['candidate_id']}: {m}")
    return cands


# ---- element-wise ------------------------------------------------------------------------------


def test_example_fused_gelu_scale_end_to_end():
    src = (ROOT / "examples" / "fused_activation.py").read_text()
    cands = check({"source": src, "name": "FusedGeluScale"})
    code = cands[0]["code"]
    assert "def scale_gelu_bias_kernel(" in code and "tl.math.erf" in code
    assert cands[0]["origin"] == "template:scale_gelu_bias"
    assert "class FusedGeluScale" not in code and "class ModelNew(nn.Module)" in code


ACTIVATIONS = """
class Model(nn.Module):
    def forward(self, x):
        a = F.leaky_relu(x, 0.2) + F.elu(x) + F.selu(x) + F.gelu(x, approximate="tanh") + F.silu(x)
        b = F.mish(x) + F.hardswish(x) + F.hardsigmoid(x) + F.softplus(x) + F.softsign(x)
        c = torch.sigmoid(x) + torch.tanh(x) + torch.clamp(x, -0.5, 0.5) + F.hardtanh(x) + F.relu6(x * 4)
        d = torch.exp(x * 0.1) + torch.log(x.abs() + 1) + torch.sqrt(x.abs()) + torch.rsqrt(x.abs() + 1) + (-x) + x.pow(3)
        e = torch.where(x > 0, x * 2.0, x / 3.0) + (x >= 0.5).float() + torch.maximum(x, torch.zeros_like(x) if False else x * 0.5)
        return a + b + c + d + e
"""


@pytest.mark.parametrize("shape", ["(1000,)", "(37, 129)"])
def test_activation_zoo_odd_sizes(shape):
    check(problem(ACTIVATIONS, f"[torch.randn{shape} * 3]"), which="ends")


def test_broadcast_column_times_rows_plus_bias_param():
    body = """
    class Model(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.bias = nn.Parameter(torch.randn(c))
            self.register_buffer("scale", torch.rand(c) + 0.5)

        def forward(self, col, x):
            return (col * x + self.bias) * self.scale - 1.5
    """
    cands = check(problem(body, "[torch.randn(37, 1), torch.randn(37, 129)]", "[129]"))
    assert "self.scale" in cands[0]["code"]


@pytest.mark.parametrize("shapes", ["(5, 1, 1100), (5, 3, 1100), (1100,)", "(2, 3, 600), (3, 1), (2, 1, 600)"])
def test_long_rows_with_broadcast_operands_tile_by_rows(shapes):
    """Rows of at least half a block with a broadcast operand take the row-tiled path (every variant)."""
    a, b, c = (s.strip() for s in shapes.split("), ("))
    body = """
    class Model(nn.Module):
        def forward(self, x, y, z):
            return torch.sigmoid(x * y) + z
    """
    inputs = f"[torch.randn{a}), torch.randn({b}), torch.randn({c}]"
    cands = check(problem(body, inputs))
    assert all("row_tiled = shape[-1] >=" in c["code"] and "if ROW_TILED:" in c["code"] for c in cands)
    ns = load(cands[0]["code"])
    x, y, z = eval(inputs, {"torch": torch})
    launched = []
    kname = re.search(r"def (\w+_kernel)\(", cands[0]["code"]).group(1)
    kernel = ns[kname]

    class Spy:  # the wrapper looks its kernel up in the module: record how it is launched
        def __getitem__(self, grid):
            return lambda *args, **kw: (launched.append(kw["ROW_TILED"]), kernel[grid](*args, **kw))[1]

    ns[kname] = Spy()
    ns["ModelNew"]()(x, y, z)
    assert launched == [True]


def test_non_contiguous_input_transposed():
    body = """
    class Model(nn.Module):
        def forward(self, x, y):
            return torch.relu(x) * y + 1.0
    """
    check(problem(body, "[torch.randn(129, 37).t(), torch.randn(37, 129)]"))


def test_half_precision_elementwise_stores_half():
    body = """
    class Model(nn.Module):
        def forward(self, x):
            return F.silu(x) * 2.0
    """
    check(problem(body, "[torch.randn(33, 65).half()]"), which="ends", atol=2e-3, rtol=2e-3)
    check(problem(body, "[torch.randn(33, 65).bfloat16()]"), which="ends", atol=2e-2, rtol=2e-2)


# ---- reductions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "(x * 2).relu().sum(-1)",
        "x.mean(dim=-1, keepdim=True) * 3.0",
        "torch.amax(x, dim=1) - torch.amin(x, dim=1)",
        "torch.linalg.vector_norm(x, dim=-1)",
        "x.abs().sum(dim=1)",
        "x.argmax(dim=-1)",
        "x.var(dim=-1)",
    ],
)
def test_row_reductions_with_prologue_and_epilogue(expr):
    body = f"""
    class Model(nn.Module):
        def forward(self, x):
            return {expr}
    """
    check(problem(body, "[torch.randn(37, 129)]"), which="ends")


def test_max_with_dim_returns_values_and_indices_over_middle_dim():
    body = """
    class Model(nn.Module):
        def forward(self, x):
            v, i = torch.max(x, dim=1)
            return v * 2, i
    """
    check(problem(body, "[torch.randn(3, 37, 5)]"), which="ends")


def test_sum_over_all_dims():
    body = """
    class Model(nn.Module):
        def forward(self, x):
            return (x * x).sum()
    """
    check(problem(body, "[torch.randn(20, 30)]"), which="ends", rtol=1e-4, atol=1e-3)


# ---- softmax and norms ----------------------------------------------------------------------------


def test_softmax_example_one_pass_and_looped():
    src = (ROOT / "examples" / "softmax.py").read_text()
    cands = check({"source": src, "name": "Model"})
    tags = [c["candidate_id"] for c in cands]
    assert any("onepass" in t for t in tags) and any("loop" in t for t in tags)
    assert "def softmax_kernel(" in cands[0]["code"]


def test_softmax_with_scale_and_bias_prologue_on_middle_dim():
    body = """
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.randn(37, 1))

        def forward(self, x):
            return torch.softmax(x * 0.5 + self.bias, dim=1)
    """
    check(problem(body, "[torch.randn(2, 37, 9) * 5]"), which="ends")


def test_log_softmax_module():
    body = """
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.sm = nn.LogSoftmax(dim=-1)

        def forward(self, x):
            return self.sm(x)
    """
    check(problem(body, "[torch.randn(37, 129) * 10]"), which="ends")


def test_layer_norm_module_and_group_norm():
    body = """
    class Model(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.ln = nn.LayerNorm(c)
            with torch.no_grad():
                self.ln.weight.uniform_(0.5, 1.5)
                self.ln.bias.uniform_(-0.5, 0.5)

        def forward(self, x):
            return self.ln(x)
    """
    check(problem(body, "[torch.randn(37, 129) * 2 + 1]", "[129]"), which="ends")
    body = """
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.gn = nn.GroupNorm(4, 8)
            with torch.no_grad():
                self.gn.weight.uniform_(0.5, 1.5)
                self.gn.bias.uniform_(-0.5, 0.5)

        def forward(self, x):
            return self.gn(x)
    """
    check(problem(body, "[torch.randn(2, 8, 3, 5)]"), which="ends")


def test_rmsnorm_example_and_module():
    src = (ROOT / "examples" / "rmsnorm.py").read_text()
    cands = check({"source": src, "name": "RMSNorm"})
    assert "def rmsnorm_kernel(" in cands[0]["code"]
    if not hasattr(torch.nn, "RMSNorm"):
        pytest.skip("this torch has no nn.RMSNorm")
    body = """
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.RMSNorm(129, eps=1e-6)

        def forward(self, x):
            return self.norm(x)
    """
    check(problem(body, "[torch.randn(37, 129)]"), which="ends")


# ---- GEMM ---------------------------------------------------------------------------------------------


def test_linear_gelu_example():
    src = (ROOT / "examples" / "linear_act.py").read_text()
    cands = check({"source": src, "name": "LinearGELU"})
    code = cands[0]["code"]
    assert "def linear_gelu_kernel(" in code and "tl.dot(" in code and "GROUP_M" in code
    assert len({c["candidate_id"] for c in cands}) == 4


def test_linear_gelu_scale_on_3d_input_odd_sizes():
    body = """
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(20, 33)

        def forward(self, x):
            return F.gelu(self.fc(x)) * 0.5
    """
    check(problem(body, "[torch.randn(2, 7, 20)]"), which="ends")


def test_batched_matmul_broadcast_weight_and_transposed_param():
    body = """
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(17, 20))

        def forward(self, a, b):
            return torch.relu(torch.bmm(a, b)) + a @ self.w.t()[:, :1]
    """
    check(problem(body, "[torch.randn(2, 33, 20), torch.randn(2, 20, 17)]"), which="ends")


def test_linear_then_softmax_is_two_kernels():
    body = """
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(24, 40)

        def forward(self, x):
            return torch.softmax(self.fc(x) * 0.1, dim=-1)
    """
    cands = check(problem(body, "[torch.randn(19, 24)]"), which="ends")
    code = cands[0]["code"]
    # Two fused steps (the fp32 GEMM also carries the helper that lays its weight out N-contiguous).
    assert code.count("@triton.jit") - code.count("def transpose_kn_kernel(") == 2
    assert "+" in cands[0]["origin"]


def test_fp32_linear_transposes_its_weight_and_fp16_reads_it_in_place():
    """IEEE fp32 dots read B from shared memory lane by lane: nn.Linear's K-contiguous weight is first
    copied N-contiguous (no bank conflicts); tensor-core (fp16) dots read it in place."""
    body = """
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(40, 33)

        def forward(self, x):
            return torch.relu(self.fc(x))
    """
    cands = check(problem(body, "[torch.randn(2, 19, 40)]"), which="all")
    assert all("b = transpose_kn(b)" in c["code"] for c in cands)
    assert all("EVEN_K=K % " in c["code"] for c in cands)
    half = problem(body.replace("nn.Linear(40, 33)", "nn.Linear(40, 33).half()"), "[torch.randn(2, 19, 40).half()]")
    cands = build_candidates({"problem": half, "n": 4})["candidates"]
    assert cands and not any("transpose_kn" in c["code"] for c in cands)


def test_reduction_over_a_middle_dim_tiles_the_contiguous_kept_dim():
    """x.sum(1) of [B, N, M]: each program takes ROWS neighbouring kept positions (contiguous in
    memory) and loops over N, instead of one program per output walking memory with stride M."""
    body = """
    class Model(nn.Module):
        def forward(self, x):
            return torch.sum(x, dim=1, keepdim=True), x.amax(1)
    """
    cands = check(problem(body, "[torch.randn(3, 70, 45)]"), which="all")
    assert all(re.search(r"ROWS=(\d+)", c["code"]) and int(re.search(r"ROWS=(\d+)", c["code"]).group(1)) >= 16 for c in cands)


def test_short_rows_several_per_program_and_online_softmax_for_long_rows():
    """Softmax / log_softmax / logsumexp over rows that do not fill the tiles: several rows per program
    (37 rows is not a multiple of any ROWS), and looped variants with one online max+sum pass."""
    body = """
    class Model(nn.Module):
        def forward(self, x):
            return torch.softmax(x, dim=-1), torch.log_softmax(x * 0.5, dim=-1), torch.logsumexp(x, dim=-1)
    """
    cands = check(problem(body, "[torch.randn(37, 129) * 20]"), which="all")
    tags = [c["candidate_id"] for c in cands]
    assert any("onepass_r" in t for t in tags) and any("loop" in t for t in tags), tags
    looped = next(c["code"] for c in cands if "loop" in c["candidate_id"])
    assert looped.count("new_max = tl.maximum(") >= 3  # softmax, log_softmax and logsumexp: one pass each for max and sum
    softmax_kernel = looped[looped.index("def softmax_kernel(") : looped.index("def softmax(")]
    assert softmax_kernel.count("for start in range(0, n_cols, BLOCK):") == 2  # 2 reads of the row, not 3


# ---- what is not supported -------------------------------------------------------------------------


def test_conv2d_is_skipped_with_the_construct_and_line():
    body = """
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return torch.relu(self.conv(x))
    """
    result = build_candidates({"problem": problem(body, "[torch.randn(1, 3, 8, 8)]"), "n": 4})
    assert result["candidates"] == []
    assert "nn.Conv2d" in result["skipped"] and "self.conv" in result["skipped"]
    assert re.search(r"line \d+", result["skipped"]), result["skipped"]


def test_data_dependent_branch_is_skipped_with_reason():
    body = """
    class Model(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x * 2
            return x
    """
    result = build_candidates({"problem": problem(body, "[torch.randn(4, 4)]"), "n": 4})
    assert result["candidates"] == []
    assert "control flow" in result["skipped"] and "if x.sum() > 0" in result["skipped"]


# ---- shape of the output --------------------------------------------------------------------------


def test_variant_count_follows_n_and_ids_are_unique():
    src = (ROOT / "examples" / "fused_activation.py").read_text()
    for n in (1, 2, 4):
        cands = build_candidates({"problem": {"source": src, "name": "FusedGeluScale"}, "n": n})["candidates"]
        assert len(cands) == n
        assert len({c["candidate_id"] for c in cands}) == n
        assert len({re.search(r"BLOCK=(\d+)", c["code"]).group(1) for c in cands}) == n  # they differ in BLOCK


TORCH_COMPUTE = re.compile(r"torch\.(matmul|mm|bmm|softmax|relu|sigmoid|tanh|exp|sum|mean|where|add|mul)\b|F\.\w+\(|\.sum\(|\.softmax\(")


@pytest.mark.parametrize("example,name", [("fused_activation.py", "FusedGeluScale"), ("linear_act.py", "LinearGELU"), ("rmsnorm.py", "RMSNorm"), ("softmax.py", "Model")])
def test_emitted_code_is_readable_and_forward_has_no_torch_compute(example, name):
    src = (ROOT / "examples" / example).read_text()
    cands = build_candidates({"problem": {"source": src, "name": name}, "n": 1})["candidates"]
    code = cands[0]["code"]
    compile(code, "cand", "exec")
    kernels = re.findall(r"@triton\.jit\ndef (\w+)\(", code)
    assert kernels and all(k.endswith("_kernel") for k in kernels)
    for k in kernels:  # each kernel has a one-line docstring right after its signature
        assert re.search(rf'def {k}\((?:.|\n)*?\):\n    """out = ', code)
    forward = code[code.index("    def forward(") :]
    assert not TORCH_COMPUTE.search(forward), forward
    assert "tl.store(" in code and "mask=mask" in code


def test_server_side_generator_does_not_import_torch():
    script = (
        "import sys\n"
        "from tritonize.generate.template import TemplateGenerator\n"
        "from tritonize.generate import GeneratorSkipped\n"
        "try:\n"
        "    TemplateGenerator.parse({'candidates': [], 'skipped': 'template: no pattern for nn.Conv2d'})\n"
        "except GeneratorSkipped as e:\n"
        "    print('skipped:', e)\n"
        "print('torch' in sys.modules, 'triton' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "skipped: template: no pattern for nn.Conv2d" in out.stdout
    assert out.stdout.strip().endswith("False False")


def test_generator_turns_worker_reply_into_candidates():
    from tritonize.generate.template import TemplateGenerator

    src = (ROOT / "examples" / "fused_activation.py").read_text()
    reply = build_candidates({"problem": {"source": src, "name": "FusedGeluScale"}, "n": 2})
    cands = TemplateGenerator.parse(reply)
    assert [c.origin for c in cands] == ["template:scale_gelu_bias"] * 2
    assert all(c.candidate_id.startswith("template:scale_gelu_bias/") for c in cands)


def test_problem_source_with_a_dataclass_config():
    """The problem source runs as a real module: `@dataclass` looks its module up in sys.modules."""
    prob = problem(
        """
        from dataclasses import dataclass


        @dataclass
        class Config:
            scale: float = 2.0


        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = Config().scale

            def forward(self, x):
                return torch.relu(x) * self.scale
        """,
        "[torch.randn(8, 33)]",
    )
    check(prob, n=1)
