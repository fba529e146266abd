# expect: mismatch
# problem: layer_norm_narrow.py
# says: from the module in fp64
# Layer norm with the one-pass variance E[x^2] - E[x]^2: fine on randn, cancels catastrophically
# when every element carries a large common offset.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def layer_norm_kernel(x_ptr, out_ptr, D, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < D
    x = tl.load(x_ptr + row * D + offs, mask=mask, other=0.0)
    mean = tl.sum(x, axis=0) / D
    mean_sq = tl.sum(x * x, axis=0) / D
    var = tl.maximum(mean_sq - mean * mean, 0.0)
    y = (x - mean) / tl.sqrt(var + eps)
    tl.store(out_ptr + row * D + offs, y, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.d = d

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        rows = x.numel() // self.d
        layer_norm_kernel[(rows,)](x, out, self.d, 1e-5, BLOCK=triton.next_power_of_2(self.d))
        return out
