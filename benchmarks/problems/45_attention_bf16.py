import math

import torch
import torch.nn as nn


class Model(nn.Module):
    """Scaled dot-product attention written out, in bfloat16."""

    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1))
        weights = torch.softmax(scores, dim=-1)
        return torch.matmul(weights, v)


batch_size = 16
num_heads = 16
seq_len = 512
head_dim = 64
dtype = torch.bfloat16


def get_inputs():
    shape = (batch_size, num_heads, seq_len, head_dim)
    return [torch.randn(*shape, dtype=dtype), torch.randn(*shape, dtype=dtype), torch.randn(*shape, dtype=dtype)]


def get_init_inputs():
    return []
