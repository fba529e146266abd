# expect: syntax
# problem: add_scale.py
# Not Python.
import torch
import torch.nn as nn
import triton
import triton.language as tl


class ModelNew(nn.Module)
    def forward(self, x, y):
        return x
