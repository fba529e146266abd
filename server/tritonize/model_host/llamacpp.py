"""llama.cpp runtime (runs in the model host only: it imports llama_cpp).

llama.cpp samples one sequence at a time, so the n samples run one after another with seeds
seed, seed+1, .... The loop is ours, token by token (`Llama.generate`), rather than
`create_completion(stream=True)`: that stream yields nothing while the text so far is not valid
UTF-8 (and re-decodes all of it at every step), so a cancel could go unseen for minutes. Here the
stop flag and the end of the code block are checked after every token, and text is decoded
incrementally. Each sample is handed over (a "sample" event) as soon as it ends, so the server verifies
it while the next one is written.
"""

from __future__ import annotations

import codecs
import os
import threading
import time
from collections.abc import Callable

import llama_cpp
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from ..generate.runtimes import SampleRequest, code_block_closed, cut_after_block

Emit = Callable[[dict], None]
REPORT_EVERY_S = 0.2


class LlamaCppRuntime:
    name = "llama_cpp"

    def __init__(self, path: str, *, gpu_layers: int = -1, n_ctx: int = 8192, threads: int | None = None) -> None:
        self.llm = Llama(model_path=path, n_gpu_layers=gpu_layers, n_ctx=n_ctx, n_threads=threads, verbose=False)
        self.model_name = os.path.basename(path).removesuffix(".gguf")
        self.describe = f"{self.model_name} (llama.cpp, {gpu_layers if gpu_layers >= 0 else 'all'} GPU layers)"

    def _token_text(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode(errors="replace")

    def prompt_tokens(self, req: SampleRequest) -> list[int]:
        if req.messages is None:
            return self.llm.tokenize(req.prompt.encode(), add_bos=True, special=False)
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError("this GGUF has no chat template (tokenizer.chat_template); set model.chat_template to false")
        formatter = Jinja2ChatFormatter(template=template, eos_token=self._token_text(self.llm.token_eos()),
                                        bos_token=self._token_text(self.llm.token_bos()))
        prompt = formatter(messages=req.messages).prompt
        return self.llm.tokenize(prompt.encode(), add_bos=False, special=True)

    def _is_end(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))

    def generate(self, req: SampleRequest, emit: Emit, stop: threading.Event) -> list[str]:
        prompt = self.prompt_tokens(req)
        if len(prompt) + req.max_new_tokens > self.llm.n_ctx():
            raise ValueError(f"prompt ({len(prompt)} tokens) + max_new_tokens ({req.max_new_tokens}) exceed "
                             f"the context size {self.llm.n_ctx()} (model.n_ctx)")
        total = req.n * req.max_new_tokens
        progress = {"tokens": 0, "last": 0.0}
        texts: list[str] = []
        for i in range(req.n):
            if stop.is_set():
                break
            text = self._sample(prompt, req, req.seed + i, stop, emit, progress, total, stream=i == 0)
            if stop.is_set():
                break  # cancelled mid-sample: the half-written sample is not an answer
            texts.append(cut_after_block(text) if req.stop_at_block_end else text)
            emit({"type": "sample", "seq": i, "text": texts[-1]})
        emit({"type": "progress", "tokens": progress["tokens"], "total": total})
        return texts

    def _sample(self, prompt: list[int], req: SampleRequest, seed: int, stop: threading.Event, emit: Emit,
                progress: dict, total: int, stream: bool) -> str:
        self.llm.set_seed(seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""
        produced = 0
        sampling = req.temperature > 0
        tokens = self.llm.generate(prompt, top_k=0 if sampling else 1, top_p=req.top_p, min_p=0.0,
                                   temp=req.temperature, repeat_penalty=1.0, reset=True)
        try:
            for token in tokens:
                if stop.is_set() or self._is_end(token):
                    break
                produced += 1
                progress["tokens"] += 1
                piece = decoder.decode(self.llm.detokenize([token]))
                text += piece
                if stream and piece:
                    emit({"type": "text", "seq": 0, "delta": piece})
                now = time.monotonic()
                if now - progress["last"] >= REPORT_EVERY_S:
                    progress["last"] = now
                    emit({"type": "progress", "tokens": progress["tokens"], "total": total})
                if produced >= req.max_new_tokens or (req.stop_at_block_end and code_block_closed(text)):
                    break
        finally:
            tokens.close()
        tail = decoder.decode(b"", final=True)
        if stream and tail:
            emit({"type": "text", "seq": 0, "delta": tail})
        return text + tail

    def close(self) -> None:
        self.llm.close()
