"""Static checks on candidate code, before it runs (DESIGN.md, verification contract).

`scan(code, strict)` parses the candidate with `ast` (it never executes it) and returns `Finding`s.
A fatal finding rejects the candidate as `cheat`. The rules look for what a kernel has no business
doing: computing with torch instead of Triton, hiding a torch fallback behind `try/except`, patching
timers, switching CUDA streams, spawning threads or processes, touching files or the network,
reading other objects' memory, reusing the reference module, caching outputs between calls, and
building code or names at run time to get past these rules.

Static analysis is one layer. It tracks simple aliases (`mm = torch.matmul`, `from torch import
matmul as mm`, `getattr(torch, "matmul")`) but not data flow through containers; the runtime layers
(guards.TorchOpRecorder, sandbox audit hooks, OS isolation) catch what it misses. It must not flag
the code our own generators emit: `@triton.jit` kernels plus a wrapper that allocates with
`torch.empty*`, reads strides and launches `kernel[grid](...)`.

Rules: torch-fallback, try-fallback, timer-patch, stream, threads, signals, file-access, network,
introspection, reference-inherit, caching, private-api, dynamic-code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..report import Finding

# ---- vocabularies -------------------------------------------------------------------------------

# torch.<name> functions that allocate, describe or re-view tensors: not computation.
TORCH_ALLOWED = frozenset(
    """
    empty empty_like empty_strided zeros zeros_like ones ones_like full full_like arange tensor as_tensor
    as_strided from_numpy device dtype Size is_tensor is_floating_point is_complex numel no_grad
    inference_mode enable_grad set_grad_enabled is_grad_enabled get_default_dtype finfo iinfo
    promote_types result_type broadcast_shapes manual_seed Generator randn rand randint randn_like
    rand_like randint_like randperm view_as_real view_as_complex reshape permute transpose t flatten
    unflatten squeeze unsqueeze narrow select split chunk unbind broadcast_to movedim swapaxes swapdims
    diagonal detach clone is_inference_mode_enabled typename get_device is_nonzero memory_format
    strided contiguous_format channels_last empty_permuted
    """.split()
)
# torch.cuda.<name> that create or switch streams (rule `stream`).
CUDA_STREAM_NAMES = frozenset(
    "Stream stream set_stream ExternalStream StreamContext graph CUDAGraph graphs make_graphed_callables".split()
)
# Tensor methods (and torch.* / F.* leaf names) that compute. Method receivers are not typed, so
# this is a deny list; allocation/layout methods (view, contiguous, stride, ...) are absent.
COMPUTE_NAMES = frozenset(
    """
    matmul mm bmm addmm addbmm baddbmm addmv mv dot vdot einsum tensordot linear bilinear conv1d conv2d
    conv3d conv_transpose1d conv_transpose2d conv_transpose3d sum mean prod std var norm amax amin max
    min argmax argmin cumsum cumprod logsumexp softmax log_softmax exp exp2 expm1 log log2 log10 log1p
    sqrt rsqrt abs neg reciprocal sin cos tan tanh sinh cosh asin acos atan atan2 sigmoid relu relu6
    gelu silu mish elu selu celu leaky_relu hardtanh hardswish hardsigmoid softplus softsign
    logsigmoid erf erfc erfinv pow square add sub subtract mul multiply div divide true_divide
    floor_divide fmod remainder clamp clip clamp_min clamp_max where masked_fill lerp addcmul addcdiv
    round floor ceil trunc frac sign sort topk kthvalue median mode gather scatter scatter_add
    scatter_reduce index_select index_add index_copy index_put take take_along_dim cat concat
    concatenate stack hstack vstack layer_norm group_norm batch_norm instance_norm rms_norm
    normalize dropout embedding max_pool1d max_pool2d max_pool3d avg_pool1d avg_pool2d avg_pool3d
    adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool2d interpolate
    upsample pad cross_entropy nll_loss mse_loss l1_loss smooth_l1_loss kl_div binary_cross_entropy
    cosine_similarity pairwise_distance cdist triu tril outer ger kron cross trace diag flip roll
    repeat repeat_interleave tile all any eq ne lt le gt ge maximum minimum fmax fmin logical_and
    logical_or logical_not logical_xor bitwise_and bitwise_or bitwise_xor bitwise_not nan_to_num
    isnan isinf isfinite allclose equal count_nonzero nonzero unique sum_to_size scaled_dot_product_attention
    multi_head_attention_forward glu prelu rrelu hardshrink softshrink tanhshrink threshold
    """.split()
)
# In-place spellings (`x.add_(y)`) count too, except these allocation-style fills.
ALLOWED_INPLACE = frozenset({"fill_", "zero_", "copy_", "normal_", "uniform_", "resize_", "requires_grad_"})
# nn classes that hold data rather than compute.
NN_DATA_CLASSES = frozenset({"Parameter", "ParameterList", "ParameterDict", "Buffer", "Identity"})

THREAD_MODULES = ("threading", "_thread", "multiprocessing", "concurrent", "subprocess", "pty", "torch.multiprocessing")
NETWORK_MODULES = (
    "socket", "_socket", "ssl", "urllib", "http", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
    "telnetlib", "xmlrpc", "websocket", "websockets", "paramiko", "torch.distributed", "asyncio",
)
FILE_MODULES = ("shutil", "pathlib", "tempfile", "glob", "fileinput", "sqlite3", "mmap", "dbm", "shelve")
INTROSPECTION_MODULES = ("gc", "inspect", "ctypes", "_ctypes", "cffi", "objgraph", "tracemalloc", "tritonize")
DYNAMIC_MODULES = ("importlib", "pickle", "marshal", "dill", "cloudpickle", "runpy", "code", "codeop", "types")
PATCH_MODULES = ("builtins", "unittest.mock", "mock")
SIGNAL_MODULES = ("signal",)
PRIVATE_PREFIXES = ("torch._", "triton._")

OS_THREADS = frozenset(
    "fork forkpty system popen spawnl spawnle spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe execl execle "
    "execlp execlpe execv execve execvp execvpe posix_spawn posix_spawnp startfile".split()
)
OS_SIGNALS = frozenset({"kill", "killpg", "tgkill", "pidfd_open"})
OS_FILES = frozenset(
    "open remove unlink rename renames replace rmdir removedirs mkdir makedirs truncate ftruncate chmod chown "
    "lchown link symlink listdir scandir walk fwalk write mkfifo mknod utime chdir chroot setxattr "
    "removexattr memfd_create".split()
)
FILE_CALLS = frozenset(
    {"open", "io.open", "io.FileIO", "torch.save", "torch.load", "numpy.save", "numpy.savez", "numpy.load",
     "numpy.fromfile", "numpy.savetxt", "numpy.loadtxt", "numpy.memmap"}
)
TIMER_NAMES = frozenset(
    {"time.perf_counter", "time.time", "time.monotonic", "time.process_time", "time.perf_counter_ns",
     "time.time_ns", "time.monotonic_ns", "torch.cuda.Event", "torch.cuda.synchronize", "torch.cuda.Event.elapsed_time",
     "triton.testing.do_bench", "triton.testing.do_bench_cudagraph"}
)
# Attributes that lead from a function or traceback to other frames' variables or globals.
INTROSPECTIVE_ATTRS = frozenset(
    {"__globals__", "f_back", "f_locals", "f_globals", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
     "__subclasses__", "__closure__", "__code__", "__builtins__", "f_code"}
)
DISPATCH_TAMPER = ("_python_dispatch", "_disable_current_modes", "_DisableTorchDispatch", "_unset_dispatch_mode",
                   "_pop_mode", "DisableTorchFunction", "_pop_torch_function_stack", "_push_on_torch_function_stack")
SYS_INTROSPECTION = frozenset({"sys._getframe", "sys.modules", "sys.settrace", "sys.setprofile", "sys._current_frames",
                               "sys.addaudithook", "sys.exc_info", "sys.last_traceback", "sys.meta_path"})
MUTATING_METHODS = frozenset({"append", "extend", "insert", "update", "setdefault", "add", "__setitem__", "pop",
                              "popitem", "put", "push", "appendleft"})
CACHE_DECORATORS = frozenset({"functools.lru_cache", "functools.cache", "functools.cached_property", "lru_cache", "cache"})
# Attribute reads on a tensor that give Python metadata, not tensors.
TENSOR_META_ATTRS = frozenset({"shape", "dtype", "device", "ndim", "is_cuda", "layout", "requires_grad", "names",
                               "is_contiguous", "itemsize", "nbytes"})
# Tensor methods that return a (re)view or allocation of a tensor: their results stay tensors.
TENSOR_VIEW_METHODS = frozenset(
    "view reshape permute transpose t contiguous expand expand_as flatten unflatten unsqueeze squeeze narrow "
    "select to float half bfloat16 double int long bool cuda cpu clone detach view_as as_strided new_empty "
    "new_zeros new_ones new_full new_empty_strided empty_like movedim".split()
)
# Method names whose receivers are tensors (used to infer which helper parameters are tensors).
TENSOR_EVIDENCE_METHODS = frozenset({"stride", "data_ptr", "numel", "contiguous", "is_contiguous", "element_size",
                                     "dim", "size", "view", "reshape", "permute"})


@dataclass
class _Ctx:
    """What one pass over the module learned: import aliases and the ModelNew class."""

    aliases: dict[str, str] = field(default_factory=dict)  # local name -> dotted target ("torch.matmul")
    self_attrs: dict[str, str] = field(default_factory=dict)  # self.X -> dotted target or "nn:<Class>"
    tensor_attrs: set[str] = field(default_factory=set)  # self.X holding parameters/buffers
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)  # module level
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)  # ModelNew's
    module_names: set[str] = field(default_factory=set)  # names bound at module level
    model_new: ast.ClassDef | None = None


class _Findings:
    def __init__(self) -> None:
        self.items: list[Finding] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, rule: str, message: str, node: ast.AST | None, fatal: bool = True) -> None:
        if (rule, message) in self._seen:
            return
        self._seen.add((rule, message))
        self.items.append(Finding(rule=rule, message=message, fatal=fatal, line=getattr(node, "lineno", None)))


def scan(code: str, strict: bool = False) -> list[Finding]:
    """Findings for one candidate module; fatal ones reject it. Unparsable code gives none (the
    worker reports it as `syntax` when it compiles the module)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    _drop_main_guard(tree)
    ctx = _collect(tree)
    out = _Findings()
    _scan_module_wide(tree, ctx, out)
    _scan_model_new(tree, ctx, out, strict)
    return out.items


