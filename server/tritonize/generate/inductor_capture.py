"""Inductor capture (runs in a CUDA verify worker, or in scripts/capture_inductor.py).

Compiles the problem's Model with Inductor and records, as plain JSON:
- `output_code`: the generated wrapper module(s) (kernels as source strings + a `call(args)` function);
- `placeholders`: the dynamo graph's inputs in `call()` order, each with its source
  (`L['self'].linear.weight`, `L['x']`), shape, stride and dtype — how arguments map to the module;
- `kernels`: for every Triton kernel, the launch configuration actually used after autotuning
  (block sizes, num_warps, num_stages) and Inductor's metadata (grid type, numels).
The export into a standalone candidate (generate/inductor.py) is pure text work on this record.
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
    model = _model_class(ns)(*init).to(device).eval()
    torch.manual_seed(1)
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
    before = set(sys.modules)
    with inductor_config.patch(MODES[mode]), torch.no_grad():
        compiled = torch.compile(model, backend=backend, fullgraph=False)
        out, codes = run_and_get_code(compiled, *inputs)
        torch.cuda.synchronize()
    new_modules = [sys.modules[m] for m in set(sys.modules) - before if m in sys.modules]
    kernels = _chosen_configs(new_modules)
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
    }


def _triton_version() -> str:
    import triton

    return triton.__version__


def _chosen_configs(modules: list[Any]) -> list[dict[str, Any]]:
    """For each CachingAutotuner in Inductor's output modules: the config it launched with."""
    from torch._inductor.runtime.triton_heuristics import CachingAutotuner

    found: list[dict[str, Any]] = []
    seen: set[int] = set()
    for mod in modules:
        for attr, obj in list(vars(mod).items()):
            if not isinstance(obj, CachingAutotuner) or id(obj) in seen:
                continue
            seen.add(id(obj))
            launchers = getattr(obj, "launchers", None) or []
            cfg = launchers[0].config if launchers else (obj.configs[0] if getattr(obj, "configs", None) else None)
            entry: dict[str, Any] = {
                "name": attr,
                "module": getattr(mod, "__name__", ""),
                "n_configs": len(getattr(obj, "configs", []) or []),
                "autotuned": bool(launchers),
            }
            if cfg is not None:
                entry.update(
                    kwargs={k: v for k, v in cfg.kwargs.items()},
                    num_warps=cfg.num_warps,
                    num_stages=cfg.num_stages,
                )
            entry["inductor_meta"] = _jsonable(getattr(obj, "inductor_meta", {}))
            entry["triton_meta"] = _jsonable(getattr(obj, "triton_meta", {}))
            entry["size_hints"] = _jsonable(getattr(obj, "size_hints", None))
            found.append(entry)
    return found


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (int, float, str, bool)) or obj is None:
        return obj
    return repr(obj)
