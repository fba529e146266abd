"""Inductor capture (runs in a CUDA verify worker, or in scripts/capture_inductor.py).

Compiles the problem's Model with Inductor and records, as plain JSON:
- `output_code`: the generated wrapper module(s) (kernels as source strings + a `call(args)` function);
- `placeholders`: the dynamo graph's inputs in `call()` order, each with its source
  (`L['self'].linear.weight`, `L['x']`), shape, stride and dtype — how arguments map to the module;
- `kernels`: for every Triton kernel, the launch configuration actually used after autotuning
  (block sizes, num_warps, num_stages) and Inductor's metadata (grid type, numels).
The export into a standalone candidate (generate/inductor_export.py) is pure text work on this record;
`capture_for_export` is the verify-worker entry point generate/inductor.py calls.
"""

from __future__ import annotations

import os
import sys
from typing import Any

MODES = {
    "default": {},
    # Inductor's coordinate-descent tuner benchmarks block sizes, warps and stages of every pointwise and
    # reduction kernel around its heuristic choice: the configuration torch.compile's default does not search.
    "coordinate-descent": {"coordinate_descent_tuning": True},
    # Triton-only GEMM/conv templates so strict mode still gets an all-Triton candidate.
    "max-autotune-triton": {
        "max_autotune": True,
        "max_autotune_gemm_backends": "TRITON",
        "max_autotune_conv_backends": "TRITON",
    },
}


def _load_namespace(source: str, filename: str) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "tritonize_problem", "__file__": filename}
    exec(compile(source, filename, "exec"), ns)
    return ns


def _model_class(ns: dict[str, Any]) -> Any:
    """`Model` (KernelBench convention), else the module class the file defines last."""
    import torch

    if "Model" in ns:
        return ns["Model"]
    classes = [v for v in ns.values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v.__module__ == ns["__name__"]]
    if not classes:
        raise ValueError("no nn.Module class in the problem source")
    return classes[-1]


def _to_device(obj: Any, device: Any) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, device) for o in obj)
    return obj


def capture_file(path: str, mode: str, dynamic: bool = False) -> dict[str, Any]:
    with open(path) as f:
        source = f.read()
    rec = capture_source(source, mode, filename=path, dynamic=dynamic)
    rec["file"] = os.path.basename(path)
    return rec


def capture_source(source: str, mode: str, filename: str = "<problem>", dynamic: bool = False) -> dict[str, Any]:
    """Compile the problem with Inductor in `mode` and record what the exporter needs.

    `dynamic`: the dimensions worker/shapes.py's plan says a user varies (batch, sequence, image size)
    are marked dynamic, every other dimension stays static, so Inductor's code takes those sizes as
    arguments (s0, s1, ...). The record's `dynamic` entry says which dimensions were asked for, which
    stayed dynamic and why the others did not; when none stayed dynamic the record has an `error`.
    """
    import torch
    import torch._dynamo

    if mode not in MODES:
        raise ValueError(f"unknown Inductor mode {mode!r}; choose from {sorted(MODES)}")
    device = torch.device("cuda")
    ns = _load_namespace(source, filename)
    torch.manual_seed(0)
    init = ns["get_init_inputs"]() if "get_init_inputs" in ns else []
    # Training mode, like the verifier's reference (worker/inputs.py builds it without .eval()):
    # the exported kernels must compute what that reference computes (batch norm: batch statistics).
    model_cls = _model_class(ns)
    model = model_cls(*init).to(device)
    torch.manual_seed(1)
    with device:  # built on the GPU (seconds less for big inputs); a recipe that names a device keeps it
        inputs = _to_device(list(ns["get_inputs"]()), device)
    if not dynamic:
        return _compile_and_record(source, mode, model, inputs, None)
    wanted, why_none = _dynamic_request(model_cls, init, inputs, ns, model)
    if not wanted:
        return _no_dynamic(source, mode, inputs, why_none, {"requested": [], "kept": [], "specialised": []})
    try:
        rec = _compile_and_record(source, mode, model, inputs, (wanted, torch._dynamo.mark_dynamic))
    except Exception as e:  # noqa: BLE001 - dynamo refused a dimension: keep those it does not refuse
        if type(e).__name__ != "ConstraintViolationError" and "ConstraintViolation" not in type(e).__name__ \
                and "Constraints violated" not in str(e):
            raise
        rec = _compile_and_record(source, mode, model, inputs, (wanted, torch._dynamo.maybe_mark_dynamic))
        rec["dynamic"]["constraint_violation"] = " ".join(line.strip() for line in str(e).splitlines()[:2])[:600]
    if not rec["dynamic"]["kept"]:
        return _no_dynamic(source, mode, inputs, "dynamo specialised every dimension marked dynamic ("
                           + ", ".join(f"{m['group']}: input {m['input']} dim {m['dim']}" for m in wanted) + ")",
                           rec["dynamic"])
    return rec


