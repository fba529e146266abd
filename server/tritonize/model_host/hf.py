"""transformers runtime (runs in the model host only: it imports torch and transformers).

All n samples come from ONE batched call. Each sequence ends as soon as its code block closes and is
handed over at once (a "sample" event: the server verifies it while the others are still written),
everything stops when the user cancels, and progress (tokens so far) and the first sequence's text
are reported as they grow. On a GPU the fast path samples (hf_fast.py: static KV cache, the decode
step as one CUDA graph, sampling after it with no host sync, the host checking every few tokens) —
what benchmarks/llm_throughput.py measures. If it fails, transformers' own `generate` with the dynamic
cache (`num_return_sequences=n` and a stopping criterion) takes over.
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

from ..generate.runtimes import SampleRequest, code_block_closed, cut_after_block

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
    """Per-sequence stop at the end of the code block (or at end of sequence), each finished sequence
    handed over at once as a "sample" event; all stop on cancel; progress as it goes."""

    def __init__(self, tokenizer, prompt_len: int, n: int, total: int, stop: threading.Event,
                 emit: Emit, backtick_ids: set[int], watch_blocks: bool, eos_ids: set[int] | None = None) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.total = total
        self.stop = stop
        self.emit = emit
        self.backtick_ids = backtick_ids
        self.watch_blocks = watch_blocks
        self.eos_ids = eos_ids or set()
        self.handed: set[int] = set()  # samples already sent (kept across a reset: a sample is sent once)
        self.reset(n)  # done, and for the fast path where each done row ends and how much of it was read
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
            if token in self.eos_ids:
                self.done[i] = True
                self.hand_over(i, self._text(input_ids[i]))
            elif self.watch_blocks and token in self.backtick_ids and code_block_closed(text := self._text(input_ids[i])):
                self.done[i] = True
                self.hand_over(i, text)
        now = time.monotonic()
        if now - self._last_report >= REPORT_EVERY_S:
            self._last_report = now
            self._report(input_ids)
        if self.stop.is_set():
            return torch.ones(len(last), dtype=torch.bool, device=input_ids.device)
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

    def reset(self, rows: int) -> None:
        self.done = [False] * rows
        self.ended_at = [0] * rows
        self.seen = [0] * rows
        self.tokens = 0

    def check_rows(self, rows: list[list[int]], eos_ids: set[int]) -> bool:
        """The fast path's check, every few tokens: rows are the new tokens so far (one list per
        sample). Marks rows done at end of sequence or once their code block closes; reports; True
        to stop sampling (all rows done, or cancelled)."""
        total = 0
        for i, row in enumerate(rows):
            if not self.done[i]:
                end = next((k for k in range(self.seen[i], len(row)) if row[k] in eos_ids), None)
                if end is not None:
                    self.done[i] = True
                    self.ended_at[i] = end
                elif self.watch_blocks:
                    # The first token (after what was already read) at which the code block is closed.
                    for k in range(self.seen[i], len(row)):
                        if row[k] in self.backtick_ids and code_block_closed(
                                self.tokenizer.decode(row[: k + 1], skip_special_tokens=True)):
                            self.done[i] = True
                            self.ended_at[i] = k + 1
                            break
                if self.done[i]:
                    self.hand_over(i, self.tokenizer.decode(row[: self.ended_at[i]], skip_special_tokens=True))
                self.seen[i] = len(row)
            total += self.ended_at[i] if self.done[i] else len(row)
        self.tokens = total
        now = time.monotonic()
        if now - self._last_report >= REPORT_EVERY_S and rows:
            self._last_report = now
            self.emit({"type": "progress", "tokens": self.tokens, "total": self.total})
            self._stream(self.tokenizer.decode(rows[0][: self.ended_at[0] if self.done[0] else None],
                                               skip_special_tokens=True))
        return self.stop.is_set() or all(self.done)

    def hand_over(self, i: int, text: str) -> None:
        """Send sample i, finished, as the request's result will hold it."""
        if i in self.handed:
            return
        self.handed.add(i)
        self.emit({"type": "sample", "seq": i, "text": cut_after_block(text) if self.watch_blocks else text})

    def _stream(self, text: str) -> None:
        if text.startswith(self._streamed) and len(text) > len(self._streamed):
            self.emit({"type": "text", "seq": 0, "delta": text[len(self._streamed):]})
            self._streamed = text

    def _report(self, input_ids: torch.Tensor) -> None:
        self.emit({"type": "progress", "tokens": self.tokens, "total": self.total})
        self._stream(self._text(input_ids[0]))

    def finish(self, first_text: str) -> None:
        self.emit({"type": "progress", "tokens": self.tokens, "total": self.total})
        self._stream(first_text)


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
        # The fast path (hf_fast.py: static cache, compiled step, host checks every few tokens). On a
        # GPU the step is compiled to a CUDA graph; on a CPU it runs eagerly, which tests use.
        self.fast_decode = fast_decode and self.device == "cuda"
        self.compile_decode = self.device == "cuda"
        self._sampler = None
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

    def generation_config(self, req: SampleRequest) -> GenerationConfig:
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        sampling = req.temperature > 0
        cfg = GenerationConfig(
            max_new_tokens=req.max_new_tokens,
            do_sample=sampling,
            temperature=req.temperature if sampling else None,
            top_p=req.top_p if sampling else None,
            top_k=None,
            # Greedy decoding gives n identical rows: transformers refuses n > 1 there, so one is sampled.
            num_return_sequences=req.n if sampling else 1,
            pad_token_id=pad,
            eos_token_id=self.model.generation_config.eos_token_id or tok.eos_token_id,
            bos_token_id=tok.bos_token_id,
        )
        return cfg

    def generate(self, req: SampleRequest, emit: Emit, stop: threading.Event) -> list[str]:
        ids = self.encode(req)
        prompt_len = ids.shape[1]
        torch.manual_seed(req.seed)
        watch = BlockWatch(self.tokenizer, prompt_len, req.n, req.n * req.max_new_tokens, stop, emit,
                           self.backtick_ids, req.stop_at_block_end, eos_ids=self._eos_ids())
        rows = self._run(ids, req, prompt_len, watch)
        texts = [self.tokenizer.decode(row, skip_special_tokens=True) for row in rows]
        if req.stop_at_block_end:
            texts = [cut_after_block(t) for t in texts]
        if not stop.is_set():  # the samples that ran to the token limit (a cancelled request hands over nothing more)
            for i, text in enumerate(texts):
                watch.hand_over(i, text)
        watch.finish(texts[0] if texts else "")
        return texts

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        return set(eos if isinstance(eos, list) else [] if eos is None else [eos])

    def _run(self, ids: torch.Tensor, req: SampleRequest, prompt_len: int, watch: BlockWatch) -> list[list[int]]:
        """The new tokens of each sample. The fast path first; on any failure transformers' own
        `generate` (dynamic cache) takes over, for this request and the ones after it."""
        while self.fast_decode:
            try:
                return self._run_fast(ids, req, prompt_len, watch)
            except Exception as exc:  # a compile failure must not lose the request
                if watch.stop.is_set():
                    raise
                # First the same loop with an eager step, then transformers' generate.
                then = "the fast path without compiling" if self.compile_decode else "transformers' generate"
                print(f"model host: fast sampling failed ({type(exc).__name__}: {exc}); using {then} from now on",
                      file=sys.stderr)
                self.fast_decode = self.compile_decode
                self.compile_decode = False
                self._sampler = None
                watch.reset(req.n)
        watch.reset(req.n if req.temperature > 0 else 1)  # greedy: one row, repeated below
        mask = torch.ones_like(ids)
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=mask, stopping_criteria=StoppingCriteriaList([watch]),
                                      generation_config=self.generation_config(req))
        eos = self._eos_ids()
        rows = []
        for row in out[:, prompt_len:].tolist():
            end = next((k for k, t in enumerate(row) if t in eos), len(row))
            rows.append(row[:end])
        return rows if len(rows) == req.n else rows * req.n

    def _run_fast(self, ids: torch.Tensor, req: SampleRequest, prompt_len: int, watch: BlockWatch) -> list[list[int]]:
        from .hf_fast import FastSampler

        if self._sampler is None:
            self._sampler = FastSampler(self.model, compile_step=self.compile_decode)
        eos = self._eos_ids()
        cache_len = -(-(prompt_len + req.max_new_tokens) // CACHE_BUCKET) * CACHE_BUCKET
        if self._sampler.will_compile(req.n, cache_len):
            watch.emit({"type": "status", "message": f"compiling the decode step for {req.n} samples × {cache_len} "
                        "positions (once per model and size; about a minute for an 8B model)"})
        tokens = self._sampler.sample(ids, req.n, max_new_tokens=req.max_new_tokens, cache_len=cache_len,
                                      temperature=req.temperature, top_p=req.top_p,
                                      check=lambda t: watch.check_rows(t.tolist(), eos))
        rows = tokens.tolist()
        watch.check_rows(rows, eos)
        return [row[: watch.ended_at[i]] if watch.done[i] else row for i, row in enumerate(rows)]

    def close(self) -> None:
        del self.model
        if self.device == "cuda":
            torch.cuda.empty_cache()
