"""The OpenAI-compatible client: against small loopback servers of our own (retries, servers that
ignore `n` or streaming, cancel mid-stream) and against llama_cpp.server serving the tiny GGUF."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from llm_models import need, tiny_gguf
from tritonize.cancel import Cancelled, CancelToken
from tritonize.generate.runtimes import SampleRequest
from tritonize.generate.runtimes.openai_http import OpenAIClient, OpenAIError, normalize_base_url

ANSWER = "```python\nclass ModelNew:\n    pass\n```\nsome trailing talk"


def req(n: int = 2, **kw) -> SampleRequest:
    return SampleRequest(prompt="class Model:", messages=None, n=n, temperature=1.0, top_p=0.97,
                         max_new_tokens=kw.pop("max_new_tokens", 16), seed=5, **kw)


class Scripted(BaseHTTPRequestHandler):
    """Answers POSTs according to the server's `script`: a list of behaviours, one per request."""

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.bodies.append(body)
        behaviour = server.script.pop(0) if len(server.script) > 1 else server.script[0]
        server.times.append(time.monotonic())
        if isinstance(behaviour, tuple):  # (status, Retry-After value)
            self.send_response(behaviour[0])
            self.send_header("Retry-After", behaviour[1])
            self.end_headers()
            self.wfile.write(b'{"error": "busy"}')
            return
        if isinstance(behaviour, int):
            self.send_response(behaviour)
            self.end_headers()
            self.wfile.write(b'{"error": "busy"}')
            return
        if behaviour == "json-one":  # ignores both n and stream
            payload = json.dumps({"choices": [{"index": 0, "text": f"answer seed {body['seed']}"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        delay = 0.5 if behaviour == "slow" else 0.0
        pieces = [ANSWER[i:i + 4] for i in range(0, len(ANSWER), 4)]
        if behaviour == "slow":
            pieces = pieces * 100
        try:
            for piece in pieces:
                for index in range(body.get("n", 1)):
                    chunk = {"choices": [{"index": index, "text": piece}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                time.sleep(delay)
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.daemon_threads = True
    server.script, server.bodies, server.times = ["sse"], [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def client(server, **kw) -> OpenAIClient:
    return OpenAIClient(f"http://127.0.0.1:{server.server_address[1]}", model="m", backoff_s=0.01, **kw)


def test_base_url_forms():
    assert normalize_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalize_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalize_base_url("http://h:11434/v1/chat/completions") == "http://h:11434/v1"


def test_streamed_n_samples_stop_after_the_code_block(scripted):
    progress: list[tuple[int, int]] = []
    texts = client(scripted).generate(req(n=2), on_progress=lambda d, t: progress.append((d, t)))
    assert texts == ["```python\nclass ModelNew:\n    pass\n```\n"] * 2
    assert scripted.bodies[0]["n"] == 2 and scripted.bodies[0]["stream"] is True
    assert progress[-1][1] == 32


def test_retries_on_503_and_429_then_succeeds(scripted):
    scripted.script = [503, 429, "sse"]
    texts = client(scripted, retries=3).generate(req(n=1))
    assert len(texts) == 1 and len(scripted.bodies) == 3


def test_gives_up_after_retries_with_the_status(scripted):
    scripted.script = [503]
    with pytest.raises(OpenAIError, match=r"HTTP 503 .*gave up after 3 attempts"):
        client(scripted, retries=2).generate(req(n=1))


def test_client_error_is_not_retried(scripted):
    scripted.script = [400]
    with pytest.raises(OpenAIError, match="HTTP 400"):
        client(scripted, retries=3).generate(req(n=1))
    assert len(scripted.bodies) == 1


def test_server_ignoring_n_gets_one_request_per_sample(scripted):
    scripted.script = ["json-one"]
    texts = client(scripted).generate(req(n=3))
    assert texts == ["answer seed 5", "answer seed 6", "answer seed 7"]


def test_no_server_listening_is_said_at_once_without_retries():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # backoff as shipped: retrying would take seconds; a refused connection is not worth retrying
    c = OpenAIClient(f"http://127.0.0.1:{port}", model="m", retries=3, backoff_s=0.5)
    t0 = time.monotonic()
    with pytest.raises(OpenAIError) as err:
        c.generate(req(n=1))
    assert time.monotonic() - t0 < 0.4
    assert str(err.value) == f"cannot connect to http://127.0.0.1:{port}/v1 (is the server running?)"


def test_retry_after_seconds_is_honoured(scripted):
    scripted.script = [(429, "1"), "sse"]
    texts = client(scripted, retries=2).generate(req(n=1))  # backoff 0.01 s: only Retry-After waits a second
    assert len(texts) == 1
    gap = scripted.times[1] - scripted.times[0]
    assert 0.95 <= gap < 3.0, gap


def test_retry_after_as_an_http_date_is_honoured(scripted):
    import email.utils

    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1 to 2 s from now
    scripted.script = [(503, when), "sse"]
    assert len(client(scripted, retries=2).generate(req(n=1))) == 1
    gap = scripted.times[1] - scripted.times[0]
    assert 0.9 <= gap < 3.5, gap


def test_a_retry_after_beyond_the_limit_fails_with_the_servers_answer(scripted):
    scripted.script = [(429, "3600")]
    t0 = time.monotonic()
    with pytest.raises(OpenAIError, match=r"HTTP 429 .*retry after 3600 s"):
        client(scripted, retries=3).generate(req(n=1))
    assert time.monotonic() - t0 < 1.0 and len(scripted.bodies) == 1


class RecordingToken(CancelToken):
    """A real cancel token that also records how long each retry waited."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return super().wait(timeout)


def test_backoff_grows_and_is_jittered(scripted):
    scripted.script = [503]
    delays: list[list[float]] = []
    for _ in range(4):
        token = RecordingToken()
        with pytest.raises(OpenAIError, match="gave up after 4 attempts"):
            client(scripted, retries=3).generate(req(n=1), cancel=token)
        delays.append(token.waits)
    for waits in delays:
        assert len(waits) == 3
        for attempt, w in enumerate(waits):  # 0.01 s doubled each time, times a factor in [0.5, 1.5]
            assert 0.005 * 2**attempt <= w <= 0.015 * 2**attempt + 1e-9, waits
    assert len({round(d[0], 9) for d in delays}) > 1, delays  # not the same schedule every time


def test_cancel_closes_the_stream_promptly(scripted):
    scripted.script = ["slow"]
    cancel = CancelToken()
    timer = threading.Timer(0.8, cancel.cancel)
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        client(scripted).generate(req(n=1, max_new_tokens=4000), cancel=cancel)
    assert time.monotonic() - t0 < 2.5


# ---- a real OpenAI-compatible server: llama_cpp.server with the tiny GGUF -----------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    need("llama_cpp")
    need("uvicorn")
    gguf = tiny_gguf(str(tmp_path_factory.getbasetemp()))
    port = _free_port()
    log = open(tmp_path_factory.mktemp("llama-server") / "server.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "2048", "--n_threads", "1", "--model_alias", "tiny"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                urllib.request.urlopen(url + "/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"llama_cpp.server did not start:\n{log.read()[-2000:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.llm
def test_llama_server_completions_n_samples(llama_server):
    c = OpenAIClient(llama_server, model=None, retries=1)
    assert c.model_id() == "tiny"  # the server's first listed model
    texts = c.generate(req(n=2, max_new_tokens=12))
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


@pytest.mark.llm
def test_llama_server_chat_endpoint(llama_server):
    c = OpenAIClient(llama_server, model="tiny", endpoint="chat", retries=1)
    r = SampleRequest(prompt=None, messages=[{"role": "user", "content": "class Model:"}], n=1, temperature=1.0,
                      top_p=0.97, max_new_tokens=8, seed=1)
    assert len(c.generate(r)) == 1


def test_llm_generator_over_http_makes_candidates_with_progress(scripted):
    from tritonize.generate import GenerateContext
    from tritonize.generate.llm import LLMGenerator
    from tritonize.problem import extract
    from tritonize.settings import Settings

    settings, problems = Settings.from_dict({"n": 2, "model": {"url": f"http://127.0.0.1:{scripted.server_address[1]}",
                                                               "name": "kernelllm", "seed": 1, "maxNewTokens": 64}})
    assert not problems
    source = "import torch\nimport torch.nn as nn\n\nclass Model(nn.Module):\n    def forward(self, x):\n" \
             "        return x * 2\n\ndef get_inputs():\n    return [torch.randn(4)]\n\ndef get_init_inputs():\n    return []\n"
    seen: list[tuple[str, int, int]] = []
    ctx = GenerateContext(settings=settings, pool=None, device=None, cancel=CancelToken(),
                          progress=lambda msg, d=0, t=0: seen.append((msg, d, t)),
                          model_host=None)  # an HTTP runtime: no local model host
    cands = LLMGenerator().generate(extract(source, "Model"), ctx)
    assert [c.candidate_id for c in cands] == ["llm:kernelllm/1", "llm:kernelllm/2"]
    assert all(c.code == "class ModelNew:\n    pass\n" for c in cands)
    assert scripted.bodies[0]["prompt"].rstrip().endswith("NO testing code!")
    assert scripted.bodies[0]["model"] == "kernelllm" and scripted.bodies[0]["n"] == 2
    assert seen[-1][2] == 128 and 0 < seen[-1][1] <= 128  # tokens so far, of 2 × 64
