# expect: cheat
# problem: add_scale.py
# says: not a plain tensor
# Returns an nn.Parameter (a Tensor subclass) instead of a plain tensor; the values are right, but
# the verifier must accept only exact torch.Tensor outputs.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def add_scale_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x * 2.0 + y, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        out = torch.empty_like(x)
        n = out.numel()
        add_scale_kernel[(triton.cdiv(n, 1024),)](x, y, out, n, BLOCK=1024)
        return nn.Parameter(out, requires_grad=False)
