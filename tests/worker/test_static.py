"""Static checks (worker/static.py): each rule fires on the cheat it names, evasions are caught, and
the code our generators emit passes clean."""

from __future__ import annotations

import os
import textwrap

import pytest
from tritonize.worker.static import scan

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/

KERNEL = '''
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def k(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0) * 2 + tl.sum(x, axis=0), mask=mask)


def launch(x):
    out = torch.empty_like(x)
    n = x.numel()
    k[(triton.cdiv(n, 256),)](x, out, n, BLOCK=256)
    return out
'''


def candidate(forward_body: str, extra: str = "", init: str = "pass") -> str:
    body = textwrap.indent(textwrap.dedent(forward_body).strip(), " " * 8)
    init_body = textwrap.indent(textwrap.dedent(init).strip(), " " * 8)
    return (
        KERNEL
        + textwrap.dedent(extra)
        + f"""

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
{init_body}

    def forward(self, x, y=None):
{body}
"""
    )


def rules(code: str, strict: bool = True) -> dict[str, bool]:
    """rule -> fatal, for every finding."""
    return {f.rule: f.fatal for f in scan(code, strict)}


# ---- clean candidates -----------------------------------------------------------------------------


def test_template_style_candidate_is_clean():
    assert scan(candidate("return launch(x)"), strict=True) == []


def test_hostile_control_candidate_is_clean():
    with open(os.path.join(HERE, "hostile", "cases", "control_add_scale.py")) as f:
        assert scan(f.read(), strict=True) == []


def test_inductor_style_wrapper_is_clean():
    code = KERNEL + textwrap.dedent(
        """
        import functools
        empty_strided_cpu = functools.partial(torch.empty_strided, device="cpu")


        def call(args):
            primals_1, = args
            args.clear()
            assert primals_1.stride() == (32, 1)
            buf0 = empty_strided_cpu((64, 32), (32, 1), torch.float32)
            xnumel = primals_1.numel()
            dev = torch.cuda.current_device() if torch.cuda.is_available() else None
            k[(triton.cdiv(xnumel, 256),)](primals_1, buf0, xnumel, BLOCK=256)
            view = torch.as_strided(buf0, (64, 32), (32, 1))
            del primals_1
            return (view.view(64, 32), buf0.data_ptr(), dev)


        class ModelNew(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.weight = nn.Parameter(torch.randn(d, d))
                self.register_buffer("scale", torch.ones(d))

            def forward(self, x):
                x = x.contiguous().view(-1, x.shape[-1])
                M, K = x.shape
                assert K == self.weight.shape[0]
                out = call([x])[0]
                return out.reshape(M, K).permute(1, 0).transpose(0, 1)
        """
    )
    assert scan(code, strict=True) == []


def test_unparsable_code_gives_no_findings():
    assert scan("def broken(:\n", strict=True) == []


# ---- torch-fallback -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "return torch.matmul(x, y)",
        "return x @ y",
        "return torch.nn.functional.relu(launch(x))",
        "return launch(x).sum(dim=0)",
        "return launch(x) + y",
        "out = launch(x)\nout += y\nreturn out",
        "return torch.softmax(x, dim=-1)",
        "return torch.ops.aten.mm(x, y)",
        "return torch.Tensor.add(x, y)",
        "return -launch(x)",
        "return x.relu_()",
    ],
)
def test_torch_compute_in_forward_is_a_fallback(body):
    assert rules(candidate(body)) == {"torch-fallback": True}


def test_fallback_is_recorded_but_not_fatal_unless_strict():
    found = scan(candidate("return torch.matmul(x, y)"), strict=False)
    assert [(f.rule, f.fatal) for f in found] == [("torch-fallback", False)]
    assert "torch.matmul" in found[0].message and found[0].line is not None


def test_fallback_in_a_helper_called_from_forward():
    code = candidate("return helper(x)", extra="\n\ndef helper(a):\n    return torch.mm(a, a.t())\n")
    found = scan(code, strict=True)
    assert [f.rule for f in found] == ["torch-fallback"] and "helper()" in found[0].message


def test_fallback_through_a_method_helper():
    code = candidate("return self._impl(x)").replace(
        "    def forward", "    def _impl(self, x):\n        return torch.bmm(x, x)\n\n    def forward"
    )
    assert rules(code) == {"torch-fallback": True}


def test_calling_an_nn_submodule_is_a_fallback():
    code = candidate("return launch(self.linear(x))", init="self.linear = nn.Linear(4, 4)")
    found = scan(code, strict=True)
    assert [f.rule for f in found] == ["torch-fallback"] and "self.linear" in found[0].message


def test_using_submodule_weights_in_triton_is_clean():
    code = candidate("w = self.linear.weight.contiguous()\nreturn launch(w)", init="self.linear = nn.Linear(4, 4)")
    assert scan(code, strict=True) == []


