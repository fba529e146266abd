"""User settings: one dataclass shared by the CLI, the language server and the pipeline.

Settings arrive as nested dicts (LSP `initializationOptions`, `workspace/configuration`, CLI flags).
`Settings.from_dict` validates them: an unknown key or a value of the wrong type is reported by
name and the default is kept, so a typo never silently changes what is verified.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

ALL_GENERATORS = ("template", "inductor", "llm")


@dataclass
class ModelSettings:
    """Where candidates from a language model come from (generate/llm.py)."""

    runtime: str = "transformers"  # transformers | llama_cpp | openai
    path: str | None = None  # HF checkpoint directory or GGUF file
    url: str | None = None  # OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1
    name: str | None = None  # model name sent to an OpenAI-compatible server
    api_key_env: str = "OPENAI_API_KEY"
    endpoint: str = "completions"  # completions | chat
    prompt: str | None = None  # path to a prompt template overriding the built-in one
    refine_prompt: str | None = None  # path to a template for refinement rounds 2.. ({problem}, {feedback})
    chat_template: bool = False  # wrap the prompt in the tokenizer's chat template
    temperature: float = 1.0  # KernelLLM's reported evaluation settings
    top_p: float = 0.97
    max_new_tokens: int = 2048
    seed: int | None = None
    gpu_layers: int = -1  # llama.cpp: layers offloaded to the GPU (-1: all)
    n_ctx: int = 8192
    threads: int | None = None
    dtype: str = "auto"  # transformers: auto | float16 | bfloat16 | float32
    idle_unload_s: float = 600.0
    request_timeout_s: float = 600.0
    retries: int = 3


@dataclass
class Settings:
    generators: list[str] = field(default_factory=lambda: list(ALL_GENERATORS))
    n: int = 4  # samples per model generator; variants per pattern for the built-in ones
    seeds: int = 3  # random input sets each candidate is checked on
    atol: float | None = None  # None: the dtype's default (fp32 1e-4, fp16/bf16 1e-2)
    rtol: float | None = None
    allow_tf32: bool = False  # opt-in to TF32 matmuls; the report states the tolerance used
    strict: bool = False  # torch compute-op fallbacks become fatal
    timeout_s: float = 120.0  # per candidate job in a worker
    device: str = "auto"  # auto | cpu | cuda
    devices: list[int] | None = None  # CUDA device indices; None: all visible
    time_candidates: bool = True  # time correct candidates on GPU
    placement: str = "inline"  # inline | sibling (<module>_triton.py)
    # A kernel is inserted (written, printed) only when it beats eager PyTorch by this factor on a GPU;
    # otherwise the report says "no faster kernel found". insert_slower: insert the fastest correct one anyway.
    min_speedup: float = 1.05
    insert_slower: bool = False
    # Inductor's max-autotune capture (it runs only when the default export calls a library GEMM/conv)
    # gets this many seconds; past them it is stopped and the report says so.
    autotune_budget_s: float = 120.0
    # Shape families (docs/PROBLEMS.md): every correct candidate is also run on other sizes of the dynamic
    # dimensions (batch, sequence, ...). By default only kernels that are right on every shape tried are
    # chosen; shape_specialised lets a kernel right only for the recipe's shapes be chosen, and the inserted
    # class then runs the original module's code, on the same weights, for other shapes (dispatch.py).
    shape_checks: bool = True
    shape_specialised: bool = False
    # Refinement rounds of the llm generator (docs/LLM.md): after each round of n samples the verifier's
    # findings (errors with their lines, mismatches, fallbacks, times) go into the next prompt. 1: one-shot.
    # The loop stops early once the best correct kernel reaches target_speedup × torch.compile (× eager
    # when compile is not timed), after refine_budget_s wall seconds or refine_tokens sampled tokens.
    rounds: int = 1
    target_speedup: float | None = None
    refine_budget_s: float | None = None
    refine_tokens: int | None = None
    # Editor: how long the client may take to answer workspace/applyEdit before the kernel goes
    # into the command's result instead (a client that never answers must not hang the command).
    apply_edit_timeout_s: float = 30.0
    cache_dir: str | None = None  # None: the user cache dir
    use_cache: bool = True
    concurrency: str = "queue"  # queue | parallel: two conversions at once
    inputs: str | None = None  # input recipe given in settings: Python expression for get_inputs()
    init_inputs: str | None = None  # likewise for get_init_inputs()
    # The Python that runs verify workers and the model host (it needs torch and triton: the
    # `tritonize[torch]` extra). None: the interpreter running tritonize itself.
    worker_python: str | None = None
    model: ModelSettings = field(default_factory=ModelSettings)

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, *, keep_going: bool = True) -> tuple[Settings, list[str]]:
        """Build settings from a (possibly partial, possibly camelCase) dict.

        Returns the settings and a list of problems, one per bad key, each naming the key. With
        `keep_going` (the editor) each message says the default was kept; without it (the command
        line, which stops on any problem) it says only what is wrong.
        """
        settings = cls()
        problems = settings.update(data or {}, keep_going=keep_going)
        return settings, problems

    def update(self, data: dict[str, Any], prefix: str = "", *, keep_going: bool = True) -> list[str]:
        return _apply(self, data, prefix, keep_going)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def copy(self, **changes: Any) -> Settings:
        new = dataclasses.replace(self, **changes)
        if "model" not in changes:
            new.model = dataclasses.replace(self.model)
        return new

    # ---- derived ------------------------------------------------------------------------------

    def resolved_cache_dir(self) -> str:
        if self.cache_dir:
            return os.path.expanduser(self.cache_dir)
        if os.environ.get("TRITONIZE_CACHE_DIR"):
            return os.environ["TRITONIZE_CACHE_DIR"]
        try:
            import platformdirs
        except ImportError:  # a bare GPU box: follow the XDG convention by hand
            base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
            return os.path.join(base, "tritonize")
        return platformdirs.user_cache_dir("tritonize")

    def result_key_fields(self) -> dict[str, Any]:
        """The settings that change a conversion's result (part of the store key)."""
        return {
            "generators": sorted(self.generators),
            "n": self.n,
            "seeds": self.seeds,
            "atol": self.atol,
            "rtol": self.rtol,
            "allow_tf32": self.allow_tf32,
            "strict": self.strict,
            "model": {k: v for k, v in dataclasses.asdict(self.model).items()
                      if k not in ("idle_unload_s",) and (k != "refine_prompt" or self.rounds > 1)},
            "inputs": self.inputs,
            "init_inputs": self.init_inputs,
            "shape_checks": self.shape_checks,
            # only with refinement, so one-shot reports keep their keys
            **({"rounds": self.rounds, "target_speedup": self.target_speedup, "refine_budget_s": self.refine_budget_s,
                "refine_tokens": self.refine_tokens} if self.rounds > 1 else {}),
        }


