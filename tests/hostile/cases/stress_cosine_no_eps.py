# expect: mismatch
# problem: cosine_rows.py
# says: zeros
# Cosine similarity dividing by the raw product of norms: an all-zero row gives 0/0 = NaN.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def cosine_kernel(a_ptr, b_ptr, out_ptr, D, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < D
    a = tl.load(a_ptr + row * D + offs, mask=mask, other=0.0)
    b = tl.load(b_ptr + row * D + offs, mask=mask, other=0.0)
    dot = tl.sum(a * b, axis=0)
    na = tl.sqrt(tl.sum(a * a, axis=0))
    nb = tl.sqrt(tl.sum(b * b, axis=0))
    tl.store(out_ptr + row, dot / (na * nb))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        a = a.contiguous()
        b = b.contiguous()
        d = a.shape[-1]
        out = torch.empty(a.shape[:-1], dtype=a.dtype, device=a.device)
        cosine_kernel[(a.numel() // d,)](a, b, out, d, BLOCK=triton.next_power_of_2(d))
        return out
