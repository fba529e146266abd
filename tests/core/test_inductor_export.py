"""The Inductor exporter over every capture fixture (tests/fixtures/inductor, captured on an H200).

Each fixture must export (or fail with the typed reason listed in UNSUPPORTED), and the candidate
must parse, import nothing private, define ModelNew with the original constructor, accept the
original's state_dict, and — where the interpreter can afford it — compute what the original does.

Inductor specialises kernels to the captured shapes, so runs use those shapes. Small fixtures run
whole. For large ones with a single row-wise/elementwise Triton kernel (output element i is
computed by program i // XBLOCK), the test launches only the first few programs of the exported
code — the same code the GPU runs — and compares that prefix of the output with the reference.
"""

from __future__ import annotations

import ast
import glob
import json
import math
import os
import re

import pytest
from tritonize.generate.inductor_export import TORCH_CALL_NOTE, ExportError, export

FIXTURES = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "inductor", "*.json")))
# Fixtures Inductor compiles to no Triton kernel at all (only library calls): a typed refusal.
UNSUPPORTED = {
    "30_matmul.default": "no Triton kernel",
    "31_batched_matmul.default": "no Triton kernel",
    "45_attention_bf16.default": "no Triton kernel",
}
FULL_RUN_LIMIT = 200_000  # elements of input: run the whole forward under the interpreter
PREFIX_PROGRAMS = 2  # programs launched for prefix runs (the interpreter runs each in Python)
PREFIX_LIMIT = 34_000_000  # larger captured inputs are skipped: "captured shape too large"


def _fixture_id(path: str) -> str:
    return os.path.basename(path)[: -len(".json")]


def _load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def exported() -> dict[str, tuple[dict, object]]:
    out: dict[str, tuple[dict, object]] = {}
    for path in FIXTURES:
        record = _load(path)
        try:
            out[_fixture_id(path)] = (record, export(record))
        except ExportError as e:
            out[_fixture_id(path)] = (record, e)
    return out


def test_fixtures_present() -> None:
    assert len(FIXTURES) >= 50, "capture fixtures missing"


@pytest.mark.parametrize("path", FIXTURES, ids=_fixture_id)
def test_export_is_standalone(path: str, exported) -> None:
    record, result = exported[_fixture_id(path)]
    if _fixture_id(path) in UNSUPPORTED:
        assert isinstance(result, ExportError)
        assert str(result).startswith("unsupported:") and UNSUPPORTED[_fixture_id(path)] in str(result)
        return
    assert not isinstance(result, ExportError), f"export failed: {result}"
    code = result.code
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            assert not any(n.startswith(("torch._", "triton._")) for n in names), ast.unparse(node)
    assert not re.search(r"torch\._(inductor|C|dynamo)|triton_helpers|triton_heuristics|libdevice|extern_kernels", code)
    # Launches carry the autotuned block sizes and warps; kernels are plain @triton.jit.
    assert "@triton.jit" in code and "num_warps=" in code and "triton_heuristics" not in code
    original = _init_signature(record["problem_source"])
    model_new = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ModelNew")
    init = next(n for n in model_new.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    assert ast.unparse(init.args) == original
    extern = set(re.findall(r"extern_kernels\.(\w+)", "".join(record["output_code"])))
    library_notes = {n[len(TORCH_CALL_NOTE):] for n in result.notes if n.startswith(TORCH_CALL_NOTE)}
    assert bool(extern) == bool(library_notes), (extern, library_notes)


def _init_signature(source: str) -> str:
    tree = ast.parse(source)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    alias = [n.value.id for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Name)
             and ast.unparse(n.targets[0]) == "Model" and n.value.id in classes]
    cls = classes[alias[0]] if alias else classes.get("Model") or list(classes.values())[-1]
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    return ast.unparse(init.args)


