"""Several modules, one recipe each in `# tritonize:` comments; the file-level get_inputs is Scale's."""

import torch as T
from torch import nn

ROWS = 8
COLS = 32
REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    REGISTRY[cls.__name__] = cls
    return cls


# The recipe above the class (and its decorator):
# tritonize: inputs = [torch.randn(ROWS, COLS), torch.randn(ROWS, COLS)]
@register
class AddMul(nn.Module):
    def forward(self, a: T.Tensor, b: T.Tensor) -> T.Tensor:
        return (a + b) * b


class Bias(nn.Module):
    # tritonize: inputs = [torch.randn(ROWS, COLS)]
    # tritonize: init = [COLS]
    def __init__(self, cols: int):
        super().__init__()
        self.bias = nn.Parameter(T.randn(cols))

    def forward(self, x: T.Tensor) -> T.Tensor:
        return x + self.bias


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: T.Tensor) -> T.Tensor:
        return x * self.factor


def get_inputs():
    return [T.randn(ROWS, COLS)]


def get_init_inputs():
    return [3.0]
