"""The in-worker checks (worker/compare.py, checks.py, inputs.py) as functions, and `tritonize verify` end to end."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from tritonize.report import Tolerance  # noqa: E402
from tritonize.wire.messages import JobOptions  # noqa: E402
from tritonize.worker import inputs  # noqa: E402
from tritonize.worker.checks import aliases, first_mutated, identical  # noqa: E402
from tritonize.worker.compare import compare, rel_norm_limit, tolerance  # noqa: E402
from tritonize.worker.errors import Verdict  # noqa: E402

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/
CASES = os.path.join(HERE, "verify_cases")
TOL = Tolerance(atol=1e-4, rtol=1e-4, dtype="float32", tf32=False)


def test_tolerance_by_dtype_and_overrides() -> None:
    assert tolerance("float32", JobOptions()).atol == 1e-4
    assert tolerance("float16", JobOptions()).rtol == 1e-2
    assert tolerance("bfloat16", JobOptions()).atol == 1e-2
    assert tolerance("float32", JobOptions(allow_tf32=True)) == Tolerance(atol=1e-2, rtol=1e-2, dtype="float32", tf32=True)
    assert tolerance("float32", JobOptions(atol=1e-3)).atol == 1e-3
    assert tolerance("int64", JobOptions()).atol == 0.0


def test_compare_reports_count_worst_index_and_relative_error() -> None:
    ref = torch.zeros(4, 8)
    out = ref.clone()
    out[2, 5] = 0.5
    out[1, 1] = 0.01
    with pytest.raises(Verdict) as v:
        compare(out, ref + 1.0 - 1.0, TOL)
    msg = v.value.message
    assert "2 of 32 elements beyond atol=0.0001 rtol=0.0001" in msg
    assert "max |Δ| 0.5 at out[2, 5]" in msg
    assert v.value.kind == "mismatch"


def test_compare_passes_within_tolerance_and_gives_stats() -> None:
    ref = torch.ones(3, 3)
    stats = compare(ref + 5e-5, ref, TOL)
    assert stats.max_abs_err == pytest.approx(5e-5, rel=1e-2)
    assert 0 < stats.rel_err < 1e-4


def test_outputs_under_atol_need_a_small_relative_error_norm() -> None:
    torch.manual_seed(0)
    ref = torch.randn(256) * 1e-6  # every element is under atol=1e-4: zeros pass isclose
    with pytest.raises(Verdict) as v:
        compare(torch.zeros_like(ref), ref, TOL)
    assert v.value.kind == "mismatch"
    assert "relative error norm 1.0e0 above 1.0e-2" in v.value.message
    assert "\n" not in v.value.message
    # an honest result at that scale (fp32 rounding) passes, with its relative error reported
    assert compare(ref * (1 + 1e-6), ref, TOL).rel_err < 1e-5


def test_relative_error_norm_limit_by_dtype_and_noise_floor() -> None:
    fp16 = Tolerance(atol=1e-2, rtol=1e-2, dtype="float16", tf32=False)
    assert rel_norm_limit(TOL) == 1e-2
    assert rel_norm_limit(fp16) == 5e-2
    assert rel_norm_limit(dataclasses.replace(TOL, tf32=True)) == 5e-2
    assert rel_norm_limit(dataclasses.replace(TOL, rtol=0.1)) == pytest.approx(0.5)  # a looser rtol loosens it
    torch.manual_seed(0)
    ref = torch.randn(1000, dtype=torch.float16)
    # fp16 rounding differences (~1e-3 relative) are well inside 5e-2
    compare((ref.float() * (1 + 4e-3 * torch.randn(1000))).half(), ref, fp16)
    # a reference that is rounding noise (RMS below atol / 1000) is judged elementwise only
    noise = torch.randn(64) * 1e-9
    assert compare(-noise, noise, TOL).rel_err == pytest.approx(2.0)


def test_input_seeds_are_drawn_per_job_unless_fixed(monkeypatch) -> None:
    monkeypatch.delenv(inputs.SEED_ENV, raising=False)
    drawn = {inputs.input_seed_base() for _ in range(8)}
    assert len(drawn) == 8 and all(s > inputs.BASE_SEED + 100 for s in drawn)
    monkeypatch.setenv(inputs.SEED_ENV, "1234")
    assert inputs.input_seed_base() == 1234


@pytest.mark.parametrize(
    "out, ref, says",
    [
        (torch.ones(2, 3), torch.ones(3, 2), "shape float32[2, 3], expected float32[3, 2]"),
        (torch.ones(2, dtype=torch.float64), torch.ones(2), "dtype float64[2], expected float32[2]"),
        ((torch.ones(2),), torch.ones(2), "expected a tensor, got a tuple of 1"),
        ([torch.ones(2)], (torch.ones(2), torch.ones(2)), "expected a tuple of 2, got a list of 1"),
        (torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]), "NaN at out[1] (the module gives 2; 1 of 2 elements NaN where the reference is finite)"),
        (torch.tensor([1.0, float("inf")]), torch.tensor([1.0, 2.0]), "Inf where the reference is finite"),
        (torch.tensor([1, 2]), torch.tensor([1, 3]), "1 of 2 elements differ, first at out[1]"),
    ],
)
def test_compare_structure_and_nonfinite(out, ref, says: str) -> None:
    with pytest.raises(Verdict) as v:
        compare(out, ref, TOL)
    assert says in v.value.message


def test_nan_where_the_reference_has_nan_is_fine() -> None:
    t = torch.tensor([1.0, float("nan")])
    assert compare(t.clone(), t, TOL).max_abs_err == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_compare_agrees_with_isclose_at_the_tolerance_boundary(dtype) -> None:
    """The comparison's few-pass path (the common, passing case) must accept exactly what torch.isclose
    accepts: elements a hair inside and a hair outside atol + rtol·|ref|, in fp32 and fp16."""
    torch.manual_seed(3)
    tol = Tolerance(atol=1e-2, rtol=1e-2, dtype=str(dtype).replace("torch.", ""), tf32=False)
    ref = torch.randn(64, 64).to(dtype)
    for scale in (0.999, 1.0, 1.001, 1.01):
        bound = (tol.atol + tol.rtol * ref.double().abs()) * scale
        out = (ref.double() + bound).to(dtype)
        expect = bool(torch.isclose(out.double(), ref.double(), atol=tol.atol, rtol=tol.rtol).all())
        try:
            compare(out, ref, tol)
            accepted = True
        except Verdict as v:
            accepted = False
            assert "elements beyond" in v.message
        assert accepted == expect, scale


def test_compare_fails_on_one_bad_element_among_many() -> None:
    ref = torch.randn(1 << 20)
    out = ref.clone()
    out[123_456] += 1.0
    with pytest.raises(Verdict) as v:
        compare(out, ref, TOL)
    assert "1 of 1,048,576 elements beyond" in v.value.message and "out[123456]" in v.value.message
    out[123_456] = float("inf")
    with pytest.raises(Verdict) as v:
        compare(out, ref, TOL)
    assert "Inf at out[123456]" in v.value.message


def test_identical_means_same_structure_dtype_and_values() -> None:
    x = torch.randn(5)
    assert identical([x, (x.clone(), 3)], [x.clone(), (x.clone(), 3)])
    assert not identical(x, x.double())
    assert not identical(x, x.clone().reshape(5, 1))
    assert not identical([x], (x,))
    y = x.clone()
    y[4] += 1e-6
    assert not identical(x, y)
    nan = torch.tensor([float("nan")])
    assert not identical(nan, nan.clone())  # says nothing: the caller compares with the reference


def test_alias_and_mutation_helpers() -> None:
    x = torch.randn(8)
    assert aliases(x[2:4], [x]) == "out"
    assert aliases(x.clone(), [x]) is None
    before = [x.clone()]
    after = [x.clone()]
    assert first_mutated(before, after) is None
    after[0][3] = 7.0
    assert first_mutated(before, after) == "input[0]"


# ---- tritonize verify -----------------------------------------------------------------------------


def _verify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tritonize.cli.main", "verify", *args, "--device", "cpu"],
                          capture_output=True, text=True, timeout=300)


def test_cli_verify_pass_and_fail_exit_codes_and_json() -> None:
    ok = _verify(os.path.join(CASES, "relu_problem.py"), os.path.join(CASES, "relu_ok.py"), "--json")
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["passed"] is True and data["kernels_launched"] == 1 and data["timing"] is None
    assert data["tolerance"]["atol"] == 1e-4 and data["input_shapes"] == ["float32[16, 256]"]

    bad = _verify(os.path.join(CASES, "relu_problem.py"), os.path.join(CASES, "relu_wrong.py"))
    assert bad.returncode == 1
    assert "FAIL (mismatch)" in bad.stdout and "max |Δ| 0.31 at out[0, 12]" in bad.stdout


def test_cli_verify_bad_input_is_exit_2() -> None:
    missing = _verify(os.path.join(CASES, "relu_problem.py"), os.path.join(CASES, "does_not_exist.py"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    recipe = _verify(os.path.join(CASES, "recipe_raises.py"), os.path.join(CASES, "relu_ok.py"), "--json")
    assert recipe.returncode == 2
    assert json.loads(recipe.stdout)["error"]["kind"] == "recipe_error"
    assert "get_inputs() raised RuntimeError: no data here" in recipe.stderr
