"""A small transformer-ish file: several classes, helpers, constants, every import alias style."""

import math
import os
from dataclasses import dataclass

import torch
import torch.nn as tnn
import torch.nn.functional as F
from torch import nn
from torch import nn as N
from torch.nn import Module

EPS = 1e-5
SCALE = math.sqrt(2.0)
UNUSED_SIZE = 12345
CACHE_DIR = os.environ.get("CACHE_DIR", "/tmp")

torch.manual_seed(0)
torch.backends.cudnn.benchmark = False


@dataclass
class Config:
    dim: int = 64
    hidden: int = 128


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x) * SCALE


def unused_helper() -> str:
    return CACHE_DIR


class Norm(Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = tnn.Parameter(1.0 + 0.1 * torch.randn(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * self.weight


class Expert(tnn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.up = nn.Linear(cfg.dim, cfg.hidden)
        self.down = nn.Linear(cfg.hidden, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(_act(self.up(x)))


class Block(N.Module):
    residual_scale = 1.0

    def __init__(self, cfg: Config):
        super().__init__()
        self.norm = Norm(cfg.dim)
        self.mlp = Expert(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual_scale * self.mlp(self.norm(x))


Block.residual_scale = 0.5


class Gated(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * torch.sigmoid(x)


class Wide(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).relu()


class NotAModule:
    def forward(self, x):
        return x


class Model(tnn.Module):
    def __init__(self, dim: int, hidden: int, depth: int = 2):
        super().__init__()
        cfg = Config(dim, hidden)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


BATCH = 8
DIM = 64
HIDDEN = 128


def get_inputs():
    return [torch.randn(BATCH, DIM)]


def get_init_inputs():
    return [DIM, HIDDEN]


if __name__ == "__main__":
    print(Model(*get_init_inputs())(*get_inputs()).shape)
