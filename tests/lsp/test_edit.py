"""edit.py: the text that goes into the user's file (shared by the CLI and the server)."""

from __future__ import annotations

import pathlib
import re

from lspkit import ROOT
from tritonize.edit import (
    SiblingFile,
    apply_edits,
    apply_to_text,
    block_marks,
    compute_edits,
    find_block,
    generated_class_code,
    problem_anchor,
    relocate,
    removal_edit,
    sibling_path,
    sibling_text,
    stale_blocks,
)
from tritonize.problem import extract, list_modules
from tritonize.report import CandidateResult, Report

EXAMPLE = (ROOT / "examples" / "fused_activation.py").read_text()

CANDIDATE = '''"""A candidate as a generator writes it: self-contained, with the problem's parts copied in."""
import torch
import torch.nn as nn
import triton
import triton.language as tl

BATCH = 16
HIDDEN = 1024
BLOCK = 1024  # differs from nothing in the file: kept


# fused gelu(x * scale) + bias
@triton.jit
def gelu_scale_kernel(x_ptr, b_ptr, out_ptr, n, cols, scale, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask) * scale
    y = 0.5 * x * (1 + tl.math.erf(x * 0.7071067811865476))
    tl.store(out_ptr + offs, y + tl.load(b_ptr + offs % cols, mask=mask), mask=mask)


class Model(nn.Module):
    pass


class ModelNew(nn.Module):
    def __init__(self, hidden: int, scale: float = 0.5):
        super(ModelNew, self).__init__()
        self.scale = scale
        self.bias = nn.Parameter(torch.randn(hidden) * 0.1)

    def forward(self, x):
        out = torch.empty_like(x)
        n = x.numel()
        gelu_scale_kernel[(triton.cdiv(n, BLOCK),)](x, self.bias, out, n, x.shape[-1], self.scale, BLOCK=BLOCK)
        return out


def get_inputs():
    return [torch.randn(BATCH, HIDDEN)]


def get_init_inputs():
    return [HIDDEN]


if __name__ == "__main__":
    print(ModelNew(HIDDEN)(*get_inputs()).shape)
'''


def _report(code: str = CANDIDATE, passed: bool = True) -> Report:
    r = CandidateResult(candidate_id="template:gelu", origin="template:gelu", passed=passed, code=code)
    return Report(problem_name="FusedGeluScale", results=[r], best=r.candidate_id if passed else None,
                  device="cpu (TRITON_INTERPRET=1)")


def _problem(text: str = EXAMPLE, path: str | None = None):
    return extract(text, "FusedGeluScale", path=path)


def test_block_renames_model_new_and_drops_what_the_file_has():
    code = generated_class_code(_problem(), CANDIDATE)
    assert code.startswith("import triton\nimport triton.language as tl\n")
    assert re.search(r"^# >>> tritonize: FusedGeluScaleTriton \(generated from FusedGeluScale [0-9a-f]{12}; "
                     r"re-running replaces this block\)$", code, re.M), code
    assert code.rstrip().endswith("# <<< tritonize: FusedGeluScaleTriton")
    assert "class FusedGeluScaleTriton(nn.Module)" in code and "super(FusedGeluScaleTriton, self)" in code
    assert "ModelNew" not in code
    for gone in ("class Model(", "def get_inputs", "def get_init_inputs", "BATCH = 16", "__main__", '"""A candidate'):
        assert gone not in code
    assert "BLOCK = 1024" in code and "# fused gelu(x * scale) + bias" in code


def test_inline_insert_after_class_once_and_replace_on_rerun():
    problem = _problem()
    once = apply_to_text(EXAMPLE, problem, _report())
    compile(once, "x.py", "exec")
    assert once.count("import triton\n") == 1 and once.count("import triton.language as tl\n") == 1
    # right after the original class, before get_inputs
    assert once.index("class FusedGeluScale(") < once.index("# >>> tritonize") < once.index("def get_inputs")
    assert "\n\n\n# >>> tritonize" in once and "FusedGeluScaleTriton\n\n\ndef get_inputs" in once
    # running again on the edited file replaces the block rather than adding one
    twice = apply_to_text(once, _problem(once), _report())
    assert twice == once
    other = CANDIDATE.replace("BLOCK = 1024", "BLOCK = 512")
    replaced = apply_to_text(once, _problem(once), _report(other))
    assert replaced.count("# >>> tritonize: FusedGeluScaleTriton") == 1 and "BLOCK = 512" in replaced


def test_conflicting_definition_is_renamed_not_duplicated():
    text = EXAMPLE.replace("HIDDEN = 1024", "HIDDEN = 1024\nBLOCK = 64")
    out = apply_to_text(text, _problem(text), _report())
    compile(out, "x.py", "exec")
    assert "BLOCK = 64" in out and "BLOCK_triton = 1024" in out
    assert "BLOCK=BLOCK_triton" in out and "tl.arange(0, BLOCK)" in out  # the constexpr parameter stays


def test_edits_keep_crlf_and_need_a_passing_candidate():
    text = EXAMPLE.replace("\n", "\r\n")
    edits = compute_edits(text, _problem(text), _report())
    assert all("\n" not in e.new_text.replace("\r\n", "") for e in edits)
    try:
        compute_edits(EXAMPLE, _problem(), _report(passed=False))
    except ValueError as e:
        assert "no candidate passed" in str(e)
    else:
        raise AssertionError("an edit without a passing candidate")


