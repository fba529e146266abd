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


def capture_file(path: str, mode: str) -> dict[str, Any]:
    with open(path) as f:
        source = f.read()
    rec = capture_source(source, mode, filename=path)
    rec["file"] = os.path.basename(path)
    return rec


def capture_source(source: str, mode: str, filename: str = "<problem>") -> dict[str, Any]:
    import torch
    import torch._dynamo
    from torch._inductor import config as inductor_config
    from torch._inductor.compile_fx import compile_fx
    from torch._inductor.utils import run_and_get_code

    if mode not in MODES:
        raise ValueError(f"unknown Inductor mode {mode!r}; choose from {sorted(MODES)}")
    device = torch.device("cuda")
    ns = _load_namespace(source, filename)
    torch.manual_seed(0)
    init = ns["get_init_inputs"]() if "get_init_inputs" in ns else []
    # Training mode, like the verifier's reference (worker/inputs.py builds it without .eval()):
    # the exported kernels must compute what that reference computes (batch norm: batch statistics).
    model = _model_class(ns)(*init).to(device)
    torch.manual_seed(1)
    with device:  # built on the GPU (seconds less for big inputs); a recipe that names a device keeps it
        inputs = _to_device(list(ns["get_inputs"]()), device)

    placeholders: list[dict[str, Any]] = []

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
                entry.update(shape=list(val.shape), stride=list(val.stride()), dtype=str(val.dtype).replace("torch.", ""))
            placeholders.append(entry)
        return compile_fx(gm, example_inputs)

    torch._dynamo.reset()
    # No FX-graph cache: a cache hit skips code generation, and with it the output code we record.
    with inductor_config.patch({**MODES[mode], "fx_graph_cache": False}), torch.no_grad():
        compiled = torch.compile(model, backend=backend, fullgraph=False)
        out, codes = run_and_get_code(compiled, *inputs)
        torch.cuda.synchronize()
    # All loaded modules, not just new ones: a worker that compiled this problem before (e.g. to time
    # torch.compile) already holds the kernel modules; `_chosen_configs` matches kernels by source.
    kernels = _chosen_configs([m for m in list(sys.modules.values()) if m is not None], codes)
    graph_breaks = len(codes) != 1
    return {
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


def capture_for_export(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point for the Inductor generator: `{"source", "mode"}` → the capture record."""
    return capture_source(payload["source"], payload["mode"], filename=payload.get("filename", "<problem>"))


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
