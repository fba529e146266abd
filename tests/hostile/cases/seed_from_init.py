# expect: mismatch
# problem: add_scale.py
# says: mismatch
# Reads the RNG seed it was constructed under and regenerates the inputs from it in __init__: the
# models are built under a fixed weights seed, the inputs come from a separate seed drawn per job.
# The precomputed answer is a buffer, so it moves to the GPU with the module (not in state_dict).
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def touch_kernel(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    v = tl.load(x_ptr + offs, mask=offs < n)
    tl.store(x_ptr + offs, v, mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        seed = torch.initial_seed()
        torch.manual_seed(seed)
        a, b = torch.randn(64, 32), torch.randn(64, 32)
        self.register_buffer("answer", a * 2.0 + b, persistent=False)

    def forward(self, x, y):
        out = self.answer.clone()
        touch_kernel[(1,)](out, 16, BLOCK=16)
        return out
