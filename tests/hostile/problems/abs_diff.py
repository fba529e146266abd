"""|x - y| elementwise."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        return (x - y).abs()


def get_inputs():
    return [torch.randn(40, 50), torch.randn(40, 50)]


def get_init_inputs():
    return []
