"""x * scale + shift with `scale` a registered buffer and `shift` a parameter (per column)."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.register_buffer("scale", torch.linspace(0.5, 2.0, d))
        self.shift = nn.Parameter(torch.randn(d))

    def forward(self, x):
        return x * self.scale + self.shift


def get_inputs():
    return [torch.randn(32, 48)]


def get_init_inputs():
    return [48]