# ---- collection ---------------------------------------------------------------------------------


def _drop_main_guard(tree: ast.Module) -> None:
    """`if __name__ == "__main__":` blocks never run in the worker; ignore them."""

    def is_main_guard(node: ast.stmt) -> bool:
        if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
            return False
        parts = [node.test.left, *node.test.comparators]
        return any(isinstance(p, ast.Name) and p.id == "__name__" for p in parts) and any(
            isinstance(p, ast.Constant) and p.value == "__main__" for p in parts
        )

    tree.body = [n for n in tree.body if not is_main_guard(n)]


def _collect(tree: ast.Module) -> _Ctx:
    ctx = _Ctx()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    ctx.aliases[a.asname] = a.name
                else:
                    root = a.name.split(".")[0]
                    ctx.aliases.setdefault(root, root)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                ctx.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ctx.functions[node.name] = node
            ctx.module_names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            ctx.module_names.add(node.name)
            if node.name == "ModelNew":
                ctx.model_new = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        ctx.module_names.add(n.id)
    # Simple aliases anywhere (`mm = torch.matmul`, `mm = functools.partial(torch.matmul)`); two
    # passes so an alias of an alias resolves.
    for _ in range(2):
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = _resolve(_unpartial(node.value, ctx), ctx)
                t = node.targets[0]
                if target and isinstance(t, ast.Name):
                    ctx.aliases[t.id] = target
                elif target and _is_self_attr(t):
                    ctx.self_attrs[t.attr] = target
    if ctx.model_new is not None:
        for item in ctx.model_new.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                ctx.methods[item.name] = item
        _collect_self_attrs(ctx)
    return ctx


