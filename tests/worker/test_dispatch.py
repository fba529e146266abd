"""A shape-specialised kernel, inserted (shape_specialised): the file runs the kernels for the recipe's
shapes and the original module, on the same weights, for every other shape (dispatch.py, edit.py).
The inserted file is executed for real, kernels under TRITON_INTERPRET=1."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from tritonize.edit import apply_to_text, inserted_code  # noqa: E402
from tritonize.problem import extract  # noqa: E402
from tritonize.report import CandidateResult, Report, ShapeSupport  # noqa: E402

USER_FILE = textwrap.dedent('''
    import torch
    import torch.nn as nn


    class ScaledRelu(nn.Module):
        def __init__(self, features: int):
            super().__init__()
            self.scale = nn.Parameter(torch.randn(features))
            self.register_buffer("shift", torch.randn(features))

        def forward(self, x):
            return torch.relu(x * self.scale + self.shift)


    def get_inputs():
        return [torch.randn(16, 64)]


    def get_init_inputs():
        return [64]
''')

# A kernel made for one shape, as a static export is: it refuses any other.
STATIC_KERNEL = textwrap.dedent('''
    import torch
    import torch.nn as nn
    import triton
    import triton.language as tl


    @triton.jit
    def scaled_relu_kernel(x_ptr, s_ptr, b_ptr, y_ptr, FEATURES: tl.constexpr):
        row = tl.program_id(0)
        cols = tl.arange(0, FEATURES)
        x = tl.load(x_ptr + row * FEATURES + cols)
        y = x * tl.load(s_ptr + cols) + tl.load(b_ptr + cols)
        tl.store(y_ptr + row * FEATURES + cols, tl.maximum(y, 0.0))


    class ModelNew(nn.Module):
        def __init__(self, features: int):
            super().__init__()
            self.scale = nn.Parameter(torch.randn(features))
            self.register_buffer("shift", torch.randn(features))

        def forward(self, x):
            if tuple(x.shape) != (16, 64) or x.dtype != torch.float32:
                raise ValueError(f"exported for torch.float32 of shape (16, 64), got {tuple(x.shape)}")
            y = torch.empty_like(x)
            scaled_relu_kernel[(16,)](x, self.scale, self.shift, y, FEATURES=64)
            return y
''')


def report(drop_in: bool = True) -> Report:
    best = CandidateResult(candidate_id="inductor:default", origin="inductor:default", passed=True, code=STATIC_KERNEL,
                           drop_in=drop_in, shapes=ShapeSupport(recipe=["float32[16, 64]"], failed={
                               "batch=15": "raises: ValueError: exported for torch.float32 of shape (16, 64)"}))
    return Report(problem_name="ScaledRelu", results=[best], best=best.candidate_id, settings={"shape_specialised": True})


def load(text: str) -> dict:
    ns: dict = {"__name__": "user_module"}
    path = "/tmp/tritonize_dispatch_test.py"
    with open(path, "w", encoding="utf-8") as f:  # @triton.jit reads the source from a real file
        f.write(text)
    exec(compile(text, path, "exec"), ns)
    return ns


def test_the_inserted_class_runs_kernels_at_the_recipe_shape_and_the_original_elsewhere() -> None:
    problem = extract(USER_FILE, "ScaledRelu", path="/tmp/model.py")
    new_text = apply_to_text(USER_FILE, problem, report())
    assert "class ScaledReluTritonKernels(nn.Module):" in new_text
    assert "class ScaledReluTriton(ScaledReluTritonKernels):" in new_text
    assert "KERNEL_SHAPES = ((torch.float32, (16, 64)),)" in new_text
    ns = load(new_text)
    original = ns["ScaledRelu"](64)
    triton_mod = ns["ScaledReluTriton"](64)
    assert list(triton_mod.state_dict()) == list(original.state_dict())  # still a drop-in
    triton_mod.load_state_dict(original.state_dict())

    calls = []
    kernels_forward = ns["ScaledReluTritonKernels"].forward
    ns["ScaledReluTritonKernels"].forward = lambda self, *a: calls.append(1) or kernels_forward(self, *a)
    with torch.no_grad():
        x = torch.randn(16, 64)
        torch.testing.assert_close(triton_mod(x), original(x))
        assert calls == [1]  # the recipe's shape: the kernels
        for shape in [(1, 64), (15, 64), (32, 64), (2, 3, 64)]:  # anything else: the original module's code
            x = torch.randn(*shape)
            torch.testing.assert_close(triton_mod(x), original(x))
        assert calls == [1]
        x16 = torch.randn(16, 64, dtype=torch.float64)  # same shape, other dtype: not what was verified
        torch.testing.assert_close(triton_mod(x16), original.double()(x16))
        original.float()
        assert calls == [1]

    # New weights reach both paths (the original shares this module's parameters and buffers).
    with torch.no_grad():
        triton_mod.scale.mul_(-1)
        triton_mod.load_state_dict({"scale": triton_mod.scale.clone(), "shift": torch.zeros(64)})
        expected = torch.relu(torch.ones(4, 64) * triton_mod.scale)
        torch.testing.assert_close(triton_mod(torch.ones(4, 64)), expected)
        torch.testing.assert_close(triton_mod(torch.ones(16, 64)), torch.relu(torch.ones(16, 64) * triton_mod.scale))


def test_a_general_or_not_drop_in_kernel_goes_in_as_it_is() -> None:
    problem = extract(USER_FILE, "ScaledRelu", path="/tmp/model.py")
    rep = report(drop_in=False)
    assert inserted_code(problem, rep.results[0]) == STATIC_KERNEL  # cannot share weights it does not name
    rep = report()
    rep.results[0].shapes = ShapeSupport(recipe=["float32[16, 64]"], tried=["batch=15"])
    assert inserted_code(problem, rep.results[0]) == STATIC_KERNEL


def test_a_sibling_module_imports_the_original() -> None:
    problem = extract(USER_FILE, "ScaledRelu", path="/tmp/model.py")
    code = inserted_code(problem, report().results[0], sibling=True)
    assert code.startswith("from model import ScaledRelu\n")
