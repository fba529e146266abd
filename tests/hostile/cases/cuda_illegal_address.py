# expect: crash
# problem: add_scale.py
# needs: cuda
# Stores far outside the output buffer.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def wild_store_kernel(out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK) + 1 << 40
    tl.store(out_ptr + offs, tl.zeros([BLOCK], dtype=tl.float32))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        pass

    def forward(self, x, y):
        out = torch.empty_like(x)
        wild_store_kernel[(1,)](out, BLOCK=16)
        return out
