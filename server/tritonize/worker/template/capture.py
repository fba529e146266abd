"""Capture a module's op graph with torch.fx and hand it to the lowering (runs in the torch worker).

`capture(model, inputs)` symbolically traces `Model.forward`, runs the traced graph once on copies of
the example inputs to learn every value's shape, dtype and (for Python values such as `x.size(0)`)
its concrete value, and lowers it to the IR (lower.py). Numeric module attributes (`self.scale`,
`self.act.negative_slope`) are traced as symbols so they become run-time values of ModelNew; the
other attributes forward reads become guards (see `_AttrTracer` and docs/TEMPLATES.md). A forward
that mutates its inputs, parameters or buffers is refused.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from .ir import Graph, Unsupported
from .lower import lower
from .source_lines import where_from_traceback


def capture(model: nn.Module, inputs: list[Any]) -> Graph:
    """Trace `model` on `inputs` and normalise it. Raises Unsupported with the reason.

    Numeric attributes read in forward become run-time values of ModelNew (see _AttrTracer). An
    attribute that cannot be symbolic (`range(self.n)`, `math.sqrt(self.d)`, a reduction dim) is
    traced as its value, and forward checks that the module still has that value.
    """
    traced = _traced_modules(model)
    numeric = _numeric_attrs(traced)
    try:
        graph = _capture(model, inputs, numeric, traced)
    except Exception:
        if not numeric:
            raise
        graph = _capture(model, inputs, [], traced)  # what plain fx makes of it; raises if even that fails
        runtime: list[_Attr] = []
        for a in numeric:  # keep every attribute symbolic that does not break tracing or normalisation
            try:
                graph = _capture(model, inputs, [*runtime, a], traced)
                runtime.append(a)
            except Exception:  # it stays a traced constant, guarded in forward
                continue
    _refuse_mutation(model, inputs)
    return graph


# ---- module attributes: which are symbolic, which forward reads -----------------------------------


@dataclass(frozen=True)
class _Attr:
    """A plain-data attribute of a module that forward runs through (`self.scale`, `self.block.eps`)."""

    module: nn.Module
    path: str  # qualified name, "scale" or "block.eps"
    name: str
    value: Any


def _traced_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The root and the submodules fx traces through (not the nn.* leaves it records as calls)."""
    leaf = fx.Tracer()
    containers = (nn.ModuleList, nn.ModuleDict, nn.Sequential)
    traced: dict[str, nn.Module] = {"": model}
    for path, m in model.named_modules():
        parent = path.rpartition(".")[0]
        if path and parent in traced and (isinstance(m, containers) or not leaf.is_leaf_module(m, path)):
            traced[path] = m
    return list(traced.items())


def _numeric_attrs(traced: list[tuple[str, nn.Module]]) -> list[_Attr]:
    out = []
    for path, m in traced:
        for name, v in vars(m).items():
            if name.startswith("_") or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            out.append(_Attr(m, f"{path}.{name}" if path else name, name, v))
    return out


class _AttrTracer(fx.Tracer):
    """fx.Tracer that keeps numeric module attributes symbolic and records which attributes forward reads.

    Plain fx reads `self.scale` as a Python float and bakes it into the graph, so a kernel generated
    with scale=0.5 would silently compute with 0.5 for `Model(hidden, scale=2.0)`. Here each numeric
    attribute in `runtime` is a `get_attr` proxy while tracing: it enters the graph as a value
    ModelNew.forward reads from `self.<path>` and passes to the kernels. Every other attribute read is
    recorded (`reads`) so the caller can guard on it.
    """

    def __init__(self, runtime: list[_Attr], traced: list[tuple[str, nn.Module]]):
        super().__init__()
        self.record_stack_traces = True
        self.runtime = runtime
        self.traced = traced  # (path, module) of the root and every submodule fx traces through
        self.reads: set[tuple[int, str]] = set()

    def create_args_for_root(self, root_fn: Any, is_module: bool, concrete_args: Any = None) -> Any:
        out = super().create_args_for_root(root_fn, is_module, concrete_args)
        for a in self.runtime:  # after the graph exists, before forward runs
            a.module.__dict__[a.name] = self.create_proxy("get_attr", a.path, (), {})
        return out

    def trace(self, root: Any, concrete_args: Any = None) -> fx.Graph:
        classes = [(m, type(m)) for _, m in self.traced]
        try:
            for m, cls in classes:
                m.__class__ = _reading_class(cls, self.reads)
            return super().trace(root, concrete_args)
        finally:
            for m, cls in classes:
                m.__class__ = cls
            for a in self.runtime:
                a.module.__dict__[a.name] = a.value