def test_sibling_module_is_self_contained(tmp_path: pathlib.Path):
    src = tmp_path / "fused.py"
    src.write_text(EXAMPLE)
    problem = _problem(path=str(src))
    target = sibling_path(str(src))
    (edit,) = compute_edits(EXAMPLE, problem, _report(), placement="sibling", sibling=SiblingFile(target))
    assert edit.path == target == str(tmp_path / "fused_triton.py") and edit.create
    text = edit.new_text
    assert "from fused import" not in text and "import *" not in text
    assert "import torch\n" in text and "import triton\n" in text and "class FusedGeluScaleTriton" in text
    compile(text, "fused_triton.py", "exec")
    # writing it and converting again replaces the block in the sibling file
    again = sibling_text(text, problem, _report())
    assert again == text and find_block(again, "FusedGeluScaleTriton") is not None


def test_sibling_placement_uses_the_text_it_is_given_not_the_disk(tmp_path: pathlib.Path):
    """An open, unsaved sibling buffer: its text is what the edit is computed against."""
    src = tmp_path / "fused.py"
    target = sibling_path(str(src))
    pathlib.Path(target).write_text("# on disk: stale\n")
    problem = _problem(path=str(src))
    unsaved = '"""Kernels 🚀 kept by hand."""\n\nimport torch\n\nHAND_WRITTEN = "🚀🚀"  # not saved yet 🚀'
    (edit,) = compute_edits(EXAMPLE, problem, _report(), placement="sibling", sibling=SiblingFile(target, unsaved))
    assert edit.path == target and not edit.create
    # the edit replaces the whole buffer: its end is in UTF-16 units (each 🚀 counts two)
    last = unsaved.splitlines()[-1]
    assert (edit.range.start_line, edit.range.start_col) == (0, 0)
    assert (edit.range.end_line, edit.range.end_col) == (4, len(last) + last.count("🚀"))
    assert edit.new_text.startswith('"""Kernels 🚀 kept by hand."""') and "stale" not in edit.new_text
    assert 'HAND_WRITTEN = "🚀🚀"  # not saved yet 🚀\n' in edit.new_text
    assert "class FusedGeluScaleTriton" in edit.new_text
    assert apply_edits(unsaved, [edit]) == edit.new_text
    compile(edit.new_text, "fused_triton.py", "exec")
    assert pathlib.Path(target).read_text() == "# on disk: stale\n"  # pure: nothing written either


def test_sibling_placement_needs_the_sibling():
    try:
        compute_edits(EXAMPLE, _problem(path="/x/fused.py"), _report(), placement="sibling")
    except ValueError as e:
        assert "SiblingFile" in str(e)
    else:
        raise AssertionError("sibling placement without the sibling's text")


def test_inline_edit_at_the_end_of_a_file_whose_last_line_holds_emoji():
    """The class is the file's last statement, with no newline after it: the insertion point is the
    end of a line with astral characters, given in UTF-16 units (each 🚀 counts two)."""
    head, cls = EXAMPLE.split("\n\n\nclass FusedGeluScale")
    cls = "class FusedGeluScale" + cls[: cls.index("\n\n\ndef get_inputs")]
    cls = cls.replace("(nn.Module):", "(nn.Module):  # 🚀 fast").rstrip() + "  # 🚀🚀 the end"
    recipe = EXAMPLE[EXAMPLE.index("def get_inputs"):].rstrip()
    text = f"{head}\n\n\n{recipe}\n\n\n{cls}"
    problem = _problem(text)
    edits = compute_edits(text, problem, _report())
    insert = next(e for e in edits if "# >>> tritonize" in e.new_text)
    last = text.splitlines()[-1]
    assert last.endswith("# 🚀🚀 the end") and insert.range.start_line == len(text.splitlines()) - 1
    assert insert.range.start_col == len(last) + 2
    out = apply_edits(text, edits)
    compile(out, "x.py", "exec")
    assert "# 🚀🚀 the end\n\n\n# >>> tritonize: FusedGeluScaleTriton" in out


def test_the_marker_holds_the_class_hash_and_a_changed_class_makes_the_block_stale():
    problem = _problem()
    once = apply_to_text(EXAMPLE, problem, _report())
    (mark,) = block_marks(once)
    assert (mark.generated, mark.origin) == ("FusedGeluScaleTriton", "FusedGeluScale")
    assert mark.digest == problem_anchor(EXAMPLE, problem).digest
    assert stale_blocks(once, list_modules(once)) == []
    # CRLF and trailing blanks are not a change of the class
    crlf = once.replace("\n", "\r\n").replace("(nn.Module):", "(nn.Module):  ")
    assert stale_blocks(crlf, list_modules(crlf)) == []
    changed = once.replace("return F.gelu(x * self.scale)", "return F.gelu(x * self.scale * 2)")
    (stale,) = stale_blocks(changed, list_modules(changed))
    assert stale.original.name == "FusedGeluScale" and "changed after it was generated" in stale.message


def test_relocate_finds_the_class_by_content_or_not_at_all():
    anchor = problem_anchor(EXAMPLE, _problem())
    moved = "# one\n# two\n" + EXAMPLE
    found = relocate(moved, anchor)
    assert found is not None and found.range.start_line == _problem().class_range.start_line + 2
    assert relocate(EXAMPLE.replace("self.scale = scale", "self.scale = scale * 2"), anchor) is None
    assert relocate(EXAMPLE.replace("class FusedGeluScale", "class Renamed"), anchor) is None


def test_removal_gives_back_the_file_without_the_block():
    once = apply_to_text(EXAMPLE, _problem(), _report())
    edit = removal_edit(once, "FusedGeluScaleTriton")
    after = apply_edits(once, [edit])
    assert after.replace("import triton\nimport triton.language as tl\n", "") == EXAMPLE
    assert removal_edit(after, "FusedGeluScaleTriton") is None