@pytest.mark.parametrize(
    "extra,body",
    [
        ("mm = torch.matmul\n", "return mm(x, y)"),
        ("from torch import matmul as mm\n", "return mm(x, y)"),
        ("from torch.nn.functional import gelu\n", "return gelu(x)"),
        ("import torch.nn.functional as Fn\nact = Fn.silu\n", "return act(x)"),
        ("", "return getattr(torch, 'matmul')(x, y)"),
        ("import functools\nmm = functools.partial(torch.matmul)\n", "return mm(x, y)"),
    ],
)
def test_aliases_of_torch_ops_are_tracked(extra, body):
    assert rules(candidate(body, extra=extra))["torch-fallback"] is True


def test_alias_stored_on_self_is_tracked():
    code = candidate("return self.op(x, y)", init="self.op = torch.matmul")
    assert rules(code)["torch-fallback"] is True


# ---- evasion --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "return getattr(torch, 'mat' + 'mul')(x, y)",
        "return eval('torch.matmul')(x, y)",
        "exec('z = 1')\nreturn launch(x)",
        "return __import__('torch').matmul(x, y)",
        "return torch.__dict__['matmul'](x, y)",
    ],
)
def test_dynamic_code_is_fatal(body):
    assert rules(candidate(body), strict=False).get("dynamic-code") is True


def test_importlib_is_fatal():
    code = candidate("return importlib.import_module('torch').mm(x, y)", extra="import importlib\n")
    assert rules(code, strict=False)["dynamic-code"] is True


# ---- try-fallback ---------------------------------------------------------------------------------


def test_try_except_falling_back_to_torch_is_fatal_even_when_not_strict():
    body = """
    try:
        return launch(x)
    except Exception:
        return torch.relu(x) * 2
    """
    found = rules(candidate(body), strict=False)
    assert found["try-fallback"] is True


def test_try_except_calling_the_reference_is_fatal():
    body = """
    try:
        return launch(x)
    except RuntimeError:
        return Model()(x)
    """
    found = rules(candidate(body), strict=False)
    assert found["try-fallback"] is True and found["reference-inherit"] is True


def test_try_except_that_only_reraises_is_clean():
    body = """
    try:
        return launch(x)
    except RuntimeError as e:
        raise RuntimeError(f"kernel failed: {e}") from e
    """
    assert scan(candidate(body), strict=True) == []


# ---- patching, streams, processes, files, network, introspection ---------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        "import time\ntime.perf_counter = lambda: 0.0\n",
        "torch.cuda.Event = object\n",
        "torch.cuda.synchronize = lambda *a: None\n",
        "import triton.testing\ntriton.testing.do_bench = lambda *a, **k: 0.001\n",
        "setattr(torch.cuda, 'synchronize', lambda: None)\n",
        "import builtins\n",
        "torch.backends.cuda.matmul.allow_tf32 = True\n",
    ],
)
def test_patching_timers_and_modules_is_fatal(extra):
    assert rules(candidate("return launch(x)", extra=extra), strict=False).get("timer-patch") is True


@pytest.mark.parametrize(
    "body",
    [
        "s = torch.cuda.Stream()\nreturn launch(x)",
        "with torch.cuda.stream(torch.cuda.Stream()):\n    return launch(x)",
        "torch.cuda.set_stream(None)\nreturn launch(x)",
    ],
)
def test_streams_are_fatal(body):
    assert rules(candidate(body), strict=False)["stream"] is True


@pytest.mark.parametrize(
    "extra,body,rule",
    [
        ("import threading\n", "return launch(x)", "threads"),
        ("from concurrent.futures import ThreadPoolExecutor\n", "return launch(x)", "threads"),
        ("import subprocess\n", "return launch(x)", "threads"),
        ("import os\n", "os.fork()\nreturn launch(x)", "threads"),
        ("import os\n", "os.system('true')\nreturn launch(x)", "threads"),
        ("import os\n", "os.kill(os.getppid(), 9)\nreturn launch(x)", "signals"),
        ("import signal\n", "return launch(x)", "signals"),
        ("", "open('/tmp/out.txt', 'w').write('x')\nreturn launch(x)", "file-access"),
        ("import os\n", "os.remove('/tmp/a')\nreturn launch(x)", "file-access"),
        ("import pathlib\n", "return launch(x)", "file-access"),
        ("", "torch.save(x, 'x.pt')\nreturn launch(x)", "file-access"),
        ("import socket\n", "return launch(x)", "network"),
        ("import urllib.request\n", "return launch(x)", "network"),
        ("import gc\n", "return [o for o in gc.get_objects()][0]", "introspection"),
        ("import sys\n", "return sys._getframe(1).f_locals['ref']", "introspection"),
        ("import inspect\n", "return launch(x)", "introspection"),
        ("import ctypes\n", "return launch(x)", "introspection"),
        ("", "return launch.__globals__['torch']", "introspection"),
        ("import sys\n", "return sys.modules['__main__'].ref", "introspection"),
    ],
)
def test_process_file_network_and_memory_access_are_fatal(extra, body, rule):
    assert rules(candidate(body, extra=extra), strict=False).get(rule) is True


