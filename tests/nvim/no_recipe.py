"""A module without an input recipe: converting it must explain how to add one."""

import torch
import torch.nn as nn


class NoRecipe(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x) + 1.0
