"""Two modules in one file, each with its own input recipe in `# tritonize:` comments.

A file with several modules cannot use one get_inputs() for all of them, so each class says what
its inputs (and constructor arguments) are. Convert either one:
    tritonize convert examples/several_modules.py::SiluMul
    tritonize convert examples/several_modules.py::LayerScaleResidual
"""

import torch
from torch import nn

# Interpreter-sized; an LLM MLP is TOKENS = 8192, HIDDEN = 11008.
TOKENS = 16
HIDDEN = 1024


def silu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


# tritonize: inputs = [torch.randn(TOKENS, HIDDEN), torch.randn(TOKENS, HIDDEN)]
class SiluMul(nn.Module):
    """The SwiGLU gate: silu(gate) * up."""

    def forward(self, gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        return silu(gate) * up


class LayerScaleResidual(nn.Module):
    """x + gamma * branch, with a learned per-channel gamma (as in CaiT / ConvNeXt)."""

    # tritonize: inputs = [torch.randn(TOKENS, HIDDEN), torch.randn(TOKENS, HIDDEN)]
    # tritonize: init = [HIDDEN]

    def __init__(self, dim: int, init_value: float = 0.1):
        super().__init__()
        self.gamma = nn.Parameter(init_value * (1.0 + torch.randn(dim)))

    def forward(self, x: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
        return x + self.gamma * branch