def test_helpers_and_names_are_readable(exported) -> None:
    _, result = exported["20_argmax_dim.default"]
    assert "def fused_argmax_reduction_kernel(" in result.code
    assert "reduce_max_with_index(" in result.code
    _, result = exported["22_softmax.default"]
    assert "online_softmax_combine(" in result.code and "def online_softmax_combine(" in result.code
    _, result = exported["28_linear_bias_gelu.max-autotune-triton"]
    assert "def fused_addmm_t_template_kernel(" in result.code
    # the template's grid comes from call(): 2048x4096 output in 128x128 tiles = 512 programs
    assert "fused_addmm_t_template_kernel[(512, 1, 1)](" in result.code
    assert "tl.erf(" in result.code and result.notes[:-1] == []
    _, result = exported["28_linear_bias_gelu.default"]
    assert "torch.mm(" in result.code and TORCH_CALL_NOTE + "mm" in result.notes


def test_helper_file_parses_and_defines_every_helper() -> None:
    """inductor_helpers.py (read as text, never imported by the server) is valid Python whose top-level
    statements are imports and functions, and defines each helper a rewrite can name, with what it calls."""
    from tritonize.generate import inductor_export as ie

    path = os.path.join(os.path.dirname(ie.__file__), ie.HELPER_FILE)
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    assert all(isinstance(n, (ast.Import, ast.FunctionDef)) for n in tree.body[1:]), "only imports and functions"
    helpers = ie.helper_file().kernel_helpers
    needed = set(ie.HELPER_NAMES.values()) | set(ie.LIBDEVICE_HELPERS.values())
    assert needed <= set(helpers), f"missing from {ie.HELPER_FILE}: {sorted(needed - set(helpers))}"
    for name, helper in helpers.items():
        fns = [n for n in ast.parse(helper.text).body if isinstance(n, ast.FunctionDef)]
        assert fns and fns[-1].name == name and all(ast.unparse(d) == "triton.jit" for f in fns for d in f.decorator_list)
        assert set(helper.calls) <= set(helpers)
    assert helpers["reduce_max"].calls == ("maximum",)
    assert helpers["reduce_any"].text.startswith("@triton.jit\ndef _or(a, b):")  # its combine function comes with it
    forward = [n.name for n in ast.parse(ie.helper_file().forward_helpers).body]
    assert forward == ["expect_input", "same_strides", "reinterpret"]


def test_unsupported_constructs_are_named() -> None:
    record = _load(os.path.join(os.path.dirname(FIXTURES[0]), "01_relu.default.json"))
    bad = dict(record, output_code=[record["output_code"][0].replace("tl.store(", "triton_helpers.bucketize_binary_search(")])
    with pytest.raises(ExportError, match=r"unsupported: triton_helpers\.bucketize_binary_search"):
        export(bad)
    bad = dict(record, output_code=[record["output_code"][0].replace("tmp0 = tl.load", "tmp0 = libdevice.nextafter(1, 2) + tl.load")])
    with pytest.raises(ExportError, match=r"libdevice\.nextafter"):
        export(bad)
    with pytest.raises(ExportError, match="graph breaks"):
        export(dict(record, output_code=record["output_code"] * 2))
    # a size no input gives (a static capture has no dynamic sizes)
    with pytest.raises(ExportError, match="xnumel of triton_poi_fused_relu_0 is s0, not a size"):
        export(dict(record, output_code=[record["output_code"][0].replace("buf0, 67108864, stream", "buf0, s0, stream")]))


# ---- running the exported code under the interpreter ------------------------------------------------


def _exec_candidate(code: str) -> dict:
    ns: dict = {"__name__": "candidate"}
    exec(compile(code, "<candidate>", "exec"), ns)
    return ns


def _problem(record: dict) -> dict:
    ns: dict = {"__name__": "problem"}
    exec(compile(record["problem_source"], "<problem>", "exec"), ns)
    return ns


def _model_cls(ns: dict):
    import torch

    if "Model" in ns:
        return ns["Model"]
    return [v for v in ns.values() if isinstance(v, type) and issubclass(v, torch.nn.Module)][-1]