def _collect_self_attrs(ctx: _Ctx) -> None:
    """Which `self.X` hold nn submodules (calling them is a torch fallback) or tensors."""
    assert ctx.model_new is not None
    for node in ast.walk(ctx.model_new):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and _is_self_attr(node.targets[0]):
            name = node.targets[0].attr
            value = node.value
            if isinstance(value, ast.Call):
                q = _resolve(value.func, ctx) or ""
                leaf = q.rsplit(".", 1)[-1]
                if q.startswith("torch.nn.") and leaf[:1].isupper() and leaf not in NN_DATA_CLASSES:
                    ctx.self_attrs[name] = f"nn:{leaf}"
                elif leaf in NN_DATA_CLASSES or q.startswith("torch."):
                    ctx.tensor_attrs.add(name)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("register_buffer", "register_parameter") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    ctx.tensor_attrs.add(first.value)


def _is_self_attr(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"


def _unpartial(node: ast.AST, ctx: _Ctx) -> ast.AST:
    if isinstance(node, ast.Call) and _resolve(node.func, ctx) in ("functools.partial", "partial") and node.args:
        return node.args[0]
    return node


def _resolve(node: ast.AST, ctx: _Ctx) -> str | None:
    """The dotted name an expression refers to (`F.relu` -> "torch.nn.functional.relu"), or None."""
    if isinstance(node, ast.Name):
        return ctx.aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        if _is_self_attr(node) and node.attr in ctx.self_attrs:
            target = ctx.self_attrs[node.attr]
            return None if target.startswith("nn:") else target
        base = _resolve(node.value, ctx)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Call) and _resolve(node.func, ctx) == "getattr" and len(node.args) >= 2:
        name = node.args[1]
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            base = _resolve(node.args[0], ctx)
            return f"{base}.{name.value}" if base else None
    return None


def _under(q: str | None, prefixes: Iterable[str]) -> str | None:
    if not q:
        return None
    for p in prefixes:
        if q == p or q.startswith(p + "."):
            return p
    return None


# ---- module-wide rules --------------------------------------------------------------------------


def _scan_module_wide(tree: ast.Module, ctx: _Ctx, out: _Findings) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            _check_import(node, out)
        elif isinstance(node, ast.Call):
            _check_call(node, ctx, out)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            _check_patch(node, ctx, out)
        if isinstance(node, ast.Attribute):
            _check_attribute(node, ctx, out)
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__loader__", "__spec__"):
            out.add("introspection", f"reads {node.id}", node)
        elif isinstance(node, ast.Subscript):
            q = _resolve(node.value, ctx)
            if q in ("sys.modules", "os.environ") and isinstance(node.ctx, ast.Store):
                out.add("timer-patch", f"writes {q}[...]", node)
        elif isinstance(node, ast.ClassDef) and node.name == "ModelNew":
            _check_bases(node, ctx, out)
        elif isinstance(node, ast.Try):
            _check_try(node, ctx, out)
    _check_reference_use(tree, ctx, out)


