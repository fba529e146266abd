"""Shape families (worker/shapes.py, worker/verify.py check_shapes) on CPU with real workers: a correct
candidate is also run at other batch and sequence sizes, and the result says which shapes it supports."""

from __future__ import annotations

import os
import textwrap

import pytest
from tritonize.candidate import Candidate
from tritonize.problem import Problem, ProblemError, Range
from tritonize.settings import Settings
from tritonize.verify.pool import WorkerPool

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/
ZERO = Range(0, 0, 0, 0)

RELU_PROBLEM = open(os.path.join(HERE, "verify_cases", "relu_problem.py"), encoding="utf-8").read()  # x: [16, 256]

KERNEL = '''
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=m)
'''

GENERAL = KERNEL + '''
class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 256),)](x, y, x.numel(), BLOCK=256)
        return y
'''

# What a static export does: honest about its one shape.
RAISES_ELSEWHERE = KERNEL + '''
class ModelNew(nn.Module):
    def forward(self, x):
        if tuple(x.shape) != (16, 256):
            raise ValueError(f"exported for torch.float32 of shape (16, 256), got {tuple(x.shape)}")
        y = torch.empty_like(x)
        relu_kernel[(16,)](x, y, x.numel(), BLOCK=256)
        return y
'''

# The grid is the recipe's: a bigger batch leaves the tail unwritten. Silently wrong.
FIXED_GRID = KERNEL + '''
class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        relu_kernel[(16,)](x, y, x.numel(), BLOCK=256)
        return y
'''

# Other shapes go to torch: no kernel for them.
FALLS_BACK = KERNEL + '''
class ModelNew(nn.Module):
    def forward(self, x):
        if x.shape[0] != 16:
            return torch.clamp(x, min=0)
        y = torch.empty_like(x)
        relu_kernel[(16,)](x, y, x.numel(), BLOCK=256)
        return y
'''

# Right at the recipe's shape; at other sizes it also writes into its input.
MUTATES_ELSEWHERE = KERNEL + '''
class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 256),)](x, y, x.numel(), BLOCK=256)
        if x.shape[0] != 16:
            relu_kernel[(triton.cdiv(x.numel(), 256),)](x, x, x.numel(), BLOCK=256)
        return y
'''

SEQ_PROBLEM = '''
import torch
from torch import nn


class Model(nn.Module):
    def forward(self, x, mask):
        return torch.relu(x) * mask.unsqueeze(-1)


def get_inputs():
    return [torch.randn(4, 32, 8), (torch.rand(4, 32) > 0.5).float()]


def get_init_inputs():
    return []


def get_dynamic_dims():
    return [["batch", "seq", None], ["batch", "seq"]]
'''

SEQ_GENERAL = '''
import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def masked_relu_kernel(x_ptr, m_ptr, y_ptr, n, D: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < n
    x = tl.load(x_ptr + offs, mask=ok)
    m = tl.load(m_ptr + offs // D, mask=ok)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0) * m, mask=ok)


class ModelNew(nn.Module):
    def forward(self, x, mask):
        x, mask = x.contiguous(), mask.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        masked_relu_kernel[(triton.cdiv(n, 128),)](x, mask, y, n, D=x.shape[-1], BLOCK=128)
        return y
'''

# The module fixes its batch: other sizes are the module's limit, not the candidate's.
FIXED_BATCH_PROBLEM = '''
import torch
from torch import nn


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x.view(16, 16, 16)).view(16, 256)


def get_inputs():
    return [torch.randn(16, 256)]


def get_init_inputs():
    return []
'''


def problem(source: str) -> Problem:
    return Problem(name="Model", source=source, class_range=ZERO, name_range=ZERO)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(device="cpu", timeout_s=60.0, seeds=2)


@pytest.fixture(scope="module")
def pool(settings: Settings):
    p = WorkerPool(settings, standby=False)
    p.start()
    yield p
    p.close()


def verify(pool: WorkerPool, settings: Settings, code: str, source: str = RELU_PROBLEM):
    return pool.submit(problem(source), Candidate(code=textwrap.dedent(code), origin="test", candidate_id="c"),
                       settings).result(timeout=180)


