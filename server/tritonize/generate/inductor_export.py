"""Export torch.compile's (Inductor's) Triton kernels as a standalone, readable candidate module.

Input: a capture record (worker/inductor_capture.py) — Inductor's generated wrapper module (kernels
as source strings plus a `call(args)` function), the dynamo graph's inputs and the launch
configuration every kernel ran with after autotuning. Output: a module with plain `@triton.jit`
kernels and a `ModelNew(nn.Module)` whose forward replays `call()` using public torch/triton APIs.

This is text and `ast` work only: it runs in the server process and never imports torch or triton
(invariant 1); the Triton helpers it writes into candidates live in inductor_helpers.py, which it
reads as text. Whatever it does not understand raises `ExportError` naming the construct — an
export either reproduces Inductor's program or does not happen.

Reading order: `export` → `_parse_wrapper` (find kernels and `call`) → `_export_kernel` (one kernel's
text) → `_translate_call` (the forward body) → `_model_parts` (the original class) → `_assemble`.
"""

from __future__ import annotations

import ast
import functools
import importlib.resources
import re
from dataclasses import dataclass, field
from typing import Any

# ---- results ------------------------------------------------------------------------------------


class ExportError(Exception):
    """Inductor's output uses a construct the exporter does not support; the message names it."""


@dataclass
class ExportResult:
    code: str
    notes: list[str] = field(default_factory=list)


TORCH_CALL_NOTE = "uses torch library call: "  # + op name; the verifier's strict mode rejects these

# ---- Inductor runtime names → public Triton -----------------------------------------------------

# `triton_helpers.<name>` → the helper (from inductor_helpers.py, in the candidate) or tl function that replaces it.
HELPER_NAMES = {
    "maximum": "maximum",
    "minimum": "minimum",
    "max2": "reduce_max",
    "min2": "reduce_min",
    "maximum_with_index": "max_with_index_combine",
    "minimum_with_index": "min_with_index_combine",
    "max_with_index": "reduce_max_with_index",
    "min_with_index": "reduce_min_with_index",
    "online_softmax_combine": "online_softmax_combine",
    "online_softmax_reduce": "online_softmax_reduce",
    "welford_reduce": "welford_reduce",
    "welford_combine": "welford_combine",
    "welford": "reduce_welford",
    "promote_to_tensor": "promote_to_tensor",
    "any": "reduce_any",
    "prod": "reduce_prod",
    "select_one": "select_one",
    "div_floor_integer": "div_floor_integer",
    "remainder_integer": "remainder_integer",
}
# `libdevice.<name>` with an exact public tl equivalent (sqrt: libdevice's is IEEE-rounded, so sqrt_rn).
LIBDEVICE_TL = {
    "exp": "tl.exp", "exp2": "tl.exp2", "log": "tl.log", "log2": "tl.log2",
    "rsqrt": "tl.rsqrt", "erf": "tl.erf", "abs": "tl.abs", "floor": "tl.floor", "ceil": "tl.ceil",
    "fma": "tl.fma", "sin": "tl.sin", "cos": "tl.cos",
}
# `libdevice.<name>` without one: a helper of ours (inductor_helpers.py).
LIBDEVICE_HELPERS = {"tanh": "tanh", "expm1": "expm1", "log1p": "log1p", "isnan": "isnan", "isinf": "isinf",
                     "sqrt": "sqrt"}

# ---- inductor_helpers.py: the helper code copied into candidates ---------------------------------


@dataclass(frozen=True)
class Helper:
    """One helper of inductor_helpers.py: its text (with the private functions it uses) and the
    helpers it calls, which the candidate must define before it."""

    text: str
    calls: tuple[str, ...]


@dataclass(frozen=True)
class HelperFile:
    kernel_helpers: dict[str, Helper]  # emitted into a candidate only when one of its kernels uses them
    forward_helpers: str  # emitted into every candidate: expect_input, same_strides, reinterpret
    forward_on_demand: dict[str, str]  # emitted when forward calls them (dynamic sizes): input_sizes, ...


HELPER_FILE = "inductor_helpers.py"  # next to this module; read as text, never imported (it imports triton)
# Forward helpers every candidate gets; the file's other undecorated functions come only where forward calls them.
FORWARD_ALWAYS = ("expect_input", "same_strides", "reinterpret")


@functools.cache
def helper_file() -> HelperFile:
    """inductor_helpers.py, split into the pieces the exporter copies (the rules are in its docstring)."""
    return parse_helper_file(importlib.resources.files(__package__).joinpath(HELPER_FILE).read_text(encoding="utf-8"))


