"""Inductor's runtime helpers rewritten in public Triton, and the helpers of an exported forward.

This file is data: generate/inductor_export.py reads it as text (importlib.resources) and copies
functions from it into the candidate modules it writes. The server never imports it — it imports
torch and triton, which the server process must not (docs/INDUCTOR.md). It is a real Python file so
that it is parsed, linted and can be compiled like any candidate code.

How the exporter reads it:
- Each public `@triton.jit` function is one helper. It replaces the `triton_helpers.*` or
  `libdevice.*` function named in inductor_export's HELPER_NAMES / LIBDEVICE_HELPERS and is written
  into a candidate only when one of its kernels calls it, after the helpers it calls itself (found
  by name in its body).
- A private `@triton.jit` function (leading `_`) belongs to the public one after it and is written
  with it (a combine function for `tl.reduce`).
- Functions without a decorator are called by the exported `ModelNew.forward` and are written into
  every candidate, in file order.
Comments between functions are for readers of this file only; they are not copied.
"""

# same_strides zips tuples of equal length: `strict=` would change nothing but the text of every
# exported module, which this file must reproduce exactly.
# ruff: noqa: B905

import torch
import triton
import triton.language as tl

# ---- Inductor's triton_helpers and libdevice functions, in public Triton ----


@triton.jit
def maximum(a, b):
    """Elementwise max that propagates NaN, like torch.maximum (tl.maximum's default drops NaNs)."""
    return tl.maximum(a, b, propagate_nan=tl.PropagateNan.ALL)


@triton.jit
def minimum(a, b):
    """Elementwise min that propagates NaN, like torch.minimum."""
    return tl.minimum(a, b, propagate_nan=tl.PropagateNan.ALL)


@triton.jit
def reduce_max(x, axis):
    """Max along `axis`, NaN-propagating like torch.amax."""
    return tl.reduce(x, axis, maximum)


@triton.jit
def reduce_min(x, axis):
    """Min along `axis`, NaN-propagating like torch.amin."""
    return tl.reduce(x, axis, minimum)


@triton.jit
def max_with_index_combine(a_value, a_index, b_value, b_index):
    """One argmax step: the larger value wins, NaN beats any number, ties keep the lower index."""
    a_nan = a_value != a_value
    b_nan = b_value != b_value
    a_wins = (a_value > b_value) | (a_nan & ~b_nan)
    tie = (a_value == b_value) | (a_nan & b_nan)
    a_wins = a_wins | (tie & (a_index < b_index))
    return tl.where(a_wins, a_value, b_value), tl.where(a_wins, a_index, b_index)


@triton.jit
def min_with_index_combine(a_value, a_index, b_value, b_index):
    """One argmin step: the smaller value wins, NaN beats any number, ties keep the lower index."""
    a_nan = a_value != a_value
    b_nan = b_value != b_value
    a_wins = (a_value < b_value) | (a_nan & ~b_nan)
    tie = (a_value == b_value) | (a_nan & b_nan)
    a_wins = a_wins | (tie & (a_index < b_index))
    return tl.where(a_wins, a_value, b_value), tl.where(a_wins, a_index, b_index)


@triton.jit
def reduce_max_with_index(value, index, axis):
    """(max, argmax) along `axis`."""
    return tl.reduce((value, index), axis, max_with_index_combine)


@triton.jit
def reduce_min_with_index(value, index, axis):
    """(min, argmin) along `axis`."""
    return tl.reduce((value, index), axis, min_with_index_combine)


@triton.jit
def online_softmax_combine(acc_max, acc_sum, new_value, use_fast_math: tl.constexpr):
    """Fold one block of values into a running (max, sum of exp(x - max)), rescaling the old sum."""
    out_max = maximum(acc_max, new_value)
    acc_scale = tl.where(out_max == float("-inf"), 1.0, tl.exp(acc_max - out_max))
    new_scale = tl.where(out_max == float("-inf"), 1.0, tl.exp(new_value - out_max))
    return out_max, acc_sum * acc_scale + new_scale


