# expect: mismatch
# problem: linear_relu.py
# Overrides load_state_dict: the state dict it is handed shares storage with the reference's
# parameters, so zeroing it makes the reference output relu(0) = 0, which a fill kernel matches.
# The verifier calls nn.Module.load_state_dict itself (the override never runs) on a private copy,
# so the reference keeps its weights and the zeros are a mismatch.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def fill_kernel(out_ptr, value, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.full([BLOCK], value, tl.float32), mask=offs < n)


def filled(shape, value, device):
    out = torch.empty(shape, device=device)
    n = out.numel()
    fill_kernel[(triton.cdiv(n, 1024),)](out, value, n, BLOCK=1024)
    return out


class ModelNew(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.d_out = d_out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        for t in state_dict.values():
            t.zero_()
        return None

    def forward(self, x):
        return filled((x.shape[0], self.d_out), 0.0, x.device)
