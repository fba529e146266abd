# expect: compile
# problem: add_scale.py
# A kernel that uses an undefined name (fails when Triton builds it).
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def bad_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.no_such_op(tl.load(x_ptr + offs)), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        pass

    def forward(self, x, y):
        out = torch.empty_like(x)
        bad_kernel[(1,)](x, out, x.numel(), BLOCK=16)
        return out
