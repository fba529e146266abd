# expect: pass
# finding: stress
# problem: layer_norm_narrow.py
# The careful layer norm on an ill-conditioned family: under the +100 offset neither it nor the module's
# own fp32 result is within 1e-4 of the other; both are as close to the module run in fp64, so it passes.
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
    shift = tl.load(x_ptr + row * D)
    mean = shift + tl.sum(tl.where(mask, x - shift, 0.0), axis=0) / D
    xc = tl.where(mask, x - mean, 0.0)
    var = tl.sum(xc * xc, axis=0) / D
    tl.store(out_ptr + row * D + offs, xc * (1.0 / tl.sqrt(var + eps)), mask=mask)


class ModelNew(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.d = d

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        layer_norm_kernel[(x.numel() // self.d,)](x, out, self.d, 1e-5, BLOCK=triton.next_power_of_2(self.d))
        return out
