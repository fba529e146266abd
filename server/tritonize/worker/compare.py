"""Is the candidate's output the reference's? Tolerance by dtype, the comparison, its numbers, and the
one-line mismatch messages (docs/VERIFY.md, "Tolerances").

An element passes when |out − ref| ≤ atol + rtol·|ref| (`torch.isclose`); on top of that the relative
error norm ‖out − ref‖ / ‖ref‖ must stay under a per-dtype limit, which catches outputs whose whole
scale sits under atol (zeros pass `isclose` there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..report import Tolerance
from ..wire.messages import JobOptions
from .errors import Verdict
from .trees import describe, tensors

DEFAULT_TOL = {"float16": 1e-2, "bfloat16": 1e-2, "float32": 1e-4, "float64": 1e-4}
# Relative error norm ||out - ref|| / ||ref|| allowed on top of elementwise closeness, by dtype.
REL_NORM_LIMIT = {"float16": 5e-2, "bfloat16": 5e-2, "float32": 1e-2, "float64": 1e-2}
# A reference whose RMS is below atol * this is numerical noise (e.g. x - x.mean() of a constant):
# its relative error says nothing, so only the elementwise check applies.
NOISE_FLOOR = 1e-3


# ---- tolerance --------------------------------------------------------------------------------------


def set_precision(allow_tf32: bool) -> None:
    """TF32 on or off for both models: it decides the matmul precision and the tolerance together."""
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    torch.set_float32_matmul_precision("high" if allow_tf32 else "highest")


def output_dtype(out: Any) -> str:
    names = [t for _, t in tensors(out)]
    for t in names:
        if t.is_floating_point():
            return str(t.dtype).replace("torch.", "")
    return str(names[0].dtype).replace("torch.", "") if names else "float32"


def tolerance(dtype: str, opts: JobOptions) -> Tolerance:
    """fp32 1e-4, fp16/bf16 1e-2; TF32 opt-in relaxes fp32 to 1e-2; settings override either."""
    if dtype in DEFAULT_TOL:
        default = DEFAULT_TOL[dtype]
        if dtype == "float32" and opts.allow_tf32:
            default = 1e-2
    else:
        default = 0.0  # integer and bool outputs must match exactly
    atol = opts.atol if opts.atol is not None else default
    rtol = opts.rtol if opts.rtol is not None else default
    return Tolerance(atol=atol, rtol=rtol, dtype=dtype, tf32=bool(opts.allow_tf32))


def rel_norm_limit(tol: Tolerance) -> float:
    """Largest ||out - ref|| / ||ref|| accepted: 1e-2 (fp32), 5e-2 (fp16, bf16, TF32), never below
    5·rtol (a user who loosens rtol loosens this too)."""
    base = REL_NORM_LIMIT.get(tol.dtype, 1e-2)
    if tol.tf32 and tol.dtype == "float32":
        base = REL_NORM_LIMIT["float16"]
    return max(base, 5 * float(tol.rtol))


# ---- comparison -------------------------------------------------------------------------------------


@dataclass
class Stats:
    """Error numbers of a comparison, merged over outputs and seeds (worst wins)."""

    max_abs_err: float = 0.0
    rel_err: float = 0.0
    worst_index: str | None = None

    def merge(self, other: Stats) -> None:
        if other.max_abs_err >= self.max_abs_err:
            self.max_abs_err = other.max_abs_err
            self.worst_index = other.worst_index
        self.rel_err = max(self.rel_err, other.rel_err)


def compare(out: Any, ref: Any, tol: Tolerance, name: str = "out") -> Stats:
    """Raise Verdict('mismatch', ...) unless `out` matches `ref`; else the error statistics."""
    if isinstance(ref, torch.Tensor):
        if not isinstance(out, torch.Tensor):
            raise Verdict("mismatch", f"{name}: expected {_structure(ref)}, got {_structure(out)}")
        return _compare_tensor(out, ref, tol, name)
    if isinstance(ref, (list, tuple)):
        if not isinstance(out, (list, tuple)) or len(out) != len(ref):
            raise Verdict("mismatch", f"{name}: expected {_structure(ref)}, got {_structure(out)}")
        stats = Stats()
        for i, (o, r) in enumerate(zip(out, ref, strict=True)):
            stats.merge(compare(o, r, tol, f"{name}[{i}]"))
        return stats
    if isinstance(ref, dict):
        if not isinstance(out, dict) or set(out) != set(ref):
            raise Verdict("mismatch", f"{name}: expected a dict with keys {sorted(ref)}, got {_structure(out)}")
        stats = Stats()
        for k in ref:
            stats.merge(compare(out[k], ref[k], tol, f"{name}[{k!r}]"))
        return stats
    if isinstance(out, torch.Tensor) or out != ref:
        raise Verdict("mismatch", f"{name}: expected {ref!r}, got {describe(out)}")
    return Stats()


def _compare_tensor(out: torch.Tensor, ref: torch.Tensor, tol: Tolerance, name: str) -> Stats:
    if out.shape != ref.shape:
        raise Verdict("mismatch", f"{name}: shape {describe(out)}, expected {describe(ref)}")
    if out.dtype != ref.dtype:
        raise Verdict("mismatch", f"{name}: dtype {describe(out)}, expected {describe(ref)}")
    if out.device != ref.device:
        raise Verdict("mismatch", f"{name}: on {out.device}, expected {ref.device}")
    if out.numel() == 0:
        return Stats()
    if not (ref.is_floating_point() or ref.is_complex()):
        bad = out != ref
        if bool(bad.any()):
            flat = int(bad.reshape(-1).nonzero()[0])
            raise Verdict("mismatch", f"{name}: {int(bad.sum()):,} of {ref.numel():,} elements differ, "
                          f"first at {_index(name, flat, ref.shape)}")
        return Stats()
    o = out.detach().to(torch.float64 if out.device.type == "cpu" else torch.float32)
    r = ref.detach().to(o.dtype)
    if ref.is_floating_point():
        stats = _compare_finite(o, r, tol, name)
        if stats is not None:
            return stats
    # Something is off (NaN/Inf somewhere, or elements out of tolerance): the full comparison below
    # finds it and says what.
    # NaN/Inf in the candidate where the reference has a finite value
    bad_nonfinite = ~torch.isfinite(o) & torch.isfinite(r)
    if bool(bad_nonfinite.any()):
        n = int(bad_nonfinite.sum())
        flat = int(bad_nonfinite.reshape(-1).nonzero()[0])
        kind = "NaN" if bool(torch.isnan(o.reshape(-1)[flat])) else "Inf"
        raise Verdict("mismatch", f"{kind} at {_index(name, flat, ref.shape)} (the module gives "
                      f"{_fmt(float(r.reshape(-1)[flat]))}; {n:,} of {ref.numel():,} elements {kind} where the "
                      f"reference is finite)")
    atol, rtol = float(tol.atol), float(tol.rtol)
    close = torch.isclose(o, r, atol=atol, rtol=rtol, equal_nan=True)
    both_finite = torch.isfinite(o) & torch.isfinite(r)
    diff = torch.where(both_finite, (o - r).abs(), torch.zeros_like(o))
    flat = int(diff.reshape(-1).argmax())
    max_abs = float(diff.reshape(-1)[flat])
    ref_norm = float(torch.where(both_finite, r, torch.zeros_like(r)).norm())
    diff_norm = float(diff.norm())
    rel = diff_norm / ref_norm if ref_norm > 0 else (0.0 if diff_norm == 0 else math.inf)
    worst = _index(name, flat, ref.shape)
    stats = Stats(max_abs_err=max_abs, rel_err=rel, worst_index=worst if max_abs > 0 else None)
    if not bool(close.all()):
        n_bad = int((~close).sum())
        if max_abs == 0.0:  # the mismatch is an Inf/NaN pattern, not a numeric difference
            flat = int((~close).reshape(-1).nonzero()[0])
            raise Verdict("mismatch", f"{name}: {n_bad:,} of {ref.numel():,} elements differ in NaN/Inf "
                          f"pattern, first at {_index(name, flat, ref.shape)}")
        raise Verdict("mismatch", f"{n_bad:,} of {ref.numel():,} elements beyond atol={atol:g} rtol={rtol:g}, "
                      f"max |Δ| {_fmt(max_abs)} at {worst} (the module gives {_fmt(float(r.reshape(-1)[flat]))}), "
                      f"rel err {_sci(rel)}", stats=stats)
    _check_rel_norm(stats, ref_norm, ref.numel(), tol, name)
    return stats


def _compare_finite(o: torch.Tensor, r: torch.Tensor, tol: Tolerance, name: str) -> Stats | None:
    """The common case in few passes over memory (gigabyte outputs are compared many times: seeds, stress
    families, repeat calls): both finite everywhere and every element within tolerance. Returns the
    statistics (raising for a relative-error-norm miss, as the full comparison would), or None when the
    full comparison must decide. Same test as `torch.isclose` for finite values."""
    diff = (o - r).abs_()  # finite everywhere iff o and r are
    flat_diff = diff.reshape(-1)
    flat = int(torch.argmax(flat_diff))
    max_abs = float(flat_diff[flat])
    if not math.isfinite(max_abs):
        return None
    atol, rtol = float(tol.atol), float(tol.rtol)
    bound = r.abs().mul_(rtol).add_(atol)
    if not bool(torch.le(diff, bound).all()):
        return None
    del bound
    diff_norm = float(torch.linalg.vector_norm(diff))
    ref_norm = float(torch.linalg.vector_norm(r))
    if not (math.isfinite(diff_norm) and math.isfinite(ref_norm)):
        return None  # a norm that overflows: the full comparison's numbers
    rel = diff_norm / ref_norm if ref_norm > 0 else (0.0 if diff_norm == 0 else math.inf)
    worst = _index(name, flat, r.shape)
    stats = Stats(max_abs_err=max_abs, rel_err=rel, worst_index=worst if max_abs > 0 else None)
    _check_rel_norm(stats, ref_norm, r.numel(), tol, name)
    return stats


def _check_rel_norm(stats: Stats, ref_norm: float, numel: int, tol: Tolerance, name: str) -> None:
    limit = rel_norm_limit(tol)
    ref_rms = ref_norm / math.sqrt(numel)
    atol, rtol = float(tol.atol), float(tol.rtol)
    if stats.rel_err > limit and ref_rms > atol * NOISE_FLOOR:
        raise Verdict("mismatch", f"{name}: relative error norm {_sci(stats.rel_err)} above {_sci(limit)} "
                      f"(||out - ref|| / ||ref||; every element within atol={atol:g} rtol={rtol:g}, "
                      f"reference RMS {_sci(ref_rms)})", stats=stats)


# ---- message formatting ---------------------------------------------------------------------------


def _index(name: str, flat: int, shape: torch.Size) -> str:
    if not shape:
        return name
    idx = []
    for dim in reversed(shape):
        idx.append(flat % dim)
        flat //= dim
    return f"{name}[{', '.join(str(i) for i in reversed(idx))}]"


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _sci(x: float) -> str:
    """2.1e-2 rather than 0.021 or 2.1e-02: relative errors span many decades."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    mantissa, exp = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exp)}"


def _structure(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return "a tensor"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}"
    return f"a {type(x).__name__}"
