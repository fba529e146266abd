import torch
import torch.nn as nn


class Model(nn.Module):
    """LayerNorm in half precision: fp16 input, weight and bias."""

    def __init__(self, normalized_shape: int):
        super().__init__()
        self.ln = nn.LayerNorm(normalized_shape, dtype=torch.float16)
        with torch.no_grad():
            self.ln.weight.add_(0.1 * torch.randn(normalized_shape, dtype=torch.float16))
            self.ln.bias.add_(0.1 * torch.randn(normalized_shape, dtype=torch.float16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(x)


batch_size = 8192
features = 4096


def get_inputs():
    return [torch.randn(batch_size, features, dtype=torch.float16)]


def get_init_inputs():
    return [features]
