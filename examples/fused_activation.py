"""Element-wise fusion: y = gelu(x * scale) + bias.

Eager PyTorch runs three kernels (mul, gelu, add) and reads/writes x three times; one Triton kernel
does it in a single pass. `make demo` converts this class.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

# Small enough for the Triton interpreter on CPU; a realistic layer is BATCH = 4096, HIDDEN = 4096.
BATCH = 16
HIDDEN = 1024


class FusedGeluScale(nn.Module):
    def __init__(self, hidden: int, scale: float = 0.5):
        super().__init__()
        self.scale = scale
        # Random, not zeros: a kernel that forgets the bias must fail verification.
        self.bias = nn.Parameter(torch.randn(hidden) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x * self.scale) + self.bias


def get_inputs():
    return [torch.randn(BATCH, HIDDEN)]


def get_init_inputs():
    return [HIDDEN]
