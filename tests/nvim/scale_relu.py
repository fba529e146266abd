"""A small module for the Neovim end-to-end test: ReLU then a per-instance scale."""

import torch
import torch.nn as nn


class ScaledReLU(nn.Module):
    def __init__(self, scale: float = 2.0):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x) * self.scale


def get_inputs():
    return [torch.randn(64, 128)]


def get_init_inputs():
    return [2.0]
