"""The `llm` generator: candidates sampled from a language model such as KernelLLM.

Server side only: it builds the prompt, then samples either in the model host child process
(transformers, llama.cpp: `ctx.model_host`) or from an OpenAI-compatible server over HTTP, and turns
each sample into one Candidate (candidate.parse_model_output). Text streams to `ctx.on_text` as it
is written. No model runtime is imported here (invariant 1).
"""

from __future__ import annotations

import importlib.util
import os
import random
from dataclasses import dataclass

from ..candidate import Candidate, parse_model_output
from ..problem import Problem
from ..settings import ModelSettings
from . import GenerateContext, GeneratorSkipped
from .runtimes import SampleRequest

PROMPTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "prompts")
DEFAULT_PROMPT = "kernelllm_v1.txt"
DEFAULT_CHAT_PROMPT = "kernelllm_chat_v1.txt"
SYSTEM_PROMPT = "system_v1.txt"
PLACEHOLDER = "{problem}"

# ---- configuration ------------------------------------------------------------------------------


@dataclass
class ModelChoice:
    runtime: str  # transformers | llama_cpp | openai
    name: str  # shown in the origin: llm:<name>
    chat: bool  # chat messages instead of a raw completion prompt


def resolve(m: ModelSettings) -> ModelChoice:
    """Which runtime serves these settings; GeneratorSkipped says what to set when none can."""
    if m.url and (m.runtime == "openai" or not m.path):
        return ModelChoice("openai", m.name or "", chat=m.endpoint == "chat" or m.chat_template)
    if not m.path:
        if m.runtime == "openai":
            raise GeneratorSkipped("model.runtime is openai but model.url is not set")
        raise GeneratorSkipped("no model configured: set model.path (HF dir or .gguf) or model.url")
    path = os.path.expanduser(m.path)
    if not os.path.exists(path):
        raise GeneratorSkipped(f"model.path {m.path} does not exist")
    gguf = path.endswith(".gguf") or (os.path.isfile(path) and _is_gguf(path))
    runtime = "llama_cpp" if gguf or m.runtime == "llama_cpp" else "transformers"
    if runtime == "transformers" and not os.path.isfile(os.path.join(path, "config.json")):
        raise GeneratorSkipped(f"{m.path} is neither a GGUF file nor a transformers checkpoint directory (no config.json)")
    module = {"transformers": "transformers", "llama_cpp": "llama_cpp"}[runtime]
    if importlib.util.find_spec(module) is None:
        raise GeneratorSkipped(f"{module} is not installed (run `make setup-llm`, or pip install 'tritonize[{module.replace('_', '-')}]')")
    name = m.name or os.path.basename(path.rstrip("/")).removesuffix(".gguf")
    return ModelChoice(runtime, name, chat=m.chat_template)


def _is_gguf(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"GGUF"


def load_template(m: ModelSettings, chat: bool) -> str:
    path = os.path.expanduser(m.prompt) if m.prompt else os.path.join(PROMPTS_DIR, DEFAULT_CHAT_PROMPT if chat else DEFAULT_PROMPT)
    try:
        with open(path, encoding="utf-8") as f:
            template = f.read()
    except OSError as e:
        raise GeneratorSkipped(f"cannot read prompt template {path}: {e.strerror or e}") from None
    if PLACEHOLDER not in template:
        raise GeneratorSkipped(f"prompt template {path} has no {PLACEHOLDER} placeholder for the module")
    return template


def build_prompt(problem: Problem, m: ModelSettings, chat: bool) -> tuple[str | None, list[dict] | None]:
    """(raw prompt, None) or (None, chat messages) for this problem."""
    text = load_template(m, chat).replace(PLACEHOLDER, problem.source.strip())
    if not chat:
        return text, None
    with open(os.path.join(PROMPTS_DIR, SYSTEM_PROMPT), encoding="utf-8") as f:
        system = f.read().strip()
    return None, [{"role": "system", "content": system}, {"role": "user", "content": text}]


def load_settings(m: ModelSettings, runtime: str) -> dict:
    """What the host needs to load the model (and what keys a loaded model)."""
    return {"runtime": runtime, "path": os.path.abspath(os.path.expanduser(m.path or "")), "dtype": m.dtype,
            "gpu_layers": m.gpu_layers, "n_ctx": m.n_ctx, "threads": m.threads}


# ---- the generator ------------------------------------------------------------------------------


class LLMGenerator:
    name = "llm"

    def generate(self, problem: Problem, ctx: GenerateContext) -> list[Candidate]:
        m = ctx.settings.model
        choice = resolve(m)
        prompt, messages = build_prompt(problem, m, choice.chat)
        n = ctx.settings.n
        seed = m.seed if m.seed is not None else random.randrange(2**31)
        req = SampleRequest(prompt=prompt, messages=messages, n=n, temperature=m.temperature, top_p=m.top_p,
                            max_new_tokens=m.max_new_tokens, seed=seed)

        def on_progress(tokens: int, total: int) -> None:
            ctx.progress(f"sampling {n} × ≤{m.max_new_tokens} tokens ({tokens} so far)", tokens, total)

        ctx.progress(f"sampling {n} from {choice.name or m.url}", 0, n * m.max_new_tokens)
        if choice.runtime == "openai":
            texts, name = self._sample_http(m, req, ctx, on_progress)
        else:
            texts, name = self._sample_local(m, choice, req, ctx, on_progress), choice.name
        ctx.cancel.raise_if_cancelled()
        origin = f"llm:{name}"
        return [parse_model_output(t, origin, problem_name=problem.name, candidate_id=f"{origin}/{i + 1}")
                for i, t in enumerate(texts)]

    def _sample_http(self, m: ModelSettings, req: SampleRequest, ctx: GenerateContext, on_progress) -> tuple[list[str], str]:
        from .runtimes.openai_http import OpenAIClient, OpenAIError

        client = OpenAIClient.from_settings(m)
        try:
            name = client.model_id(ctx.cancel)
            texts = client.generate(req, cancel=ctx.cancel, on_progress=on_progress, on_text=ctx.on_text)
        except OpenAIError as e:
            raise RuntimeError(str(e)) from None
        return texts, name

    def _sample_local(self, m: ModelSettings, choice: ModelChoice, req: SampleRequest, ctx: GenerateContext,
                      on_progress) -> list[str]:
        from .host_client import HostEvents, ModelHostError

        events = HostEvents(on_progress=on_progress, on_text=ctx.on_text,
                            on_status=lambda msg: ctx.progress(msg, 0, 0))
        try:
            result = ctx.model_host.generate(load_settings(m, choice.runtime), req.to_dict(),
                                               idle_unload_s=m.idle_unload_s, cancel=ctx.cancel, events=events,
                                               timeout_s=m.request_timeout_s)
        except ModelHostError as e:
            raise RuntimeError(f"model host: {e}") from None
        return result.texts
