"""llama.cpp runtime (runs in the model host only: it imports llama_cpp).

llama.cpp samples one sequence at a time, so the n samples run one after another with seeds
seed, seed+1, ...; each is streamed, so cancel and the end of the code block are seen per token.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from llama_cpp import Llama

from . import SampleRequest, code_block_closed, cut_after_block

Emit = Callable[[dict], None]
REPORT_EVERY_S = 0.2


class LlamaCppRuntime:
    name = "llama_cpp"

    def __init__(self, path: str, *, gpu_layers: int = -1, n_ctx: int = 8192, threads: int | None = None) -> None:
        self.llm = Llama(model_path=path, n_gpu_layers=gpu_layers, n_ctx=n_ctx, n_threads=threads, verbose=False)
        self.model_name = os.path.basename(path).removesuffix(".gguf")
        self.describe = f"{self.model_name} (llama.cpp, {gpu_layers if gpu_layers >= 0 else 'all'} GPU layers)"

    def _stream(self, req: SampleRequest, seed: int):
        common = dict(max_tokens=req.max_new_tokens, temperature=req.temperature, top_p=req.top_p, seed=seed, stream=True)
        if req.messages is not None:
            for chunk in self.llm.create_chat_completion(messages=req.messages, **common):
                yield chunk["choices"][0].get("delta", {}).get("content") or ""
        else:
            for chunk in self.llm.create_completion(prompt=req.prompt, **common):
                yield chunk["choices"][0].get("text") or ""

    def generate(self, req: SampleRequest, emit: Emit, stop: threading.Event) -> list[str]:
        total = req.n * req.max_new_tokens
        tokens = 0
        last_report = 0.0
        texts: list[str] = []
        for i in range(req.n):
            if stop.is_set():
                break
            text = ""
            stream = self._stream(req, req.seed + i)
            try:
                for piece in stream:
                    tokens += 1
                    text += piece
                    if i == 0 and piece:
                        emit({"type": "text", "seq": 0, "delta": piece})
                    now = time.monotonic()
                    if now - last_report >= REPORT_EVERY_S:
                        last_report = now
                        emit({"type": "progress", "tokens": tokens, "total": total})
                    if stop.is_set() or (req.stop_at_block_end and code_block_closed(text)):
                        break
            finally:
                stream.close()  # ends llama.cpp's generation loop at once
            texts.append(cut_after_block(text) if req.stop_at_block_end else text)
        emit({"type": "progress", "tokens": tokens, "total": total})
        return texts

    def close(self) -> None:
        self.llm.close()
