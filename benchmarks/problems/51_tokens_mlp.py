import torch
import torch.nn as nn


class Model(nn.Module):
    """A transformer MLP on (batch, sequence, hidden) tokens: Linear → GELU(tanh) → Linear. Batch and
    sequence length vary (get_dynamic_dims); the hidden sizes are the weights'."""

    def __init__(self, hidden: int, inner: int):
        super().__init__()
        self.up = nn.Linear(hidden, inner)
        self.down = nn.Linear(inner, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(nn.functional.gelu(self.up(x), approximate="tanh"))


batch_size = 4
seq_len = 512
hidden = 1024
inner = 4096


def get_inputs():
    return [torch.randn(batch_size, seq_len, hidden)]


def get_init_inputs():
    return [hidden, inner]


def get_dynamic_dims():
    return [["batch", "seq", None]]
