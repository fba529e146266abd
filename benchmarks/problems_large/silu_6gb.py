"""A memory-bound problem at the size users hit: 6.4 GB of fp32 input (4096 × 393216), one op.

Verification time at this size is dominated by input creation and copies, not GPU work (one forward
reads and writes 12.9 GB: about 3 ms on an H200). Used by docs/BENCHMARKS.md for the wall time of a
whole conversion with the built-in generators.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return F.silu(x)


def get_inputs():
    return [torch.randn(4096, 393216)]


def get_init_inputs():
    return []