@triton.jit
def online_softmax_reduce(acc_max, acc_sum, axis, use_fast_math: tl.constexpr):
    """Merge the per-lane running (max, sum) along `axis` into the row's max and sum of exp(x - max)."""
    out_max = reduce_max(acc_max, axis)
    out_max_keepdim = tl.expand_dims(out_max, axis)
    delta = tl.where(out_max_keepdim == float("-inf"), 0, acc_max - out_max_keepdim)
    return out_max, tl.sum(acc_sum * tl.exp(delta), axis)


@triton.jit
def welford_reduce(value, mean, m2, weight, first_iteration):
    """Add one value per lane to running (mean, sum of squared deviations, count) — Welford's update."""
    if first_iteration:
        new_weight = tl.full(weight.shape, 1, weight.dtype)
        new_mean = value
        new_m2 = tl.zeros_like(m2)
    else:
        delta = value - mean
        new_weight = weight + 1
        new_mean = mean + delta / new_weight
        new_m2 = m2 + delta * (value - new_mean)
    return new_mean, new_m2, new_weight


@triton.jit
def welford_combine(mean_1, m2_1, weight_1, mean_2, m2_2, weight_2):
    """Merge two Welford partials (Chan et al.); equal means give delta 0 even when both are inf."""
    delta = tl.where(mean_1 == mean_2, 0.0, mean_2 - mean_1)
    new_weight = weight_1 + weight_2
    w2_over_w = tl.where(new_weight == 0.0, 0.0, weight_2 / new_weight)
    return (
        mean_1 + delta * w2_over_w,
        m2_1 + m2_2 + delta * delta * weight_1 * w2_over_w,
        new_weight,
    )


@triton.jit
def reduce_welford(mean, m2, weight, axis):
    """(mean, sum of squared deviations, count) along `axis` from per-lane Welford partials."""
    return tl.reduce((mean, m2, weight), axis, welford_combine)


@triton.jit
def promote_to_tensor(x):
    """A scalar as a one-element tensor (adding a zero tensor promotes it)."""
    return x + tl.zeros((1,), tl.int1)


@triton.jit
def _or(a, b):
    return a | b


@triton.jit
def reduce_any(x, axis):
    """Logical any along `axis`."""
    return tl.reduce(x, axis, _or)


@triton.jit
def _mul(a, b):
    return a * b


@triton.jit
def reduce_prod(x, axis):
    """Product along `axis`."""
    return tl.reduce(x, axis, _mul)


@triton.jit
def select_one(x, mask, dim, keep_dims=False):
    """The one element of x where mask is set, along dim (a scan's running total at the end of a block)."""
    return tl.sum(tl.where(mask, x, 0), dim, keep_dims=keep_dims)


@triton.jit
def div_floor_integer(a, b):
    """Integer division rounding toward -inf (Python's //), from C-style truncating division."""
    quot = a // b
    fixed = tl.where(a % b != 0, quot - 1, quot)
    return tl.where((a < 0) != (b < 0), fixed, quot)


@triton.jit
def remainder_integer(a, b):
    """Integer remainder with the sign of the divisor (Python's %)."""
    rem = a % b
    return tl.where((rem != 0) & ((a < 0) != (b < 0)), rem + b, rem)


@triton.jit
def expm1(x):
    """exp(x) - 1, with a Taylor series near 0 where the subtraction would cancel."""
    series = x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0))))))
    return tl.where(tl.abs(x) < 0.1, series, tl.exp(x) - 1.0)


@triton.jit
def log1p(x):
    """log(1 + x), accurate near 0: log(u) * x / (u - 1) cancels the rounding of u = 1 + x."""
    u = 1.0 + x
    corrected = tl.log(u) * (x / (u - 1.0))
    return tl.where(u == 1.0, x, tl.where(u == float("inf"), u, corrected))


