import torch
import torch.nn as nn


class Model(nn.Module):
    """Per-channel affine on an NCHW tensor: scale[C,1,1] * x + shift[C,1,1] (268 MB of traffic)."""

    def __init__(self, channels: int):
        super().__init__()
        self.scale = nn.Parameter(1.0 + 0.1 * torch.randn(channels, 1, 1))
        self.shift = nn.Parameter(0.1 * torch.randn(channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x + self.shift


batch_size = 32
channels = 64
height = 128
width = 128


def get_inputs():
    return [torch.randn(batch_size, channels, height, width)]


def get_init_inputs():
    return [channels]
