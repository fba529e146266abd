"""Capture a module's op graph and normalise it into a small IR the patterns understand.

Worker side (imports torch). `capture(model, inputs)` symbolically traces `Model.forward` with
`torch.fx`, runs the traced graph once on the example inputs to learn every value's shape, dtype and
(for Python values such as `x.size(0)`) its concrete value, then rewrites each fx node into IR nodes:

- `pw`     element-wise primitive (ops.PW): relu, gelu, add, where, ...
- `reduce` reduction over dims: sum (mean/var via a divisor), amax, amin, argmax, argmin
- `gemm`   matmul / linear (batched), accumulation in fp32
- `view`   a view computed in `forward` with torch view methods (view, transpose, [..., None], ...)
- `py`     a Python value computed in `forward` (x.size(0), x.shape[-1] ** 0.5, ...)
- `input` / `param` leaves (forward arguments; parameters and buffers as `self.<path>`)

Numeric module attributes (`self.scale`, `self.act.negative_slope`) become `py` leaves that forward
reads at run time; values that decide structure become `Guard`s forward checks (see _AttrTracer and
docs/TEMPLATES.md). In-place ops are functionalised; a forward that mutates its inputs, parameters or
buffers is refused.

Composite ops are decomposed into primitives here (softmax = amax, sub, exp, sum, div; layer norm =
mean, sub, mean-of-squares, rsqrt, ...), so the fusion pass sees one vocabulary. Anything else raises
`Unsupported` with a message that names the construct and its source line; there is never a torch
fallback inside a candidate.
"""

from __future__ import annotations

import builtins
import inspect
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from .ops import PW, UnsupportedOp, check_pw

PROBLEM_FILENAME = "<tritonize-problem>"


class Unsupported(Exception):
    """The graph (or one construct in it) is outside the pattern library; the message says which."""


@dataclass(eq=False)
class Node:
    kind: str  # input | param | pw | reduce | gemm | view | py
    op: str
    args: list[Any] = field(default_factory=list)  # Node | Python constant
    attrs: dict[str, Any] = field(default_factory=dict)
    shape: tuple[int, ...] | None = None
    dtype: torch.dtype | None = None
    label: str = ""  # what it came from, for kernel names ("softmax", "linear", "gelu")
    where: str = ""  # "line 12: `x = self.conv(x)`"
    value: Any = None  # concrete value (py nodes) or an example tensor (views)
    code: str = ""  # input: arg name; param: `self.fc.weight`; view/py: format with {0}, {1}, ...
    index: int = 0  # position in Graph.nodes (topological order)

    @property
    def is_tensor(self) -> bool:
        return self.kind in ("input", "param", "pw", "reduce", "gemm", "view")

    @property
    def is_compute(self) -> bool:
        return self.kind in ("pw", "reduce", "gemm")

    def __repr__(self) -> str:
        return f"<{self.kind}:{self.op}#{self.index} {self.shape}>"


@dataclass
class Placeholder:
    name: str
    node: Node
    default: Any = None
    has_default: bool = False


@dataclass
class Graph:
    nodes: list[Node]
    placeholders: list[Placeholder]
    output: Any  # the structure forward returns, with Nodes and constants
    guards: list[Guard] = field(default_factory=list)

    def users(self) -> dict[Node, list[Node]]:
        out: dict[Node, list[Node]] = {n: [] for n in self.nodes}
        for n in self.nodes:
            for a in operands(n):
                if n not in out[a]:
                    out[a].append(n)
        return out

    def outputs(self) -> list[Node]:
        return [n for n in _flatten(self.output) if isinstance(n, Node)]


def operands(n: Node) -> list[Node]:
    """The Nodes `n` reads: its arguments and run-time scalar attributes (`leaky_relu`'s slope)."""
    return [a for a in n.args if isinstance(a, Node)] + [v for v in n.attrs.values() if isinstance(v, Node)]


def _flatten(obj: Any) -> list[Any]:
    if isinstance(obj, (list, tuple)):
        return [y for x in obj for y in _flatten(x)]
    if isinstance(obj, dict):
        return [y for x in obj.values() for y in _flatten(x)]
    return [obj]


# ---- capture ------------------------------------------------------------------------------------


@dataclass
class Guard:
    """A value the kernels were specialised on; ModelNew.forward raises ValueError when it differs.

    `cond` (true when the value differs) and `want` (what the kernels assume, for the message) are
    format strings over the forward names of `deps`.
    """

    cond: str
    deps: list[Node]
    want: str


@dataclass(frozen=True)
class _Attr:
    """A plain-data attribute of a module that forward runs through (`self.scale`, `self.block.eps`)."""

    module: nn.Module
    path: str  # qualified name, "scale" or "block.eps"
    name: str
    value: Any


class _Recorder(fx.Interpreter):
    """Runs the traced graph once and keeps every node's concrete result."""

    def __init__(self, gm: fx.GraphModule):
        super().__init__(gm)
        self.values: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        self.values[n] = result
        return result


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
    baked = []
    for path, m in traced:
        for name, v in vars(m).items():
            if (id(m), name) in tracer.reads and name not in symbolic.get(id(m), ()) and name != "training" and _guardable(v):
                baked.append(_Attr(m, f"{path}.{name}" if path else name, name, v))
    return _Normaliser(model, gm, recorder.values, baked).run()


def _guardable(v: Any) -> bool:
    """Plain data whose repr evaluates back to an equal value (so forward can compare with it)."""
    if isinstance(v, (nn.Module, torch.Tensor)) or callable(v) and not isinstance(v, torch.dtype):
        return False
    try:
        return eval(repr(v), {"torch": torch, "inf": math.inf, "nan": math.nan}) == v
    except Exception:
        return False


def _trace_failure(exc: BaseException) -> str:
    msg = str(exc).split("\n")[0]
    where = _where_from_tb(exc.__traceback__)
    if "control flow" in msg or "iteration" in msg or "bool" in msg.lower():
        what = "data-dependent Python control flow"
    else:
        what = f"{type(exc).__name__}: {msg}"
    return f"cannot trace forward: {what}{' at ' + where if where else ''}"


def _where_from_tb(tb: Any) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(tb) if f.filename == PROBLEM_FILENAME]
    if not frames:
        return ""
    f = frames[-1]
    return f"line {f.lineno}: `{(f.line or '').strip()}`"


def _where(n: fx.Node) -> str:
    trace = n.stack_trace or ""
    hits = re.findall(r'File "' + re.escape(PROBLEM_FILENAME) + r'", line (\d+), in \w+\n\s*(.*)', trace)
    if not hits:
        return ""
    line, text = hits[-1]
    return f"line {line}: `{text.strip()}`"