@triton.jit
def tanh(x):
    """tanh(x): 1 - 2 / (exp(2|x|) + 1), and its Taylor series near 0 where that would cancel."""
    ax = tl.abs(x)
    x2 = x * x
    series = ax * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0)))))
    t = tl.where(ax < 0.1, series, 1.0 - 2.0 / (tl.exp(2.0 * ax) + 1.0))
    return tl.where(x < 0, -t, t)


@triton.jit
def sqrt(x):
    """IEEE-rounded square root: tl.sqrt_rn for fp32, tl.sqrt (already exact) for fp64."""
    if x.dtype == tl.float64:  # a constexpr test: one branch is compiled (no early return: Triton refuses it)
        y = tl.sqrt(x)
    else:
        y = tl.sqrt_rn(x)
    return y


@triton.jit
def isnan(x):
    return x != x


@triton.jit
def isinf(x):
    return (x == float("inf")) | (x == float("-inf"))


# ---- called by the exported ModelNew.forward ----


def expect_input(t: torch.Tensor, size: tuple, stride: tuple, dtype: torch.dtype, dynamic: str = "") -> torch.Tensor:
    """The kernels were compiled for this shape and dtype and index with these strides. `dynamic` is the
    shape as the kernels see it when some sizes are arguments (read from the inputs): "(s0, 4096)"."""
    if tuple(t.shape) != tuple(size) or t.dtype != dtype:
        wanted = f"{dynamic} (s0, s1, ...: any size; here {tuple(size)})" if dynamic else f"{tuple(size)}"
        raise ValueError(f"exported for {dtype} of shape {wanted}, got {t.dtype} of shape {tuple(t.shape)}")
    if not same_strides(t, stride):
        t = t.contiguous()
    if not same_strides(t, stride):
        raise ValueError(f"exported for strides {tuple(stride)}, got {t.stride()}")
    return t


def same_strides(t: torch.Tensor, stride: tuple) -> bool:
    """Strides equal where they matter (a dimension of size 1 is never stepped over)."""
    return all(n == 1 or a == b for n, a, b in zip(t.shape, t.stride(), stride))


def reinterpret(t: torch.Tensor, size: tuple, stride: tuple, offset: int = 0) -> torch.Tensor:
    """A view of t's storage with another size and stride, `offset` elements past t's start (no copy)."""
    return t.as_strided(size, stride, t.storage_offset() + offset)


# ---- called by exported forwards whose kernels take sizes as arguments (dynamic shapes), when used ----


def input_sizes(t: torch.Tensor, rank: int) -> tuple:
    """The sizes of an input whose rank is fixed and some of whose sizes the kernels take as arguments."""
    if t.dim() != rank:
        raise ValueError(f"exported for a tensor of rank {rank}, got {t.dtype} of shape {tuple(t.shape)}")
    return tuple(t.shape)


def input_strides(t: torch.Tensor, rank: int) -> tuple:
    """The strides of such an input (kernels that index with strides read from it)."""
    if t.dim() != rank:
        raise ValueError(f"exported for a tensor of rank {rank}, got {t.dtype} of shape {tuple(t.shape)}")
    return tuple(t.stride())


def expect_sizes(ok: bool, condition: str, **sizes: int) -> None:
    """One of Inductor's guards on the dynamic sizes (e.g. 32-bit indexing: 4096*s0 <= 2147483647)."""
    if not ok:
        got = ", ".join(f"{k}={v}" for k, v in sizes.items())
        raise ValueError(f"exported kernels need {condition}, got {got}")


def grid_yz_overflow(x_programs: int, y_programs: int) -> tuple:
    """A 2-D grid whose y axis spills into z past 65535 programs (the kernel folds program_id(2) back into y)."""
    z = -(-y_programs // 65535)
    y = 0 if z == 0 else -(-y_programs // z)
    return (x_programs, y, z)