def test_a_general_kernel_supports_every_shape_tried(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, GENERAL)
    assert r.passed, r.message
    assert r.shapes is not None and r.shape_general
    assert r.shapes.recipe == ["float32[16, 256]"]
    assert r.shapes.dims == ["batch: input0.0 (recipe 16)"]
    # 1, an odd size, half and double: the candidate ran on each and matched the module
    assert sorted(r.shapes.tried) == sorted(["batch=15", "batch=1", "batch=8", "batch=32"])
    assert r.shapes.describe().startswith("all 5 shapes tried")


def test_a_kernel_that_raises_on_other_shapes_passes_for_its_one_shape(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, RAISES_ELSEWHERE)
    assert r.passed, r.message
    assert r.shapes is not None and not r.shape_general
    assert set(r.shapes.failed) == {"batch=15", "batch=1", "batch=8", "batch=32"}
    assert "exported for torch.float32 of shape (16, 256), got (15, 256)" in r.shapes.failed["batch=15"]
    assert r.shapes.describe().startswith("only the recipe's shapes float32[16, 256] (batch=15: raises")
    assert any(f.rule == "shapes" and not f.fatal for f in r.findings)


def test_a_silently_wrong_kernel_at_a_bigger_batch_is_found(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, FIXED_GRID)
    assert r.passed, r.message  # right at the recipe's shape, and at every smaller one
    assert not r.shape_general and list(r.shapes.failed) == ["batch=32"]
    assert r.shapes.failed["batch=32"].startswith("wrong result:")
    assert sorted(r.shapes.tried) == ["batch=1", "batch=15", "batch=8"]


def test_a_torch_fallback_at_other_shapes_is_no_kernel_for_them(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, FALLS_BACK)
    assert r.passed, r.message
    assert "no Triton kernel launched" in r.shapes.failed["batch=1"]


def test_modifying_an_input_at_another_shape_is_a_cheat(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, MUTATES_ELSEWHERE)
    assert not r.passed and r.kind == "cheat"
    assert "at batch=" in r.message and "modified input[0]" in r.message
    assert r.shapes is None


def test_declared_dynamic_dims_vary_together(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings, SEQ_GENERAL, SEQ_PROBLEM)
    assert r.passed, r.message
    assert r.shapes.declared and r.shape_general
    assert r.shapes.dims == ["batch: input0.0, input1.0 (recipe 4)", "seq: input0.1, input1.1 (recipe 32)"]
    assert {"batch=3", "seq=31", "batch=1", "seq=1"} <= set(r.shapes.tried)


def test_sizes_the_module_rejects_are_skipped_not_held_against_the_candidate(pool: WorkerPool,
                                                                             settings: Settings) -> None:
    r = verify(pool, settings, GENERAL, FIXED_BATCH_PROBLEM)
    assert r.passed, r.message
    assert r.shape_general and r.shapes.tried == []
    assert r.shapes.skipped == ["batch (the module rejects other sizes)"]
    assert "no other shape could be run" in r.shapes.describe()


def test_a_malformed_get_dynamic_dims_is_the_problems_error(pool: WorkerPool, settings: Settings) -> None:
    bad = RELU_PROBLEM + "\n\ndef get_dynamic_dims():\n    return [['batch']]\n"
    with pytest.raises(ProblemError) as e:
        pool.probe(problem(bad), settings)
    assert "get_dynamic_dims()[0] must name each dimension of input 0 (a tensor of rank 2)" in e.value.message


def test_shape_checks_off(pool: WorkerPool, settings: Settings) -> None:
    r = verify(pool, settings.copy(shape_checks=False), RAISES_ELSEWHERE)
    assert r.passed and r.shapes is None and r.shape_general


RANDOM_SHAPE_PROBLEM = '''
import torch
from torch import nn


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x)


def get_inputs():
    return [torch.randn(int(torch.randint(8, 40, (1,)).item()), 256)]


def get_init_inputs():
    return []
'''


def test_a_recipe_that_draws_its_own_shapes_is_its_own_shape_family(pool: WorkerPool, settings: Settings) -> None:
    """The seeds already vary the shape; cutting another seed's draw to the first seed's sizes would
    index out of range (a device-side assert on a GPU). The family stops and says why."""
    r = verify(pool, settings, GENERAL, RANDOM_SHAPE_PROBLEM)
    assert r.passed, r.message
    assert r.shape_general
    assert any("the recipe draws other shapes with each seed" in s for s in r.shapes.skipped), r.shapes
