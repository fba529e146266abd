"""A problem whose input recipe raises: the bench must record a problem error and go on."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2.0


def get_inputs():
    return [torch.randn(4, 4) @ torch.randn(5, 5)]  # shapes do not match: raises


def get_init_inputs():
    return []
