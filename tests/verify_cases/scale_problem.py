import torch
from torch import nn


class Scale(nn.Module):
    """y = x * weight (per column)."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n))

    def forward(self, x):
        return x * self.weight


def get_inputs():
    return [torch.randn(8, 64)]


def get_init_inputs():
    return [64]