def _reading_class(cls: type, reads: set[tuple[int, str]]) -> type:
    """A subclass of `cls` (same name) that records reads of instance attributes."""

    def __getattribute__(self: Any, name: str) -> Any:
        if not name.startswith("_") and name in object.__getattribute__(self, "__dict__"):
            reads.add((id(self), name))
        return cls.__getattribute__(self, name)

    return type(cls.__name__, (cls,), {"__getattribute__": __getattribute__, "__module__": cls.__module__})


def _guardable(v: Any) -> bool:
    """Plain data whose repr evaluates back to an equal value (so forward can compare with it)."""
    if isinstance(v, (nn.Module, torch.Tensor)) or callable(v) and not isinstance(v, torch.dtype):
        return False
    try:
        return eval(repr(v), {"torch": torch, "inf": math.inf, "nan": math.nan}) == v
    except Exception:
        return False


# ---- one trace: fx graph, a recorded run, the lowering --------------------------------------------


class _Recorder(fx.Interpreter):
    """Runs the traced graph once and keeps every node's concrete result."""

    def __init__(self, gm: fx.GraphModule):
        super().__init__(gm)
        self.values: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        self.values[n] = result
        return result


def _capture(model: nn.Module, inputs: list[Any], runtime: list[_Attr], traced: list[tuple[str, nn.Module]]) -> Graph:
    tracer = _AttrTracer(runtime, traced)
    try:
        fx_graph = tracer.trace(model)
    except Exception as exc:  # TraceError, TypeError from Proxy misuse, ...
        raise Unsupported(_trace_failure(exc)) from None
    gm = fx.GraphModule(tracer.root, fx_graph)
    recorder = _Recorder(gm)
    with torch.no_grad():
        recorder.run(*[x.clone() if isinstance(x, torch.Tensor) else x for x in inputs])
    symbolic = {id(a.module): set() for a in runtime}
    for a in runtime:
        symbolic[id(a.module)].add(a.name)
    baked = []  # attributes forward read as plain values: the kernels assume them
    for path, m in traced:
        for name, v in vars(m).items():
            if (id(m), name) in tracer.reads and name not in symbolic.get(id(m), ()) and name != "training" and _guardable(v):
                baked.append((f"{path}.{name}" if path else name, v))
    return lower(model, gm, recorder.values, baked)


def _trace_failure(exc: BaseException) -> str:
    msg = str(exc).split("\n")[0]
    where = where_from_traceback(exc.__traceback__)
    if "control flow" in msg or "iteration" in msg or "bool" in msg.lower():
        what = "data-dependent Python control flow"
    else:
        what = f"{type(exc).__name__}: {msg}"
    return f"cannot trace forward: {what}{' at ' + where if where else ''}"


# ---- writes the caller would see ---------------------------------------------------------------


def _refuse_mutation(model: nn.Module, inputs: list[Any]) -> None:
    """Run the original once and refuse a forward that writes to its inputs, parameters or buffers.

    fx does not record every such write (`x += 1` traces as `x + 1`, an unused `self.buf.mul_(2)`
    is dropped), and kernels that return new tensors would silently change what the caller sees.
    """
    copies = [x.clone() if isinstance(x, torch.Tensor) else x for x in inputs]
    state = {k: v.clone() for k, v in model.state_dict(keep_vars=True).items()}
    with torch.no_grad():
        model(*copies)
    names = [p for p in inspect.signature(model.forward).parameters][: len(inputs)]
    for name, before, after in zip(names, inputs, copies, strict=False):
        if isinstance(before, torch.Tensor) and not _same(before, after):
            raise Unsupported(f"forward mutates its input {name} in place; not supported")
    for key, value in model.state_dict(keep_vars=True).items():
        if not _same(state[key], value):
            raise Unsupported(f"forward mutates self.{key} in place; not supported")


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.is_floating_point():
        return torch.equal(torch.nan_to_num(a), torch.nan_to_num(b))
    return torch.equal(a, b)
