# expect: pass
# problem: random_shape.py
# Correct for every length: n comes from the input.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def affine_kernel(x_ptr, out_ptr, n, alpha, beta, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x * alpha + beta, mask=mask)


def affine(x, alpha, beta):
    x = x.contiguous()
    out = torch.empty_like(x)
    n = x.numel()
    affine_kernel[(triton.cdiv(n, 1024),)](x, out, n, alpha, beta, BLOCK=1024)
    return out


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        pass

    def forward(self, x):
        return affine(x, 1.0, 1.0)