def _dynamic_request(model_cls: type, init: list, inputs: list, ns: dict[str, Any],
                     model: Any) -> tuple[list[dict[str, Any]], str]:
    """The dimensions to mark dynamic (worker/shapes.py's plan), or why there are none."""
    import types

    import torch

    from .shapes import plan

    def run_on_device(real: list) -> str | None:
        try:
            with torch.no_grad():
                model(*real)
        except Exception as e:  # noqa: BLE001 - any failure means "not this shape"
            return f"{type(e).__name__}: {e}"
        return None

    shape_plan = plan(model_cls, init, inputs, types.SimpleNamespace(**ns), run_on_device=run_on_device)
    wanted = [{"group": g.name, "input": i, "dim": d, "size": g.size} for g in shape_plan.groups for i, d in g.members]
    if wanted:
        return wanted, ""
    why = "; ".join(shape_plan.skipped) or ("the problem declares no dynamic dimension" if shape_plan.declared
                                            else "no dimension a user would vary")
    return [], f"no dynamic dimension to compile for: {why}"


def _no_dynamic(source: str, mode: str, inputs: list, why: str, dyn: dict[str, Any]) -> dict[str, Any]:
    import torch

    return {"mode": mode, "error": f"no shape-general export: {why}", "problem_source": source,
            "input_shapes": [list(t.shape) for t in inputs if isinstance(t, torch.Tensor)],
            "dynamic": {**dyn, "why_not": why}}


