# expect: timeout
# problem: add_scale.py
# says: during ModelNew.forward
# Spins forever inside the kernel, waiting for a flag nobody sets. The loop has to be observable: a
# side-effect-free loop (`while i >= 0: i += 1`) is deleted when compiled for a GPU and only spins
# under the interpreter. The volatile load cannot be hoisted out or folded, and the loop stores.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def spin_kernel(x_ptr, y_ptr, out_ptr, flag_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    value = tl.load(x_ptr + offs, mask=mask) * 2.0 + tl.load(y_ptr + offs, mask=mask)
    while tl.load(flag_ptr, volatile=True) == 0:
        tl.store(out_ptr + offs, value, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        pass

    def forward(self, x, y):
        x, y = x.contiguous(), y.contiguous()
        out = torch.empty_like(x)
        flag = torch.zeros(1, dtype=torch.int32, device=x.device)
        n = x.numel()
        spin_kernel[(triton.cdiv(n, 1024),)](x, y, out, flag, n, BLOCK=1024)
        return out
