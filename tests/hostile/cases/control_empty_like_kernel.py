# expect: pass
# problem: abs_diff.py
# Honest: allocates the output with torch.empty_like (uninitialised memory) and a kernel overwrites
# every element.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def abs_diff_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, tl.abs(x - y), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        x = x.contiguous()
        y = y.contiguous()
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
        n = x.numel()
        abs_diff_kernel[(triton.cdiv(n, 256),)](x, y, out, n, BLOCK=256)
        return out
