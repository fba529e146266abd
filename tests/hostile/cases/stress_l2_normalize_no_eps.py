# expect: mismatch
# problem: l2_normalize_rows.py
# says: zeros
# L2 normalize that divides by the raw norm: an all-zero row gives 0/0 = NaN where F.normalize gives 0.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def l2_normalize_kernel(x_ptr, out_ptr, D, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < D
    x = tl.load(x_ptr + row * D + offs, mask=mask, other=0.0)
    norm = tl.sqrt(tl.sum(x * x, axis=0))
    tl.store(out_ptr + row * D + offs, x / norm, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        d = x.shape[-1]
        l2_normalize_kernel[(x.numel() // d,)](x, out, d, BLOCK=triton.next_power_of_2(d))
        return out
