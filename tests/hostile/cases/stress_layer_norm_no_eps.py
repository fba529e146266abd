# expect: mismatch
# problem: layer_norm_rows.py
# Layer norm that forgets eps: a constant row has zero variance and gives 0/0 = NaN.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def layer_norm_kernel(x_ptr, out_ptr, D, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < D
    x = tl.load(x_ptr + row * D + offs, mask=mask, other=0.0)
    mean = tl.sum(x, axis=0) / D
    xc = tl.where(mask, x - mean, 0.0)
    var = tl.sum(xc * xc, axis=0) / D
    tl.store(out_ptr + row * D + offs, xc / tl.sqrt(var), mask=mask)


class ModelNew(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.d = d

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        rows = x.numel() // self.d
        layer_norm_kernel[(rows,)](x, out, self.d, BLOCK=triton.next_power_of_2(self.d))
        return out
