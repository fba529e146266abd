"""Shape-general Inductor exports over the dynamic capture fixtures (tests/fixtures/inductor_dynamic,
captured on an H200 by `scripts/device-capture.sh dynamic`: each problem with the shape plan's dimensions
marked dynamic, and the same problem static, in one environment).

The dynamic export takes the varying sizes as arguments, so the interpreter can run it whole at small
sizes of those dimensions (the fixtures' other sizes stay: 8192 features, 64 channels): several sizes per
fixture, 1 and odd ones included, each compared with the original module. At the recipe's own shape the
single-kernel fixtures launch the first programs of that kernel (as tests/core/test_inductor_export.py does
for large captures); `TRITONIZE_TEST_ALL_INDUCTOR=1` runs the others whole at the recipe's shape.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import re

import pytest
from tritonize.generate.inductor_export import ExportError, export

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDER = os.path.join(HERE, "fixtures", "inductor_dynamic")
DYNAMIC = sorted(glob.glob(os.path.join(FOLDER, "*-dynamic.json")))
# Inductor compiles batched matmul to cuBLAS alone in default mode: nothing to export, static or dynamic.
NO_TRITON = {"31_batched_matmul.default-dynamic"}
# Sizes of the dynamic groups the interpreter runs (first group, other groups): 1, odd, mixed.
SIZE_SETS = [(1, 1), (3, 3), (2, 5)]
# Fixtures whose programs cost the interpreter seconds each (a Welford split reduction over 1024-wide
# blocks; a GEMM template looping over K = 2048) run fewer sets; the GPU check runs them all.
FEWER_SIZES = {"27_group_norm.default-dynamic": [(1, 1), (2, 3)],
               "28_linear_bias_gelu.max-autotune-triton-dynamic": [(1, 1), (3, 3)]}


def _id(path: str) -> str:
    return os.path.basename(path)[: -len(".json")]


def _load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def exported() -> dict:
    out = {}
    for path in DYNAMIC:
        record = _load(path)
        try:
            out[_id(path)] = (record, export(record))
        except ExportError as e:
            out[_id(path)] = (record, e)
    return out


def test_dynamic_fixtures_present() -> None:
    names = {_id(p).split(".")[0] for p in DYNAMIC}
    assert {"05_silu", "22_softmax", "25_layer_norm", "27_group_norm", "28_linear_bias_gelu", "31_batched_matmul",
            "32_conv2d_relu", "40_attention"} <= names


@pytest.mark.parametrize("path", DYNAMIC, ids=_id)
def test_dynamic_export_is_shape_general(path: str, exported) -> None:
    record, result = exported[_id(path)]
    if _id(path) in NO_TRITON:
        assert isinstance(result, ExportError) and "no Triton kernel" in str(result)
        return
    assert not isinstance(result, ExportError), f"export failed: {result}"
    assert record["dynamic"]["kept"], "the capture kept no dimension dynamic"
    code = result.code
    assert not re.search(r"torch\._(inductor|C|dynamo)|triton_helpers|triton_heuristics|libdevice|extern_kernels", code)
    # the docstring and the notes say which shapes it accepts, naming the dynamic sizes
    doc = ast.get_docstring(ast.parse(code)) or ""
    assert "dynamic shapes" in doc and "Accepts:" in doc and "may be any size" in doc
    assert any("dynamic shapes" in n and "may be any size" in n for n in result.notes)
    # every forward input's check names its dynamic sizes; no size of a dynamic dimension is a constant
    forward = code[code.index("    def forward("):]
    for kept in record["dynamic"]["kept"]:
        assert kept["symbol"] in forward
    assert "dynamic='(" in forward and "input_sizes(" in forward and "def input_sizes(" in code
    for m in re.finditer(r"expect_input\((\w+), \(([^)]*)\)", forward):
        if m.group(1) in _forward_params(record):
            sizes = [s.strip() for s in m.group(2).split(",") if s.strip()]
            for kept in record["dynamic"]["kept"]:
                if _forward_params(record)[kept["input"]] == m.group(1):
                    assert not sizes[kept["dim"]].isdigit(), (m.group(0), kept)


def _forward_params(record: dict) -> list[str]:
    tree = ast.parse(record["problem_source"])
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model")
    fwd = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "forward")
    return [a.arg for a in fwd.args.args][1:]


# ---- running under the interpreter ---------------------------------------------------------------


def _build(record: dict, result):
    import torch

    problem: dict = {"__name__": "problem"}
    exec(compile(record["problem_source"], "<problem>", "exec"), problem)
    cand: dict = {"__name__": "candidate"}
    exec(compile(result.code, "<candidate>", "exec"), cand)
    init = problem["get_init_inputs"]() if "get_init_inputs" in problem else []
    torch.manual_seed(0)
    ref = problem["Model"](*init)
    new = cand["ModelNew"](*init)
    new.load_state_dict(ref.state_dict())
    return problem, ref, new, cand


def _shape_at(record: dict, sizes: dict[str, int]) -> list[list[int]]:
    """The recipe's input shapes with each dynamic group at the size given for it."""
    shapes = [list(s) for s in record["input_shapes"]]
    for kept in record["dynamic"]["kept"]:
        if kept["group"] in sizes:
            shapes[kept["input"]][kept["dim"]] = sizes[kept["group"]]
    return shapes


