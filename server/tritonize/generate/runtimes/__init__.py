"""Model runtimes: one module per way of running a language model.

`hf` (transformers) and `llamacpp` (llama.cpp) run inside the model host child process and are
imported only there; `openai_http` is a plain-urllib client that runs in the server process.
All of them return raw sample texts; parsing into candidates happens in candidate.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A Markdown fence at the start of a line, as candidate.py reads them.
_FENCE_AT_LINE_START = re.compile(r"(?m)^[ \t]*```")


def code_block_closed(text: str) -> bool:
    """True once `text` has opened and closed a fenced code block: the answer is complete."""
    return len(_FENCE_AT_LINE_START.findall(text)) >= 2


def cut_after_block(text: str) -> str:
    """Drop whatever follows the first closed code block (what a sampler emitted before it stopped)."""
    fences = list(_FENCE_AT_LINE_START.finditer(text))
    if len(fences) < 2:
        return text
    end = text.find("\n", fences[1].end())
    return text if end < 0 else text[: end + 1]


@dataclass
class SampleRequest:
    """What to sample: a raw prompt or chat messages, and the sampling settings."""

    prompt: str | None
    messages: list[dict] | None
    n: int
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    stop_at_block_end: bool = True

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> SampleRequest:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
