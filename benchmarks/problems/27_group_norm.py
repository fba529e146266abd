import torch
import torch.nn as nn


class Model(nn.Module):
    """GroupNorm on an NCHW tensor with learned per-channel affine."""

    def __init__(self, num_groups: int, channels: int):
        super().__init__()
        self.gn = nn.GroupNorm(num_groups, channels)
        with torch.no_grad():
            self.gn.weight.add_(0.1 * torch.randn(channels))
            self.gn.bias.add_(0.1 * torch.randn(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gn(x)


batch_size = 32
channels = 64
num_groups = 8
height = 128
width = 128


def get_inputs():
    return [torch.randn(batch_size, channels, height, width)]


def get_init_inputs():
    return [num_groups, channels]
