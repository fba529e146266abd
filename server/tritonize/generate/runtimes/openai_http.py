"""OpenAI-compatible HTTP client (vLLM, SGLang, llama-server, Ollama, llama_cpp.server, hosted APIs).

Runs in the server process with the standard library only. It asks for all n samples in one
request (`n`), streams them (server-sent events) for progress, and issues more requests, seed by
seed, when the server returns fewer choices than asked (many servers ignore `n`). Connection
errors, 5xx and 429 answers are retried with exponential backoff; cancel closes the stream.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from ...cancel import Cancelled, CancelToken
from . import SampleRequest, code_block_closed, cut_after_block

RETRY_STATUS = {408, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 120.0  # a longer Retry-After is not waited for: the request fails with the server's answer


class OpenAIError(Exception):
    """The server refused or failed the request; the message quotes its answer."""


def normalize_base_url(url: str) -> str:
    """`http://host:8000` and `http://host:8000/v1/` both mean `http://host:8000/v1`."""
    url = url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    if not urllib.parse.urlparse(url).path:
        url += "/v1"
    return url


@dataclass
class OpenAIClient:
    base_url: str
    model: str | None = None
    api_key: str | None = None
    endpoint: str = "completions"  # completions | chat
    timeout_s: float = 600.0
    retries: int = 3
    backoff_s: float = 0.5  # first retry delay; doubles each time

    def __post_init__(self) -> None:
        self.base_url = normalize_base_url(self.base_url)

    @classmethod
    def from_settings(cls, m) -> OpenAIClient:
        key = os.environ.get(m.api_key_env) if m.api_key_env else None
        return cls(base_url=m.url, model=m.name, api_key=key, endpoint=m.endpoint,
                   timeout_s=m.request_timeout_s, retries=m.retries)

    # ---- HTTP ---------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _open(self, path: str, body: dict | None, cancel: CancelToken):
        """urlopen with retries on dropped connections, timeouts, 5xx and 429; raises OpenAIError when
        it gives up, and at once when nothing listens at the address."""
        url = self.base_url + path
        data = json.dumps(body).encode() if body is not None else None
        last = ""
        for attempt in range(self.retries + 1):
            cancel.raise_if_cancelled()
            req = urllib.request.Request(url, data=data, headers=self._headers(), method="POST" if data else "GET")
            wait: float | None = None
            try:
                return urllib.request.urlopen(req, timeout=self.timeout_s)
            except urllib.error.HTTPError as e:
                detail = e.read().decode(errors="replace")[:300]
                last = f"HTTP {e.code} from {url}: {detail}"
                if e.code not in RETRY_STATUS:
                    raise OpenAIError(last) from None
                wait = retry_after(e.headers.get("Retry-After"))
                if wait is not None and wait > MAX_RETRY_AFTER_S:
                    raise OpenAIError(f"{last} (the server asks to retry after {wait:.0f} s)") from None
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
                reason = getattr(e, "reason", e)
                if isinstance(reason, ConnectionRefusedError) or isinstance(e, ConnectionRefusedError):
                    raise OpenAIError(f"cannot connect to {self.base_url} (is the server running?)") from None
                last = f"cannot reach {url}: {reason}"
            if attempt < self.retries and cancel.wait(wait if wait is not None else self._backoff(attempt)):
                raise Cancelled()
        raise OpenAIError(f"{last} (gave up after {self.retries + 1} attempts)")

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: clients that failed together do not retry together."""
        return self.backoff_s * 2**attempt * random.uniform(0.5, 1.5)

    def model_id(self, cancel: CancelToken | None = None) -> str:
        """The configured model name, else the first model the server lists."""
        if self.model:
            return self.model
        with self._open("/models", None, cancel or CancelToken()) as resp:
            listing = json.loads(resp.read())
        models = listing.get("data") or []
        if not models:
            raise OpenAIError(f"{self.base_url}/models lists no models; set model.name")
        self.model = models[0]["id"]
        return self.model

    # ---- sampling -----------------------------------------------------------------------------

    def _body(self, req: SampleRequest, n: int, seed: int) -> dict:
        body = {"model": self.model_id(), "n": n, "temperature": req.temperature, "top_p": req.top_p,
                "max_tokens": req.max_new_tokens, "seed": seed, "stream": True}
        if self.endpoint == "chat":
            body["messages"] = req.messages or [{"role": "user", "content": req.prompt}]
        else:
            body["prompt"] = req.prompt
        return body

    def generate(self, req: SampleRequest, *, cancel: CancelToken | None = None,
                 on_progress: Callable[[int, int], None] = lambda done, total: None,
                 on_text: Callable[[int, str], None] = lambda seq, delta: None,
                 on_sample: Callable[[int, str], None] = lambda seq, text: None) -> list[str]:
        """n samples. `on_sample(seq, text)` hands each one over as soon as it is complete (its code
        block closed, or the server finished the choice), with the text that the returned list holds."""
        cancel = cancel or CancelToken()
        texts: list[str] = []
        total = req.n * req.max_new_tokens
        tokens = [0]
        attempts = 0
        # Some servers ignore n and return one choice: ask again (next seed) until there are n.
        while len(texts) < req.n and attempts < req.n:
            attempts += 1
            got = self._stream(req, req.n - len(texts), req.seed + len(texts), cancel, tokens, total,
                               on_progress, on_text, on_sample, first=len(texts))
            texts.extend(got)
        on_progress(tokens[0], total)
        return texts[: req.n]

    def _stream(self, req: SampleRequest, n: int, seed: int, cancel: CancelToken, tokens: list[int], total: int,
                on_progress, on_text, on_sample, first: int) -> list[str]:
        """One streamed request for n choices; the first one's sample number is `first`."""
        path = "/chat/completions" if self.endpoint == "chat" else "/completions"
        resp = self._open(path, self._body(req, n, seed), cancel)
        unregister = cancel.on_cancel(resp.close)  # unblocks the read below at once
        pieces: dict[int, str] = {}
        handed: set[int] = set()
        last_report = 0.0

        def finish(index: int) -> None:
            if index not in handed and index < n:
                handed.add(index)
                text = pieces.get(index, "")
                on_sample(first + index, cut_after_block(text) if req.stop_at_block_end else text)

        try:
            for choice_index, piece, finished in _events(resp, self.endpoint):
                pieces[choice_index] = pieces.get(choice_index, "") + piece
                tokens[0] += 1
                if first == 0 and choice_index == 0 and piece:
                    on_text(0, piece)
                if time.monotonic() - last_report > 0.2:
                    last_report = time.monotonic()
                    on_progress(tokens[0], total)
                if finished or (req.stop_at_block_end and code_block_closed(pieces[choice_index])):
                    finish(choice_index)
                if req.stop_at_block_end and len(handed) >= n:
                    break  # every answer is complete: no need to wait for the token limit
        except (OSError, ValueError, AttributeError) as e:
            # A closed response raises from inside http.client (ValueError/AttributeError).
            if not cancel.cancelled:
                raise OpenAIError(f"the stream from {self.base_url}{path} broke: {e}") from None
        finally:
            unregister()
            resp.close()
        cancel.raise_if_cancelled()
        for index in sorted(pieces):
            finish(index)
        texts = [pieces[i] for i in sorted(pieces)]
        return [cut_after_block(t) for t in texts] if req.stop_at_block_end else texts


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP date), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _events(resp, endpoint: str):
    """(choice index, text piece, finished) from a server-sent-event stream, or from a plain JSON answer;
    `finished` is true on the piece that carries the choice's finish_reason."""
    content_type = resp.headers.get("Content-Type", "")
    if "text/event-stream" not in content_type:  # the server ignored stream=true
        answer = json.loads(resp.read())
        for choice in answer.get("choices", []):
            text = choice.get("message", {}).get("content") if endpoint == "chat" else choice.get("text")
            yield int(choice.get("index", 0)), text or "", True
        return
    for raw in resp:
        line = raw.decode(errors="replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            continue
        if "error" in chunk:
            raise OpenAIError(f"server error: {chunk['error']}")
        for choice in chunk.get("choices", []):
            if endpoint == "chat":
                piece = (choice.get("delta") or {}).get("content") or ""
            else:
                piece = choice.get("text") or ""
            yield int(choice.get("index", 0)), piece, bool(choice.get("finish_reason"))
