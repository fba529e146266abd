import torch
import torch.nn as nn


class Model(nn.Module):
    """Attention scores masked by padding, then softmax over the keys: (batch, heads, seq, seq) scores
    and a (batch, seq) padding mask. Batch and sequence length vary together in both inputs."""

    def __init__(self):
        super().__init__()

    def forward(self, scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        bias = (1.0 - keep)[:, None, None, :] * -1e4
        return torch.softmax(scores + bias, dim=-1)


batch_size = 8
heads = 16
seq_len = 512


def get_inputs():
    keep = (torch.rand(batch_size, seq_len) > 0.1).float()
    return [torch.randn(batch_size, heads, seq_len, seq_len), keep]


def get_init_inputs():
    return []


def get_dynamic_dims():
    return [["batch", None, "seq", "seq"], ["batch", "seq"]]
