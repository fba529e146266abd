"""Linear layer followed by GELU: y = gelu(x @ W^T + b).

A matmul with the bias add and activation fused into its epilogue.
"""

import torch
import torch.nn as nn

# Interpreter-sized; a transformer MLP is BATCH = 8192 tokens, IN = 4096, OUT = 16384.
BATCH = 32
IN_FEATURES = 256
OUT_FEATURES = 512


class LinearGELU(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.linear(x))


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES]
