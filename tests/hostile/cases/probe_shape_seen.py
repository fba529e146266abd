# expect: mismatch
# problem: add_scale.py
# Counts how often each input shape has been seen (in a helper object's dict): right the first 4
# times a shape comes by, wrong after that (a benchmark loop repeats one shape).
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


class _ShapeLog:
    def __init__(self):
        self.seen = {}

    def visit(self, shape):
        self.seen[shape] = self.seen.get(shape, 0) + 1
        return self.seen[shape]


_LOG = _ShapeLog()


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        return add_scale(x, y, right=_LOG.visit(tuple(x.shape)) <= 4)
