# expect: mismatch
# problem: random_shape.py
# says: out: shape float32[142]
# Hard-codes the length of the example input (142 under the probe's seed 42): right for that length
# only. (It used to compute x[:128], which is right for every length up to 128: 29 of the 300 lengths
# the recipe draws, so about 1 run in 100 passed both seeds.)
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


N = 142  # the length in the example inputs


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty(N, dtype=x.dtype, device=x.device)
        affine_kernel[(triton.cdiv(N, 1024),)](x, out, min(x.numel(), N), 1.0, 1.0, BLOCK=1024)
        return out