_CHOICES = {
    "device": ("auto", "cpu", "cuda"),
    "placement": ("inline", "sibling"),
    "concurrency": ("queue", "parallel"),
    "model.runtime": ("transformers", "llama_cpp", "openai"),
    "model.endpoint": ("completions", "chat"),
    "model.dtype": ("auto", "float16", "bfloat16", "float32"),
}


def _snake(name: str) -> str:
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_" + ch.lower())
        else:
            out.append(ch)
    return "".join(out).replace("-", "_")


def _apply(obj: Any, data: dict[str, Any], prefix: str, keep_going: bool = True) -> list[str]:
    problems: list[str] = []
    if not isinstance(data, dict):
        return [f"{prefix.rstrip('.') or 'settings'}: expected an object, got {type(data).__name__}"]
    fields = {f.name: f for f in dataclasses.fields(obj)}
    for raw_key, value in data.items():
        key = _snake(str(raw_key))
        full = f"{prefix}{key}"
        if key not in fields:
            problems.append(f"unknown setting '{prefix}{raw_key}'" + (" (ignored)" if keep_going else ""))
            continue
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            problems.extend(_apply(current, value, full + ".", keep_going))
            continue
        ok, converted, why = _convert(full, value, fields[key].type, current)
        if not ok:
            problems.append(f"setting '{full}': {why}" + (f"; using the default {current!r}" if keep_going else ""))
            continue
        setattr(obj, key, converted)
    return problems


def _convert(full: str, value: Any, type_text: Any, current: Any) -> tuple[bool, Any, str]:
    t = str(type_text)
    optional = "None" in t
    if value is None:
        return (True, None, "") if optional else (False, None, "must not be null")
    if full == "generators":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return False, None, "expected a list of generator names"
        bad = [v for v in value if v not in ALL_GENERATORS]
        if bad:
            return False, None, f"unknown generator(s) {bad}; choose from {list(ALL_GENERATORS)}"
        if not value:
            return False, None, "needs at least one generator"
        return True, value, ""
    if full == "devices":
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return False, None, "expected a list of CUDA device indices"
        return True, value, ""
    if t.startswith("bool"):
        if isinstance(value, bool):
            return True, value, ""
        return False, None, f"expected true or false, got {value!r}"
    if t.startswith("int"):
        if isinstance(value, int) and not isinstance(value, bool):
            if full in ("n", "seeds", "rounds", "refine_tokens") and value < 1:
                return False, None, f"must be at least 1, got {value}"
            return True, value, ""
        return False, None, f"expected an integer, got {value!r}"
    if t.startswith("float"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value < 0:
                return False, None, f"must not be negative, got {value}"
            if full in ("target_speedup", "refine_budget_s") and value <= 0:
                return False, None, f"must be positive, got {value}"
            return True, float(value), ""
        return False, None, f"expected a number, got {value!r}"
    if t.startswith("str"):
        if not isinstance(value, str):
            return False, None, f"expected a string, got {value!r}"
        choices = _CHOICES.get(full)
        if choices and value not in choices:
            return False, None, f"expected one of {list(choices)}, got {value!r}"
        return True, value, ""
    return True, value, ""
