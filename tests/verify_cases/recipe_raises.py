import torch
from torch import nn


class Model(nn.Module):
    def forward(self, x):
        return x + 1


def get_inputs():
    raise RuntimeError("no data here")


def get_init_inputs():
    return []
