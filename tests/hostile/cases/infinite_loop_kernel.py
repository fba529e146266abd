# expect: timeout
# problem: add_scale.py
# Spins forever inside the kernel.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def spin_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    i = 0
    while i >= 0:
        i += 1
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=offs < n), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        pass

    def forward(self, x, y):
        out = torch.empty_like(x)
        spin_kernel[(1,)](x, out, x.numel(), BLOCK=16)
        return out
