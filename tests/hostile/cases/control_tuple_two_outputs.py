# expect: pass
# problem: pair_outputs.py
# Honest: one kernel writes both outputs, returned as a tuple of two plain tensors.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def sum_and_product_kernel(x_ptr, y_ptr, s_ptr, p_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(s_ptr + offs, x + y, mask=mask)
    tl.store(p_ptr + offs, x * y, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        x = x.contiguous()
        y = y.contiguous()
        s = torch.empty_like(x)
        p = torch.empty_like(x)
        n = x.numel()
        sum_and_product_kernel[(triton.cdiv(n, 1024),)](x, y, s, p, n, BLOCK=1024)
        return s, p
