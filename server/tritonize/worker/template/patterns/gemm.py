"""Matmul / linear / batched matmul with a fused element-wise epilogue (bias, activation, scaling, ...).

The tutorial's tiled GEMM: one program per BLOCK_M x BLOCK_N output tile, tl.dot over BLOCK_K
slices with fp32 accumulation, programs ordered in groups of GROUP_M tile rows so neighbouring
programs reuse B tiles from L2, masks for sizes that are not multiples of the tiles. Every operand is
passed as a [batch, rows, cols] view with its strides, so x @ w.T needs no transpose copy and batch
dims broadcast (stride 0). fp32 inputs use IEEE fp32 dot products (no silent TF32) unless the user
allowed TF32.

IEEE fp32 dots run on the FMA units, which read the B tile from unswizzled shared memory: a B whose
K dim is the contiguous one (nn.Linear's [N, K] weight read as [K, N]) makes every lane of a warp hit
the same bank, halving throughput. For that case the wrapper first copies B into [K, N] row-major
with a small transpose kernel (N·K·8 bytes of traffic, a few percent of the GEMM). 16-bit and TF32
dots use tensor cores, whose shared-memory layouts take either order, so they read B in place.
`EVEN_K` (K a multiple of BLOCK_K) drops the K masks from the inner loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..fuse import Group
from ..ir import Node
from .common import Emitted, ExprWriter, group_names, out_dtype_expr


@dataclass(frozen=True)
class GemmConfig:
    block_m: int
    block_n: int
    block_k: int
    num_warps: int
    num_stages: int
    group_m: int = 8

    @property
    def tag(self) -> str:
        return f"m{self.block_m}n{self.block_n}k{self.block_k}_w{self.num_warps}_s{self.num_stages}"


# H100/H200-sized tiles, most promising first (the generator keeps the first n). fp32 tiles use
# BLOCK_K 32 to keep the pipelined stages within shared memory and the FMA accumulators in registers.
CONFIGS_16BIT = [GemmConfig(128, 256, 64, 8, 3), GemmConfig(128, 128, 64, 8, 3), GemmConfig(128, 128, 64, 4, 4), GemmConfig(128, 64, 32, 4, 4)]
CONFIGS_FP32 = [GemmConfig(128, 128, 32, 8, 3), GemmConfig(128, 64, 32, 4, 4), GemmConfig(64, 128, 32, 4, 4), GemmConfig(256, 64, 32, 8, 3)]

TRANSPOSE_KERNEL = '''@triton.jit
def transpose_kn_kernel(src_ptr, dst_ptr, K, N, stride_sb, stride_sk, stride_sn, BLOCK_K: tl.constexpr, BLOCK_N: tl.constexpr):
    """dst[b] = src[b] as a row-major [K, N] matrix (N contiguous), one program per BLOCK_K x BLOCK_N tile."""
    pid_k = tl.program_id(axis=0)
    pid_n = tl.program_id(axis=1)
    batch = tl.program_id(axis=2)
    offs_k = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (offs_k[:, None] < K) & (offs_n[None, :] < N)
    tile = tl.load(src_ptr + batch * stride_sb + offs_k[:, None] * stride_sk + offs_n[None, :] * stride_sn, mask=mask)
    tl.store(dst_ptr + batch * K * N + offs_k[:, None] * N + offs_n[None, :], tile, mask=mask)


def transpose_kn(b):
    """b [batch, K, N] copied so that N is contiguous (launches transpose_kn_kernel)."""
    src = b[:1] if b.stride(0) == 0 else b  # a broadcast batch is transposed once and broadcast again
    n_batch, K, N = src.shape
    dst = torch.empty((n_batch, K, N), device=b.device, dtype=b.dtype)
    grid = (triton.cdiv(K, 64), triton.cdiv(N, 64), n_batch)
    transpose_kn_kernel[grid](src, dst, K, N, *src.stride(), BLOCK_K=64, BLOCK_N=64, num_warps=4)
    return dst.expand(b.shape)
'''


def configs_for(dtype: torch.dtype) -> list[GemmConfig]:
    return CONFIGS_FP32 if dtype in (torch.float32, torch.float64) else CONFIGS_16BIT


def emit_gemm(group: Group, name: str, forward_names: dict[Node, str], cfg: GemmConfig, allow_tf32: bool = False) -> Emitted:
    gemm = group.gemm
    assert gemm is not None
    a_node, b_node = gemm.args
    names = group_names(group, forward_names)
    leaves, scalars, namer = names.leaves, names.scalars, names.namer
    local, scalar_local, formula = names.local, names.scalar_local, names.formula
    epi_leaves = [x for x in leaves if any(x in n.args for n in group.nodes if n is not gemm)]
    epi = {x: namer(local[x] + "_epi") if x in (a_node, b_node) else local[x] for x in epi_leaves}

    body: list[str] = []
    loaded: dict[Node, str] = {}

    def load(leaf: Node, _consumer: Node) -> str:
        if leaf in loaded:
            return loaded[leaf]
        v = epi[leaf]
        conv = "" if str(leaf.dtype) == "torch.bool" else ".to(tl.float32)"
        body.append(
            f"    {v} = tl.load({v}_ptr + batch * {v}_stride_b + offs_m[:, None] * {v}_stride_m"
            f" + offs_n[None, :] * {v}_stride_n, mask=mask, other=0){conv}"
        )
        loaded[leaf] = v
        return v

    writer = ExprWriter(namer, scalar_local, load)
    writer.vars[gemm] = "acc"
    for n in group.nodes:
        if n is not gemm:
            writer.pointwise(n, body, "    ")
    result = writer.vars[group.root]

    params = ["a_ptr", "b_ptr", "out_ptr"] + [f"{epi[x]}_ptr" for x in epi_leaves] + ["M", "N", "K"]
    params += ["stride_ab", "stride_am", "stride_ak", "stride_bb", "stride_bk", "stride_bn", "stride_ob", "stride_om", "stride_on"]
    params += [f"{epi[x]}_stride_{s}" for x in epi_leaves for s in "bmn"]
    params += [scalar_local[s] for s in scalars]
    params += ["BLOCK_M: tl.constexpr", "BLOCK_N: tl.constexpr", "BLOCK_K: tl.constexpr", "GROUP_M: tl.constexpr", "EVEN_K: tl.constexpr"]
    params += ["INPUT_PRECISION: tl.constexpr"]
    epilogue = ["    # Epilogue: the fused element-wise ops, on the fp32 tile before it is stored.", *body] if body else []
    kernel = "\n".join(
        [
            "@triton.jit",
            f"def {name}_kernel(",
            *[f"    {p}," for p in params],
            "):",
            f'    """out = {formula}; one program per BLOCK_M x BLOCK_N tile, fp32 accumulation."""',
            "    pid = tl.program_id(axis=0)",
            "    batch = tl.program_id(axis=1)",
            "    # Grouped ordering: GROUP_M tile rows run together so their B tiles stay in L2.",
            "    num_pid_m = tl.cdiv(M, BLOCK_M)",
            "    num_pid_n = tl.cdiv(N, BLOCK_N)",
            "    num_pid_in_group = GROUP_M * num_pid_n",
            "    group_id = pid // num_pid_in_group",
            "    first_pid_m = group_id * GROUP_M",
            "    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)",
            "    pid_m = first_pid_m + ((pid % num_pid_in_group) % group_size_m)",
            "    pid_n = (pid % num_pid_in_group) // group_size_m",
            "    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)",
            "    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)",
            "    offs_k = tl.arange(0, BLOCK_K)",
            "    a_ptrs = a_ptr + batch * stride_ab + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak",
            "    b_ptrs = b_ptr + batch * stride_bb + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn",
            "    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)",
            "    for k in range(0, tl.cdiv(K, BLOCK_K)):",
            "        if EVEN_K:  # K is a multiple of BLOCK_K: no K mask in the inner loop",
            "            a = tl.load(a_ptrs, mask=offs_m[:, None] < M, other=0.0)",
            "            b = tl.load(b_ptrs, mask=offs_n[None, :] < N, other=0.0)",
            "        else:",
            "            k_mask = offs_k < K - k * BLOCK_K",
            "            a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & k_mask[None, :], other=0.0)",
            "            b = tl.load(b_ptrs, mask=k_mask[:, None] & (offs_n[None, :] < N), other=0.0)",
            "        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION)",
            "        a_ptrs += BLOCK_K * stride_ak",
            "        b_ptrs += BLOCK_K * stride_bk",
            "    mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)",
            *epilogue,
            "    out_ptrs = out_ptr + batch * stride_ob + offs_m[:, None] * stride_om + offs_n[None, :] * stride_on",
            f"    tl.store(out_ptrs, {result}.to(out_ptr.dtype.element_ty), mask=mask)",
        ]
    )

    xa, xb = local[a_node], local[b_node]
    names = [local[x] for x in leaves]
    if gemm.op == "linear":
        setup = [
            f"    out_shape = (*{xa}.shape[:-1], {xb}.shape[0])",
            f"    a = {xa}.reshape(1, -1, {xa}.shape[-1])  # rows of the input, as one batch",
            f"    b = {xb}.t().unsqueeze(0)  # weight [N, K] viewed as [K, N] through its strides",
        ]
    else:
        setup = [
            f"    batch_shape = torch.broadcast_shapes({xa}.shape[:-2], {xb}.shape[:-2])",
            f"    out_shape = (*batch_shape, {xa}.shape[-2], {xb}.shape[-1])",
            f"    a = {xa}.expand(*batch_shape, *{xa}.shape[-2:]).reshape(-1, *{xa}.shape[-2:])",
            f"    b = {xb}.expand(*batch_shape, *{xb}.shape[-2:]).reshape(-1, *{xb}.shape[-2:])",
        ]
    fma = a_node.dtype == torch.float32 and not allow_tf32  # IEEE fp32: FMA units, B read from shared memory
    if fma:
        setup += [
            "    if b.stride(1) == 1 and b.shape[2] > 1:",
            "        b = transpose_kn(b)  # K-contiguous B: the FMA dot reads it with bank conflicts",
        ]
    dtype = out_dtype_expr(group.root, leaves, local)
    precision = '"tf32"' if allow_tf32 else '"ieee" if a.dtype == torch.float32 else "tf32"'
    launch = ["a", "b", "out3"] + [f"{local[x]}.expand(out_shape).reshape(out3.shape)" for x in epi_leaves] + ["M", "N", "K"]
    launch += ["*a.stride()", "*b.stride()", "*out3.stride()"]
    launch += [f"*{local[x]}.expand(out_shape).reshape(out3.shape).stride()" for x in epi_leaves]
    launch += [scalar_local[s] for s in scalars]
    launch += [f"BLOCK_M={cfg.block_m}", f"BLOCK_N={cfg.block_n}", f"BLOCK_K={cfg.block_k}", f"GROUP_M={cfg.group_m}", f"EVEN_K=K % {cfg.block_k} == 0"]
    launch += [f"INPUT_PRECISION={precision}", f"num_warps={cfg.num_warps}", f"num_stages={cfg.num_stages}"]
    wrapper = "\n".join(
        [
            f"def {name}({', '.join(names + [scalar_local[s] for s in scalars])}):",
            f'    """out = {formula} (launches {name}_kernel over a grid of output tiles)."""',
            *setup,
            "    n_batch, M, K = a.shape",
            "    N = b.shape[2]",
            f"    out = torch.empty(out_shape, device={xa}.device, dtype={dtype})",
            "    out3 = out.view(n_batch, M, N)",
            f"    grid = (triton.cdiv(M, {cfg.block_m}) * triton.cdiv(N, {cfg.block_n}), n_batch)",
            f"    {name}_kernel[grid](",
            *[f"        {p}," for p in launch],
            "    )",
            "    return out",
        ]
    )
    em = Emitted(name, kernel, wrapper, leaves + scalars, uses_tanh=writer.uses_tanh)
    if fma:
        em.notes.append("transpose_kn")
    return em
