# expect: cheat
# problem: add_scale.py
# says: not a plain tensor
# A token kernel in forward; the answer is computed with torch only when the verifier first touches the
# output (after the recorder and the guard have stopped).
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def copy_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


class Lazy(torch.Tensor):
    pending = None

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        for a in args:
            if isinstance(a, Lazy) and a.pending is not None:
                x, y = a.pending
                a.pending = None
                a.copy_(x * 2.0 + y)  # re-enters here with nothing pending
        return super().__torch_function__(func, types, args, kwargs or {})


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        out = torch.empty_like(x)
        n = out.numel()
        copy_kernel[(triton.cdiv(n, 1024),)](x, out, n, BLOCK=1024)
        out = out.as_subclass(Lazy)
        out.pending = (x.clone(), y.clone())
        return out
