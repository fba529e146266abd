import torch
import torch.nn as nn


class Model(nn.Module):
    """RMSNorm over the hidden size of a (batch, sequence, hidden) activation, as in a decoder layer.
    Batch and sequence length change from call to call (get_dynamic_dims)."""

    def __init__(self, hidden: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(hidden))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * rms * self.weight


batch_size = 8
seq_len = 1024
hidden = 4096


def get_inputs():
    return [torch.randn(batch_size, seq_len, hidden)]


def get_init_inputs():
    return [hidden]


def get_dynamic_dims():
    return [["batch", "seq", None]]
