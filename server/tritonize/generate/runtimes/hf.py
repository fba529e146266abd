"""transformers runtime (runs in the model host only: it imports torch and transformers).

All n samples come from ONE batched `generate` call (`num_return_sequences=n`). A stopping
criterion ends each sequence as soon as its code block closes, stops everything when the user
cancels, and reports progress (tokens so far) and the first sequence's text as it grows. On a GPU
the decode loop runs with a static KV cache, which transformers compiles (CUDA graphs) — the fast
path measured by benchmarks/llm_throughput.py; it falls back to the dynamic cache if that fails.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    StoppingCriteria,
    StoppingCriteriaList,
)

from . import SampleRequest, code_block_closed, cut_after_block

Emit = Callable[[dict], None]
REPORT_EVERY_S = 0.2
# The static cache is sized in buckets so that prompts of different lengths reuse one compiled
# decode graph instead of recompiling for every new length.
CACHE_BUCKET = 1024


def pick_dtype(name: str, device: str) -> torch.dtype:
    if name != "auto":
        return getattr(torch, name)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


class BlockWatch(StoppingCriteria):
    """Per-sequence stop at the end of the code block; all stop on cancel; progress as it goes."""

    def __init__(self, tokenizer, prompt_len: int, n: int, total: int, stop: threading.Event,
                 emit: Emit, backtick_ids: set[int], watch_blocks: bool) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.total = total
        self.stop = stop
        self.emit = emit
        self.backtick_ids = backtick_ids
        self.watch_blocks = watch_blocks
        self.done = [False] * n
        self.tokens = 0
        self._last_report = 0.0
        self._streamed = ""

    def _text(self, row: torch.Tensor) -> str:
        return self.tokenizer.decode(row[self.prompt_len:], skip_special_tokens=True)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.BoolTensor:
        last = input_ids[:, -1].tolist()
        for i, token in enumerate(last):
            if self.done[i]:
                continue
            self.tokens += 1
            if self.watch_blocks and token in self.backtick_ids and code_block_closed(self._text(input_ids[i])):
                self.done[i] = True
        now = time.monotonic()
        if now - self._last_report >= REPORT_EVERY_S:
            self._last_report = now
            self._report(input_ids)
        if self.stop.is_set():
            return torch.ones(len(last), dtype=torch.bool, device=input_ids.device)
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

    def _report(self, input_ids: torch.Tensor) -> None:
        self.emit({"type": "progress", "tokens": self.tokens, "total": self.total})
        text = self._text(input_ids[0])
        if text.startswith(self._streamed) and len(text) > len(self._streamed):
            self.emit({"type": "text", "seq": 0, "delta": text[len(self._streamed):]})
            self._streamed = text

    def finish(self, first_text: str) -> None:
        self.emit({"type": "progress", "tokens": self.tokens, "total": self.total})
        if first_text.startswith(self._streamed) and len(first_text) > len(self._streamed):
            self.emit({"type": "text", "seq": 0, "delta": first_text[len(self._streamed):]})


class HFRuntime:
    name = "transformers"

    def __init__(self, model, tokenizer, *, name: str, fast_decode: bool = True) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = model.device.type
        self.dtype = model.dtype
        self.model_name = name
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.backtick_ids = {i for i, tok in enumerate(vocab) if tok and "`" in tok}
        # The static-cache (compiled) decode path: GPU only; CPU gains nothing from it.
        self.fast_decode = fast_decode and self.device == "cuda"
        self.describe = f"{name} on {self.device} ({str(self.dtype).replace('torch.', '')})"

    @classmethod
    def load(cls, path: str, *, dtype: str = "auto", device: str | None = None, threads: int | None = None) -> HFRuntime:
        if threads:
            # CPU threads for torch; on a busy machine fewer threads beat oversubscribed ones.
            torch.set_num_threads(threads)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=pick_dtype(dtype, device)).to(device)
        return cls(model, tokenizer, name=path.rstrip("/").rsplit("/", 1)[-1])

    def encode(self, req: SampleRequest) -> torch.Tensor:
        if req.messages is not None:
            if not getattr(self.tokenizer, "chat_template", None):
                raise ValueError("this model's tokenizer has no chat template; set model.chat_template to false")
            text = self.tokenizer.apply_chat_template(req.messages, tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
        else:
            ids = self.tokenizer(req.prompt, return_tensors="pt").input_ids
        return ids.to(self.device)

    def generation_config(self, req: SampleRequest, prompt_len: int, static: bool) -> GenerationConfig:
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        sampling = req.temperature > 0
        cfg = GenerationConfig(
            max_new_tokens=req.max_new_tokens,
            do_sample=sampling,
            temperature=req.temperature if sampling else None,
            top_p=req.top_p if sampling else None,
            top_k=None,
            num_return_sequences=req.n,
            pad_token_id=pad,
            eos_token_id=self.model.generation_config.eos_token_id or tok.eos_token_id,
            bos_token_id=tok.bos_token_id,
        )
        if static:
            cfg.cache_implementation = "static"
            if hasattr(cfg, "max_cache_len"):
                needed = prompt_len + req.max_new_tokens
                cfg.max_cache_len = -(-needed // CACHE_BUCKET) * CACHE_BUCKET
        return cfg

    def generate(self, req: SampleRequest, emit: Emit, stop: threading.Event) -> list[str]:
        ids = self.encode(req)
        prompt_len = ids.shape[1]
        torch.manual_seed(req.seed)
        watch = BlockWatch(self.tokenizer, prompt_len, req.n, req.n * req.max_new_tokens, stop, emit,
                           self.backtick_ids, req.stop_at_block_end)
        out = self._run(ids, req, prompt_len, watch)
        texts = [self.tokenizer.decode(row[prompt_len:], skip_special_tokens=True) for row in out]
        if req.stop_at_block_end:
            texts = [cut_after_block(t) for t in texts]
        watch.finish(texts[0] if texts else "")
        return texts

    def _run(self, ids: torch.Tensor, req: SampleRequest, prompt_len: int, watch: BlockWatch) -> torch.Tensor:
        mask = torch.ones_like(ids)
        criteria = StoppingCriteriaList([watch])
        if self.fast_decode:
            try:
                with torch.inference_mode():
                    return self.model.generate(input_ids=ids, attention_mask=mask, stopping_criteria=criteria,
                                               generation_config=self.generation_config(req, prompt_len, True))
            except Exception as exc:  # a compile failure must not lose the request
                print(f"model host: static-cache decode failed ({type(exc).__name__}: {exc}); "
                      "using the dynamic cache from now on", file=sys.stderr)
                self.fast_decode = False
                if watch.stop.is_set():
                    raise
                watch.tokens = 0
                watch.done = [False] * req.n
        with torch.inference_mode():
            return self.model.generate(input_ids=ids, attention_mask=mask, stopping_criteria=criteria,
                                       generation_config=self.generation_config(req, prompt_len, False))

    def close(self) -> None:
        del self.model
        if self.device == "cuda":
            torch.cuda.empty_cache()
