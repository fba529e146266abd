# expect: cheat
# problem: add_scale.py
# says: not a plain tensor
# No __torch_function__ at all: plain Python overrides of detach() and to() on a subclass hand the
# comparison a tensor computed with torch at comparison time.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def fill_kernel(out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.full([BLOCK], 7.0, tl.float32), mask=offs < n)


class Deferred(torch.Tensor):
    __torch_function__ = torch._C._disabled_torch_function_impl

    def detach(self):
        return self

    def to(self, *args, **kwargs):
        x, y = self.inputs
        return torch.Tensor.to(torch.add(torch.mul(x, 2.0), y), *args, **kwargs)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        out = torch.empty_like(x)
        n = out.numel()
        fill_kernel[(triton.cdiv(n, 1024),)](out, n, BLOCK=1024)
        out = out.as_subclass(Deferred)
        out.inputs = (x.clone(), y.clone())
        return out