def _check_import(node: ast.Import | ast.ImportFrom, out: _Findings) -> None:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            out.add("reference-inherit", "relative import (candidates must be self-contained)", node)
            return
        mod = node.module or ""
        names = [mod] + [f"{mod}.{a.name}" for a in node.names]
    for name in names:
        if m := _under(name, THREAD_MODULES):
            out.add("threads", f"imports {m} (candidates may not start threads or processes)", node)
        elif m := _under(name, NETWORK_MODULES):
            out.add("network", f"imports {m} (candidates may not use the network)", node)
        elif m := _under(name, FILE_MODULES):
            out.add("file-access", f"imports {m} (candidates may not touch files)", node)
        elif m := _under(name, INTROSPECTION_MODULES):
            out.add("introspection", f"imports {m} (reads interpreter or process memory)", node)
        elif m := _under(name, DYNAMIC_MODULES):
            out.add("dynamic-code", f"imports {m} (loads code at run time)", node)
        elif m := _under(name, PATCH_MODULES):
            out.add("timer-patch", f"imports {m} (patching tools)", node)
        elif m := _under(name, SIGNAL_MODULES):
            out.add("signals", f"imports {m} (candidates may not send or handle signals)", node)
        elif any(t in name for t in DISPATCH_TAMPER):
            out.add("introspection", f"imports {name} (tampers with torch dispatch)", node)
        elif name.startswith(PRIVATE_PREFIXES) or (name.startswith(("torch.", "triton.")) and "._" in name):
            out.add("private-api", "uses private torch APIs", node, fatal=False)


def _check_call(node: ast.Call, ctx: _Ctx, out: _Findings) -> None:
    q = _resolve(node.func, ctx)
    if q in ("eval", "exec", "compile", "__import__", "builtins.eval", "builtins.exec", "builtins.compile",
             "builtins.__import__", "globals", "vars", "breakpoint"):
        rule = "introspection" if q in ("globals", "vars") else "dynamic-code"
        out.add(rule, f"calls {q}()", node)
    elif q in ("getattr", "setattr", "delattr", "builtins.getattr", "builtins.setattr"):
        _check_getattr(node, q.rsplit(".", 1)[-1], ctx, out)
    elif q in ("operator.attrgetter", "operator.methodcaller", "object.__setattr__", "object.__getattribute__"):
        out.add("dynamic-code", f"calls {q}()", node)
    elif q in FILE_CALLS:
        out.add("file-access", f"calls {q}()", node)
    elif q and q.startswith("os.") and q[3:] in OS_THREADS:
        out.add("threads", f"calls {q}() (candidates may not start processes)", node)
    elif q and q.startswith("os.") and q[3:] in OS_SIGNALS:
        out.add("signals", f"calls {q}() (candidates may not signal processes)", node)
    elif q and q.startswith("os.") and q[3:] in OS_FILES:
        out.add("file-access", f"calls {q}()", node)
    elif q in ("torch.cuda.memory._record_memory_history",):
        out.add("introspection", f"calls {q}()", node)
    if q and q.startswith("torch.cuda.") and q.rsplit(".", 1)[-1] in CUDA_STREAM_NAMES:
        out.add("stream", f"uses {q} (kernels must run on the current stream)", node)
    # numpy's ndarray.tofile and the like are left to the sandbox, which refuses the write itself.
    if isinstance(node.func, ast.Attribute) and node.func.attr in ("write_text", "write_bytes", "symlink_to"):
        out.add("file-access", f"calls .{node.func.attr}() on a path", node)


def _check_getattr(node: ast.Call, fn: str, ctx: _Ctx, out: _Findings) -> None:
    if len(node.args) < 2:
        return
    target = _resolve(node.args[0], ctx)
    name = node.args[1]
    literal = isinstance(name, ast.Constant) and isinstance(name.value, str)
    if fn in ("setattr", "delattr"):
        if target and (target.split(".")[0] in ctx.aliases.values() or target.split(".")[0] in _PATCHABLE_ROOTS):
            what = f"{target}.{name.value}" if literal else f"{target}.<computed>"
            out.add("timer-patch", f"{fn}() on {what}", node)
        elif not literal:
            out.add("dynamic-code", f"{fn}() with a computed attribute name", node)
        return
    if not literal:
        out.add("dynamic-code", "getattr() with a computed attribute name", node)
    elif name.value in INTROSPECTIVE_ATTRS:
        out.add("introspection", f"reads .{name.value} via getattr()", node)


_PATCHABLE_ROOTS = ("torch", "triton", "time", "builtins", "sys", "os", "numpy", "math", "gc", "functools")


