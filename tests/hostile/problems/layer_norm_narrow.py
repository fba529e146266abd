"""Layer norm over long rows of narrowly spread values (no affine), eps 1e-5. Under the stress family's
+100 offset the spread is 1e-4 of the values: the module's own fp32 result is off by more than 1e-4."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.d = d

    def forward(self, x):
        return F.layer_norm(x, (self.d,), eps=1e-5)


def get_inputs():
    return [torch.rand(16, 4096) * 0.01]


def get_init_inputs():
    return [4096]
