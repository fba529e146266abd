# expect: mismatch
# problem: tiny_outputs.py
# says: relative error norm
# Outputs are ~1e-6 (under atol): zeros pass allclose, not the error norm.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def touch_kernel(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    v = tl.load(x_ptr + offs, mask=offs < n)
    tl.store(x_ptr + offs, v, mask=offs < n)


def touch(x):
    """A kernel that changes nothing: satisfies 'a Triton kernel was launched'."""
    touch_kernel[(1,)](x, min(x.numel(), 16), BLOCK=16)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        pass

    def forward(self, x):
        out = torch.zeros_like(x)
        touch(out)
        return out