def _check_patch(node: ast.AST, ctx: _Ctx, out: _Findings) -> None:
    targets: list[ast.AST]
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.Delete):
        targets = list(node.targets)
    else:
        targets = [node.target]  # type: ignore[attr-defined]
    flat: list[ast.AST] = []
    for t in targets:
        flat.extend(t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])
    for t in flat:
        if not isinstance(t, ast.Attribute):
            continue
        q = _resolve(t, ctx)
        root = q.split(".")[0] if q else ""
        if q and root in _PATCHABLE_ROOTS and ctx.aliases.get(_base_name(t), "") != "":
            rule = "timer-patch"
            what = "a timer" if q in TIMER_NAMES else q
            out.add(rule, f"patches {q}" + (f" ({what})" if what != q else ""), t)
        elif t.attr == "__class__":
            out.add("introspection", "assigns __class__", t)


def _base_name(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _check_attribute(node: ast.Attribute, ctx: _Ctx, out: _Findings) -> None:
    q = _resolve(node, ctx)
    if node.attr in INTROSPECTIVE_ATTRS:
        out.add("introspection", f"reads .{node.attr}", node)
    if q in SYS_INTROSPECTION:
        out.add("introspection", f"uses {q}", node)
    elif q and any(t in q for t in DISPATCH_TAMPER):
        out.add("introspection", f"uses {q} (tampers with torch dispatch)", node)
    elif q and q.startswith("torch.cuda.") and q.rsplit(".", 1)[-1] in CUDA_STREAM_NAMES:
        out.add("stream", f"uses {q} (kernels must run on the current stream)", node)
    elif q and q.startswith(("torch.", "triton.")) and any(p.startswith("_") and not p.startswith("__")
                                                             for p in q.split(".")[1:]):
        out.add("private-api", "uses private torch APIs", node, fatal=False)
    if node.attr == "__dict__" and q and q.split(".")[0] in _PATCHABLE_ROOTS:
        out.add("dynamic-code", f"reads {q} (name lookup by string)", node)


def _check_bases(node: ast.ClassDef, ctx: _Ctx, out: _Findings) -> None:
    for base in node.bases:
        q = _resolve(base, ctx)
        if q not in ("torch.nn.Module", "torch.nn.modules.module.Module"):
            shown = q or ast.unparse(base)
            out.add("reference-inherit", f"ModelNew subclasses {shown}, not nn.Module", base)


def _check_reference_use(tree: ast.Module, ctx: _Ctx, out: _Findings) -> None:
    """Any use of a class named `Model` (the reference) outside its own definition."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Model":
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Name) and node.id == "Model" and isinstance(node.ctx, ast.Load):
            out.add("reference-inherit", "uses the reference class Model", node)
        elif isinstance(node, ast.Attribute) and node.attr == "Model" and _resolve(node, ctx) != "torch.nn.Model":
            out.add("reference-inherit", "uses the reference class Model", node)
        elif isinstance(node, ast.ImportFrom) and any(a.name == "Model" for a in node.names):
            out.add("reference-inherit", f"imports Model from {node.module}", node)


def _check_try(node: ast.Try, ctx: _Ctx, out: _Findings) -> None:
    """A handler (or finally) that computes with torch or calls the reference is a hidden fallback."""
    bodies: list[ast.stmt] = [s for h in node.handlers for s in h.body] + list(node.finalbody) + list(node.orelse)
    tensors = _tensor_names_for(bodies, ctx, params=())
    for stmt in bodies:
        for what, sub in _compute_uses([stmt], ctx, tensors):
            out.add("try-fallback", f"exception handler computes with torch: {what}", sub)
            return
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Name) and sub.id == "Model":
                out.add("try-fallback", "exception handler calls the reference Model", sub)
                return


# ---- ModelNew.forward and the helpers it calls --------------------------------------------------


def _scan_model_new(tree: ast.Module, ctx: _Ctx, out: _Findings, strict: bool) -> None:
    if ctx.model_new is None or "forward" not in ctx.methods:
        return
    for fn in _reachable(ctx):
        _check_caching(fn, ctx, out)
        params = [a.arg for a in _tensor_params(fn)]
        if fn.args.vararg:
            params.append(fn.args.vararg.arg)
        tensors = _tensor_names_for(fn.body, ctx, params, all_params_are_tensors=fn is ctx.methods["forward"])
        where = "ModelNew.forward" if fn is ctx.methods["forward"] else f"{fn.name}() (called from forward)"
        for what, sub in _compute_uses(fn.body, ctx, tensors):
            out.add("torch-fallback", f"{where} computes with torch: {what}", sub, fatal=strict)


def _tensor_params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    """Parameters that may hold tensors: not `self`, not ones with a constant default or a scalar annotation."""
    positional = fn.args.posonlyargs + fn.args.args
    defaults: dict[str, ast.expr] = dict(zip([a.arg for a in positional][::-1], fn.args.defaults[::-1], strict=False))
    defaults.update({a.arg: d for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True) if d is not None})
    out = []
    for a in positional + fn.args.kwonlyargs:
        default = defaults.get(a.arg)
        if a.arg == "self" or (isinstance(default, ast.Constant) and default.value is not None):
            continue
        if a.annotation is not None and ast.unparse(a.annotation) in ("int", "float", "bool", "str"):
            continue
        out.append(a)
    return out


def _reachable(ctx: _Ctx) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """forward, plus ModelNew methods and module-level (non-kernel) functions it calls, transitively."""
    seen: list = []
    todo = [ctx.methods["forward"]]
    while todo:
        fn = todo.pop()
        if fn in seen or _is_kernel(fn, ctx):
            continue
        seen.append(fn)
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id in ctx.functions:
                    todo.append(ctx.functions[node.func.id])
                elif _is_self_attr(node.func) and node.func.attr in ctx.methods:
                    todo.append(ctx.methods[node.func.attr])
    return seen


def _is_kernel(fn: ast.FunctionDef | ast.AsyncFunctionDef, ctx: _Ctx) -> bool:
    for d in fn.decorator_list:
        q = _resolve(d.func if isinstance(d, ast.Call) else d, ctx) or ""
        if q.startswith("triton."):
            return True
    return False


def _check_caching(fn: ast.FunctionDef | ast.AsyncFunctionDef, ctx: _Ctx, out: _Findings) -> None:
    """State that survives a call: outputs or inputs kept between forward calls."""
    for d in fn.decorator_list:
        q = _resolve(d.func if isinstance(d, ast.Call) else d, ctx) or ""
        if q in CACHE_DECORATORS:
            out.add("caching", f"{fn.name}() is memoised with {q}", d)
    for default in fn.args.defaults + [d for d in fn.args.kw_defaults if d is not None]:
        if isinstance(default, (ast.Dict, ast.List, ast.Set)):
            out.add("caching", f"{fn.name}() keeps state in a mutable default argument", default)
    for node in ast.walk(fn):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            out.add("caching", f"{fn.name}() writes {', '.join(node.names)} outside its call", node)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if not isinstance(node, ast.AugAssign) and node.value is not None and _holds_no_tensor(node.value, fn, ctx):
                continue  # a launch-config cache: block sizes, warp counts (a counter is an AugAssign)
            for t in targets:
                for sub in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]):
                    owner = _state_owner(sub, ctx)
                    if owner:
                        out.add("caching", f"{fn.name}() stores into {owner} (state kept between calls)", sub)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "next":
            owner = _state_owner(node.args[0], ctx, container=True) if node.args else None
            if owner:
                out.add("caching", f"{fn.name}() advances {owner} (state kept between calls)", node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "setdefault" and len(node.args) == 2 and _holds_no_tensor(node.args[1], fn, ctx):
                continue
            if node.func.attr in MUTATING_METHODS:
                owner = _state_owner(node.func.value, ctx, container=True)
                if owner:
                    out.add("caching", f"{fn.name}() mutates {owner} (state kept between calls)", node)


# Functions whose result is a Python scalar whatever they are given (a cache of their results holds
# no tensor), and those that do when their arguments are scalars too.
SCALAR_RESULT_CALLS = frozenset({"int", "float", "bool", "str", "len", "triton.next_power_of_2", "triton.cdiv"})
SCALAR_PRESERVING_CALLS = frozenset({"min", "max", "abs", "round", "divmod", "pow"})


def _holds_no_tensor(node: ast.AST, fn: ast.FunctionDef | ast.AsyncFunctionDef, ctx: _Ctx,
                     seen: frozenset[str] = frozenset()) -> bool:
    """Can the value of `node` not be (or contain) a tensor? Literals, tuples of them, arithmetic and
    conditionals over them, scalar-valued calls (`triton.next_power_of_2`, `int`), and names that `fn`
    binds only to such values. A cache of these (launch configs keyed by shape) cannot replay outputs."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_holds_no_tensor(e, fn, ctx, seen) for e in node.elts)
    if isinstance(node, ast.IfExp):
        return _holds_no_tensor(node.body, fn, ctx, seen) and _holds_no_tensor(node.orelse, fn, ctx, seen)
    if isinstance(node, ast.BinOp):
        return _holds_no_tensor(node.left, fn, ctx, seen) and _holds_no_tensor(node.right, fn, ctx, seen)
    if isinstance(node, ast.UnaryOp):
        return _holds_no_tensor(node.operand, fn, ctx, seen)
    if isinstance(node, (ast.BoolOp, ast.Compare)):
        parts = node.values if isinstance(node, ast.BoolOp) else [node.left, *node.comparators]
        return all(_holds_no_tensor(p, fn, ctx, seen) for p in parts)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Call) and not node.keywords:
        q = _resolve(node.func, ctx)
        if q in SCALAR_RESULT_CALLS:
            return True
        if q in SCALAR_PRESERVING_CALLS:
            return all(_holds_no_tensor(a, fn, ctx, seen) for a in node.args)
        return False
    if isinstance(node, ast.Name) and node.id not in seen:
        return _name_holds_no_tensor(node.id, fn, ctx, seen | {node.id})
    return False


