# expect: mismatch
# problem: rms_norm_rows.py
# RMSNorm without eps: an all-zero row gives 0 * rsqrt(0) = 0 * inf = NaN (and tiny rows blow up).
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def rms_norm_kernel(x_ptr, w_ptr, out_ptr, D, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < D
    x = tl.load(x_ptr + row * D + offs, mask=mask, other=0.0)
    w = tl.load(w_ptr + offs, mask=mask, other=0.0)
    ms = tl.sum(x * x, axis=0) / D
    tl.store(out_ptr + row * D + offs, x * tl.rsqrt(ms) * w, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.d = d

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        rms_norm_kernel[(x.numel() // self.d,)](x, self.weight, out, self.d, BLOCK=triton.next_power_of_2(self.d))
        return out