def _build(record: dict, result) -> tuple:
    import torch

    problem = _problem(record)
    cand = _exec_candidate(result.code)
    init = problem["get_init_inputs"]() if "get_init_inputs" in problem else []
    torch.manual_seed(0)
    ref = _model_cls(problem)(*init)
    new = cand["ModelNew"](*init)
    new.load_state_dict(ref.state_dict())
    torch.manual_seed(1)
    inputs = list(problem["get_inputs"]())
    return ref, new, inputs, cand


def _tolerance(dtype) -> dict:
    import torch

    return {torch.float16: dict(atol=1e-2, rtol=1e-2), torch.bfloat16: dict(atol=2e-2, rtol=2e-2)}.get(
        dtype, dict(atol=1e-4, rtol=1e-4))


@pytest.mark.parametrize("path", FIXTURES, ids=_fixture_id)
def test_state_dict_loads(path: str, exported) -> None:
    record, result = exported[_fixture_id(path)]
    if isinstance(result, ExportError):
        pytest.skip(f"not exported: {result}")
    problem = _problem(record)
    cand = _exec_candidate(result.code)
    init = problem["get_init_inputs"]() if "get_init_inputs" in problem else []
    ref = _model_cls(problem)(*init)
    new = cand["ModelNew"](*init)
    new.load_state_dict(ref.state_dict())  # strict: same parameter and buffer names
    assert sorted(new.state_dict()) == sorted(ref.state_dict())


def _input_numel(record: dict) -> int:
    return sum(math.prod(p.get("shape", [])) for p in record["placeholders"])


SMALL = [p for p in FIXTURES if _input_numel(_load(p)) <= FULL_RUN_LIMIT]


@pytest.mark.parametrize("path", SMALL, ids=_fixture_id)
def test_small_fixture_runs_and_matches(path: str, exported) -> None:
    """The whole exported forward, every program, under TRITON_INTERPRET=1."""
    import torch

    record, result = exported[_fixture_id(path)]
    ref, new, inputs, _ = _build(record, result)
    with torch.no_grad():
        expected = ref(*[t.clone() for t in inputs])
        got = new(*[t.clone() for t in inputs])
    assert got.shape == expected.shape and got.dtype == expected.dtype
    torch.testing.assert_close(got, expected, **_tolerance(expected.dtype))


def _prefix_candidates() -> list[str]:
    out = []
    for path in FIXTURES:
        record = _load(path)
        code = "".join(record["output_code"])
        launches = re.findall(r"(\w+)\.run\(", code)
        if (_input_numel(record) > FULL_RUN_LIMIT and len(launches) == 1 and not re.search(r"extern_kernels\.\w+\(", code)
                and "triton_tem" not in code and "Grid1D" in json.dumps(record["kernels"])):
            out.append(path)
    return out


PREFIX = _prefix_candidates()
# One fixture per construct runs by default (each Python-interpreted program costs seconds):
# maximum, tanh/expm1/log1p helpers, where, reduction loop, persistent reduction, argmax,
# online softmax (fp32, bf16), Welford layer norm, rms norm, pooling. TRITONIZE_TEST_ALL_INDUCTOR=1 runs all.
PREFIX_DEFAULT = {"01_relu", "04_gelu_tanh", "09_elu", "08_softplus", "15_where_threshold", "18_max_dim",
                  "17_mean_dim", "20_argmax_dim", "22_softmax", "42_softmax_bf16", "25_layer_norm",
                  "26_rms_norm", "34_maxpool2d"}


class _FirstPrograms:
    """Stands in for a kernel in the candidate's namespace: launches only its first programs."""

    def __init__(self, kernel, programs: int) -> None:
        self.kernel, self.programs, self.launched = kernel, programs, []

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            clipped = (min(grid[0], self.programs),) + tuple(grid[1:])
            self.launched.append((grid, kwargs))
            return self.kernel[clipped](*args, **kwargs)

        return launch


