# expect: pass
# problem: scale_shift_buffer.py
# Honest: registers the same buffer and parameter as the reference (drop-in load_state_dict) and
# reads both in the kernel.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def scale_shift_kernel(x_ptr, scale_ptr, shift_ptr, out_ptr, n, D, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    col = offs % D
    x = tl.load(x_ptr + offs, mask=mask)
    s = tl.load(scale_ptr + col, mask=mask)
    b = tl.load(shift_ptr + col, mask=mask)
    tl.store(out_ptr + offs, x * s + b, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.register_buffer("scale", torch.ones(d))
        self.shift = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        scale_shift_kernel[(triton.cdiv(n, 512),)](x, self.scale, self.shift, out, n, self.scale.numel(), BLOCK=512)
        return out
