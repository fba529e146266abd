"""A scripted language model behind a real OpenAI-compatible HTTP server on loopback (stdlib only).

It speaks /v1/models, /v1/completions and /v1/chat/completions, streaming server-sent events, and
answers according to what the prompt contains, like a model that reads the verifier's feedback:

- no feedback in the prompt: a kernel that does not work (it calls `tl.no_such_op`);
- the failing line quoted back (``line N: `... tl.no_such_op ...` ``): the call is gone, but the
  scale is forgotten, so the result is wrong;
- a wrong result with its worst index in the prompt: a correct kernel, written slowly (a small
  block, a kernel launch per row);
- measured times against eager and torch.compile in the prompt: a faster correct kernel (one
  launch, large blocks).

Every answer is prose around one fenced code block, as chat models write. The problem is
`SCALED_ADD` below: out = x + y * scale.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCALED_ADD = '''import torch
import torch.nn as nn


class ScaledAdd(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x, y):
        return x + y * self.scale


def get_inputs():
    return [torch.randn(16, 96), torch.randn(16, 96)]


def get_init_inputs():
    return [2.5]
'''

BROKEN = '''I will fuse the multiply and the add into one elementwise Triton kernel.

```python
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def scaled_add_kernel(x_ptr, y_ptr, out_ptr, n_elements, scale, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    out = tl.no_such_op(x, y * scale)
    tl.store(out_ptr + offsets, out, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x, y):
        x, y = x.contiguous(), y.contiguous()
        out = torch.empty_like(x)
        n_elements = out.numel()
        grid = (triton.cdiv(n_elements, 256),)
        scaled_add_kernel[grid](x, y, out, n_elements, self.scale, BLOCK_SIZE=256)
        return out
```
'''

WRONG = '''The kernel called tl.no_such_op, which triton.language does not have; a plain addition does the job.

```python
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def scaled_add_kernel(x_ptr, y_ptr, out_ptr, n_elements, scale, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, x + y, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x, y):
        x, y = x.contiguous(), y.contiguous()
        out = torch.empty_like(x)
        n_elements = out.numel()
        grid = (triton.cdiv(n_elements, 256),)
        scaled_add_kernel[grid](x, y, out, n_elements, self.scale, BLOCK_SIZE=256)
        return out
```
'''

SLOW = '''The result was wrong because the kernel dropped the scale: y has to be multiplied by it before the
addition. This version computes one row per launch to keep the indexing obvious.

```python
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def scaled_add_row_kernel(x_ptr, y_ptr, out_ptr, n_cols, scale, BLOCK_SIZE: tl.constexpr):
    cols = tl.arange(0, BLOCK_SIZE)
    for start in range(0, n_cols, BLOCK_SIZE):
        offsets = start + cols
        mask = offsets < n_cols
        x = tl.load(x_ptr + offsets, mask=mask)
        y = tl.load(y_ptr + offsets, mask=mask)
        tl.store(out_ptr + offsets, x + y * scale, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x, y):
        x, y = x.contiguous(), y.contiguous()
        out = torch.empty_like(x)
        rows = x.reshape(-1, x.shape[-1])
        n_cols = rows.shape[1]
        for r in range(rows.shape[0]):
            start = r * n_cols
            scaled_add_row_kernel[(1,)](x.view(-1)[start:], y.view(-1)[start:], out.view(-1)[start:], n_cols,
                                        self.scale, BLOCK_SIZE=32)
        return out
```
'''

FAST = '''It is correct but launches one small kernel per row. One launch over all elements with 1024-wide
blocks does the same work with far less launch overhead.

```python
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def scaled_add_kernel(x_ptr, y_ptr, out_ptr, n_elements, scale, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, x + y * scale, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x, y):
        x, y = x.contiguous(), y.contiguous()
        out = torch.empty_like(x)
        n_elements = out.numel()
        grid = (triton.cdiv(n_elements, 1024),)
        scaled_add_kernel[grid](x, y, out, n_elements, self.scale, BLOCK_SIZE=1024)
        return out
```
'''

_ERROR_LINE_QUOTED = re.compile(r"line \d+: `[^`\n]*no_such_op")
_TIMED = re.compile(r"torch\.compile [\d.]+ ms \([\d.]+× speedup\)")


def answer_for(prompt: str) -> str:
    """What the scripted model writes for this prompt (see the module's docstring)."""
    if _TIMED.search(prompt):
        return FAST
    if "wrong result" in prompt and "worst at" in prompt:
        return SLOW
    if _ERROR_LINE_QUOTED.search(prompt):
        return WRONG
    return BROKEN


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json({"object": "list", "data": [{"id": "scripted-kernel-model", "object": "model"}]})
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        server: ScriptedModelServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        chat = self.path.endswith("/chat/completions")
        if chat:
            prompt = "\n".join(m["content"] for m in body["messages"])
        else:
            prompt = body["prompt"]
        with server.lock:
            server.prompts.append(prompt)
            server.bodies.append(body)
        text = answer_for(prompt)
        n = int(body.get("n", 1))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            # The choices stream one after another, the later ones `slow_after_first` seconds behind.
            for index in range(n):
                pieces = [text[i:i + 24] for i in range(0, len(text), 24)]
                for k, piece in enumerate(pieces):
                    if index > 0 and server.slow_after_first:
                        time.sleep(server.slow_after_first / len(pieces))
                    if chat:
                        choice = {"index": index, "delta": {"content": piece}, "finish_reason": None}
                    else:
                        choice = {"index": index, "text": piece, "finish_reason": None}
                    if k == len(pieces) - 1:
                        choice["finish_reason"] = "stop"
                    self.wfile.write(f"data: {json.dumps({'choices': [choice]})}\n\n".encode())
                    self.wfile.flush()
                with server.lock:
                    server.choice_ends.append(time.monotonic())
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _json(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ScriptedModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, slow_after_first: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.prompts: list[str] = []
        self.bodies: list[dict] = []
        self.choice_ends: list[float] = []
        self.slow_after_first = slow_after_first
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> ScriptedModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