def _compile_and_record(source: str, mode: str, model: Any, inputs: list,
                        marks: tuple[list[dict[str, Any]], Any] | None) -> dict[str, Any]:
    """One torch.compile of `model` on `inputs` (dimensions in `marks` marked with its function)."""
    import torch
    import torch._dynamo
    import torch._guards
    from torch._inductor import config as inductor_config
    from torch._inductor.compile_fx import compile_fx
    from torch._inductor.utils import run_and_get_code

    placeholders: list[dict[str, Any]] = []
    shape_env: list[Any] = []

    def backend(gm, example_inputs):
        placeholders.clear()
        for node in gm.graph.nodes:
            if node.op != "placeholder":
                continue
            grapharg = node.meta.get("grapharg")
            src = getattr(grapharg.source, "name", None) if grapharg is not None and grapharg.source is not None else None
            if callable(src):  # a method in some torch versions, a property in others
                src = src()
            val = node.meta.get("example_value")
            entry: dict[str, Any] = {"node": node.name, "source": src}
            if isinstance(val, torch.Tensor):
                entry.update(shape=[_hint(s) for s in val.shape], stride=[_hint(s) for s in val.stride()],
                             dtype=str(val.dtype).replace("torch.", ""))
                if any(isinstance(s, torch.SymInt) for s in (*val.shape, *val.stride())):
                    entry.update(sym_shape=[str(s) for s in val.shape], sym_stride=[str(s) for s in val.stride()])
            elif isinstance(val, torch.SymInt):
                entry.update(symint=str(val), hint=_hint(val))
            placeholders.append(entry)
        context = torch._guards.TracingContext.try_get()
        if context is not None and context.fake_mode is not None and context.fake_mode.shape_env is not None:
            shape_env[:] = [context.fake_mode.shape_env]  # read after the run: Inductor's guards land in it too
        return compile_fx(gm, example_inputs)

    torch._dynamo.reset()
    dynamic = marks is not None
    if marks is not None:
        inputs = [t.clone() if isinstance(t, torch.Tensor) else t for t in inputs]  # marks stay off the originals
        wanted, mark = marks
        for m in wanted:
            if isinstance(inputs[m["input"]], torch.Tensor):
                mark(inputs[m["input"]], m["dim"])
    # No FX-graph cache: a cache hit skips code generation, and with it the output code we record.
    # Only marked dimensions are dynamic (no automatic dynamic shapes on recompiles); with duck shaping
    # off, two dynamic dimensions of equal size get their own sizes unless the module ties them.
    with inductor_config.patch({**MODES[mode], "fx_graph_cache": False}), torch.no_grad(), \
            torch._dynamo.config.patch(automatic_dynamic_shapes=False, assume_static_by_default=True), \
            _duck_shape(False):
        compiled = torch.compile(model, backend=backend, fullgraph=False)
        out, codes = run_and_get_code(compiled, *inputs)
        torch.cuda.synchronize()
    # All loaded modules, not just new ones: a worker that compiled this problem before (e.g. to time
    # torch.compile) already holds the kernel modules; `_chosen_configs` matches kernels by source.
    kernels = _chosen_configs([m for m in list(sys.modules.values()) if m is not None], codes)
    graph_breaks = len(codes) != 1
    rec: dict[str, Any] = {
        "mode": mode,
        "versions": {"torch": torch.__version__, "triton": _triton_version()},
        "device": torch.cuda.get_device_name(0),
        "problem_source": source,
        "output_code": list(codes),
        "placeholders": placeholders,
        "kernels": kernels,
        "graph_breaks": graph_breaks,
        "input_shapes": [list(t.shape) for t in inputs if isinstance(t, torch.Tensor)],
        "output_is_tuple": isinstance(out, (tuple, list)),
        "output_len": len(out) if isinstance(out, (tuple, list)) else 1,
    }
    if dynamic:
        rec["dynamic"] = _dynamic_record(model, marks[0], placeholders, shape_env[0] if shape_env else None)
    return rec


def _hint(s: Any) -> int:
    """A size's value at capture (its hint when symbolic)."""
    import torch

    return int(s.node.hint) if isinstance(s, torch.SymInt) and s.node.hint is not None else int(s)


def _duck_shape(on: bool) -> Any:
    import contextlib

    from torch.fx.experimental import _config as fx_config

    return fx_config.patch(use_duck_shape=on) if hasattr(fx_config, "use_duck_shape") else contextlib.nullcontext()


def _dynamic_record(model: Any, wanted: list[dict[str, Any]], placeholders: list[dict[str, Any]],
                    shape_env: Any) -> dict[str, Any]:
    """Which marked dimensions stayed dynamic (a symbol in the graph's input), the symbols with the
    sources dynamo reads them from, and the guards on them (Inductor's included)."""
    import inspect

    params = list(inspect.signature(model.forward).parameters)
    by_source = {p.get("source"): p for p in placeholders}
    kept, specialised = [], []
    for m in wanted:
        ph = by_source.get(f"L['{params[m['input']]}']") if m["input"] < len(params) else None
        sym = ph.get("sym_shape", [None] * len(ph["shape"]))[m["dim"]] if ph and "shape" in ph else None
        if sym is not None and not sym.lstrip("-").isdigit():
            kept.append({**m, "symbol": sym})
        else:
            specialised.append({**m, "why": "not a graph input" if ph is None else "specialised by dynamo/Inductor"})
    out: dict[str, Any] = {"requested": wanted, "kept": kept, "specialised": specialised, "symbols": {}, "guards": []}
    if shape_env is None:
        return out
    try:
        values = getattr(shape_env, "backed_var_to_val", None) or shape_env.var_to_val
        for sym, sources in shape_env.var_to_sources.items():
            names = [s.name() if callable(s.name) else s.name for s in sources]
            rng = shape_env.var_to_range.get(sym)
            out["symbols"][str(sym)] = {"sources": names, "hint": _int_or_none(values.get(sym)),
                                        "range": [str(rng.lower), str(rng.upper)] if rng is not None else None}
        out["guards"] = [str(g.expr) for g in shape_env.guards]
    except Exception as e:  # noqa: BLE001 - ShapeEnv internals differ between torch versions
        out["symbols_error"] = f"{type(e).__name__}: {e}"
    return out