@pytest.mark.parametrize("path", PREFIX, ids=_fixture_id)
def test_large_fixture_prefix_matches(path: str, exported) -> None:
    """Rows/elements computed by the first programs of the captured-shape kernel match the reference."""
    import torch

    record, result = exported[_fixture_id(path)]
    if _fixture_id(path).split(".")[0] not in PREFIX_DEFAULT and not os.environ.get("TRITONIZE_TEST_ALL_INDUCTOR"):
        pytest.skip("covered by a representative fixture; TRITONIZE_TEST_ALL_INDUCTOR=1 runs it")
    if _input_numel(record) > PREFIX_LIMIT:
        pytest.skip("captured shape too large for the interpreter")
    ref, new, inputs, cand = _build(record, result)
    name = re.search(r"^def (\w+_kernel)\(", result.code, re.M).group(1)
    clip = _FirstPrograms(cand[name], PREFIX_PROGRAMS)
    cand[name] = clip  # forward looks kernels up in the candidate module's globals
    with torch.no_grad():
        expected = ref(*[t.clone() for t in inputs])
        got = new(*[t.clone() for t in inputs])
    assert len(clip.launched) == 1
    (grid, kwargs), = clip.launched
    per_program = kwargs.get("XBLOCK", 1)
    n = min(expected.numel(), PREFIX_PROGRAMS * per_program)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    torch.testing.assert_close(got.reshape(-1)[:n], expected.reshape(-1)[:n], **_tolerance(expected.dtype))


# ---- the generator's server side -------------------------------------------------------------------


class _RecordedCaptures:
    """A pool whose workers answer capture calls with the fixtures captured on the H200."""

    def __init__(self, stem: str) -> None:
        self.stem, self.calls = stem, []

    def call(self, func: str, payload: dict, *, timeout=None, cancel=None) -> dict:
        dynamic = bool(payload.get("dynamic"))
        self.calls.append((func, payload["mode"] + ("-dynamic" if dynamic else "")))
        folder = os.path.dirname(FIXTURES[0]) + ("_dynamic" if dynamic else "")
        path = os.path.join(folder, f"{self.stem}.{payload['mode']}{'-dynamic' if dynamic else ''}.json")
        return _load(path) if os.path.exists(path) else {"error": f"no capture for mode {payload['mode']}"}


def _context(pool, kind: str):
    from tritonize.cancel import CancelToken
    from tritonize.generate import GenerateContext
    from tritonize.settings import Settings
    from tritonize.verify.pool import DeviceInfo

    # model_host=None: the Inductor generator never talks to the model host.
    return GenerateContext(settings=Settings(), pool=pool, device=DeviceInfo(kind=kind, name=kind), cancel=CancelToken(),
                           progress=lambda *a: None, model_host=None)


def test_generator_needs_cuda() -> None:
    from tritonize.generate import GeneratorSkipped
    from tritonize.generate.inductor import InductorGenerator
    from tritonize.problem import extract

    problem = extract(_load(FIXTURES[0])["problem_source"], "Model")
    with pytest.raises(GeneratorSkipped, match="needs CUDA"):
        InductorGenerator().generate(problem, _context(_RecordedCaptures("01_relu"), "cpu"))