def test_private_api_is_recorded_not_fatal():
    code = candidate("return launch(x)", extra="from torch._inductor.runtime import triton_helpers\n")
    found = scan(code, strict=True)
    assert [(f.rule, f.fatal, f.message) for f in found] == [("private-api", False, "uses private torch APIs")]


# ---- reference reuse and caching ------------------------------------------------------------------


def test_inheriting_the_reference_is_fatal():
    code = candidate("return launch(x)").replace("class ModelNew(nn.Module)", "class ModelNew(Model)")
    assert rules(code, strict=False)["reference-inherit"] is True


def test_a_copied_but_unused_model_class_is_fine():
    code = candidate("return launch(x)") + "\n\nclass Model(nn.Module):\n    def __init__(self):\n        super(Model, self).__init__()\n"
    assert scan(code, strict=True) == []


@pytest.mark.parametrize(
    "extra,body",
    [
        ("_CACHE = {}\n", "key = x.data_ptr()\nif key not in _CACHE:\n    _CACHE[key] = launch(x)\nreturn _CACHE[key]"),
        ("", "self._last = launch(x)\nreturn self._last"),
        ("_SEEN = []\n", "_SEEN.append(x)\nreturn launch(x)"),
        ("import itertools\n_CALLS = itertools.count()\n", "n = next(_CALLS)\nreturn launch(x)"),
        ("_N = 0\n", "global _N\n_N += 1\nreturn launch(x)"),
    ],
)
def test_state_kept_between_calls_is_fatal(extra, body):
    assert rules(candidate(body, extra=extra), strict=False).get("caching") is True


@pytest.mark.parametrize(
    "extra,body",
    [
        # a launch-config cache keyed by shape: block size and warps, never tensors
        ("_CONFIGS = {}\n\ndef config(d):\n    if d not in _CONFIGS:\n        block = triton.next_power_of_2(d)\n"
         "        _CONFIGS[d] = (block, 4 if block <= 2048 else 8)\n    return _CONFIGS[d]\n",
         "block, warps = config(x.shape[-1])\nreturn launch(x)"),
        ("_BLOCKS = {}\n", "_BLOCKS.setdefault(x.shape[-1], (128, 'fp32'))\nreturn launch(x)"),
        ("", "self.block = min(1024, 256 * 2)\nreturn launch(x)"),
    ],
)
def test_caches_that_cannot_hold_tensors_are_fine(extra, body):
    assert "caching" not in rules(candidate(body, extra=extra), strict=False)


@pytest.mark.parametrize(
    "extra,body",
    [
        ("_CACHE = {}\n", "out = launch(x)\n_CACHE[x.shape] = (out, 1)\nreturn out"),  # a tensor in the tuple
        ("_CACHE = {}\n", "_CACHE['n'] = _CACHE.get('n', 0) + 1\nreturn launch(x)"),  # a call counter
        ("_CACHE = {}\n", "_CACHE[0] = x\nreturn launch(x)"),  # a parameter (the input)
        ("_CACHE = {}\n", "m = min(x, 1)\n_CACHE[0] = m\nreturn launch(x)"),  # min() of a tensor is a tensor
        ("_CACHE = {}\n", "for v in [x]:\n    _CACHE[0] = v\nreturn launch(x)"),  # bound by a loop
        ("", "self._calls += 1\nreturn launch(x)"),
    ],
)
def test_caches_that_may_hold_tensors_or_count_are_fatal(extra, body):
    assert rules(candidate(body, extra=extra), strict=False).get("caching") is True


def test_lru_cache_on_forward_is_fatal():
    code = candidate("return launch(x)", extra="import functools\n").replace(
        "    def forward", "    @functools.lru_cache(maxsize=None)\n    def forward"
    )
    assert rules(code, strict=False)["caching"] is True


def test_main_guard_is_ignored():
    code = candidate("return launch(x)") + "\n\nif __name__ == '__main__':\n    import subprocess\n    print(torch.mm)\n"
    assert scan(code, strict=True) == []


def test_integer_helpers_in_the_wrapper_are_not_tensor_math():
    extra = "\n\ndef cdiv(a, b):\n    return (a + b - 1) // b\n"
    body = "n = x.numel()\nblocks = cdiv(n, 256) * 2 - 1\nout = launch(x)\nreturn out.view(-1)[: blocks * 0 + n]"
    assert scan(candidate(body, extra=extra), strict=True) == []