# ---- normalisation ------------------------------------------------------------------------------

_FLOATS = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


class _Normaliser:
    def __init__(self, model: nn.Module, gm: fx.GraphModule, values: dict[fx.Node, Any], baked: list[_Attr] | None = None):
        self.model = model
        self.gm = gm
        self.values = values
        self.baked = baked or []
        self.nodes: list[Node] = []
        self.env: dict[fx.Node, Any] = {}
        self.params: dict[str, Node] = {}
        self.attr_nodes: dict[str, Node] = {}
        self.guards: list[Guard] = []
        self.aliases: dict[fx.Node, list[fx.Node]] = {}  # a mutated tensor → the in-place results that alias it
        self.order: dict[fx.Node, int] = {}
        self.cur: fx.Node | None = None

    # -- building blocks --

    def add(self, node: Node) -> Node:
        node.index = len(self.nodes)
        if self.cur is not None:
            node.where = node.where or _where(self.cur)
            node.label = node.label or _label_of(self.cur)
        self.nodes.append(node)
        return node

    def pw(self, op: str, *args: Any, label: str = "", **attrs: Any) -> Node:
        try:
            check_pw(op, attrs)
        except UnsupportedOp as why:
            raise self.unsupported(str(why)) from None
        for a in args:
            if isinstance(a, Node) and a.is_tensor and a.dtype not in _FLOATS and a.dtype != torch.bool:
                raise self.unsupported(f"`{op}` on a {str(a.dtype).replace('torch.', '')} tensor")
        tensors = [a for a in args if isinstance(a, Node) and a.is_tensor]
        shape = tuple(torch.broadcast_shapes(*[a.shape for a in tensors])) if tensors else ()
        if op in ("eq", "ne", "lt", "le", "gt", "ge", "not"):
            dtype = torch.bool
        elif op == "cast":
            dtype = attrs["dtype"]
        else:
            floats = [a.dtype for a in tensors if a.dtype in _FLOATS]
            dtype = floats[0] if floats else torch.float32
            for d in floats[1:]:
                dtype = torch.promote_types(dtype, d)
        return self.add(Node("pw", op, list(args), attrs, shape, dtype, label=label))

    def reduce(self, op: str, x: Node, dims: Any, keepdim: bool, label: str = "", divisor: int | None = None) -> Node:
        rank = len(x.shape)
        dims = self.static(dims)
        if dims is None or dims == () or dims == []:
            red = tuple(range(rank))
        else:
            dims = dims if isinstance(dims, (list, tuple)) else [dims]
            red = tuple(sorted({int(d) % max(rank, 1) for d in dims}))
        if op in ("argmax", "argmin") and len(red) > 1 and keepdim:
            raise Unsupported(f"{op} over several dims with keepdim at {self._here()}")
        if keepdim:
            shape = tuple(1 if i in red else s for i, s in enumerate(x.shape))
        else:
            shape = tuple(s for i, s in enumerate(x.shape) if i not in red)
        dtype = torch.int64 if op in ("argmax", "argmin") else x.dtype
        attrs = {"dims": red, "keepdim": keepdim, "divisor": divisor}
        return self.add(Node("reduce", op, [x], attrs, shape, dtype, label=label))

    def view(self, code: str, src: Node, *extra: Any, label: str = "view") -> Node:
        """A view computed in forward; its shape comes from running `code` on a meta tensor."""
        meta = _meta(src)
        extra_vals = [(_meta(e) if e.is_tensor else e.value) if isinstance(e, Node) else e for e in extra]
        env = {"torch": torch}
        vals = [meta, *extra_vals]
        result = eval(code.format(*[f"_v{i}" for i in range(len(vals))]), env, {f"_v{i}": v for i, v in enumerate(vals)})
        return self.add(Node("view", "view", [src, *extra], {}, tuple(result.shape), src.dtype, label=label, code=code, value=result))

    def _here(self) -> str:
        return _where(self.cur) if self.cur is not None else ""

    def unsupported(self, what: str) -> Unsupported:
        here = self._here()
        return Unsupported(f"no pattern for {what}{' at ' + here if here else ''}")

    # -- module attributes read at run time, and the values the kernels are specialised on --

    def attr(self, code: str, value: Any) -> Node:
        """A Python value ModelNew.forward reads from the module (`self.scale`, `self.act.negative_slope`)."""
        if code not in self.attr_nodes:
            self.attr_nodes[code] = self.add(Node("py", "const", [], {}, None, None, code=code, value=value))
        return self.attr_nodes[code]

    def mod_attr(self, path: str, name: str) -> Node:
        return self.attr(f"self.{path}.{name}", getattr(self.model.get_submodule(path), name))

    def guard(self, node: Node, value: Any) -> None:
        """Forward raises if `node` (an attribute or a Python value) differs from `value` at run time."""
        if value is None:
            cond = "{0} is not None"
        elif isinstance(value, bool):
            cond = "not {0}" if value else "{0}"
        else:
            cond = "{0} != " + repr(value)
        if not any(g.deps == [node] and g.cond == cond for g in self.guards):
            self.guards.append(Guard(cond, [node], "{0} == " + repr(value)))

    def static(self, v: Any) -> Any:
        """The traced value of `v` where it decides structure (a reduction dim); forward checks it."""
        if isinstance(v, Node) and v.kind == "py":
            self.guard(v, v.value)
            return v.value
        if isinstance(v, (list, tuple)):
            return type(v)(self.static(x) for x in v)
        return v

    @staticmethod
    def num(v: Any) -> Any:
        """A scalar operand of a kernel: a Python value of forward stays a run-time argument."""
        return v if isinstance(v, Node) and v.kind == "py" else float(v)

    # -- in-place ops: functionalised (the result rebinds the mutated tensor) --

    def _inplace_target(self, n: fx.Node) -> fx.Node | None:
        """The tensor `n` writes to when it is an in-place op (`add_`, `relu_`, `inplace=True`, `x += y`)."""
        if n.op == "call_method":
            inplace = n.target.endswith("_") and not n.target.endswith("__")
        elif n.op == "call_function":
            inplace = n.target in _INPLACE_OPERATORS or (_fn_name(n.target).endswith("_") and not _fn_name(n.target).endswith("__"))
            inplace = inplace or _bound_arg(n, "inplace") is True
        elif n.op == "call_module":
            inplace = getattr(self.model.get_submodule(n.target), "inplace", False) is True
        else:
            inplace = False
        target = (n.args[0] if n.args else n.kwargs.get("input")) if inplace else None
        if not isinstance(target, fx.Node) or not isinstance(self.values.get(target), torch.Tensor):
            return None
        self._check_mutation(n, target)
        return target

    def _check_mutation(self, n: fx.Node, target: fx.Node) -> None:
        storage = _storage(self.values[target])
        here = f" at {self._here()}" if self._here() else ""
        root = self.alias_root(target)
        for other, v in self.values.items():
            if self.order.get(other, len(self.order)) >= self.order[n] or not isinstance(v, torch.Tensor) or _storage(v) != storage:
                continue
            if other.op == "placeholder":
                raise Unsupported(f"forward mutates its input {other.target} in place{here}; not supported")
            if other.op == "get_attr":
                raise Unsupported(f"forward mutates self.{other.target} in place{here}; not supported")
            if other is target or self.alias_root(other) is root:
                continue
            if any(self.order[u] > self.order[n] for u in other.users):
                raise Unsupported(f"an in-place op on a tensor whose other view is read later{here}; not supported")

    def alias_root(self, n: fx.Node) -> fx.Node:
        while n in self.aliases:
            n = self.aliases[n]
        return n

    def _rebind(self, n: fx.Node, target: fx.Node) -> None:
        """After `x.relu_()`, every later read of x (or of an earlier in-place result) sees the new value."""
        root = self.alias_root(target)
        self.aliases[n] = root
        result = self.env[n]
        want = self.values[target].dtype
        if isinstance(result, Node) and result.is_tensor and result.dtype != want:
            result = self.env[n] = self.pw("cast", result, label="cast", dtype=want)  # in-place keeps x's dtype
        for k in [root, *[a for a in self.aliases if self.alias_root(a) is root]]:
            self.env[k] = result

    # -- main loop --

    def run(self) -> Graph:
        placeholders: list[Placeholder] = []
        output: Any = None
        for a in self.baked:  # attributes forward read as plain values: the kernels assume them
            self.guard(self.attr("self." + a.path, a.value), a.value)
        self.order = {n: i for i, n in enumerate(self.gm.graph.nodes)}
        for n in self.gm.graph.nodes:
            self.cur = n
            if n.op == "placeholder":
                val = self.values.get(n)
                node = self._leaf("input", n.target, val)
                ph = Placeholder(n.target, node)
                if n.args:
                    ph.default, ph.has_default = n.args[0], True
                placeholders.append(ph)
                self.env[n] = node
            elif n.op == "get_attr":
                self.env[n] = self._param(n.target)
            elif n.op == "output":
                output = self._map(n.args[0])
            else:
                target = self._inplace_target(n)
                self.env[n] = self._convert(n)
                if target is not None:
                    self._rebind(n, target)
        self.cur = None
        graph = Graph(self._live(output), placeholders, output, self.guards)
        return graph

    def _live(self, output: Any) -> list[Node]:
        keep: set[Node] = set()
        stack = [x for x in _flatten(output) if isinstance(x, Node)] + [d for g in self.guards for d in g.deps]
        while stack:
            n = stack.pop()
            if n in keep:
                continue
            keep.add(n)
            stack.extend(operands(n))
        live = [n for n in self.nodes if n in keep or n.kind == "input"]
        for i, n in enumerate(live):
            n.index = i
        return live

    def _leaf(self, kind: str, code: str, val: Any) -> Node:
        if isinstance(val, torch.Tensor):
            return self.add(Node(kind, kind, [], {}, tuple(val.shape), val.dtype, code=code, value=_meta_like(val)))
        return self.add(Node("py", "const", [], {}, None, None, code=code, value=val))

    def _param(self, target: str) -> Node:
        if target in self.params:
            return self.params[target]
        owner, _, name = target.rpartition(".")
        value = getattr(self.model.get_submodule(owner), name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.attr("self." + target, value)  # a numeric attribute _AttrTracer kept symbolic
        try:
            val = self.model.get_submodule("").get_parameter(target)
        except AttributeError:
            try:
                val = self.model.get_buffer(target)
            except AttributeError:
                raise self.unsupported(f"tensor attribute `{target}` that is neither a parameter nor a buffer") from None
        node = self._leaf("param", "self." + target, val)
        self.params[target] = node
        return node

    def _map(self, obj: Any) -> Any:
        return fx.node.map_arg(obj, lambda a: self.env[a]) if obj is not None else None

    def _convert(self, n: fx.Node) -> Any:
        args = self._map(tuple(n.args))
        kwargs = self._map(dict(n.kwargs))
        if n.op == "call_module":
            mod = self.model.get_submodule(n.target)
            return self._module(mod, n.target, args, kwargs)
        if n.op == "call_method":
            name = n.target
        else:
            name = _fn_name(n.target)
        # Python values (sizes, arithmetic on them) are computed in forward; their value is known.
        if not _holds_tensor(self.values.get(n)):
            return self._py(n, name, args, kwargs)
        return self._call(name, args, kwargs, n)

    def _py(self, n: fx.Node, name: str, args: tuple, kwargs: dict) -> Any:
        val = self.values.get(n)
        if isinstance(val, torch.Tensor):
            raise self.unsupported(f"tensor creation `{name}`")
        fmt = _py_format(name, args, kwargs)
        if fmt is None:
            raise self.unsupported(f"Python operation `{name}` on shapes")
        deps = [a for a in _flatten([args, kwargs]) if isinstance(a, Node)]
        code, node_args = fmt(deps)
        return self.add(Node("py", name, node_args, {}, None, None, code=code, value=val))

    # -- modules --

    def _module(self, mod: nn.Module, path: str, args: tuple, kwargs: dict) -> Any:
        """An nn.* leaf module. Its constructor arguments are read from `self.<path>` in forward, so a
        ModelNew built with other arguments computes with them (or, where they decide structure,
        raises instead of computing something else)."""
        x = args[0] if args else kwargs.get("input")
        kind = type(mod).__name__
        p = f"self.{path}"

        def at(name: str) -> Node:
            return self.mod_attr(path, name)

        if isinstance(mod, (nn.Identity,)):
            return x
        if isinstance(mod, nn.Dropout):
            if mod.p == 0 or not mod.training:
                # The kernel is the identity: forward refuses a module that would really drop.
                self.guards.append(Guard(f"{p}.training and " + "{0} != 0", [at("p")], "{0} == 0 or eval mode"))
                return x
            raise self.unsupported(f"nn.Dropout in training mode ({p}); call model.eval() or use p=0")
        if isinstance(mod, nn.Linear):
            w = self._param(f"{path}.weight")
            y = self.gemm("linear", x, w, label="linear")
            if mod.bias is not None:
                y = self.pw("add", y, self._param(f"{path}.bias"), label="linear")
            return y
        if isinstance(mod, nn.Flatten):
            return self._call("flatten", (x, at("start_dim"), at("end_dim")), {}, None)
        if isinstance(mod, (nn.Softmax, nn.LogSoftmax)):
            return self.softmax(x, at("dim"), log=isinstance(mod, nn.LogSoftmax))
        if isinstance(mod, nn.LayerNorm) or kind == "RMSNorm":
            k = self.static(self.attr(f"len({p}.normalized_shape)", len(mod.normalized_shape)))
            w = self._optional_param(path, "weight")
            if kind == "RMSNorm":
                eps = self.static(at("eps")) if mod.eps is None else at("eps")
                return self.rms_norm(x, k, w, eps)
            return self.layer_norm(x, k, w, self._optional_param(path, "bias"), at("eps"))
        if isinstance(mod, nn.GroupNorm):
            affine = self.static(at("affine"))
            w = self._param(f"{path}.weight") if affine else None
            b = self._param(f"{path}.bias") if affine else None
            return self.group_norm(x, at("num_groups"), w, b, at("eps"))
        if isinstance(mod, nn.GELU):
            approx = self.static(at("approximate"))
            return self.pw("gelu_tanh" if approx == "tanh" else "gelu", x, label="gelu")
        act = _module_activation(mod)
        if act is not None:
            op, attrs = act
            return self.pw(op, x, label=op, **{k: at(v) if isinstance(v, str) else v for k, v in attrs.items()})
        raise self.unsupported(f"nn.{kind} ({p})")

    def _optional_param(self, path: str, name: str) -> Node | None:
        """`self.ln.weight`, or None (guarded: a module built with a weight must not be ignored)."""
        if getattr(self.model.get_submodule(path), name, None) is None:
            self.static(self.mod_attr(path, name))
            return None
        return self._param(f"{path}.{name}")

    # -- functions and methods --

    def _call(self, name: str, args: tuple, kwargs: dict, n: fx.Node | None) -> Any:
        a = _Args(args, kwargs)
        handler = getattr(self, f"_op_{name}", None)
        if handler is not None:
            return handler(a)
        if name in _UNARY:
            op, attrs = _UNARY[name](a)
            return self.pw(op, a.get(0, "input"), label=name.strip("_"), **attrs)
        if name in _BINARY:
            op, swap = _BINARY[name]
            x, y = a.get(0, "input"), a.get(1, "other")
            if swap:
                x, y = y, x
            alpha = a.get(2, "alpha", None)
            if alpha is not None and op in ("add", "sub"):
                y = self.pw("mul", y, alpha)
            return self.pw(op, x, y, label=op)
        if name in _VIEWS:
            return self._view_method(name, a)
        if name in _INPLACE_ALIASES:
            return self._call(_INPLACE_ALIASES[name], args, kwargs, n)
        if name.endswith("_") and not name.endswith("__") and name[:-1]:
            return self._call(name[:-1], args, kwargs, n)  # `abs_` computes `abs`; run() rebinds the target
        raise self.unsupported(f"`{name}`")

    def _view_method(self, name: str, a: _Args) -> Node:
        src = a.get(0)
        if not isinstance(src, Node) or not src.is_tensor:
            raise self.unsupported(f"`{name}` on a non-tensor")
        rest = list(a.args[1:])
        kw = dict(a.kwargs)
        deps: list[Node] = []

        def render(v: Any) -> str:
            if isinstance(v, Node):
                deps.append(v)
                return "{" + str(len(deps)) + "}"
            if isinstance(v, (list, tuple)):
                inner = ", ".join(render(x) for x in v)
                return f"({inner},)" if isinstance(v, tuple) else f"[{inner}]"
            return repr(v)

        parts = [render(v) for v in rest] + [f"{k}={render(v)}" for k, v in kw.items()]
        code = "{0}." + name + "(" + ", ".join(parts) + ")"
        return self.view(code, src, *deps, label="view")

    # getitem: tuple results (torch.max with dim) and tensor indexing with slices / None
    def _op_getitem(self, a: _Args) -> Any:
        src, idx = a.args[0], a.args[1]
        if isinstance(src, (tuple, list)):
            return src[idx]
        if not isinstance(src, Node) or not src.is_tensor:
            raise self.unsupported("indexing a non-tensor")
        items = idx if isinstance(idx, tuple) else (idx,)
        deps: list[Node] = []

        def dep(v: Any) -> str:  # a Python value of forward (`x[:, : self.k]`) is read at run time
            if isinstance(v, Node):
                deps.append(v)
                return "{" + str(len(deps)) + "}"
            return "" if v is None else repr(v)

        for it in items:
            if isinstance(it, Node) and it.is_tensor or isinstance(it, (torch.Tensor, list)):
                raise self.unsupported("advanced (tensor) indexing")
        text = ", ".join(_render_index(it, dep) for it in items)
        return self.view("{0}[" + text + "]", src, *deps, label="view")

    def _op_getattr(self, a: _Args) -> Any:
        src, attr = a.args[0], a.args[1]
        if isinstance(src, tuple) and attr in ("values", "indices"):
            return src[0 if attr == "values" else 1]
        if attr in ("mT",) and isinstance(src, Node):
            return self.view("{0}.mT", src)
        if attr == "T" and isinstance(src, Node):
            return self.view("{0}.T", src)
        raise self.unsupported(f"attribute `.{attr}`")

    def _op_contiguous(self, a: _Args) -> Any:
        return a.get(0)

    def _op_clone(self, a: _Args) -> Any:
        return self.pw("identity", a.get(0), label="clone")

    def _op_to(self, a: _Args) -> Any:
        x = a.get(0)
        dtype = next((v for v in list(a.args[1:]) + list(a.kwargs.values()) if isinstance(v, torch.dtype)), None)
        if dtype is None:
            return x  # .to(device) and friends: the kernels run where the inputs are
        return self.pw("cast", x, label="cast", dtype=dtype)

    def _op_type_as(self, a: _Args) -> Any:
        return self.pw("cast", a.get(0), label="cast", dtype=a.get(1).dtype)

    def _op_dropout(self, a: _Args) -> Any:
        p = a.get(1, "p", 0.5)
        training = a.get(2, "training", True)
        if p == 0 or not training:
            return a.get(0)
        raise self.unsupported("dropout with training=True (random)")

    def _op_where(self, a: _Args) -> Any:
        return self.pw("where", a.get(0, "condition"), a.get(1, "input"), a.get(2, "other"), label="where")

    def _op_clamp(self, a: _Args) -> Any:
        lo, hi = a.get(1, "min", None), a.get(2, "max", None)
        if isinstance(lo, Node) and lo.is_tensor or isinstance(hi, Node) and hi.is_tensor:
            x = a.get(0)
            if lo is not None:
                x = self.pw("maximum", x, lo, label="clamp")
            if hi is not None:
                x = self.pw("minimum", x, hi, label="clamp")
            return x
        return self.pw("clamp", a.get(0), label="clamp", lo=lo, hi=hi)

    _op_clip = _op_clamp

    def _op_clamp_min(self, a: _Args) -> Any:
        return self.pw("clamp", a.get(0), label="clamp", lo=a.get(1, "min"), hi=None)

    def _op_clamp_max(self, a: _Args) -> Any:
        return self.pw("clamp", a.get(0), label="clamp", lo=None, hi=a.get(1, "max"))

    def _op_pow(self, a: _Args) -> Any:
        x, e = a.get(0, "input" if "input" in a.kwargs else "self"), a.get(1, "exponent")
        if isinstance(x, Node) and x.is_tensor and not (isinstance(e, Node) and e.is_tensor):
            # The exponent decides the formula (x*x for 2, exp/log otherwise): a Python value of forward is guarded.
            return self.pw("pow_scalar", x, label="pow", p=float(self.static(e)))
        if not isinstance(x, Node) or x.kind == "py":
            return self._rpow(e, x)
        return self.pw("pow", x, e, label="pow")

    def _rpow(self, x: Node, base: Any) -> Node:
        """base ** x for a Python base; a base read from the module stays a run-time value."""
        if isinstance(base, Node):
            return self.pw("pow", base, x, label="pow")  # exp(x * log(base)): base > 0, as for rpow
        return self.pw("rpow", x, label="pow", base=float(base))

    _op___pow__ = _op_pow

    def _op___rpow__(self, a: _Args) -> Any:
        return self._rpow(a.get(0), a.get(1))

    # element-wise activations with arguments
    def _op_gelu(self, a: _Args) -> Any:
        approx = a.get(1, "approximate", "none")
        return self.pw("gelu_tanh" if approx == "tanh" else "gelu", a.get(0), label="gelu")

    def _op_leaky_relu(self, a: _Args) -> Any:
        return self.pw("leaky_relu", a.get(0), label="leaky_relu", slope=self.num(a.get(1, "negative_slope", 0.01)))

    def _op_elu(self, a: _Args) -> Any:
        return self.pw("elu", a.get(0), label="elu", alpha=self.num(a.get(1, "alpha", 1.0)))

    def _op_celu(self, a: _Args) -> Any:
        return self.pw("celu", a.get(0), label="celu", alpha=self.num(a.get(1, "alpha", 1.0)))

    def _op_softplus(self, a: _Args) -> Any:
        return self.pw("softplus", a.get(0), label="softplus", beta=self.num(a.get(1, "beta", 1.0)), threshold=self.num(a.get(2, "threshold", 20.0)))

    def _op_hardtanh(self, a: _Args) -> Any:
        return self.pw("clamp", a.get(0), label="hardtanh", lo=self.num(a.get(1, "min_val", -1.0)), hi=self.num(a.get(2, "max_val", 1.0)))

    def _op_relu6(self, a: _Args) -> Any:
        return self.pw("clamp", a.get(0), label="relu6", lo=0.0, hi=6.0)

    def _op_threshold(self, a: _Args) -> Any:
        return self.pw("threshold", a.get(0), label="threshold", threshold=self.num(a.get(1, "threshold")), value=self.num(a.get(2, "value")))

    # reductions
    def _red_args(self, a: _Args, dim_default: Any = None) -> tuple[Node, Any, bool]:
        return a.get(0), a.get(1, "dim", dim_default), bool(a.get(2, "keepdim", False))

    def _op_sum(self, a: _Args) -> Any:
        x, dims, keep = self._red_args(a)
        return self.reduce("sum", x, dims, keep, label="sum")

    def _op_mean(self, a: _Args) -> Any:
        x, dims, keep = self._red_args(a)
        return self.reduce("sum", x, dims, keep, label="mean", divisor=0)

    def _op_amax(self, a: _Args) -> Any:
        x, dims, keep = self._red_args(a)
        return self.reduce("amax", x, dims, keep, label="max")

    def _op_amin(self, a: _Args) -> Any:
        x, dims, keep = self._red_args(a)
        return self.reduce("amin", x, dims, keep, label="min")

    def _op_argmax(self, a: _Args) -> Any:
        x, dims, keep = self._red_args(a)
        return self.reduce("argmax", x, dims, keep, label="argmax")

    def _op_argmin(self, a: _Args) -> Any:
        x, dims, keep = self._red_args(a)
        return self.reduce("argmin", x, dims, keep, label="argmin")

    def _maxmin(self, a: _Args, which: str) -> Any:
        other = a.get(1, "dim", None)
        if isinstance(other, Node) and other.is_tensor:
            return self.pw("maximum" if which == "max" else "minimum", a.get(0), other, label=which)
        x, dims, keep = self._red_args(a)
        if dims is None:
            return self.reduce("a" + which, x, None, False, label=which)
        vals = self.reduce("a" + which, x, dims, keep, label=which)
        idx = self.reduce("arg" + which, x, dims, keep, label="arg" + which)
        return (vals, idx)

    def _op_max(self, a: _Args) -> Any:
        return self._maxmin(a, "max")

    def _op_min(self, a: _Args) -> Any:
        return self._maxmin(a, "min")

    def _op_maximum(self, a: _Args) -> Any:
        return self.pw("maximum", a.get(0), a.get(1, "other"), label="maximum")

    def _op_minimum(self, a: _Args) -> Any:
        return self.pw("minimum", a.get(0), a.get(1, "other"), label="minimum")

    def _op_var(self, a: _Args, std: bool = False) -> Any:
        x = a.get(0)
        dims = a.get(1, "dim", None)
        correction = a.kwargs.get("correction")
        unbiased = a.kwargs.get("unbiased", a.args[2] if len(a.args) > 2 and isinstance(a.args[2], bool) else True)
        if correction is None:
            correction = 1 if unbiased else 0
        keep = bool(a.kwargs.get("keepdim", a.args[3] if len(a.args) > 3 else False))
        label = "std" if std else "var"
        mean = self.reduce("sum", x, dims, True, label=label, divisor=0)
        d = self.pw("sub", x, mean, label=label)
        v = self.reduce("sum", self.pw("mul", d, d, label=label), dims, keep, label=label, divisor=int(self.static(correction)))
        return self.pw("sqrt", v, label=label) if std else v

    def _op_std(self, a: _Args) -> Any:
        return self._op_var(a, std=True)

    def vector_norm(self, x: Node, ord_: Any, dims: Any, keep: bool) -> Node:
        ord_ = self.static(ord_)
        if ord_ in (2, 2.0, "fro", None):
            return self.pw("sqrt", self.reduce("sum", self.pw("mul", x, x, label="norm"), dims, keep, label="norm"), label="norm")
        if ord_ in (1, 1.0):
            return self.reduce("sum", self.pw("abs", x, label="norm"), dims, keep, label="norm")
        if ord_ == float("inf"):
            return self.reduce("amax", self.pw("abs", x, label="norm"), dims, keep, label="norm")
        raise self.unsupported(f"norm with ord={ord_!r}")

    def _op_norm(self, a: _Args) -> Any:
        return self.vector_norm(a.get(0), a.get(1, "p", "fro"), a.get(2, "dim", None), bool(a.get(3, "keepdim", False)))

    def _op_vector_norm(self, a: _Args) -> Any:
        return self.vector_norm(a.get(0), a.get(1, "ord", 2), a.get(2, "dim", None), bool(a.get(3, "keepdim", False)))

    _op_linalg_vector_norm = _op_vector_norm

    def _op_normalize(self, a: _Args) -> Any:
        x, p, dim, eps = a.get(0), self.static(a.get(1, "p", 2.0)), a.get(2, "dim", 1), self.num(a.get(3, "eps", 1e-12))
        n = self.vector_norm(x, p, dim, True)
        return self.pw("div", x, self.pw("clamp", n, label="normalize", lo=eps, hi=None), label="normalize")

    def _op_logsumexp(self, a: _Args) -> Any:
        x, dims, keep = a.get(0), a.get(1, "dim"), bool(a.get(2, "keepdim", False))
        m = self.reduce("amax", x, dims, True, label="logsumexp")
        s = self.reduce("sum", self.pw("exp", self.pw("sub", x, m, label="logsumexp"), label="logsumexp"), dims, keep, label="logsumexp")
        m_out = m if keep else self.reduce("amax", x, dims, False, label="logsumexp")
        return self.pw("add", self.pw("log", s, label="logsumexp"), m_out, label="logsumexp")

    # softmax family and norms
    def softmax(self, x: Node, dim: Any, log: bool = False) -> Node:
        if dim is None:
            raise self.unsupported("softmax without an explicit dim")
        label = "log_softmax" if log else "softmax"
        dim = self.static(dim)
        m = self.reduce("amax", x, dim, True, label=label)
        shifted = self.pw("sub", x, m, label=label)
        e = self.pw("exp", shifted, label=label)
        z = self.reduce("sum", e, dim, True, label=label)
        if log:
            return self.pw("sub", shifted, self.pw("log", z, label=label), label=label)
        return self.pw("div", e, z, label=label)

    def _op_softmax(self, a: _Args) -> Any:
        return self.softmax(a.get(0), a.get(1, "dim"))

    def _op_log_softmax(self, a: _Args) -> Any:
        return self.softmax(a.get(0), a.get(1, "dim"), log=True)

    def layer_norm(self, x: Node, k: int, w: Any, b: Any, eps: float) -> Node:
        dims = tuple(range(len(x.shape) - k, len(x.shape)))
        lbl = "layernorm"
        mean = self.reduce("sum", x, dims, True, label=lbl, divisor=0)
        d = self.pw("sub", x, mean, label=lbl)
        var = self.reduce("sum", self.pw("mul", d, d, label=lbl), dims, True, label=lbl, divisor=0)
        r = self.pw("rsqrt", self.pw("add", var, self.num(eps), label=lbl), label=lbl)
        y = self.pw("mul", d, r, label=lbl)
        if w is not None:
            y = self.pw("mul", y, w, label=lbl)
        if b is not None:
            y = self.pw("add", y, b, label=lbl)
        return y

    def _op_layer_norm(self, a: _Args) -> Any:
        shape = a.get(1, "normalized_shape")
        k = len(shape) if isinstance(shape, (list, tuple)) else 1
        return self.layer_norm(a.get(0), k, a.get(2, "weight", None), a.get(3, "bias", None), self.num(a.get(4, "eps", 1e-5)))

    def rms_norm(self, x: Node, k: int, w: Any, eps: float | None) -> Node:
        if eps is None:
            eps = torch.finfo(x.dtype).eps
        dims = tuple(range(len(x.shape) - k, len(x.shape)))
        lbl = "rmsnorm"
        ms = self.reduce("sum", self.pw("mul", x, x, label=lbl), dims, True, label=lbl, divisor=0)
        y = self.pw("mul", x, self.pw("rsqrt", self.pw("add", ms, self.num(eps), label=lbl), label=lbl), label=lbl)
        return self.pw("mul", y, w, label=lbl) if w is not None else y

    def _op_rms_norm(self, a: _Args) -> Any:
        shape = a.get(1, "normalized_shape")
        k = len(shape) if isinstance(shape, (list, tuple)) else 1
        return self.rms_norm(a.get(0), k, a.get(2, "weight", None), a.get(3, "eps", None))

    def group_norm(self, x: Node, groups: Any, w: Any, b: Any, eps: Any) -> Node:
        """groups may be read in forward (`self.gn.num_groups`): the views below use it at run time."""
        n_groups = groups.value if isinstance(groups, Node) else int(groups)
        if len(x.shape) < 2 or x.shape[1] % n_groups:
            raise self.unsupported("group_norm with channels not divisible by groups")
        g_code, g_deps = ("{1}", [groups]) if isinstance(groups, Node) else (str(n_groups), [])
        lbl = "groupnorm"
        xv = self.view("{0}.reshape({0}.shape[0], " + f"{g_code}, {{0}}.shape[1] // {g_code}, -1)", x, *g_deps, label=lbl)
        dims = (2, 3)
        mean = self.reduce("sum", xv, dims, True, label=lbl, divisor=0)
        d = self.pw("sub", xv, mean, label=lbl)
        var = self.reduce("sum", self.pw("mul", d, d, label=lbl), dims, True, label=lbl, divisor=0)
        y = self.pw("mul", d, self.pw("rsqrt", self.pw("add", var, self.num(eps), label=lbl), label=lbl), label=lbl)
        if w is not None:
            y = self.pw("mul", y, self.view("{0}.view(" + f"{g_code}, -1, 1)", w, *g_deps, label=lbl), label=lbl)
        if b is not None:
            y = self.pw("add", y, self.view("{0}.view(" + f"{g_code}, -1, 1)", b, *g_deps, label=lbl), label=lbl)
        return self.view("{0}.view({1}.shape)", y, x, label=lbl)

    def _op_group_norm(self, a: _Args) -> Any:
        return self.group_norm(a.get(0), a.get(1, "num_groups"), a.get(2, "weight", None), a.get(3, "bias", None), self.num(a.get(4, "eps", 1e-5)))

    # matmul family
    def gemm(self, mode: str, x: Any, w: Any, label: str) -> Node:
        for t in (x, w):
            if not isinstance(t, Node) or not t.is_tensor:
                raise self.unsupported(f"{label} of a non-tensor")
            if t.dtype not in _FLOATS:
                raise self.unsupported(f"{label} on {t.dtype}")
        if mode == "linear":
            if len(x.shape) < 1 or len(w.shape) != 2:
                raise self.unsupported("linear with a weight that is not 2-D")
            shape = (*x.shape[:-1], w.shape[0])
        else:
            if len(x.shape) < 2 or len(w.shape) < 2:
                raise self.unsupported(f"{label} with a 1-D operand")
            batch = tuple(torch.broadcast_shapes(x.shape[:-2], w.shape[:-2]))
            shape = (*batch, x.shape[-2], w.shape[-1])
        return self.add(Node("gemm", mode, [x, w], {}, shape, torch.promote_types(x.dtype, w.dtype), label=label))

    def _op_linear(self, a: _Args) -> Any:
        y = self.gemm("linear", a.get(0), a.get(1, "weight"), label="linear")
        b = a.get(2, "bias", None)
        return self.pw("add", y, b, label="linear") if b is not None else y

    def _op_matmul(self, a: _Args) -> Any:
        return self.gemm("matmul", a.get(0), a.get(1, "other"), label="matmul")

    _op_mm = _op_matmul
    _op_bmm = _op_matmul
    _op___matmul__ = _op_matmul

    def _op_addmm(self, a: _Args) -> Any:
        bias, m1, m2 = a.get(0), a.get(1, "mat1"), a.get(2, "mat2")
        beta, alpha = a.kwargs.get("beta", 1), a.kwargs.get("alpha", 1)
        y = self.gemm("matmul", m1, m2, label="addmm")
        if isinstance(alpha, Node) or alpha != 1:
            y = self.pw("mul", y, self.num(alpha), label="addmm")
        if isinstance(beta, Node) or beta != 1:
            bias = self.pw("mul", bias, self.num(beta), label="addmm")
        return self.pw("add", y, bias, label="addmm")

    # views with their own normalisation
    def _op_flatten(self, a: _Args) -> Any:
        return self._view_method("flatten", a)

    def _op_t(self, a: _Args) -> Any:
        return self.view("{0}.t()", a.get(0))

    def _op_split(self, a: _Args) -> Any:
        raise self.unsupported("`split`/`chunk` (several outputs)")

    _op_chunk = _op_split


# ---- tables and helpers -------------------------------------------------------------------------


class _Args:
    """Positional-or-keyword access to an fx call's arguments."""

    def __init__(self, args: tuple, kwargs: dict):
        self.args = tuple(args)
        self.kwargs = dict(kwargs)

    _MISSING = object()

    def get(self, i: int, name: str | None = None, default: Any = _MISSING) -> Any:
        if i < len(self.args):
            return self.args[i]
        if name is not None and name in self.kwargs:
            return self.kwargs[name]
        for alt in ("input", "self"):
            if i == 0 and alt in self.kwargs:
                return self.kwargs[alt]
        if default is _Args._MISSING:
            raise Unsupported(f"missing argument {name or i}")
        return default


def _simple(op: str) -> Any:
    return lambda a: (op, {})


_UNARY: dict[str, Any] = {
    "relu": _simple("relu"), "relu_": _simple("relu"), "sigmoid": _simple("sigmoid"), "sigmoid_": _simple("sigmoid"),
    "tanh": _simple("tanh"), "tanh_": _simple("tanh"), "exp": _simple("exp"), "exp_": _simple("exp"), "log": _simple("log"),
    "sqrt": _simple("sqrt"), "rsqrt": _simple("rsqrt"), "abs": _simple("abs"), "neg": _simple("neg"), "__neg__": _simple("neg"),
    "negative": _simple("neg"), "reciprocal": _simple("reciprocal"), "sin": _simple("sin"), "cos": _simple("cos"),
    "square": _simple("square"), "silu": _simple("silu"), "mish": _simple("mish"), "hardswish": _simple("hardswish"),
    "hardsigmoid": _simple("hardsigmoid"), "softsign": _simple("softsign"), "selu": _simple("selu"), "sign": _simple("sign"),
    "logical_not": _simple("not"), "erf": _simple("erf"), "log1p": _simple("log1p"), "expm1": _simple("expm1"),
    "float": lambda a: ("cast", {"dtype": torch.float32}), "half": lambda a: ("cast", {"dtype": torch.float16}),
    "bfloat16": lambda a: ("cast", {"dtype": torch.bfloat16}), "sigmoid_approx": _simple("sigmoid"),
    "tanhshrink": _simple("tanhshrink"), "logsigmoid": _simple("logsigmoid"),
}

# name → (op, swap operands)
_BINARY: dict[str, tuple[str, bool]] = {
    "add": ("add", False), "__add__": ("add", False), "iadd": ("add", False), "add_": ("add", False), "__radd__": ("add", True),
    "sub": ("sub", False), "__sub__": ("sub", False), "isub": ("sub", False), "sub_": ("sub", False), "subtract": ("sub", False),
    "__rsub__": ("sub", True), "rsub": ("sub", True),
    "mul": ("mul", False), "__mul__": ("mul", False), "imul": ("mul", False), "mul_": ("mul", False), "multiply": ("mul", False),
    "__rmul__": ("mul", True),
    "div": ("div", False), "truediv": ("div", False), "__truediv__": ("div", False), "itruediv": ("div", False), "div_": ("div", False),
    "divide": ("div", False), "true_divide": ("div", False), "__rtruediv__": ("div", True),
    "eq": ("eq", False), "ne": ("ne", False), "lt": ("lt", False), "le": ("le", False), "gt": ("gt", False), "ge": ("ge", False),
    "__eq__": ("eq", False), "__ne__": ("ne", False), "__lt__": ("lt", False), "__le__": ("le", False), "__gt__": ("gt", False),
    "__ge__": ("ge", False), "greater": ("gt", False), "less": ("lt", False),
    "and_": ("and", False), "__and__": ("and", False), "logical_and": ("and", False),
    "or_": ("or", False), "__or__": ("or", False), "logical_or": ("or", False),
}

_INPLACE_ALIASES = {"clamp_": "clamp", "clamp_min_": "clamp_min", "clamp_max_": "clamp_max", "pow_": "pow", "gelu_": "gelu",
                    "leaky_relu_": "leaky_relu", "elu_": "elu", "hardtanh_": "hardtanh", "relu6_": "relu6", "threshold_": "threshold",
                    "softmax_": "softmax", "masked_fill_": "masked_fill"}

_VIEWS = {"view", "reshape", "permute", "transpose", "unsqueeze", "squeeze", "expand", "expand_as", "flatten", "unflatten",
          "movedim", "swapaxes", "view_as", "reshape_as", "narrow", "select", "unbind_"}


def _module_activation(mod: nn.Module) -> tuple[str, dict] | None:
    """(op, attrs) for an nn.* activation; a str attr names the module attribute forward reads."""
    simple = {
        nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "silu", nn.Mish: "mish", nn.Hardswish: "hardswish",
        nn.Hardsigmoid: "hardsigmoid", nn.Softsign: "softsign", nn.SELU: "selu", nn.Tanhshrink: "tanhshrink",
        nn.LogSigmoid: "logsigmoid",
    }
    for cls, op in simple.items():
        if type(mod) is cls:
            return op, {}
    if isinstance(mod, nn.ReLU6):
        return "clamp", {"lo": 0.0, "hi": 6.0}
    scalars = {
        nn.LeakyReLU: ("leaky_relu", {"slope": "negative_slope"}),
        nn.ELU: ("elu", {"alpha": "alpha"}),
        nn.CELU: ("celu", {"alpha": "alpha"}),
        nn.Hardtanh: ("clamp", {"lo": "min_val", "hi": "max_val"}),
        nn.Softplus: ("softplus", {"beta": "beta", "threshold": "threshold"}),
        nn.Threshold: ("threshold", {"threshold": "threshold", "value": "value"}),
    }
    for cls, (op, attrs) in scalars.items():
        if isinstance(mod, cls):
            return op, dict(attrs)
    return None


_INPLACE_OPERATORS = {operator.iadd, operator.isub, operator.imul, operator.itruediv, operator.iand, operator.ior}


def _bound_arg(n: fx.Node, name: str) -> Any:
    """An argument of a call_function node by parameter name (`F.relu(x, True)` → inplace=True)."""
    try:
        return inspect.signature(n.target).bind(*n.args, **n.kwargs).arguments.get(name)
    except (TypeError, ValueError):
        return n.kwargs.get(name)


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr() or id(t)  # empty tensors have no memory to share


def _fn_name(target: Any) -> str:
    name = getattr(target, "__name__", str(target))
    if target is operator.getitem:
        return "getitem"
    if target is builtins.getattr:
        return "getattr"
    return name


def _label_of(n: fx.Node) -> str:
    if n.op == "call_module":
        return _snake(n.target.split(".")[-1])
    name = n.target if isinstance(n.target, str) else _fn_name(n.target)
    return name.strip("_").replace("true", "").strip("_") or "op"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _holds_tensor(val: Any) -> bool:
    if isinstance(val, torch.Tensor):
        return True
    return isinstance(val, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in val)


def _render_index(it: Any, dep: Any) -> str:
    if it is None:
        return "None"
    if it is Ellipsis:
        return "..."
    if isinstance(it, slice):
        parts = [dep(v) for v in (it.start, it.stop, it.step)]
        return ":".join(parts[:2]) + (":" + parts[2] if it.step is not None else "")
    return dep(it)


_PY_BINOPS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**"}


def _py_format(name: str, args: tuple, kwargs: dict) -> Any:
    """How a Python value is computed in forward, as a format string over its node arguments."""

    def fmt(deps: list[Node]) -> tuple[str, list[Node]]:
        idx = {id(d): i for i, d in enumerate(deps)}

        def r(v: Any) -> str:
            if isinstance(v, Node):
                return "{" + str(idx[id(v)]) + "}"
            if isinstance(v, (list, tuple)):
                return "(" + ", ".join(r(x) for x in v) + ("," if len(v) == 1 else "") + ")"
            return repr(v)

        if name == "size":
            code = f"{r(args[0])}.size({', '.join(r(a) for a in args[1:])})"
        elif name in ("dim", "numel"):
            code = f"{r(args[0])}.{name}()"
        elif name == "getattr":
            code = f"{r(args[0])}.{args[1]}"
        elif name == "getitem":
            code = f"{r(args[0])}[{r(args[1])}]"
        elif name in _PY_BINOPS:
            code = f"({r(args[0])} {_PY_BINOPS[name]} {r(args[1])})"
        elif name in ("sqrt", "floor", "ceil"):
            code = f"math.{name}({r(args[0])})"
        elif name == "neg":
            code = f"(-{r(args[0])})"
        else:
            raise Unsupported(f"no pattern for the Python operation `{name}`")
        return code, deps

    if name in ("size", "dim", "numel", "getattr", "getitem", "sqrt", "floor", "ceil", "neg") or name in _PY_BINOPS:
        return fmt
    return None


def _strides(n: Node) -> tuple[int, ...]:
    if isinstance(n.value, torch.Tensor):
        return tuple(n.value.stride())
    strides, acc = [], 1
    for s in reversed(n.shape):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


def _meta(n: Node) -> torch.Tensor:
    return torch.empty_strided(n.shape, _strides(n), device="meta", dtype=n.dtype)


def _meta_like(t: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(tuple(t.shape), tuple(t.stride()), dtype=t.dtype, device="meta")


def is_float_dtype(dtype: torch.dtype | None) -> bool:
    return dtype in _FLOATS


__all__ = ["Graph", "Node", "Placeholder", "Unsupported", "capture", "PROBLEM_FILENAME", "PW", "math"]
