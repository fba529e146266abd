# expect: mismatch
# problem: log_softmax_rows.py
# Log-softmax as x - log(sum(exp(x))) without the max shift: the sum overflows for large logits.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def log_softmax_kernel(x_ptr, out_ptr, D, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < D
    x = tl.load(x_ptr + row * D + offs, mask=mask, other=float("-inf"))
    lse = tl.log(tl.sum(tl.exp(x), axis=0))
    tl.store(out_ptr + row * D + offs, x - lse, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        d = x.shape[-1]
        log_softmax_kernel[(x.numel() // d,)](x, out, d, BLOCK=triton.next_power_of_2(d))
        return out