def _name_holds_no_tensor(name: str, fn: ast.FunctionDef | ast.AsyncFunctionDef, ctx: _Ctx, seen: frozenset[str]) -> bool:
    """`name` is a local of `fn` (not a parameter) and every assignment to it holds no tensor."""
    args = fn.args
    if name in {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} | {
            a.arg for a in (args.vararg, args.kwarg) if a is not None}:
        return False
    values = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            values.append(node.value)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, ast.Name) \
                and node.target.id == name:
            if node.value is None:
                continue
            values.append(node.value)
        elif any(isinstance(n, ast.Name) and n.id == name for t in _other_bindings(node) for n in ast.walk(t)):
            return False  # bound by a loop, a with or a walrus: not followed
    return bool(values) and all(_holds_no_tensor(v, fn, ctx, seen) for v in values)


def _other_bindings(node: ast.AST) -> list[ast.AST]:
    """Targets a node binds other than by assignment."""
    if isinstance(node, (ast.For, ast.AsyncFor, ast.NamedExpr, ast.comprehension)):
        return [node.target]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [i.optional_vars for i in node.items if i.optional_vars is not None]
    return []


def _state_owner(node: ast.AST, ctx: _Ctx, container: bool = False) -> str | None:
    """`self.x` / `self.cache[k]` / `CACHE[k]` / `ModelNew.x`: state outside the call frame."""
    if isinstance(node, ast.Subscript):
        return _state_owner(node.value, ctx, container=True)
    if isinstance(node, ast.Attribute):
        if _is_self_attr(node):
            return f"self.{node.attr}"
        base = node.value
        if isinstance(base, ast.Name) and base.id in ctx.module_names:
            return f"{base.id}.{node.attr}"
        if isinstance(base, ast.Attribute) and container:
            return _state_owner(base, ctx, container)
        return None
    if container and isinstance(node, ast.Name) and node.id in ctx.module_names and node.id not in ctx.functions:
        return node.id
    return None


