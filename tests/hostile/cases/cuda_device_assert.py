# expect: crash
# problem: add_scale.py
# needs: cuda
# says: device-side assert
# A failing device-side assert. Triton compiles `tl.device_assert` out unless the kernel is built
# with debug (`@triton.jit(debug=True)` or TRITON_DEBUG=1), so the kernel asks for it.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit(debug=True)
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