def _int_or_none(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def capture_for_export(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point for the Inductor generator: `{"source", "mode", "dynamic"?}` → the capture record."""
    return capture_source(payload["source"], payload["mode"], filename=payload.get("filename", "<problem>"),
                          dynamic=bool(payload.get("dynamic")))


def _kernel_sources(code: str) -> dict[str, str]:
    """{kernel name: its `def` text} for every `name = async_compile.triton('name', '''src''', ...)`."""
    import ast

    out: dict[str, str] = {}
    for node in ast.parse(code).body:
        value = node.value if isinstance(node, ast.Assign) else None
        if (isinstance(value, ast.Call) and ast.unparse(value.func) == "async_compile.triton" and len(value.args) >= 2
                and isinstance(value.args[0], ast.Constant) and isinstance(value.args[1], ast.Constant)):
            name, src = str(value.args[0].value), str(value.args[1].value)
            start = src.find(f"def {name}(")
            out[name] = src[start:] if start >= 0 else src
    return out


def _same_source(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _triton_version() -> str:
    import triton

    return triton.__version__


def _chosen_configs(modules: list[Any], codes: list[str]) -> list[dict[str, Any]]:
    """For each Triton kernel the output code defines: the config its CachingAutotuner launched with.

    The autotuner is found by name and source (a worker may hold same-named kernels of other
    problems, or a second copy of this one); one that launched is preferred to one that did not.
    """
    from torch._inductor.runtime.triton_heuristics import CachingAutotuner

    wanted: dict[str, str] = {}
    for code in codes:
        wanted.update(_kernel_sources(code))
    best: dict[str, tuple[Any, Any]] = {}  # name -> (module, autotuner)
    for mod in modules:
        try:
            items = list(vars(mod).items())
        except TypeError:
            continue
        for attr, obj in items:
            if attr not in wanted or not isinstance(obj, CachingAutotuner):
                continue
            src = getattr(getattr(obj, "fn", None), "src", None)
            if isinstance(src, str) and not _same_source(src[src.find("def "):], wanted[attr]):
                continue
            if attr not in best or (getattr(obj, "launchers", None) and not getattr(best[attr][1], "launchers", None)):
                best[attr] = (mod, obj)
    return [_config_entry(name, mod, obj) for name, (mod, obj) in best.items()]


def _config_entry(name: str, mod: Any, obj: Any) -> dict[str, Any]:
    launchers = getattr(obj, "launchers", None) or []
    cfg = launchers[0].config if launchers else (obj.configs[0] if getattr(obj, "configs", None) else None)
    entry: dict[str, Any] = {
        "name": name,
        "module": getattr(mod, "__name__", ""),
        "n_configs": len(getattr(obj, "configs", []) or []),
        "autotuned": bool(launchers),
    }
    if cfg is not None:
        entry.update(kwargs=dict(cfg.kwargs.items()), num_warps=cfg.num_warps, num_stages=cfg.num_stages)
    entry["inductor_meta"] = _jsonable(getattr(obj, "inductor_meta", {}))
    entry["triton_meta"] = _jsonable(getattr(obj, "triton_meta", {}))
    entry["size_hints"] = _jsonable(getattr(obj, "size_hints", None))
    return entry


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (int, float, str, bool)) or obj is None:
        return obj
    return repr(obj)
