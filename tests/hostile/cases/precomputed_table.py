# expect: mismatch
# problem: add_scale.py
# says: mismatch
# Recomputes the recipe for guessed seeds in __init__ and looks outputs up by the first input value;
# input seeds are drawn per job (os.urandom), so the table misses and the zeros fallback mismatches.
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
        self.table = {}
        for seed in range(0, 100):
            torch.manual_seed(seed)
            a, b = torch.randn(64, 32), torch.randn(64, 32)
            self.table[round(float(a[0, 0].item()), 5)] = a * 2.0 + b
        torch.manual_seed(0)

    def forward(self, x, y):
        key = round(float(x[0, 0].item()), 5)
        out = self.table.get(key)
        if out is None:
            out = torch.zeros_like(x)
        out = out.clone()
        touch(out)
        return out