def _tensor_names_for(body: list[ast.stmt], ctx: _Ctx, params: Iterable[str], all_params_are_tensors: bool = False) -> set[str]:
    """Names in a function that hold tensors: forward's parameters, helper parameters used like
    tensors (`.stride()`, `.shape`), and names bound to allocations or views of tensors."""
    params = list(params)
    tensors = set(params) if all_params_are_tensors else set()
    if not all_params_are_tensors:
        for node in _walk(body):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in params:
                if node.attr in TENSOR_META_ATTRS or node.attr in TENSOR_EVIDENCE_METHODS or node.attr in ("T", "mT"):
                    tensors.add(node.value.id)
    for _ in range(3):
        for node in _walk(body):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                if _is_tensor_expr(node.value, ctx, tensors):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for t in targets:
                        if isinstance(t, ast.Name):
                            tensors.add(t.id)
            elif isinstance(node, ast.For) and isinstance(node.target, ast.Name) and _is_tensor_expr(node.iter, ctx, tensors):
                tensors.add(node.target.id)
    return tensors


def _walk(body: list[ast.stmt]) -> Iterator[ast.AST]:
    for stmt in body:
        yield from ast.walk(stmt)


def _is_tensor_expr(node: ast.AST, ctx: _Ctx, tensors: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in tensors
    if isinstance(node, ast.Attribute):
        if _is_self_attr(node):
            return node.attr in ctx.tensor_attrs
        if node.attr in ("weight", "bias") and _is_self_attr(node.value):
            return True
        if node.attr in ("T", "mT", "data", "real", "imag"):
            return _is_tensor_expr(node.value, ctx, tensors)
        return False
    if isinstance(node, ast.Subscript):
        return _is_tensor_expr(node.value, ctx, tensors)
    if isinstance(node, ast.Call):
        q = _resolve(node.func, ctx) or ""
        if q.startswith("torch.") and q.rsplit(".", 1)[-1] in TORCH_ALLOWED and q.count(".") == 1:
            return q.rsplit(".", 1)[-1] not in ("device", "dtype", "Size", "numel", "is_tensor", "finfo", "iinfo")
        if isinstance(node.func, ast.Attribute) and node.func.attr in TENSOR_VIEW_METHODS:
            return _is_tensor_expr(node.func.value, ctx, tensors)
        # wrappers defined in the candidate that allocate or launch return tensors
        if isinstance(node.func, ast.Name) and node.func.id in ctx.functions:
            return _makes_tensors(ctx.functions[node.func.id], ctx)
        if _is_self_attr(node.func) and node.func.attr in ctx.methods:
            return _makes_tensors(ctx.methods[node.func.attr], ctx)
        return False
    if isinstance(node, ast.BinOp):
        return _is_tensor_expr(node.left, ctx, tensors) or _is_tensor_expr(node.right, ctx, tensors)
    if isinstance(node, ast.UnaryOp):
        return _is_tensor_expr(node.operand, ctx, tensors)
    return False


def _makes_tensors(fn: ast.FunctionDef | ast.AsyncFunctionDef, ctx: _Ctx) -> bool:
    """A helper that allocates tensors or launches a kernel (`k[grid](...)`): its result is a tensor."""
    if _is_kernel(fn, ctx):
        return False
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Subscript):
                return True
            q = _resolve(node.func, ctx) or ""
            if q.startswith("torch.") and q.count(".") == 1 and q[6:] in TORCH_ALLOWED:
                return True
    return False


