"""On a CUDA machine: run the static and the dynamic (shape-general) Inductor exports of captured problems.

For every `<problem>.<mode>-dynamic.json` with a `<problem>.<mode>.json` beside it (both captured in
the same environment, e.g. by `scripts/device-capture.sh dynamic`; else in a --static-folder), this exports both, checks the dynamic
export against the original module at the recipe's shape and at other sizes of its dynamic dimensions
(1, odd, half, double: worker/shapes.py's sizes), and times static export, dynamic export and eager at the
recipe's shape (triton.testing.do_bench: warm-up, median ms) in one process, side by side.

    python scripts/check_inductor_dynamic.py tests/fixtures/inductor_dynamic -o /tmp/out/dynamic.json
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))


def _namespace(code: str, name: str) -> dict:
    ns: dict = {"__name__": name}
    exec(compile(code, f"<{name}>", "exec"), ns)
    return ns


def _module(code: str, name: str) -> dict:
    """A candidate as an imported module (Triton reads a @jit function's source from its file)."""
    import importlib.util
    import tempfile

    path = os.path.join(tempfile.mkdtemp(prefix="tritonize-check-"), f"{name}.py")
    with open(path, "w") as f:
        f.write(code)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return vars(mod)


def _model_cls(ns: dict):
    import torch

    if "Model" in ns:
        return ns["Model"]
    return [v for v in ns.values() if isinstance(v, type) and issubclass(v, torch.nn.Module)][-1]


def _max_err(got, expected) -> float:
    return float((got.float() - expected.float()).abs().max()) if got.numel() else 0.0


def check(stem: str, static_rec: dict, dynamic_rec: dict, reps: int) -> dict:
    import torch
    import triton.testing
    from tritonize.generate.inductor_export import export
    from tritonize.worker.shapes import DimGroup, Variant, sizes_for, variant_inputs

    out: dict = {"problem": stem}
    problem = _namespace(static_rec["problem_source"], "problem")
    init = problem["get_init_inputs"]() if "get_init_inputs" in problem else []
    torch.manual_seed(0)
    ref = _model_cls(problem)(*init).cuda()
    models = {}
    for label, rec in (("static", static_rec), ("dynamic", dynamic_rec)):
        try:
            cand = _module(export(rec).code, f"cand_{stem}_{label}")
            models[label] = cand["ModelNew"](*init).cuda()
            models[label].load_state_dict(ref.state_dict())
        except Exception as e:  # noqa: BLE001 - an export that fails is a row of the table
            out[f"{label}_error"] = f"{type(e).__name__}: {str(e)[:300]}"
    torch.manual_seed(1)
    with torch.device("cuda"):
        recipe = list(problem["get_inputs"]())
    groups: dict[str, list] = {}
    for k in (dynamic_rec.get("dynamic") or {}).get("kept", []):
        groups.setdefault(k["group"], []).append((k["input"], k["dim"], k["size"]))
    variants = [None]
    for name, members in groups.items():
        group = DimGroup(name, tuple((i, d) for i, d, _ in members), members[0][2])
        variants += [Variant(group, s) for s in sizes_for(group.size, grow=True)]
    out["shapes"] = []
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for v in variants:
            inputs = variant_inputs([t.clone() if isinstance(t, torch.Tensor) else t for t in recipe], v, gen)
            row = {"shape": [list(t.shape) for t in inputs if isinstance(t, torch.Tensor)],
                   "label": v.label if v else "recipe"}
            expected = ref(*[t.clone() for t in inputs])
            for label, model in models.items():
                if label == "static" and v is not None:
                    continue
                try:
                    got = model(*[t.clone() for t in inputs])
                    row[f"{label}_max_err"] = _max_err(got, expected)
                    row[f"{label}_ok"] = bool(torch.allclose(got, expected, atol=1e-3, rtol=1e-3))
                except Exception as e:  # noqa: BLE001
                    row[f"{label}_error"] = f"{type(e).__name__}: {str(e)[:200]}"
            out["shapes"].append(row)
        torch.cuda.synchronize()
        timed = {"eager": ref, **models}
        for label, model in timed.items():
            try:
                out[f"{label}_ms"] = triton.testing.do_bench(lambda m=model: m(*recipe), warmup=25, rep=reps,
                                                             return_mode="median")
            except Exception as e:  # noqa: BLE001
                out[f"{label}_ms_error"] = f"{type(e).__name__}: {str(e)[:200]}"
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--static-folder", action="append", default=[],
                    help="where else to look for the static capture of a dynamic one")
    ap.add_argument("--rep-ms", type=int, default=200, help="time each variant for about this long")
    args = ap.parse_args()
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 references at fp32 (the exports were captured so)
    torch.backends.cudnn.allow_tf32 = False
    results = []
    for dyn_path in sorted(glob.glob(os.path.join(args.folder, "*-dynamic.json"))):
        stem, mode = os.path.basename(dyn_path)[: -len("-dynamic.json")].split(".", 1)
        candidates = [os.path.join(d, f"{stem}.{mode}.json") for d in [args.folder, *args.static_folder]]
        static_path = next((p for p in candidates if os.path.exists(p)), None)
        if static_path is None:
            continue
        stem = stem if mode == "default" else f"{stem}.{mode}"
        with open(static_path) as f, open(dyn_path) as g:
            static_rec, dynamic_rec = json.load(f), json.load(g)
        try:
            res = check(stem, static_rec, dynamic_rec, args.rep_ms)
        except Exception as e:  # noqa: BLE001
            res = {"problem": stem, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-2000:]}
        results.append(res)
        shapes_ok = [r.get("dynamic_ok") for r in res.get("shapes", [])]
        print(f"{stem:24s} static {res.get('static_ms', float('nan')):8.4f} ms  dynamic "
              f"{res.get('dynamic_ms', float('nan')):8.4f} ms  eager {res.get('eager_ms', float('nan')):8.4f} ms  "
              f"dynamic correct on {sum(bool(x) for x in shapes_ok)}/{len(shapes_ok)} shapes "
              f"{res.get('error', '') or res.get('dynamic_error', '') or res.get('static_error', '')}", flush=True)
    device = torch.cuda.get_device_name(0)
    with open(args.out, "w") as f:
        json.dump({"device": device, "torch": torch.__version__, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