def test_generator_exports_each_mode_and_records_failures() -> None:
    from tritonize.generate import GeneratorSkipped
    from tritonize.generate.inductor import CAPTURE_ENTRY, InductorGenerator
    from tritonize.problem import extract

    record = _load(os.path.join(os.path.dirname(FIXTURES[0]), "28_linear_bias_gelu.default.json"))
    problem = extract(record["problem_source"], "Model")
    pool = _RecordedCaptures("28_linear_bias_gelu")
    cands = InductorGenerator().generate(problem, _context(pool, "cuda"))
    # the static default, the shape-general default (tests/fixtures/inductor_dynamic) and max-autotune
    origins = ["inductor:default", "inductor:default-dynamic", "inductor:max-autotune-triton"]
    assert [c.origin for c in cands] == origins and [c.candidate_id for c in cands] == origins
    assert pool.calls == [(CAPTURE_ENTRY, "default"), (CAPTURE_ENTRY, "default-dynamic"),
                          (CAPTURE_ENTRY, "max-autotune-triton")]
    assert "dynamic shapes" in cands[1].code and any("s77 (batch) may be any size" in n for n in cands[1].notes)
    # shape-specialised kernels allowed (fixed-size inference): no dynamic capture
    fixed = _RecordedCaptures("28_linear_bias_gelu")
    ctx = _context(fixed, "cuda")
    ctx.settings = ctx.settings.copy(shape_specialised=True)
    cands = InductorGenerator().generate(problem, ctx)
    assert [c.origin for c in cands] == ["inductor:default", "inductor:max-autotune-triton"]
    assert fixed.calls == [(CAPTURE_ENTRY, "default"), (CAPTURE_ENTRY, "max-autotune-triton")]
    # relu's default export is all Triton (no library call to replace): max-autotune is not run at all;
    # no dynamic capture of relu is recorded here, so its failure is a note on the static candidate
    relu_pool = _RecordedCaptures("01_relu")
    cands = InductorGenerator().generate(problem, _context(relu_pool, "cuda"))
    assert [c.origin for c in cands] == ["inductor:default"]
    assert relu_pool.calls == [(CAPTURE_ENTRY, "default"), (CAPTURE_ENTRY, "default-dynamic")]
    assert any(n.startswith("inductor mode not exported — default-dynamic: capture failed") for n in cands[0].notes)
    # default has no Triton kernel (only a library matmul): max-autotune-triton still runs and is exported
    mm_pool = _RecordedCaptures("30_matmul")
    mm = extract(_load(os.path.join(os.path.dirname(FIXTURES[0]), "30_matmul.default.json"))["problem_source"], "Model")
    cands = InductorGenerator().generate(mm, _context(mm_pool, "cuda"))
    assert [c.origin for c in cands] == ["inductor:max-autotune-triton"]
    assert any("default:" in n for n in cands[0].notes)
    with pytest.raises(GeneratorSkipped, match="no Triton kernel"):
        InductorGenerator().generate(problem, _context(_RecordedCaptures("45_attention_bf16"), "cuda"))


def test_grid_with_y_spilling_into_z_is_three_numbers() -> None:
    """Inductor's Grid2DWithYZOverflow: a y axis of more than 65535 programs spills into z (the kernel
    folds program_id(2) back into y). A captured 2-D permute kernel, its launch rewritten to that grid
    type and to 2,097,152 rows of 16: x = 1048576/64 = 16384, y_raw = 2097152/16 = 131072, z = ⌈131072/65535⌉
    = 3, y = ⌈131072/3⌉ = 43691 (Inductor's own arithmetic)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "inductor_grids",
                        "permute_2d.default.json")
    record = _load(path)
    record["kernels"][0]["inductor_meta"]["grid_type"] = "Grid2DWithYZOverflow"
    record["output_code"] = [c.replace("buf0, 16, 1048576, stream=stream0", "buf0, 2097152, 1048576, stream=stream0")
                             for c in record["output_code"]] if isinstance(record["output_code"], list) else \
        record["output_code"].replace("buf0, 16, 1048576, stream=stream0", "buf0, 2097152, 1048576, stream=stream0")
    code = export(record).code
    launch = [ln.strip() for ln in code.splitlines() if "_kernel[(" in ln]
    assert launch and launch[0].startswith("fused_clone_mul_permute_kernel[(16384, 43691, 3)]("), launch


def test_transposed_convolution_is_the_public_conv_transpose() -> None:
    """extern_kernels.convolution(..., transposed=True) exports as torch.nn.functional.conv_transpose2d with
    stride, padding, output_padding, groups and dilation passed on, flagged as a library call."""
    path = [p for p in FIXTURES if "conv_transpose2d" in p][0]
    result = export(_load(path))
    assert "torch.nn.functional.conv_transpose2d(" in result.code and "output_padding=" in result.code
    assert TORCH_CALL_NOTE + "conv_transpose2d" in result.notes
