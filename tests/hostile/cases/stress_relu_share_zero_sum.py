# expect: mismatch
# problem: relu_share_rows.py
# Divides by the row's positive mass without the clamp: a row with no positive entry gives 0/0 = NaN.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def share_kernel(x_ptr, out_ptr, D, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < D
    x = tl.load(x_ptr + row * D + offs, mask=mask, other=0.0)
    r = tl.maximum(x, 0.0)
    tl.store(out_ptr + row * D + offs, r / tl.sum(r, axis=0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        d = x.shape[-1]
        share_kernel[(x.numel() // d,)](x, out, d, BLOCK=triton.next_power_of_2(d))
        return out
