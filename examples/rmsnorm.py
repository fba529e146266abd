"""RMSNorm (as in LLaMA): y = x / sqrt(mean(x^2) + eps) * weight, over the last dimension.

A row reduction followed by an element-wise scale: one Triton program per row does both.
"""

import torch
import torch.nn as nn

# Interpreter-sized; a realistic decoder layer is ROWS = 8192 (batch x sequence), HIDDEN = 4096.
ROWS = 32
HIDDEN = 512


class RMSNorm(nn.Module):
    def __init__(self, hidden: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        # Trained weights are not all ones; neither are these, so a kernel that skips them fails.
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x * rms * self.weight


def get_inputs():
    return [torch.randn(ROWS, HIDDEN)]


def get_init_inputs():
    return [HIDDEN]