def _compute_uses(body: list[ast.stmt], ctx: _Ctx, tensors: set[str]) -> Iterator[tuple[str, ast.AST]]:
    """(description, node) for every torch computation in `body`."""
    for node in _walk(body):
        if isinstance(node, ast.Call):
            what = _compute_call(node, ctx, tensors)
            if what:
                yield what, node
        elif isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.MatMult):
                yield "the @ operator", node
            elif _is_tensor_expr(node.left, ctx, tensors) or _is_tensor_expr(node.right, ctx, tensors):
                yield f"tensor arithmetic ({type(node.op).__name__})", node
        elif isinstance(node, ast.AugAssign) and (
            isinstance(node.op, ast.MatMult) or _is_tensor_expr(node.target, ctx, tensors)
        ):
            yield f"in-place tensor arithmetic ({type(node.op).__name__})", node
        elif isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
            if _is_tensor_expr(node.operand, ctx, tensors):
                yield f"tensor arithmetic ({type(node.op).__name__})", node
        elif isinstance(node, ast.Compare) and not all(isinstance(o, (ast.Is, ast.IsNot, ast.In, ast.NotIn)) for o in node.ops):
            if any(_is_tensor_expr(x, ctx, tensors) for x in [node.left, *node.comparators]):
                yield "tensor comparison", node


def _compute_call(node: ast.Call, ctx: _Ctx, tensors: set[str]) -> str | None:
    func = node.func
    # Calling an nn submodule: self.linear(x), self.linear.forward(x), nn.ReLU()(x)
    if _is_self_attr(func) and ctx.self_attrs.get(func.attr, "").startswith("nn:"):
        return f"self.{func.attr}(...) ({ctx.self_attrs[func.attr][3:]} submodule)"
    if isinstance(func, ast.Attribute) and func.attr == "forward" and _is_self_attr(func.value):
        if ctx.self_attrs.get(func.value.attr, "").startswith("nn:"):
            return f"self.{func.value.attr}.forward(...)"
    if isinstance(func, ast.Call):
        inner = _resolve(func.func, ctx) or ""
        if inner.startswith("torch.nn.") and inner.rsplit(".", 1)[-1][:1].isupper():
            return f"{inner}(...)(...)"
    q = _resolve(func, ctx)
    if q and _torch_computes(q):
        return q
    if isinstance(func, ast.Attribute) and (q is None or not _rooted_in_module(q, ctx)):
        name = func.attr
        base = name[:-1] if name.endswith("_") and name not in ALLOWED_INPLACE else name
        if base in COMPUTE_NAMES and name not in ALLOWED_INPLACE:
            receiver = func.value
            if _is_tensor_expr(receiver, ctx, tensors) or not _looks_like_plain_python(receiver, ctx):
                return f".{name}()"
    return None


def _rooted_in_module(q: str, ctx: _Ctx) -> bool:
    root = q.split(".")[0]
    return root in ctx.aliases.values() or root in ("math", "builtins", "operator")


def _looks_like_plain_python(node: ast.AST, ctx: _Ctx) -> bool:
    """Receivers that are surely not tensors: literals, containers, and module-level names that hold them."""
    return isinstance(node, (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr))


def _torch_computes(q: str) -> bool:
    parts = q.split(".")
    if parts[0] != "torch" or len(parts) < 2:
        return False
    leaf = parts[-1]
    if parts[1] == "ops":
        return leaf not in ("load_library",) and len(parts) > 2
    if parts[1] == "nn":
        if len(parts) > 2 and parts[2] == "functional":
            return True
        return False  # constructing modules; calling them is caught separately
    if parts[1] == "Tensor":
        return leaf in COMPUTE_NAMES or (leaf.endswith("_") and leaf[:-1] in COMPUTE_NAMES)
    if parts[1] in ("cuda", "backends", "version", "utils", "testing", "library", "compiler", "jit", "autograd",
                    "cpu", "mps", "xpu", "accelerator", "fx", "overrides", "distributed", "onnx"):
        return leaf in COMPUTE_NAMES or (parts[1] == "compiler" and leaf == "compile")
    if any(p.startswith("_") for p in parts[1:]):
        return leaf in COMPUTE_NAMES
    if len(parts) == 2:
        return leaf not in TORCH_ALLOWED and not leaf[:1].isupper() and not _is_dtype_name(leaf)
    return leaf in COMPUTE_NAMES


def _is_dtype_name(name: str) -> bool:
    return name.startswith(("float", "int", "uint", "bfloat", "complex", "bool", "half", "double", "long"))
