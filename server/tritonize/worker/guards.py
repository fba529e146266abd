"""Runtime guard: which torch compute ops ran while a candidate's forward executed.

Static checks see names; this sees what actually reached the ATen dispatcher, so aliasing,
`getattr` tricks, ops hidden in containers or in third-party helpers are all caught. Triton kernel
launches do not go through the dispatcher: on a GPU the launcher only reads `data_ptr()`, and under
`TRITON_INTERPRET=1` the interpreter moves data with copies, which are on the allowed list below.

Used by the worker around each correctness run (not around timing: the mode adds overhead):

    with TorchOpRecorder() as rec:
        out = model_new(*inputs)
    if rec.compute_ops: ...  # Finding("torch-fallback-runtime", fatal=settings.strict)
"""

from __future__ import annotations

from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode

# ATen ops that allocate, re-view, copy or describe tensors. Everything else counts as compute.
NON_COMPUTE_OPS = frozenset(
    """
    empty empty_like empty_strided empty_permuted new_empty new_empty_strided zeros zeros_like new_zeros
    ones ones_like new_ones full full_like new_full fill fill_ zero zero_ arange scalar_tensor
    view _unsafe_view view_as as_strided as_strided_ t transpose transpose_ permute expand expand_as
    reshape _reshape_alias clone contiguous copy copy_ _copy_from _copy_from_and_resize _to_copy to
    detach detach_ lift_fresh lift_fresh_copy alias slice select unsqueeze unsqueeze_ squeeze squeeze_
    unbind split split_with_sizes chunk narrow flatten unflatten diagonal movedim resize_ set_
    _local_scalar_dense item is_nonzero sym_size sym_stride sym_numel sym_storage_offset stride size
    dim numel is_contiguous is_same_size _has_compatible_shallow_copy_type randn rand randint normal_
    uniform_ random_ bernoulli_ _conj _neg_view resolve_conj resolve_neg _pin_memory record_stream
    """.split()
)


class TorchOpRecorder(TorchDispatchMode):
    """Counts non-allocation ATen ops (by overload packet, e.g. "aten.mm") run inside the block."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # By default torch wraps __torch_dispatch__ in torch._disable_dynamo, whose first call
        # imports torch._dynamo (seconds at worker start). This mode never compiles, so the
        # wrapper buys nothing.
        return False

    def __init__(self) -> None:
        super().__init__()
        self.compute_ops: dict[str, int] = {}
        self.all_ops: dict[str, int] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        packet = func.overloadpacket
        name = f"{func.namespace}.{packet.__name__}"
        self.all_ops[name] = self.all_ops.get(name, 0) + 1
        if packet.__name__ not in NON_COMPUTE_OPS:
            self.compute_ops[name] = self.compute_ops.get(name, 0) + 1
        return func(*args, **(kwargs or {}))

    def describe(self, limit: int = 5) -> str:
        """One line for a finding: "aten.mm ×3, aten.add ×1"."""
        items = sorted(self.compute_ops.items(), key=lambda kv: -kv[1])
        text = ", ".join(f"{k} ×{v}" for k, v in items[:limit])
        more = len(items) - limit
        return text + (f" and {more} more" if more > 0 else "")


__all__ = ["NON_COMPUTE_OPS", "TorchOpRecorder"]
