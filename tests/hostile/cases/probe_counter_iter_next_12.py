# expect: mismatch
# problem: add_scale.py
# A module-level itertools.count advanced with .__next__() (not next()): right for 12 calls, wrong
# afterwards.
import itertools
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def add_scale_kernel(x_ptr, y_ptr, out_ptr, n, sign, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x * 2.0 + sign * y, mask=mask)


def add_scale(x, y, right=True):
    """x * 2 + y when `right`, else x * 2 - y."""
    x = x.contiguous()
    y = y.contiguous()
    out = torch.empty_like(x)
    n = x.numel()
    add_scale_kernel[(triton.cdiv(n, 1024),)](x, y, out, n, 1.0 if right else -1.0, BLOCK=1024)
    return out


_TICKS = itertools.count(1)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        return add_scale(x, y, right=_TICKS.__next__() <= 12)
