"""Problem extraction: finding module classes, selecting one, pulling in what it needs, input recipes.

The extracted source is executed here (with torch, in this test process) and must compute exactly
what the class in the original file computes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tritonize.problem import Problem, ProblemError, Range, extract, list_modules, module_at

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data" / "problems"
EXAMPLES = ROOT / "examples"


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def pos(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    """0-based (line, col) of `needle` (+offset characters) in ASCII text."""
    i = text.index(needle) + offset
    return text.count("\n", 0, i), i - (text.rfind("\n", 0, i) + 1)


def run_both(text: str, problem: Problem) -> None:
    """Original class and extracted Model, same seed, same inputs: identical outputs."""
    torch = pytest.importorskip("torch")
    original: dict = {"__name__": "original_file"}
    exec(compile(text, "original_file.py", "exec", dont_inherit=True), original)
    extracted: dict = {"__name__": "extracted_problem"}
    exec(compile(problem.source, "extracted_problem.py", "exec", dont_inherit=True), extracted)

    torch.manual_seed(0)
    init = extracted["get_init_inputs"]()
    inputs = extracted["get_inputs"]()
    torch.manual_seed(1)
    ref = original[problem.name](*init)
    torch.manual_seed(1)
    got = extracted["Model"](*init)
    assert list(got.state_dict()) == list(ref.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(got(*inputs), ref(*inputs), rtol=0, atol=0)


# --- list_modules ------------------------------------------------------------------------------


def test_every_alias_style_and_derived_classes_are_modules():
    names = [m.name for m in list_modules(read("aliases.py"))]
    # Module (from torch.nn import Module), tnn.Module, N.Module, a subclass of Block, nn.Linear.
    assert names == ["Norm", "Expert", "Block", "Gated", "Wide", "Model"]


def test_derived_class_before_its_base_and_torch_nn_spelled_out():
    text = (
        "import torch\nimport torch.nn\n\n"
        "class Child(Parent):\n    pass\n\n"
        "class Parent(torch.nn.Sequential):\n    pass\n\n"
        "class Param(torch.nn.Parameter):\n    pass\n\n"
        "class Plain(object):\n    pass\n"
    )
    assert [m.name for m in list_modules(text)] == ["Child", "Parent"]
    assert list_modules(text)[1].bases == ["torch.nn.Sequential"]


def test_ranges_cover_decorators_and_name_token():
    text = read("comment_recipes.py")
    add_mul = next(m for m in list_modules(text) if m.name == "AddMul")
    deco_line, _ = pos(text, "@register")
    name_line, name_col = pos(text, "class AddMul", len("class "))
    end_line, end_col = pos(text, "return (a + b) * b", len("return (a + b) * b"))
    assert add_mul.range == Range(deco_line, 0, end_line, end_col)
    assert add_mul.name_range == Range(name_line, name_col, name_line, name_col + len("AddMul"))


def test_columns_are_utf16_like_lsp():
    text = 'import torch.nn as nn\nX = "é😀"; Y = 1\n@d("😀")\nclass Ünï(nn.Module):\n    z = "😀"\n'
    (mod,) = list_modules(text)
    assert mod.range == Range(2, 0, 4, len('    z = "😀"') + 1)  # the emoji is 2 UTF-16 units
    assert mod.name_range == Range(3, 6, 3, 9)


def test_astral_characters_in_names_and_error_ranges():
    """𠀀 and 🚀 are one str index but two UTF-16 units: every range counts units."""
    text = 'import torch.nn as nn\n\n\nclass 𠀀Scale(nn.Module):  # 🚀\n    x = "🚀"\n'
    (mod,) = list_modules(text)
    assert mod.name == "𠀀Scale" and mod.name_range == Range(3, 6, 3, 6 + 2 + len("Scale"))
    assert mod.range == Range(3, 0, 4, len('    x = "🚀"') + 1)

    bad = 'import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    # tritonize: inputs = ["🚀🚀", +*]\n    pass\n'
    with pytest.raises(ProblemError) as err:
        extract(bad, "M")
    line = bad.splitlines()[4]
    assert err.value.range == Range(4, line.index("*") + 2, 4, len(line) + 2)

    twice = "import torch.nn as nn\n# tritonize: inputs = [1]\nclass M(nn.Module):\n    # tritonize: inputs = ['🚀']\n    pass\n"
    with pytest.raises(ProblemError) as err:
        extract(twice, "M")
    assert err.value.range == Range(3, 0, 3, len("    # tritonize: inputs = ['🚀']") + 1)

    broken = "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n        return '🚀' +* 2\n"
    with pytest.raises(ProblemError) as err:
        extract(broken, "M")
    assert err.value.range.start_col == broken.splitlines()[5].index("*") + 1


# --- module_at -----------------------------------------------------------------------------------


def test_module_at_name_body_selection_and_outside():
    text = read("aliases.py")
    assert module_at(text, *pos(text, "class Block", 7)).name == "Block"  # on the name
    assert module_at(text, *pos(text, "return super().forward(x).relu()")).name == "Wide"  # in the body
    # A selection starting in the blank lines above Gated and reaching into it.
    start = pos(text, "Block.residual_scale = 0.5")
    end = pos(text, "class Gated", 3)
    assert module_at(text, start[0] + 1, 0, *end).name == "Gated"
    assert module_at(text, start[0] + 1, 0) is None  # blank line between classes
    assert module_at(text, *pos(text, "EPS = 1e-5")) is None
    assert module_at(text, *pos(text, "class NotAModule", 8)) is None  # a class, but not a module


def test_module_at_survives_syntax_errors_while_typing():
    text = read("aliases.py")
    broken_elsewhere = text.replace("def unused_helper() -> str:", "def unused_helper( -> str:")
    assert module_at(broken_elsewhere, *pos(broken_elsewhere, "class Expert", 7)).name == "Expert"
    # The class being edited is still found (from its header); extract then reports the error.
    typing_inside = text.replace("return x + self.residual_scale", "return x + self.residual_scale +")
    block = module_at(typing_inside, *pos(typing_inside, "residual_scale +"))
    assert block is not None and block.name == "Block"
    with pytest.raises(ProblemError) as err:
        extract(typing_inside, "Block")
    assert err.value.kind == "syntax"
    # A header over several lines, body half typed.
    multi = "from torch import nn\n\nclass Big(\n    nn.Module,\n):\n    def forward(self, x):\n        return x *\n"
    assert module_at(multi, 6, 8).name == "Big"
    for garbage in ["", "class", "(((((", "class X(nn.Module:\n  def", "\x00", "@\n@\n", "(" * 500]:
        assert module_at(garbage, 0, 0) is None
        assert list_modules(garbage) == []


# --- extract: dependencies and the emitted module --------------------------------------------------


def test_extract_pulls_in_exactly_what_the_class_needs():
    text = read("aliases.py")
    problem = extract(text, "Model", path="aliases.py")
    src = problem.source
    assert problem.recipe == "get_inputs" and problem.path == "aliases.py"
    for name in ["Config", "_act", "Norm", "Expert", "Block", "EPS", "SCALE", "BATCH", "DIM", "HIDDEN"]:
        assert name in problem.dependencies
    for absent in ["import os", "UNUSED_SIZE", "CACHE_DIR", "unused_helper", "class Gated", "class Wide", "NotAModule"]:
        assert absent not in src
    # Not copied: seeding, global torch configuration, the __main__ block.
    assert "manual_seed" not in src and "cudnn" not in src and "__main__" not in src
    assert "Block.residual_scale = 0.5" in src  # modifies a class the module uses
    assert "Model = " not in src  # already named Model
    assert src.index("class Norm") < src.index("class Block") < src.index("class Model") < src.index("def get_inputs")
    run_both(text, problem)


def test_derived_class_with_init_from_settings():
    text = read("aliases.py")
    # The file's get_init_inputs belongs to Model; Gated takes a Config.
    problem = extract(text, "Gated", init_inputs="[Config(DIM, HIDDEN)]")
    assert "Model = Gated" in problem.source
    assert "class Block" in problem.source and "Config" in problem.dependencies
    assert problem.recipe == "get_inputs"
    run_both(text, problem)


def test_kernelbench_file_round_trips():
    text = read("kernelbench.py")
    problem = extract(text)  # no name: the file's Model
    assert problem.name == "Model" and problem.recipe == "get_inputs"
    assert problem.dependencies == ["batch_size", "input_size", "hidden_size", "scaling_factor"]
    run_both(text, problem)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_examples_extract_and_run(path: Path):
    text = path.read_text(encoding="utf-8")
    modules = list_modules(text)
    assert modules, f"{path.name} has no module class"
    for mod in modules:
        run_both(text, extract(text, mod.name, path=str(path)))


def test_demo_target_exists():
    text = (EXAMPLES / "fused_activation.py").read_text(encoding="utf-8")
    assert [m.name for m in list_modules(text)] == ["FusedGeluScale"]


# --- recipes --------------------------------------------------------------------------------------


def test_comment_recipe_above_a_decorated_class():
    text = read("comment_recipes.py")
    problem = extract(text, "AddMul")
    assert problem.recipe == "comment"
    # The file binds torch as T; the recipe says torch, so it is imported.
    assert "import torch\n" in problem.source
    assert "def register" in problem.source and "REGISTRY" in problem.dependencies
    assert "def get_init_inputs():\n    return []" in problem.source
    run_both(text, problem)


def test_class_comment_wins_over_file_get_inputs():
    text = read("comment_recipes.py")
    bias = extract(text, "Bias")
    assert bias.recipe == "comment"
    assert "return [COLS]" in bias.source and "3.0" not in bias.source  # not Scale's get_init_inputs
    run_both(text, bias)
    scale = extract(text, "Scale")  # no comment: the file's functions
    assert scale.recipe == "get_inputs" and "return [3.0]" in scale.source
    run_both(text, scale)


def test_settings_recipe_overrides_everything():
    text = read("comment_recipes.py")
    problem = extract(text, "Bias", inputs="[torch.ones(2, COLS)]")
    assert problem.recipe == "settings"
    assert "return [torch.ones(2, COLS)]" in problem.source
    assert "return [COLS]" in problem.source  # init still from the class comment
    run_both(text, problem)
    no_recipe = read("no_recipe.py")
    mix = extract(no_recipe, "Mix", inputs="[torch.randn(4, 16), torch.randn(4, 16)]", init_inputs="[16]")
    assert mix.recipe == "settings"
    run_both(no_recipe, mix)


def test_missing_recipe_says_how_and_the_advice_works():
    text = read("no_recipe.py")
    with pytest.raises(ProblemError) as err:
        extract(text, "Mix")
    e = err.value
    assert e.kind == "no_recipe"
    assert e.range == list_modules(text)[0].name_range
    inputs_line = "    # tritonize: inputs = [torch.randn(16, 1024), torch.randn(16, 1024)]"
    init_line = "    # tritonize: init = [1024]  # dim"
    assert inputs_line in e.message and init_line in e.message
    assert "get_inputs()" in e.message and "--inputs" in e.message
    # Pasting the advice into the class makes it convertible.
    fixed = text.replace("    def __init__", f"{inputs_line}\n{init_line}\n\n    def __init__")
    problem = extract(fixed, "Mix")
    assert problem.recipe == "comment"
    run_both(fixed, problem)


@pytest.mark.parametrize(
    "comment, message",
    [
        ("# tritonize: inputs = [torch.randn(4, 4)", "not a Python expression"),
        ("# tritonize: input = [torch.randn(4, 4)]", "unknown tritonize comment 'input'"),
    ],
)
def test_bad_comment_recipe_points_at_the_comment(comment: str, message: str):
    text = f"import torch\nfrom torch import nn\n\nclass M(nn.Module):\n    {comment}\n    def forward(self, x):\n        return x\n"
    with pytest.raises(ProblemError) as err:
        extract(text, "M")
    assert err.value.kind == "syntax" and message in err.value.message
    assert err.value.range.start_line == 4 and err.value.range.start_col >= 4


def test_two_recipes_for_one_class_is_an_error():
    text = "import torch.nn as nn\n# tritonize: inputs = [1]\nclass M(nn.Module):\n    # tritonize: inputs = [2]\n    pass\n"
    with pytest.raises(ProblemError) as err:
        extract(text, "M")
    assert err.value.kind == "syntax" and "lines 2 and 4" in err.value.message


def test_bad_settings_recipe():
    with pytest.raises(ProblemError) as err:
        extract(read("kernelbench.py"), inputs="[torch.randn(4, 4)")
    assert err.value.kind == "syntax" and "tritonize.inputs setting" in err.value.message


# --- selection and errors ---------------------------------------------------------------------------


def test_select_by_position():
    text = read("aliases.py")
    assert extract(text, line=pos(text, "return x + self.residual_scale")[0], col=8, init_inputs="[Config()]").name == "Block"
    with pytest.raises(ProblemError) as err:
        extract(text, line=pos(text, "EPS = 1e-5")[0], col=0)
    assert err.value.kind == "no_classes" and "Norm, Expert, Block" in err.value.message
    with pytest.raises(ProblemError) as err:
        extract(text, line=pos(text, "class NotAModule")[0] + 1, col=4)
    assert err.value.kind == "not_module"


def test_syntax_error_has_line_and_column():
    text = "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n        return x +* 2\n"
    with pytest.raises(ProblemError) as err:
        extract(text, "M")
    e = err.value
    assert e.kind == "syntax" and e.message.startswith("line 6:")
    assert e.range.start_line == 5 and e.range.start_col == text.splitlines()[5].index("*")


def test_name_errors_list_the_module_classes():
    text = read("aliases.py")
    with pytest.raises(ProblemError) as err:
        extract(text, "Transformer")
    assert err.value.kind == "not_found"
    assert "Norm, Expert, Block, Gated, Wide, Model" in err.value.message
    with pytest.raises(ProblemError) as err:
        extract(text, "Config")
    assert err.value.kind == "not_module" and err.value.range.start_line == pos(text, "class Config")[0]
    with pytest.raises(ProblemError) as err:
        extract("import torch\n\nclass A:\n    pass\n")
    assert err.value.kind == "no_classes"
    with pytest.raises(ProblemError) as err:
        extract(read("comment_recipes.py"))  # several modules, none named Model
    assert err.value.kind == "not_found" and "AddMul, Bias, Scale" in err.value.message


def test_problem_round_trips_through_dict():
    problem = extract(read("kernelbench.py"), path="/x/kernelbench.py")
    assert Problem.from_dict(problem.to_dict()) == problem
    assert problem.key() == Problem.from_dict(problem.to_dict()).key()


def test_importing_problem_does_not_import_torch():
    code = "import sys, tritonize.problem; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'triton')))"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "torch" not in out.stderr  # the -X importtime listing
