"""Worker-side entry point of the template generator (imports torch; runs in a verify worker).

`build_candidates({"problem": Problem.to_dict(), "n": 4, "allow_tf32": False})` executes the problem
source in a fresh namespace, builds `Model(*get_init_inputs())` and `get_inputs()`, captures the op
graph, splits it into fused steps and returns one candidate module per launch-configuration variant:

    {"candidates": [{"code", "origin": "template:<pattern>", "candidate_id": "template:<pattern>/<variant>",
                     "notes": [...]}, ...],
     "skipped": None | "template: <why>"}
"""

from __future__ import annotations

import linecache
import sys
import types
from typing import Any

import torch

from .capture import capture
from .emit import emit_candidate, variants
from .fuse import partition
from .ir import Unsupported
from .source_lines import PROBLEM_FILENAME


def build_candidates(payload: dict, device: Any = None) -> dict:
    """`device`: where the recipe's inputs and the model are built for the trace (the worker's device: on a
    GPU, gigabytes of inputs take milliseconds there and seconds on the CPU). None: the CPU."""
    problem = payload["problem"]
    n = int(payload.get("n", 4) or 4)
    allow_tf32 = bool(payload.get("allow_tf32", False))
    try:
        return {"candidates": _build(problem, n, allow_tf32, device), "skipped": None}
    except Unsupported as why:
        return {"candidates": [], "skipped": f"template: {why}"}


def _build(problem: dict, n: int, allow_tf32: bool, device: Any) -> list[dict[str, Any]]:
    source = problem["source"]
    name = problem.get("name") or "Model"
    model, inputs = _instantiate(source, name, torch.device(device) if device is not None else None)
    graph = capture(model, inputs)
    groups, materialised = partition(graph)
    if not groups:
        raise Unsupported("forward computes nothing a kernel could do (it only returns its inputs or views of them)")
    out = []
    for variant in variants(groups, n):
        code, pattern = emit_candidate(source, name, graph, groups, materialised, variant, allow_tf32)
        notes = [f"{len(groups)} kernel(s): {pattern}", f"launch config: {variant.tag}"]
        out.append({"code": code, "origin": f"template:{pattern}", "candidate_id": f"template:{pattern}/{variant.tag}", "notes": notes})
    return out


def _instantiate(source: str, name: str, device: torch.device | None = None) -> tuple[torch.nn.Module, list[Any]]:
    # Registering the text lets tracebacks (and our "at line N" messages) quote the problem's lines.
    linecache.cache[PROBLEM_FILENAME] = (len(source), None, source.splitlines(True), PROBLEM_FILENAME)
    # A real module in sys.modules while the source runs: `@dataclass`, `typing.get_type_hints` and
    # pickling look the defining module up there by name.
    module = types.ModuleType("tritonize_problem")
    module.__file__ = PROBLEM_FILENAME
    namespace: dict[str, Any] = module.__dict__
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, PROBLEM_FILENAME, "exec"), namespace)
    finally:
        sys.modules.pop(module.__name__, None)
    cls = namespace.get("Model") or namespace.get(name)
    if cls is None:
        raise Unsupported(f"the problem source defines neither Model nor {name}")
    torch.manual_seed(0)
    init = namespace["get_init_inputs"]() if "get_init_inputs" in namespace else []
    model = cls(*init)
    if device is None or device.type == "cpu":
        return model, list(namespace["get_inputs"]())
    # As the verifier builds them (worker/inputs.py): a recipe that names a device keeps it.
    with device:
        inputs = [x.to(device) if isinstance(x, torch.Tensor) else x for x in namespace["get_inputs"]()]
    return model.to(device), inputs