def parse_helper_file(source: str) -> HelperFile:
    lines = source.splitlines()
    functions = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
    public_jit = {f.name for f in functions if f.decorator_list and not f.name.startswith("_")}
    kernel_helpers: dict[str, Helper] = {}
    forward: list[str] = []
    on_demand: dict[str, str] = {}
    pending: list[ast.FunctionDef] = []  # private jit functions waiting for the public one they serve
    for fn in functions:
        if not fn.decorator_list and fn.name in FORWARD_ALWAYS:
            forward.append(_segment(lines, fn))
        elif not fn.decorator_list:
            on_demand[fn.name] = _segment(lines, fn)
        elif fn.name.startswith("_"):
            pending.append(fn)
        else:
            unit = [*pending, fn]
            pending = []
            called = [n.id for f in unit for n in ast.walk(f) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
            calls = tuple(dict.fromkeys(c for c in called if c in public_jit and c != fn.name))
            kernel_helpers[fn.name] = Helper("\n\n\n".join(_segment(lines, f) for f in unit), calls)
    if pending:
        raise ValueError(f"{HELPER_FILE}: private helper {pending[0].name} is not followed by the helper it serves")
    return HelperFile(kernel_helpers, "\n\n\n".join(forward), on_demand)


def _segment(lines: list[str], fn: ast.FunctionDef) -> str:
    """A top-level function's text, decorators included."""
    first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    return "\n".join(lines[first - 1: fn.end_lineno])


# Names a kernel may use without defining them.
_KERNEL_BUILTINS = frozenset(
    "tl triton min max range float int abs len bool True False None print".split()
)
# Inductor heuristics decorators → what the kernel is (its new name's suffix and its docstring's words).
_KINDS = {
    "pointwise": ("kernel", "pointwise"),
    "reduction": ("reduction_kernel", "reduction (looping over the reduced dimension in R0_BLOCK chunks)"),
    "persistent_reduction": ("persistent_reduction_kernel", "persistent reduction (a whole row per program)"),
    "template": ("template_kernel", "template"),
}
_GRID_BLOCKS = {"Grid1D": ("x",), "Grid2D": ("x", "y"), "Grid3D": ("x", "y", "z")}
_MAX_GRID_YZ = 65535


# ---- the wrapper module: kernels and call() ------------------------------------------------------


@dataclass
class Kernel:
    inductor_name: str
    name: str  # the exported name
    kind: str  # pointwise | reduction | persistent_reduction | template
    source: str  # the exported @triton.jit function text
    params: list[str]  # runtime (non-constexpr) parameters, in order
    constexprs: list[str]  # constexpr parameters, given at launch
    config: dict[str, Any]  # kwargs / num_warps / num_stages it launched with
    grid_type: str
    helpers: set[str]
    what: str  # from Inductor's comment: "relu (aten.relu)"


def export(record: dict[str, Any]) -> ExportResult:
    """A capture record → the candidate module's code, or ExportError naming what is unsupported."""
    if record.get("error"):
        raise ExportError(f"capture failed: {record['error']}")
    codes = record.get("output_code") or []
    if len(codes) != 1:
        raise ExportError(f"unsupported: {len(codes)} compiled graphs (graph breaks); the exporter handles one")
    wrapper = codes[0]
    tree = ast.parse(wrapper)
    kernel_sources, call_fn = _parse_wrapper(wrapper, tree)
    if not kernel_sources:
        raise ExportError("unsupported: Inductor generated no Triton kernel for this module"
                          + _aten_calls_hint(call_fn))
    kernels = _export_kernels(kernel_sources, record)
    model = _model_parts(record["problem_source"])
    notes: list[str] = []
    body = _translate_call(call_fn, kernels, record, model, notes)
    shapes = accepted_shapes(record, model.forward_params)
    code = _assemble(record, model, kernels, body, shapes)
    ast.parse(code)  # the exporter's own output must parse
    if record.get("dynamic"):
        notes.append(f"exported from torch.compile (Inductor, mode={record.get('mode', 'default')}, dynamic shapes); "
                     f"accepts {shapes}")
    else:
        notes.append(f"exported from torch.compile (Inductor, mode={record.get('mode', 'default')}); "
                     f"kernels specialised to input shapes {record.get('input_shapes')}")
    return ExportResult(code=code, notes=notes)


def accepted_shapes(record: dict[str, Any], forward_params: list[str]) -> str:
    """Which input shapes an export accepts, in words: the captured shapes only, or (dynamic shapes) each
    input's shape with the sizes it takes as arguments named: "x (s0, 4096) where s0 (batch) is any size"."""
    dyn = record.get("dynamic")
    if not dyn:
        return f"only inputs of shape {record.get('input_shapes')} (the shapes it was captured for)"
    shapes = []
    for ph in record.get("placeholders", []):
        m = re.fullmatch(r"L\['(\w+)'\]", str(ph.get("source") or ""))
        if m and m.group(1) in forward_params and "shape" in ph:
            shapes.append(f"{m.group(1)} ({', '.join(ph.get('sym_shape') or [str(n) for n in ph['shape']])})")
    groups: dict[str, list[str]] = {}
    for k in dyn.get("kept", []):
        groups.setdefault(k["group"], [])
        if k["symbol"] not in groups[k["group"]]:
            groups[k["group"]].append(k["symbol"])
    named = ", ".join(f"{'/'.join(syms)} ({group})" for group, syms in groups.items())
    text = f"{'; '.join(shapes)} where {named} may be any size; every other size, the ranks and dtypes are fixed"
    specialised = sorted({f"{k['group']}" for k in dyn.get("specialised", [])} - set(groups))
    if specialised:
        text += f" ({', '.join(specialised)} asked for but specialised by torch.compile)"
    return text


def _parse_wrapper(wrapper: str, tree: ast.Module) -> tuple[list[tuple[str, str, str]], ast.FunctionDef]:
    """[(inductor name, kernel source, comment above it)] and the `call(self, args)` function."""
    lines = wrapper.splitlines()
    kernels: list[tuple[str, str, str]] = []
    call_fn: ast.FunctionDef | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and _is_async_compile(node.value, "triton"):
            call = node.value
            assert isinstance(call, ast.Call)
            if len(call.args) < 2 or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args[:2]):
                raise ExportError("unsupported: async_compile.triton(...) without a literal kernel source")
            kernels.append((str(call.args[0].value), str(call.args[1].value), _comment_above(lines, node.lineno)))
        elif isinstance(node, ast.Assign) and any(_is_async_compile(n, None) for n in ast.walk(node.value)):
            raise ExportError(f"unsupported: {ast.unparse(node.value)[:60]} (a non-Triton kernel)")
        elif isinstance(node, ast.ClassDef) and node.name == "Runner":
            call_fn = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "call"), None)
        elif isinstance(node, ast.FunctionDef) and node.name == "call" and call_fn is None:
            call_fn = node
    if call_fn is None:
        raise ExportError("unsupported: no call(args) function in Inductor's output")
    return kernels, call_fn


def _is_async_compile(node: ast.AST, method: str | None) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "async_compile"
            and (method is None or node.func.attr == method) and node.func.attr not in ("wait",))


def _comment_above(lines: list[str], lineno: int) -> str:
    """What Inductor says a kernel computes: its 'Topologically Sorted Source Nodes' comment."""
    for i in range(lineno - 2, max(lineno - 40, -1), -1):
        line = lines[i]
        if not line.startswith("#"):
            break
        m = re.match(r"# Topologically Sorted Source Nodes: \[(.*?)\], Original ATen: \[(.*?)\]", line)
        if m:
            return _describe(m.group(1), m.group(2))
    return ""


def _describe(nodes: str, aten: str) -> str:
    nodes = ", ".join(n.strip() for n in nodes.split(",") if n.strip())
    return f"{nodes} ({aten})" if nodes else aten


def _aten_calls_hint(call_fn: ast.FunctionDef | None) -> str:
    ops = sorted({ast.unparse(n.func) for n in ast.walk(call_fn) if isinstance(n, ast.Call)
                  and ast.unparse(n.func).startswith(("torch.ops.", "extern_kernels."))}) if call_fn else []
    return f" (it calls {', '.join(ops)})" if ops else ""


# ---- one kernel -----------------------------------------------------------------------------------


def _export_kernels(sources: list[tuple[str, str, str]], record: dict[str, Any]) -> dict[str, Kernel]:
    kernels: dict[str, Kernel] = {}
    taken: set[str] = set()
    for inductor_name, src, what in sources:
        kernel = _export_kernel(inductor_name, src, what, _launch_config(record, inductor_name), taken)
        taken.add(kernel.name)
        kernels[inductor_name] = kernel
    return kernels


