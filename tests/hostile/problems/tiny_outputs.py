"""Outputs around 1e-6: below the fp32 atol, so `allclose` alone would accept a kernel that returns
zeros. The relative error norm must reject it."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x * 1e-6


def get_inputs():
    return [torch.randn(256)]


def get_init_inputs():
    return []