def _groups(record: dict) -> list[str]:
    return list(dict.fromkeys(k["group"] for k in record["dynamic"]["kept"]))


def _inputs(shapes: list[list[int]], seed: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g) for s in shapes]


def _tolerance(record: dict) -> dict:
    # GEMM fixtures: the CPU reference and the exported torch.mm / Triton template sum in other orders
    if any(x in _id_of(record) for x in ("linear", "attention", "conv")):
        return dict(atol=2e-4, rtol=2e-4)
    return dict(atol=1e-5, rtol=1e-5)


def _id_of(record: dict) -> str:
    return record.get("file", "")


RUNNABLE = [p for p in DYNAMIC if _id(p) not in NO_TRITON]


@pytest.mark.parametrize("path", RUNNABLE, ids=_id)
def test_dynamic_export_runs_at_other_sizes(path: str, exported) -> None:
    """Whole forward under TRITON_INTERPRET=1 at several sizes of the dynamic dimensions (1, odd, mixed)."""
    import torch

    record, result = exported[_id(path)]
    _, ref, new, _ = _build(record, result)
    groups = _groups(record)
    for i, (first, other) in enumerate(FEWER_SIZES.get(_id(path), SIZE_SETS)):
        sizes = {g: first if j == 0 else other for j, g in enumerate(groups)}
        inputs = _inputs(_shape_at(record, sizes), seed=i)
        with torch.no_grad():
            expected = ref(*[t.clone() for t in inputs])
            got = new(*[t.clone() for t in inputs])
        assert got.shape == expected.shape, (sizes, got.shape, expected.shape)
        torch.testing.assert_close(got, expected, **_tolerance(record), msg=lambda m, s=sizes: f"at {s}: {m}")


class _FirstPrograms:
    """Stands in for a kernel in the candidate's namespace: launches only its first programs."""

    def __init__(self, kernel, programs: int) -> None:
        self.kernel, self.programs, self.launched = kernel, programs, []

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            self.launched.append((grid, kwargs))
            return self.kernel[(min(grid[0], self.programs),) + tuple(grid[1:])](*args, **kwargs)

        return launch


@pytest.mark.parametrize("path", RUNNABLE, ids=_id)
def test_dynamic_export_at_the_recipe_shape(path: str, exported) -> None:
    """At the captured shape: single-kernel fixtures launch their kernel's first programs and match that
    prefix of the output; the rest run whole only with TRITONIZE_TEST_ALL_INDUCTOR=1 (minutes)."""
    import torch

    record, result = exported[_id(path)]
    problem, ref, new, cand = _build(record, result)
    kernels = re.findall(r"^def (\w+_kernel)\(", result.code, re.M)
    full = bool(os.environ.get("TRITONIZE_TEST_ALL_INDUCTOR"))
    if len(kernels) != 1 and not full:
        pytest.skip("several kernels: run whole at the recipe's shape with TRITONIZE_TEST_ALL_INDUCTOR=1")
    if "template_kernel" in result.code and not full:
        pytest.skip("a GEMM template at 2048x2048x4096 takes minutes in the interpreter")
    torch.manual_seed(1)
    inputs = list(problem["get_inputs"]())
    assert [list(t.shape) for t in inputs] == record["input_shapes"]
    clip = None
    if not full:
        clip = _FirstPrograms(cand[kernels[0]], 2)
        cand[kernels[0]] = clip
    with torch.no_grad():
        expected = ref(*[t.clone() for t in inputs])
        got = new(*[t.clone() for t in inputs])
    assert got.shape == expected.shape
    if clip is None:
        torch.testing.assert_close(got, expected, **_tolerance(record))
        return
    (grid, kwargs), = clip.launched
    n = min(expected.numel(), 2 * kwargs.get("XBLOCK", 1))
    if "reduction" in kernels[0]:  # a program computes XBLOCK whole rows
        n = min(expected.numel(), 2 * kwargs.get("XBLOCK", 1) * expected.shape[-1])
    torch.testing.assert_close(got.reshape(-1)[:n], expected.reshape(-1)[:n], **_tolerance(record))


