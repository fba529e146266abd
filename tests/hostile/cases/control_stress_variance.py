# expect: pass
# problem: variance_rows.py
# A careful variance: shifted two-pass (mean of x - x[0], then mean of squared deviations).
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def variance_kernel(x_ptr, out_ptr, D, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < D
    x = tl.load(x_ptr + row * D + offs, mask=mask, other=0.0)
    shift = tl.load(x_ptr + row * D)
    mean = shift + tl.sum(tl.where(mask, x - shift, 0.0), axis=0) / D
    xc = tl.where(mask, x - mean, 0.0)
    tl.store(out_ptr + row, tl.sum(xc * xc, axis=0) / D)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        d = x.shape[-1]
        out = torch.empty(x.shape[:-1], dtype=x.dtype, device=x.device)
        variance_kernel[(x.numel() // d,)](x, out, d, BLOCK=triton.next_power_of_2(d))
        return out
