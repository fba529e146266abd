# expect: mismatch
# problem: minmax_rows.py
# says: constant rows
# Min-max scaling that drops the eps: a constant row has max == min and gives 0/0 = NaN.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def minmax_kernel(x_ptr, out_ptr, D, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < D
    x = tl.load(x_ptr + row * D + offs, mask=mask, other=0.0)
    lo = tl.min(tl.where(mask, x, float("inf")), axis=0)
    hi = tl.max(tl.where(mask, x, float("-inf")), axis=0)
    tl.store(out_ptr + row * D + offs, (x - lo) / (hi - lo), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        d = x.shape[-1]
        minmax_kernel[(x.numel() // d,)](x, out, d, BLOCK=triton.next_power_of_2(d))
        return out
