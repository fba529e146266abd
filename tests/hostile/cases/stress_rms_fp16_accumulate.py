# expect: mismatch
# problem: rms_norm_fp16.py
# Squares and sums float16 activations in float16: within tolerance on randn, but x^2 overflows
# float16 (max 65504) once activations reach a few hundred, and the row collapses to zeros.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def rms_norm_kernel(x_ptr, out_ptr, D, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < D
    x = tl.load(x_ptr + row * D + offs, mask=mask, other=0.0)  # float16
    sq = x * x  # float16: overflows above ~256
    ms = tl.sum(sq, axis=0).to(tl.float32) / D
    y = x.to(tl.float32) * tl.rsqrt(ms + 1e-6)
    tl.store(out_ptr + row * D + offs, y.to(tl.float16), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        d = x.shape[-1]
        rms_norm_kernel[(x.numel() // d,)](x, out, d, BLOCK=triton.next_power_of_2(d))
        return out
