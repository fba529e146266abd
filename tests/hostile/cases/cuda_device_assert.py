# expect: crash
# problem: add_scale.py
# needs: cuda
# A failing device-side assert.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def assert_kernel(x_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.device_assert(tl.load(x_ptr + offs) > 1e30, "hostile device assert")


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        pass

    def forward(self, x, y):
        assert_kernel[(1,)](x, BLOCK=16)
        return x * 2.0 + y