def test_static_export_refuses_other_sizes_and_dynamic_says_what_it_needs(exported) -> None:
    """The static export of the same problem raises at another batch size; the dynamic one runs, and
    refuses a wrong static size, rank or dtype naming the dynamic sizes."""
    import torch

    static_record = _load(os.path.join(FOLDER, "22_softmax.default.json"))
    _, _, static_new, _ = _build(static_record, export(static_record))
    with pytest.raises(ValueError, match=r"exported for torch.float32 of shape \(4096, 4096\)"):
        static_new(torch.randn(3, 4096))
    record, result = exported["22_softmax.default-dynamic"]
    _, ref, new, _ = _build(record, result)
    x = torch.randn(3, 4096)
    torch.testing.assert_close(new(x), ref(x))
    with pytest.raises(ValueError, match=r"of shape \(s77, 4096\) \(s0, s1, \.\.\.: any size; here \(3, 4096\)\)"):
        new(torch.randn(3, 100))
    with pytest.raises(ValueError, match="rank 2"):
        new(torch.randn(2, 3, 4096))
    with pytest.raises(ValueError, match="float16"):
        new(torch.randn(3, 4096, dtype=torch.float16))


def test_guards_are_checked_in_forward(exported) -> None:
    """Inductor's guards on the sizes become checks: 32-bit indexing bounds, and sizes dynamo tied
    (attention: q, k, v share the batch; k and v the sequence length)."""
    import torch

    record, result = exported["22_softmax.default-dynamic"]
    assert "expect_sizes(4096 * s77 <= 2147483647, '4096*s77 <= 2147483647', s77=s77)" in result.code
    record, result = exported["40_attention.default-dynamic"]
    assert "expect_sizes(s33 == s37" in result.code
    _, _, new, _ = _build(record, result)
    q, k, v = torch.randn(2, 16, 5, 8), torch.randn(3, 16, 5, 8), torch.randn(3, 16, 5, 8)
    with pytest.raises(ValueError, match="exported kernels need Eq|exported for"):
        new(q, k, v)


def test_guard_translation() -> None:
    from tritonize.generate.inductor_export import _guard_check

    g = _guard_check("24*s77*(((8*s0*s53 + 2)//3)) <= 2147483647")
    assert g is not None and g.names == {"s77", "s0", "s53"} and not g.lower_bound
    assert eval(g.python, {}, {"s77": 2, "s0": 3, "s53": 4})
    g = _guard_check("Eq(s20, s69) & Eq(s52, s97)")
    assert g is not None and eval(g.python, {}, {"s20": 1, "s69": 1, "s52": 2, "s97": 2})
    assert not eval(g.python, {}, {"s20": 1, "s69": 2, "s52": 2, "s97": 2})
    assert _guard_check("s77 >= 16").lower_bound  # Inductor's choice at the captured size: not enforced
    assert _guard_check("Eq(Mod(s0, 16), 0)").python == "s0 % 16 == 0"
    assert _guard_check("CeilToInt(IntTrueDiv(s0, 3)) <= 5") is None  # named in the notes instead


def test_kernels_compile_for_the_gpu(exported, tmp_path) -> None:
    """Every kernel of the dynamic exports goes through Triton's compiler for sm_90 (no GPU needed; in a
    child process without TRITON_INTERPRET): the interpreter does not catch what only the compiler refuses
    (an early return in a helper did)."""
    import subprocess
    import sys

    jobs = []
    for name, (record, result) in exported.items():
        if isinstance(result, ExportError):
            continue
        path = tmp_path / f"{name.replace('.', '_').replace('-', '_')}.py"
        path.write_text(result.code)
        for kernel in re.findall(r"^def (\w+_kernel)\(", result.code, re.M):
            params = re.search(rf"^def {kernel}\((.*?)\):", result.code, re.M | re.S).group(1)
            names = [p.split(":")[0].strip() for p in params.split(",") if p.strip()]
            # the recorded kernel with the same parameters (exported kernels keep Inductor's parameter names)
            entry = next((k for k in record["kernels"] if list(k["triton_meta"]["signature"]) == names), None)
            assert entry is not None, f"{name}: no recorded signature for {kernel}"
            sig = entry["triton_meta"]["signature"]
            jobs.append((name, str(path), kernel, sig, {k: v for k, v in entry["kwargs"].items() if k in sig}))
    script = """
import importlib.util, json, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
failed = []
for name, path, kernel, sig, constexprs in json.loads(sys.stdin.read()):
    spec = importlib.util.spec_from_file_location(kernel + "_mod", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    try:
        triton.compile(ASTSource(getattr(mod, kernel), signature=sig, constexprs=constexprs),
                       target=GPUTarget("cuda", 90, 32))
    except Exception as e:
        failed.append(f"{name}: {kernel}: {type(e).__name__}: {str(e)[:400]}")
print(json.dumps(failed))
"""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, "-c", script], input=json.dumps(jobs), capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    failed = json.loads(proc.stdout.strip().splitlines()[-1])
    if failed and all("ptxas" in f for f in failed):
        pytest.skip(f"no CUDA toolchain in this triton: {failed[0]}")
    assert len(jobs) >= 8 and not failed, failed
