"""Parsing model answers into candidates: the formats models really produce (written by us)."""

from __future__ import annotations

import ast

from tritonize.candidate import PRIVATE_API_NOTE, parse_failure, parse_model_output

KERNEL = '''import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_scale_kernel(x_ptr, out_ptr, n, scale, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0) * scale, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        out = torch.empty_like(x)
        n = x.numel()
        relu_scale_kernel[(triton.cdiv(n, 1024),)](x, out, n, self.scale, BLOCK=1024)
        return out
'''


def parse(text: str, name: str = "ReluScale"):
    return parse_model_output(text, "llm:test", problem_name=name)


def defines_model_new(code: str) -> bool:
    return any(isinstance(n, ast.ClassDef) and n.name == "ModelNew" for n in ast.parse(code).body)


def test_fenced_python_block_with_prose_around_it():
    text = f"Here is the optimized version:\n\n```python\n{KERNEL}```\n\nThe kernel fuses the ReLU and the scale."
    c = parse(text)
    assert parse_failure(c) is None
    assert c.code.strip() == KERNEL.strip()
    assert c.notes == []
    assert c.origin == "llm:test"


def test_plain_fence_without_language():
    c = parse(f"```\n{KERNEL}```")
    assert parse_failure(c) is None and defines_model_new(c.code)


def test_unfenced_code_after_a_line_of_prose():
    c = parse("Sure! The optimized architecture:\n" + KERNEL)
    assert parse_failure(c) is None and defines_model_new(c.code)
    assert any("prose" in n for n in c.notes)


def test_bare_code_only():
    c = parse(KERNEL)
    assert parse_failure(c) is None and c.code.strip() == KERNEL.strip()


def test_several_blocks_pick_the_one_with_model_new():
    original = "```python\nclass Model(nn.Module):\n    def forward(self, x):\n        return torch.relu(x)\n```\n"
    shell = "```bash\npip install triton\n```\n"
    c = parse("The original was:\n" + original + "Install:\n" + shell + "New:\n```python\n" + KERNEL + "```\n")
    assert parse_failure(c) is None
    assert c.code.strip() == KERNEL.strip()


def test_kernel_and_module_split_across_blocks_are_joined():
    head, tail = KERNEL.split("class ModelNew", 1)
    text = f"First the kernel:\n```python\n{head}```\nThen the module:\n```python\nclass ModelNew{tail}```\n"
    c = parse(text)
    assert parse_failure(c) is None
    tree = ast.parse(c.code)
    names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    assert {"relu_scale_kernel", "ModelNew"} <= names
    assert any("joined 2" in n for n in c.notes)


def test_unterminated_block_cut_mid_statement_keeps_the_complete_part():
    cut = KERNEL + "\n\ndef get_inputs():\n    return [torch.randn(16, 1024"  # token limit hit here
    c = parse("```python\n" + cut)
    assert parse_failure(c) is None
    assert defines_model_new(c.code)
    assert "get_inputs" not in c.code
    assert any("not closed" in n for n in c.notes)
    assert any("dropped" in n for n in c.notes)


def test_class_named_after_the_problem_is_renamed():
    text = "```python\n" + KERNEL.replace("ModelNew", "ReluScaleNew") + "```"
    c = parse(text)
    assert parse_failure(c) is None
    assert defines_model_new(c.code)
    assert "ReluScaleNew" not in c.code  # the super() call was renamed too
    assert "renamed class ReluScaleNew to ModelNew" in c.notes


def test_other_module_class_is_renamed_when_there_is_no_model_new():
    text = "```python\n" + KERNEL.replace("ModelNew", "TritonReluScale") + "```"
    c = parse(text)
    assert defines_model_new(c.code)
    assert "renamed class TritonReluScale to ModelNew" in c.notes


def test_missing_imports_are_added():
    body = KERNEL.split("\n\n\n", 1)[1]  # no import lines at all
    c = parse("```python\n" + body + "```")
    assert parse_failure(c) is None
    tree = ast.parse(c.code)
    imports = {ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
    assert {"import torch", "import torch.nn as nn", "import triton", "import triton.language as tl"} <= imports
    assert any(n.startswith("added missing imports: torch, nn, triton, tl") for n in c.notes)


def test_inductor_style_output_is_accepted_and_flagged():
    text = '''```python
import torch
from torch._inductor.runtime.triton_heuristics import grid
import triton
import triton.language as tl


@triton.jit
def triton_poi_fused_relu_0(in_ptr0, out_ptr0, xnumel, XBLOCK: tl.constexpr):
    xoffset = tl.program_id(0) * XBLOCK
    xindex = xoffset + tl.arange(0, XBLOCK)
    xmask = xindex < xnumel
    tmp0 = tl.load(in_ptr0 + xindex, xmask)
    tl.store(out_ptr0 + xindex, tl.maximum(tmp0, 0.0), xmask)


def call(args):
    (arg0_1,) = args
    buf0 = torch.empty_like(arg0_1)
    triton_poi_fused_relu_0[grid(arg0_1.numel())](arg0_1, buf0, arg0_1.numel(), XBLOCK=256)
    return (buf0,)


class ModelNew(torch.nn.Module):
    def forward(self, x):
        return call([x])[0]
```'''
    c = parse(text)
    assert parse_failure(c) is None
    assert PRIVATE_API_NOTE in c.notes


def test_empty_output_is_a_parse_failure_with_a_reason():
    c = parse("   \n")
    assert parse_failure(c) == "the model produced no output"


def test_prose_only_is_a_parse_failure():
    c = parse("I am sorry, but I cannot optimize this architecture any further.")
    assert parse_failure(c) == "no Python code in the output"
    assert c.code.startswith("I am sorry")  # the raw text is kept for the user to read


def test_block_that_is_not_python_is_a_parse_failure():
    c = parse("```python\n__global__ void relu(float* x) { x[threadIdx.x] = 0; }\n```")
    why = parse_failure(c)
    assert why is not None and why.startswith("the code block is not valid Python (line 1")


def test_code_without_any_module_class_is_a_parse_failure():
    c = parse("```python\nimport torch\n\ndef helper(x):\n    return x * 2\n```")
    assert parse_failure(c) == "no ModelNew class (nor another nn.Module class) in the code"


def test_rewritten_model_class_with_kernels_is_renamed():
    text = "```python\n" + KERNEL.replace("ModelNew", "Model") + "```"
    c = parse(text, name="Model")
    assert defines_model_new(c.code)
    assert "renamed class Model to ModelNew" in c.notes
