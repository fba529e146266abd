# expect: cheat
# problem: add_scale.py
# Plain torch, no Triton launch at all.
import torch
import torch.nn as nn
import triton
import triton.language as tl


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        pass

    def forward(self, x, y):
        return x * 2.0 + y