def _launch_config(record: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The config a kernel launched with. Autotuning benchmark kernels share names (`triton_mm`) but
    the kernels Inductor keeps have unique names; two different configs under one name is ambiguous."""
    found = [k for k in record.get("kernels", []) if k.get("name") == name and k.get("num_warps") is not None]
    configs = {repr((k.get("kwargs"), k.get("num_warps"), k.get("num_stages"))) for k in found}
    if len(configs) > 1:
        raise ExportError(f"ambiguous launch configuration recorded for kernel {name}")
    return found[0] if found else None


def _export_kernel(inductor_name: str, src: str, what: str, config: dict[str, Any] | None,
                   taken: set[str]) -> Kernel:
    tree = ast.parse(src)
    fn: ast.FunctionDef | None = None
    local: list[ast.FunctionDef] = []  # @triton.jit functions the kernel calls: a scan's combine function
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and ast.unparse(node).startswith("triton_helpers.set_driver_to_"):
            continue
        if isinstance(node, ast.FunctionDef) and node.name == inductor_name and fn is None:
            fn = node
            continue
        if (isinstance(node, ast.FunctionDef) and fn is None and node.name.startswith("_triton_helper_fn")
                and [ast.unparse(d) for d in node.decorator_list] == ["triton.jit"]):
            local.append(node)
            continue
        raise ExportError(f"unsupported: module-level code in kernel {inductor_name}: {ast.unparse(node)[:60]}")
    if fn is None:
        raise ExportError(f"unsupported: kernel source without def {inductor_name}")
    kind, decorator = _kernel_kind(fn, inductor_name)
    params = [a.arg for a in fn.args.args if not _is_constexpr(a)]
    constexprs = [a.arg for a in fn.args.args if _is_constexpr(a)]
    if fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs:
        raise ExportError(f"unsupported: *args/**kwargs in kernel {inductor_name}")
    config = _kernel_config(kind, decorator, config, inductor_name)
    missing = [c for c in constexprs if c not in config["kwargs"]]
    if missing:
        raise ExportError(f"unsupported: no launch value for constexpr {', '.join(missing)} of kernel {inductor_name}")
    name = _unique(_readable_name(inductor_name, kind), taken)
    body, helpers = _rewrite_body(src, fn, inductor_name, name)
    body = _add_docstring(body, fn, kind, what)
    body, prelude = _local_functions(src, local, body, name, inductor_name, helpers)
    _check_free_names(body, name, helpers | {f for f, _ in prelude}, inductor_name)
    taken.update(f for f, _ in prelude)
    source = "".join(f"@triton.jit\n{text}\n\n\n" for _, text in prelude) + "@triton.jit\n" + body
    grid_type = "FixedGrid" if kind == "template" else str(config["inductor_meta"].get("grid_type", ""))
    return Kernel(inductor_name, name, kind, source, params, constexprs, config, grid_type, helpers, what)


def _local_functions(src: str, local: list[ast.FunctionDef], body: str, name: str, inductor_name: str,
                     helpers: set[str]) -> tuple[str, list[tuple[str, str]]]:
    """The kernel's own @triton.jit functions (Inductor's `_triton_helper_fn_mul0`, a scan's combine
    function), renamed after the kernel (`<kernel>_combine_mul0`) and written before it."""
    prelude: list[tuple[str, str]] = []
    for f in local:
        new = f"{name}_combine_{f.name.removeprefix('_triton_helper_fn_').strip('_') or len(prelude)}"
        text, used = _rewrite_body(src, f, f.name, new)
        helpers.update(used)
        _check_free_names(text, new, helpers, inductor_name)
        body = re.sub(rf"\b{re.escape(f.name)}\b", new, body)
        prelude = [(n, re.sub(rf"\b{re.escape(f.name)}\b", new, t)) for n, t in prelude] + [(new, text)]
    return body, prelude


def _is_constexpr(arg: ast.arg) -> bool:
    return arg.annotation is not None and ast.unparse(arg.annotation) in ("tl.constexpr", "triton.language.constexpr")


def _kernel_kind(fn: ast.FunctionDef, name: str) -> tuple[str, ast.Call | None]:
    kind, decorator = None, None
    for dec in fn.decorator_list:
        text = ast.unparse(dec.func if isinstance(dec, ast.Call) else dec)
        if text in ("triton.jit", "jit"):
            continue
        m = re.fullmatch(r"triton_heuristics\.(\w+)", text)
        if not m or m.group(1) not in _KINDS:
            raise ExportError(f"unsupported: kernel decorator @{text} on {name}")
        kind, decorator = m.group(1), dec if isinstance(dec, ast.Call) else None
    if kind is None:
        raise ExportError(f"unsupported: kernel {name} without an Inductor heuristics decorator")
    return kind, decorator


def _kernel_config(kind: str, decorator: ast.Call | None, recorded: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """kwargs (constexpr values), num_warps, num_stages and inductor_meta for one launch."""
    keywords: dict[str, Any] = {}
    for kw in decorator.keywords if decorator else []:
        if kw.arg in ("num_warps", "num_stages"):
            keywords[kw.arg] = ast.literal_eval(kw.value)
    if recorded is None:
        if kind != "template" or "num_warps" not in keywords:
            raise ExportError(f"unsupported: no launch configuration recorded for kernel {name}")
        recorded = {"kwargs": {}, "inductor_meta": {"grid_type": "FixedGrid"}}
    return {
        "kwargs": dict(recorded.get("kwargs") or {}),
        "num_warps": recorded.get("num_warps", keywords.get("num_warps")),
        "num_stages": recorded.get("num_stages", keywords.get("num_stages")),
        "inductor_meta": recorded.get("inductor_meta") or {},
    }


def _readable_name(inductor_name: str, kind: str) -> str:
    """triton_poi_fused_add_relu_0 → fused_add_relu_kernel; triton_red_… → …_reduction_kernel."""
    stem = re.sub(r"^triton_(poi|red|per|tem|)_?", "", inductor_name)
    stem = re.sub(r"_\d+$", "", stem)
    stem = re.sub(r"_+", "_", stem).strip("_") or "fused"
    return f"{stem}_{_KINDS[kind][0]}"


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken and name not in helper_file().kernel_helpers:
        return name
    i = 2
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"


def _rewrite_body(src: str, fn: ast.FunctionDef, old: str, new: str) -> tuple[str, set[str]]:
    """The def (no decorators) with Inductor's runtime names replaced by public Triton or our helpers."""
    lines = src.splitlines()
    text = "\n".join(lines[fn.lineno - 1: fn.end_lineno])
    text = re.sub(rf"\bdef {re.escape(old)}\(", f"def {new}(", text, count=1)
    used: set[str] = set()

    def helper(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in HELPER_NAMES:
            raise ExportError(f"unsupported: triton_helpers.{name} in kernel {old}")
        used.add(HELPER_NAMES[name])
        return HELPER_NAMES[name]

    def libdevice(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in LIBDEVICE_TL:
            return LIBDEVICE_TL[name]
        if name in LIBDEVICE_HELPERS:
            used.add(LIBDEVICE_HELPERS[name])
            return LIBDEVICE_HELPERS[name]
        raise ExportError(f"unsupported: libdevice.{name} in kernel {old} (no public Triton equivalent)")

    text = re.sub(r"\btriton_helpers\.(\w+)", helper, text)
    text = re.sub(r"\blibdevice\.(\w+)", libdevice, text)
    text = re.sub(r"\btl_math\.(\w+)", lambda m: f"tl.{m.group(1)}", text)  # tl_math is triton.language.math
    leftover = re.search(r"\b(triton_helpers|triton_heuristics|libdevice|tl_math|torch)\b", text)
    if leftover:
        raise ExportError(f"unsupported: {leftover.group(1)} reference left in kernel {old}")
    return text, _with_dependencies(used)


def _with_dependencies(names: set[str]) -> set[str]:
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(helper_file().kernel_helpers[name].calls)
    return out


def _add_docstring(text: str, fn: ast.FunctionDef, kind: str, what: str) -> str:
    """A one-line docstring after the signature: what the kernel computes and how it is tiled."""
    lines = text.splitlines()
    first_body = fn.body[0].lineno - fn.lineno  # index of the first body line within `text`
    indent = re.match(r"\s*", lines[first_body]).group(0)  # type: ignore[union-attr]
    doc = f"Computes {what or 'a fused group of operations'}: Inductor {_KINDS[kind][1]}."
    doc = doc.replace("\\", "\\\\").replace('"""', "'''")
    return "\n".join(lines[:first_body] + [f'{indent}"""{doc}"""'] + lines[first_body:])


def _check_free_names(text: str, name: str, helpers: set[str], old: str) -> None:
    """Every name the kernel reads is its own, Triton's, a builtin or one of our helpers."""
    fn = ast.parse(text).body[0]
    bound = {a.arg for a in fn.args.args} | {name} | helpers | _KERNEL_BUILTINS  # type: ignore[attr-defined]
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
    free = sorted({n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound)
    if free:
        raise ExportError(f"unsupported: kernel {old} reads names it does not define: {', '.join(free)}")


# ---- call() → forward body -----------------------------------------------------------------------


@dataclass
class _Model:
    """The original module class, taken apart."""

    class_name: str
    init_and_methods: list[str]  # source of __init__ and other non-forward methods, verbatim
    class_attrs: list[str]
    forward_args: str  # "self, x: torch.Tensor"
    forward_returns: str  # " -> torch.Tensor" or ""
    forward_params: list[str]
    preamble: list[str]  # imports, constants, helper functions and classes it needs
    future_imports: list[str]


_DROPPED_CALLS = ("assert_alignment", "torch.cuda.set_device", "get_raw_stream", "args.clear")
_EXTERN = {"mm": "torch.mm", "addmm": "torch.addmm", "bmm": "torch.bmm", "baddbmm": "torch.baddbmm"}


class _Translator:
    """Rewrites the statements of Inductor's `call(args)` into ModelNew.forward's body."""

    def __init__(self, kernels: dict[str, Kernel], record: dict[str, Any], model: _Model, notes: list[str]):
        self.kernels = kernels
        self.record = record
        self.model = model
        self.notes = notes
        self.out: list[str] = []
        self.inputs: dict[str, str] = {}  # call() arg name → local name in forward
        self.placeholders: dict[str, dict[str, Any]] = {}  # call() arg name → its graph input record
        self.input_sources: dict[str, str] = {}  # local name → expression reading it (self.w, x)
        self.checked: set[str] = set()
        self.device: str | None = None
        self.launched = 0
        # dynamic shapes: sizes the kernels take as arguments, read from the inputs in forward
        self.symint_args: dict[str, dict[str, Any]] = {}  # call() arg name → its graph input (a size)
        self.sizes: set[str] = set()  # size names bound in forward (s0, ks0, xnumel expressions ...)
        self.size_tuples: set[str] = set()  # names holding an input's sizes or strides
        self.renamed: dict[str, str] = {}  # triton_poi_fused_relu_0_xnumel → xnumel (used by the next launch)
        self.assigned: set[str] = set()  # every name call() assigns
        dyn = record.get("dynamic") or {}
        self.symbol_sources = {name: info.get("sources") or [] for name, info in dyn.get("symbols", {}).items()}
        self.symbol_groups = {k["symbol"]: k["group"] for k in dyn.get("kept", []) if k.get("symbol")}
        guards = [(text, _guard_check(text)) for text in dyn.get("guards", [])]
        self.guards = [g for _, g in guards if g is not None and not g.lower_bound]
        self.unchecked_guards = [text for text, g in guards if g is None]
        # `s0 >= 16`: a choice Inductor made at the captured size (a layout, a split), not a limit of the
        # code (the graph's own limits come from the module, whose other sizes the shape plan checked);
        # not enforced, so smaller sizes run, and verification runs them against the reference.
        self.lower_bounds = [g.text for _, g in guards if g is not None and g.lower_bound]

    # statements
    def run(self, fn: ast.FunctionDef) -> list[str]:
        self.assigned = {t.id for n in ast.walk(fn) if isinstance(n, ast.Assign) for t in n.targets
                         if isinstance(t, ast.Name)}
        for stmt in self._flatten(fn.body):
            self.statement(stmt)
            self.check_guards()
        if not self.launched:
            raise ExportError("unsupported: call() launches no Triton kernel")
        left = [g.text for g in self.guards] + self.unchecked_guards
        if left:
            self.notes.append("Inductor guards on the sizes not checked in forward: " + "; ".join(left))
        if self.lower_bounds:
            self.notes.append("Inductor's choices for the captured sizes, not enforced (verification runs other "
                              "sizes): " + "; ".join(self.lower_bounds))
        return self.out

    def check_guards(self) -> None:
        """Inductor's guards on the dynamic sizes (32-bit indexing, sizes it tied), as soon as their
        sizes are known: at another size the kernels would compute something else."""
        for g in self.guards:  # a size call() never reads (dynamo tied it to another): read it for the guard
            missing = g.names - self.sizes
            if missing and self.sizes and all(m not in self.assigned and self._readable(m) for m in missing):
                for m in sorted(missing):
                    self.out.append(f"{m} = {self._size_source({'source': self.symbol_sources[m][0], 'node': m})}")
                    self.sizes.add(m)
        ready = [g for g in self.guards if g.names <= self.sizes]
        for g in ready:
            sizes = ", ".join(f"{n}={n}" for n in sorted(g.names))
            self.out.append(f"expect_sizes({g.python}, {g.text!r}, {sizes})")
        self.guards = [g for g in self.guards if g not in ready]

    def _flatten(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            if isinstance(stmt, ast.With) and all(_is_device_guard(item.context_expr) for item in stmt.items):
                out.extend(self._flatten(stmt.body))
            else:
                out.append(stmt)
        return out

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name) and stmt.value.id == "args":
            self.bind_inputs(stmt)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self.call_statement(stmt.value)
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            self.assignment(stmt.targets[0].id, stmt.value)
        elif isinstance(stmt, ast.Delete):
            names = [ast.unparse(t) for t in stmt.targets if ast.unparse(t) not in self.inputs]
            if names:
                self.out.append(f"del {', '.join(names)}")
        elif isinstance(stmt, ast.Return):
            self.returns(stmt.value)
        else:
            raise ExportError(f"unsupported statement in call(): {ast.unparse(stmt)[:80]}")

    def bind_inputs(self, stmt: ast.Assign) -> None:
        target = stmt.targets[0]
        names = [ast.unparse(e) for e in target.elts] if isinstance(target, (ast.Tuple, ast.List)) else []
        placeholders = self.record.get("placeholders", [])
        if not names or len(names) != len(placeholders):
            raise ExportError(f"unsupported: call() takes {len(names)} inputs but the graph has {len(placeholders)}")
        used: set[str] = set(self.model.forward_params) | {"self", "device", "torch", "triton", "tl", "nn"}
        for arg, ph in zip(names, placeholders, strict=True):
            if "symint" in ph:  # a dynamic size dynamo passes as its own argument
                self.symint_args[arg] = ph
                continue
            expr, local = _input_expression(ph, self.model)
            if local in self.inputs.values() or (local in used and local not in self.model.forward_params):
                local = _unique(local + "_", set(self.inputs.values()) | used)
            self.inputs[arg] = local
            self.placeholders[arg] = ph
            self.input_sources[local] = expr
            used.add(local)

    def call_statement(self, call: ast.Call) -> None:
        func = ast.unparse(call.func)
        if func in _DROPPED_CALLS:
            return
        if func == "assert_size_stride":
            self.check_layout(call)
        elif func.endswith(".run") and func[:-4] in self.kernels:
            self.launch(self.kernels[func[:-4]], call)
        elif func.startswith("extern_kernels."):
            self.out.append(self.extern(func.split(".", 1)[1], call))
        else:
            raise ExportError(f"unsupported call in call(): {func}")

    def assignment(self, name: str, value: ast.expr) -> None:
        func = ast.unparse(value.func) if isinstance(value, ast.Call) else ""
        if func == "get_raw_stream":
            return
        if self.size_assignment(name, value):
            return
        if func in ("empty_strided_cuda", "empty_strided_cpu"):
            size, stride, dtype = (ast.unparse(a) for a in value.args)  # type: ignore[union-attr]
            self.out.append(f"{name} = torch.empty_strided({size}, {stride}, device={self.device_expr()}, dtype={dtype})")
        elif func.startswith("extern_kernels."):
            self.out.append(f"{name} = {self.extern(func.split('.', 1)[1], value)}")  # type: ignore[arg-type]
        elif isinstance(value, (ast.Name, ast.Call)) and (func in ("reinterpret_tensor", "") ):
            self.out.append(f"{name} = {self.expression(value)}")
        else:
            raise ExportError(f"unsupported assignment in call(): {name} = {ast.unparse(value)[:80]}")

    def size_assignment(self, name: str, value: ast.expr) -> bool:
        """Dynamic sizes: `s0 = arg0_1` (a size argument), `arg1_1_size = arg1_1.size()`, `s1 = arg1_1_size[2]`,
        `ps0 = 64*s0*s1`, `xnumel = 8*s0` become sizes read from the inputs and arithmetic on them."""
        if isinstance(value, ast.Name) and value.id in self.symint_args:
            group = self.symbol_groups.get(name)
            self.out.append(f"{name} = {self._size_source(self.symint_args[value.id])}"
                            + (f"  # {group}: any size" if group else ""))
        elif (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and not value.args
              and value.func.attr in ("size", "stride") and isinstance(value.func.value, ast.Name)
              and value.func.value.id in self.inputs):
            arg = value.func.value.id
            local = self.inputs[arg]
            helper = "input_sizes" if value.func.attr == "size" else "input_strides"
            self.out.append(f"{name} = {helper}({self.input_sources[local]}, {len(self.placeholders[arg]['shape'])})")
            self.size_tuples.add(name)
            return True
        elif (isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name) and value.value.id in self.size_tuples
              and isinstance(value.slice, ast.Constant) and isinstance(value.slice.value, int)):
            group = self.symbol_groups.get(name)
            self.out.append(f"{name} = {value.value.id}[{value.slice.value}]" + (f"  # {group}: any size" if group else ""))
        elif _is_size_expression(value, self.sizes):
            short = next((name[len(k) + 1:] for k in self.kernels if name.startswith(k + "_")), None)
            if short and short.isidentifier() and short not in self.assigned and short not in self.model.forward_params:
                self.renamed[name] = short
                self.sizes.add(short)
            self.out.append(f"{self.renamed.get(name, name)} = {self.expression(value)}")
        else:
            return False
        self.sizes.add(name)
        return True

    def _readable(self, symbol: str) -> bool:
        sources = self.symbol_sources.get(symbol) or []
        try:
            return bool(sources) and bool(self._size_source({"source": sources[0], "node": symbol}))
        except ExportError:
            return False

    def _size_source(self, ph: dict[str, Any]) -> str:
        """A size argument's dynamo source (`L['x'].size()[0]`) → how forward reads it (`input_sizes(x, 2)[0]`)."""
        source = str(ph.get("source") or "")
        m = re.fullmatch(r"(.+)\.(size|stride)\(\)\[(\d+)\]", source)
        tensor = next((a for a, p in self.placeholders.items() if m and p.get("source") == m.group(1)), None)
        if m is None or tensor is None:
            raise ExportError(f"unsupported: dynamic size {ph.get('node')} read from {source or 'an unknown source'}")
        helper = "input_sizes" if m.group(2) == "size" else "input_strides"
        local = self.inputs[tensor]
        return f"{helper}({self.input_sources[local]}, {len(self.placeholders[tensor]['shape'])})[{m.group(3)}]"

    def returns(self, value: ast.expr | None) -> None:
        elts = list(value.elts) if isinstance(value, ast.Tuple) else ([value] if value is not None else [])
        outputs = [self.expression(e) for e in elts]
        if self.record.get("output_is_tuple"):
            self.out.append(f"return ({', '.join(outputs)},)" if outputs else "return ()")
        elif len(outputs) == 1:
            self.out.append(f"return {outputs[0]}")
        else:
            raise ExportError(f"unsupported: the graph returns {len(outputs)} tensors for a single module output")

    # pieces
    def device_expr(self) -> str:
        if self.device is None:
            raise ExportError("unsupported: a buffer is allocated before any input is known")
        return self.device

    def check_layout(self, call: ast.Call) -> None:
        """Graph inputs: checked (shape, dtype) and made to match the strides the kernels assume.
        Outputs of library calls: asserted, since the kernels after them index with fixed strides."""
        target = ast.unparse(call.args[0])
        size, stride = ast.unparse(call.args[1]), ast.unparse(call.args[2])
        if target in self.inputs:
            local = self.inputs[target]
            dtype = f"torch.{self.placeholders[target].get('dtype', 'float32')}"
            dynamic = f", dynamic={size!r}" if not _is_constant(call.args[1]) else ""
            self.out.append(f"{local} = expect_input({self.input_sources[local]}, {size}, {stride}, {dtype}{dynamic})")
            self.checked.add(target)
            if self.device is None:
                self.device = "device" if "device" not in self.model.forward_params else "inputs_device"
                self.out.append(f"{self.device} = {local}.device")
        else:
            self.out.append(f"assert {target}.shape == {size} and same_strides({target}, {stride}), "
                            f"\"{target} does not have the layout the kernels after it index with\"")

    def launch(self, kernel: Kernel, call: ast.Call) -> None:
        self._require_inputs_checked(call)
        args = [self.expression(a) for a in call.args]
        if any(kw.arg != "stream" for kw in call.keywords):
            raise ExportError(f"unsupported: keyword arguments to {kernel.inductor_name}.run")
        extra = kernel.config["inductor_meta"].get("extra_launcher_args") or []
        if kernel.grid_type == "FixedGrid":
            grid_args = args[len(args) - len(extra):] if extra else []
            args = args[: len(args) - len(extra)] if extra else args
            if len(grid_args) != 3:
                raise ExportError(f"unsupported: template kernel {kernel.inductor_name} without a fixed grid")
            grid = self._fixed_grid(grid_args, call.args[len(call.args) - 3:])
        else:
            grid = self.grid(kernel, dict(zip(kernel.params, args, strict=False)))
        if len(args) != len(kernel.params):
            raise ExportError(f"unsupported: {kernel.inductor_name}.run passes {len(args)} arguments "
                              f"for {len(kernel.params)} parameters")
        launch_kwargs = [f"{k}={kernel.config['kwargs'][k]!r}" for k in kernel.constexprs]
        launch_kwargs += [f"num_warps={kernel.config['num_warps']}", f"num_stages={kernel.config['num_stages']}"]
        if kernel.what:
            self.out.append(f"# {kernel.what}")
        self.out.append(f"{kernel.name}[{grid}]({', '.join(args + launch_kwargs)})")
        self.launched += 1

    def grid(self, kernel: Kernel, bound: dict[str, str]) -> str:
        if kernel.grid_type == "Grid2DWithYZOverflow":
            return self._grid_yz_overflow(kernel, bound)
        axes = _GRID_BLOCKS.get(kernel.grid_type)
        if axes is None:
            raise ExportError(f"unsupported: grid type {kernel.grid_type or '?'} of kernel {kernel.inductor_name}")
        dims: list[str] = []
        for axis in axes:
            numel = self._numel(kernel, bound, axis)
            block = kernel.config["kwargs"].get(f"{axis.upper()}BLOCK")
            if re.fullmatch(r"\d+", numel):
                programs = -(-int(numel) // int(block)) if block else int(numel)
                if axis != "x" and programs > _MAX_GRID_YZ:
                    raise ExportError(f"unsupported: {programs} programs on grid axis {axis} of {kernel.inductor_name}")
            dims.append(f"triton.cdiv({numel}, {block})" if block and block != 1 else numel)
        return f"({', '.join(dims)},)"

    def _numel(self, kernel: Kernel, bound: dict[str, str], axis: str) -> str:
        """A kernel's x/y/z numel as launched: a number, or (dynamic shapes) a size computed in forward."""
        numel = bound.get(f"{axis}numel")
        if numel is None:
            raise ExportError(f"unsupported: no {axis}numel argument to {kernel.inductor_name}")
        if not re.fullmatch(r"\d+", numel) and not _is_size_expression(ast.parse(numel, mode="eval").body, self.sizes):
            raise ExportError(f"unsupported: {axis}numel of {kernel.inductor_name} is {numel}, not a size")
        return numel

    def _grid_yz_overflow(self, kernel: Kernel, bound: dict[str, str]) -> str:
        """Inductor's 2-D grid whose y axis spills into z past 65535 programs (the kernel folds
        program_id(2) back into y): with the captured sizes, three numbers."""
        sizes = []
        numels = [self._numel(kernel, bound, axis) for axis in ("x", "y")]
        blocks = [int(kernel.config["kwargs"].get(f"{axis.upper()}BLOCK") or 1) for axis in ("x", "y")]
        if not all(re.fullmatch(r"\d+", n) for n in numels):  # dynamic: the same arithmetic, in forward
            programs = [n if b == 1 else f"triton.cdiv({n}, {b})" for n, b in zip(numels, blocks, strict=True)]
            return f"grid_yz_overflow({programs[0]}, {programs[1]})"
        for numel, block in zip(numels, blocks, strict=True):
            sizes.append(-(-int(numel) // block))
        x, y_raw = sizes
        y_div = -(-y_raw // _MAX_GRID_YZ)
        y = 0 if y_div == 0 else -(-y_raw // y_div)
        return f"({x}, {y}, {y_div})"

    def _fixed_grid(self, values: list[str], nodes: list[ast.expr]) -> str:
        """A template kernel's grid as call() passes it: numbers, or arithmetic on the dynamic sizes."""
        for v, node in zip(values, nodes, strict=True):
            if not re.fullmatch(r"\d+", v) and not _is_size_expression(node, self.sizes):
                raise ExportError(f"unsupported: template grid {values} is neither constant nor arithmetic on sizes")
        return f"({', '.join(values)})"

    def extern(self, op: str, call: ast.Call) -> str:
        """Inductor's library calls (cuBLAS, cuDNN) as the public torch functions they wrap."""
        self._require_inputs_checked(call)
        args = [self.expression(a) for a in call.args]
        kwargs = {kw.arg: self.expression(kw.value) for kw in call.keywords}
        if op in _EXTERN:
            self.notes.append(TORCH_CALL_NOTE + op)
            parts = args + [f"{k}={v}" for k, v in kwargs.items()]
            return f"{_EXTERN[op]}({', '.join(parts)})"
        if op == "convolution":
            return self._convolution(args, kwargs)
        raise ExportError(f"unsupported: extern_kernels.{op}")

    def _convolution(self, args: list[str], kw: dict[str, str]) -> str:
        """aten.convolution as the public functional it is: conv{1,2,3}d, or conv_transpose{1,2,3}d when
        `transposed` (same weight layout as the module's; output_padding passed on)."""
        transposed = kw.get("transposed", "False")
        if len(args) == 3 and "bias" not in kw:  # bias passed by position
            kw["bias"] = args.pop()
        if len(args) != 2 or transposed not in ("False", "True") or not all(k in kw for k in ("stride", "padding",
                                                                                             "dilation", "groups")):
            raise ExportError("unsupported: extern_kernels.convolution with unexpected arguments")
        try:
            dims = len(ast.literal_eval(kw["stride"]))
        except (ValueError, SyntaxError, TypeError):
            dims = 0
        if dims not in (1, 2, 3):
            raise ExportError(f"unsupported: extern_kernels.convolution with stride {kw.get('stride')}")
        bias = kw.get("bias", "None")
        if transposed == "True":
            self.notes.append(TORCH_CALL_NOTE + f"conv_transpose{dims}d")
            return (f"torch.nn.functional.conv_transpose{dims}d({args[0]}, {args[1]}, {bias}, stride={kw['stride']}, "
                    f"padding={kw['padding']}, output_padding={kw.get('output_padding', '0')}, "
                    f"groups={kw['groups']}, dilation={kw['dilation']})")
        self.notes.append(TORCH_CALL_NOTE + f"conv{dims}d")
        return (f"torch.nn.functional.conv{dims}d({args[0]}, {args[1]}, {bias}, "
                f"stride={kw['stride']}, padding={kw['padding']}, dilation={kw['dilation']}, groups={kw['groups']})")

    def expression(self, node: ast.expr) -> str:
        """An argument expression with input names mapped and reinterpret_tensor spelled publicly."""
        translator = self

        class Rewrite(ast.NodeTransformer):
            def visit_Name(self, n: ast.Name) -> ast.AST:
                if n.id in translator.renamed:
                    return ast.copy_location(ast.Name(id=translator.renamed[n.id], ctx=n.ctx), n)
                if n.id in translator.inputs:
                    return ast.copy_location(ast.Name(id=translator.inputs[n.id], ctx=n.ctx), n)
                if n.id in ("args", "stream0") or n.id.startswith(("empty_strided", "extern_kernels", "aten")):
                    raise ExportError(f"unsupported name in call(): {n.id}")
                return n

            def visit_Call(self, n: ast.Call) -> ast.AST:
                self.generic_visit(n)
                func = ast.unparse(n.func)
                if func == "reinterpret_tensor":
                    return ast.copy_location(ast.Call(func=ast.Name(id="reinterpret", ctx=ast.Load()), args=n.args,
                                                      keywords=n.keywords), n)
                raise ExportError(f"unsupported call in call(): {func}")

            def visit_Attribute(self, n: ast.Attribute) -> ast.AST:
                raise ExportError(f"unsupported expression in call(): {ast.unparse(n)}")

            def visit_Subscript(self, n: ast.Subscript) -> ast.AST:
                raise ExportError(f"unsupported expression in call(): {ast.unparse(n)}")

        return ast.unparse(Rewrite().visit(ast.parse(ast.unparse(node), mode="eval").body))

    def _require_inputs_checked(self, call: ast.Call) -> None:
        for n in ast.walk(call):
            if isinstance(n, ast.Name) and n.id in self.inputs and n.id not in self.checked:
                raise ExportError(f"unsupported: input {n.id} used without a size/stride assertion")


def _is_device_guard(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.cuda._DeviceGuard"


def _is_constant(node: ast.expr) -> bool:
    """A literal (tuple of) integer(s): a static size."""
    return all(isinstance(n, (ast.Constant, ast.Tuple, ast.Load, ast.UnaryOp, ast.USub)) for n in ast.walk(node))


_SIZE_CALLS = ("max", "min")
_SIZE_NODES = (ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Call, ast.Load, ast.operator, ast.unaryop)


def _is_size_expression(node: ast.expr, sizes: set[str]) -> bool:
    """Integer arithmetic on known sizes (Inductor's printed sympy: +, -, *, //, %, max, min)."""
    for n in ast.walk(node):
        if not isinstance(n, _SIZE_NODES):
            return False
        if isinstance(n, ast.Name) and n.id not in sizes and n.id not in _SIZE_CALLS:
            return False
        if isinstance(n, ast.Call) and (not isinstance(n.func, ast.Name) or n.func.id not in _SIZE_CALLS or n.keywords):
            return False
        if isinstance(n, ast.Constant) and (not isinstance(n.value, int) or isinstance(n.value, bool)):
            return False
    return True


@dataclass(frozen=True)
class _Guard:
    text: str  # as Inductor/dynamo printed it: "4096*s0 <= 2147483647"
    python: str  # the same condition in Python
    names: frozenset[str]
    lower_bound: bool  # one size at least a number: "s0 >= 16"


_SYMPY_CALLS = {"Eq": "==", "Ne": "!=", "Mod": "%", "PythonMod": "%", "FloorDiv": "//"}


def _guard_check(text: str) -> _Guard | None:
    """A guard on sizes as a Python condition, or None when it uses something other than integer
    arithmetic and comparisons (it is then named in the candidate's notes, not checked)."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None

    class Rewrite(ast.NodeTransformer):
        def visit_Call(self, n: ast.Call) -> ast.AST:
            self.generic_visit(n)
            name = n.func.id if isinstance(n.func, ast.Name) else ""
            if name in ("Max", "Min"):
                return ast.Call(func=ast.Name(id=name.lower(), ctx=ast.Load()), args=n.args, keywords=[])
            if name not in _SYMPY_CALLS or len(n.args) != 2:
                raise ValueError(name)
            op = _SYMPY_CALLS[name]
            if op in ("==", "!="):
                return ast.Compare(left=n.args[0], ops=[ast.Eq() if op == "==" else ast.NotEq()], comparators=[n.args[1]])
            return ast.BinOp(left=n.args[0], op=ast.Mod() if op == "%" else ast.FloorDiv(), right=n.args[1])

    try:
        tree = Rewrite().visit(tree)
    except ValueError:
        return None
    names = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in _SIZE_CALLS)
    allowed = (*_SIZE_NODES, ast.Compare, ast.cmpop, ast.BoolOp, ast.boolop)
    if not names or not all(isinstance(n, allowed) for n in ast.walk(tree)):
        return None
    return _Guard(text, ast.unparse(tree), names, _is_lower_bound(tree))


def _is_lower_bound(tree: ast.expr) -> bool:
    if not isinstance(tree, ast.Compare) or len(tree.ops) != 1:
        return False
    left, op, right = tree.left, tree.ops[0], tree.comparators[0]
    if isinstance(left, ast.Name) and isinstance(right, ast.Constant):
        return isinstance(op, (ast.GtE, ast.Gt))
    if isinstance(left, ast.Constant) and isinstance(right, ast.Name):
        return isinstance(op, (ast.LtE, ast.Lt))
    return False


_SOURCE_STEP = re.compile(r"\.(?:_modules|_parameters|_buffers)\['([^']+)'\]|\.([A-Za-z_]\w*)")


def _input_expression(ph: dict[str, Any], model: _Model) -> tuple[str, str]:
    """A graph input's dynamo source → (expression in forward, local variable name)."""
    source = str(ph.get("source") or "")
    if "shape" not in ph:
        raise ExportError(f"unsupported: non-tensor graph input {source or ph.get('node')} (dynamic shapes)")
    m = re.fullmatch(r"L\['(\w+)'\]", source)
    if m:
        if m.group(1) not in model.forward_params:
            raise ExportError(f"unsupported: graph input {source} is not a forward parameter")
        return m.group(1), m.group(1)
    if not source.startswith("L['self']"):
        raise ExportError(f"unsupported: graph input source {source!r}")
    rest, expr, parts = source[len("L['self']"):], "self", []
    pos = 0
    while pos < len(rest):
        step = _SOURCE_STEP.match(rest, pos)
        if step is None:
            raise ExportError(f"unsupported: graph input source {source!r}")
        attr = step.group(1) or step.group(2)
        expr = f"{expr}.{attr}" if attr.isidentifier() else f'getattr({expr}, "{attr}")'
        parts.append(attr)
        pos = step.end()
    if not parts:
        raise ExportError(f"unsupported: graph input source {source!r}")
    local = re.sub(r"\W", "_", "_".join(parts))
    return expr, local if local.isidentifier() else f"p_{local}"


# ---- the original module -------------------------------------------------------------------------


def _model_parts(source: str) -> _Model:
    """The original class taken apart, plus the module-level code it needs (not get_inputs etc.)."""
    tree = ast.parse(source)
    cls = _model_class(tree)
    lines = source.splitlines()

    def text(node: ast.AST) -> str:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])  # type: ignore[attr-defined]
        return "\n".join(lines[start - 1: node.end_lineno])  # type: ignore[attr-defined]

    methods, attrs, forward = [], [], None
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "forward":
            forward = item
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            methods.append(re.sub(rf"\b{cls.name}\b", "ModelNew", _dedent(text(item))))
        elif isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant) and isinstance(item.value.value, str):
            continue  # the original docstring; ModelNew gets its own
        else:
            attrs.append(_dedent(text(item)))
    if forward is None:
        raise ExportError(f"unsupported: {cls.name} has no forward method")
    if forward.args.vararg or forward.args.kwarg or forward.args.kwonlyargs:
        raise ExportError("unsupported: forward takes *args, **kwargs or keyword-only arguments")
    preamble, future = [], []
    for node in tree.body:
        if node is cls or _is_alias_of(node, cls.name) or _is_main_guard(node):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            future.append(text(node))
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.ClassDef)):
            preamble.append(text(node))
        elif isinstance(node, ast.FunctionDef) and node.name not in ("get_inputs", "get_init_inputs"):
            preamble.append(text(node))
    returns = f" -> {ast.unparse(forward.returns)}" if forward.returns else ""
    return _Model(cls.name, methods, attrs, ast.unparse(forward.args), returns,
                  [a.arg for a in forward.args.posonlyargs + forward.args.args][1:], preamble, future)


def _model_class(tree: ast.Module) -> ast.ClassDef:
    """`Model = <Name>` if the source says so, else `Model`, else the last nn.Module class."""
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and ast.unparse(node.targets[0]) == "Model"
                and isinstance(node.value, ast.Name) and node.value.id in classes):
            return classes[node.value.id]
    if "Model" in classes:
        return classes["Model"]
    modules = [c for c in classes.values() if any(ast.unparse(b).split(".")[-1] == "Module" for b in c.bases)]
    if not modules:
        raise ExportError("unsupported: no nn.Module class in the problem source")
    return modules[-1]


def _is_alias_of(node: ast.stmt, name: str) -> bool:
    return (isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id == name
            and any(ast.unparse(t) == "Model" for t in node.targets))


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


def _dedent(text: str) -> str:
    lines = text.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines)


def _translate_call(fn: ast.FunctionDef, kernels: dict[str, Kernel], record: dict[str, Any], model: _Model,
                    notes: list[str]) -> list[str]:
    body = _Translator(kernels, record, model, notes).run(fn)
    seen: set[str] = set()
    for i, note in enumerate(list(notes)):  # one note per library op
        if note in seen:
            notes[i] = ""
        seen.add(note)
    notes[:] = [n for n in notes if n]
    return body


# ---- the candidate module ------------------------------------------------------------------------


def _assemble(record: dict[str, Any], model: _Model, kernels: dict[str, Kernel], body: list[str],
              shapes: str) -> str:
    mode = record.get("mode", "default")
    versions = record.get("versions") or {}
    made = (f"Inductor generated these kernels on {record.get('device', 'a GPU')} (torch {versions.get('torch', '?')}, "
            f"triton {versions.get('triton', '?')}) for inputs of shape {record.get('input_shapes')}")
    if record.get("dynamic"):
        accepts = ("with dynamic shapes: the kernels take the varying sizes as arguments, read from the inputs in\n"
                   f"forward. Accepts: {shapes} (forward checks them).\n")
    else:
        accepts = "; they are\nspecialised to those shapes and dtypes (forward checks them).\n"
    header = (
        f'"""{model.class_name} as Triton kernels exported from torch.compile (Inductor, mode={mode}'
        f'{", dynamic shapes" if record.get("dynamic") else ""}).\n\n'
        + made + (" " if record.get("dynamic") else "") + accepts +
        "Block sizes, num_warps and num_stages are the ones Inductor's autotuner chose; its runtime helpers are\n"
        "rewritten with public Triton below.\n"
        '"""\n'
    )
    imports = ["import torch", "import torch.nn as nn", "import triton", "import triton.language as tl"]
    preamble = [p for p in model.preamble if p.strip() not in imports]
    helpers = set().union(*(k.helpers for k in kernels.values())) if kernels else set()
    helper_text = "\n\n\n".join(helper_file().kernel_helpers[name].text for name in _helper_order(helpers))
    parts = [header.rstrip(), *model.future_imports, "\n".join(imports)]
    if preamble:
        parts.append(_join_preamble(preamble))
    if helper_text:
        parts.append("# ---- Inductor's runtime helpers, in public Triton ----\n\n\n" + helper_text)
    parts.append("# ---- kernels ----\n\n\n" + "\n\n\n".join(k.source for k in kernels.values()))
    parts.append(helper_file().forward_helpers)
    used = [name for name, text in helper_file().forward_on_demand.items()
            if any(re.search(rf"\b{name}\(", line) for line in body)]
    parts += [helper_file().forward_on_demand[name] for name in used]
    parts.append(_model_class_text(model, body))
    return "\n\n\n".join(parts) + "\n"


def _join_preamble(blocks: list[str]) -> str:
    """Imports and constants one per line; a blank-line pair around functions and classes."""
    out, out_simple = "", True
    for block in blocks:
        simple = not block.lstrip().startswith(("def ", "class ", "@", "async def "))
        if out:
            out += "\n" if simple and out_simple else "\n\n\n"
        out += block
        out_simple = simple
    return out


def _helper_order(names: set[str]) -> list[str]:
    """Definition order: a helper after the helpers it calls (Triton resolves them at compile time,
    but readers read top to bottom)."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dep in helper_file().kernel_helpers[name].calls:
            visit(dep)
        ordered.append(name)

    for name in sorted(names):
        visit(name)
    return ordered


def _model_class_text(model: _Model, body: list[str]) -> str:
    lines = ["class ModelNew(nn.Module):",
             f'    """Drop-in replacement for {model.class_name}: same constructor and parameters; forward '
             'runs the exported kernels."""', ""]
    for attr in model.class_attrs:
        lines += _indent(attr) + [""]
    for method in model.init_and_methods:
        lines += _indent(method) + [""]
    lines.append(f"    def forward({model.forward_args}){model.forward_returns}:")
    lines += ["        " + line for line in body]
    return "\n".join(lines)


def _indent(text: str) -> list[str]:
    return [("    " + line) if line.strip() else "" for line in text.splitlines()]
