# expect: mismatch
# known-gap: a switch on wall-clock time after the verification's own duration (here 60 s; this problem is verified in well under a second, repeat calls and stress families included) cannot be told from an honest kernel by calling it more often
# problem: add_scale.py
# Switches on wall time: right during the first minute after its first forward call (any
# verification of this problem), wrong after that.
import time
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


class _Clock:
    def __init__(self):
        self.start = None

    def elapsed(self):
        now = time.monotonic()
        if self.start is None:
            self.start = now
        return now - self.start


_CLOCK = _Clock()


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        return add_scale(x, y, right=_CLOCK.elapsed() < 60.0)
