"""The llama.cpp runtime through the model host, with the tiny Llama written as GGUF at test time."""

from __future__ import annotations

import threading
import time

import pytest
from llm_models import load_settings, need, tiny_gguf
from tritonize.cancel import Cancelled, CancelToken
from tritonize.generate.host_client import HostEvents, ModelHost
from tritonize.generate.runtimes import SampleRequest

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def gguf(tmp_path_factory) -> str:
    need("transformers")  # the GGUF is converted from the transformers checkpoint
    need("gguf")
    need("llama_cpp")
    return tiny_gguf(str(tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="module")
def host():
    h = ModelHost()
    yield h
    h.close()


def request(n: int, max_new_tokens: int, seed: int = 3, **kw) -> dict:
    return SampleRequest(prompt=kw.pop("prompt", "import torch\nclass ModelNew("), messages=kw.pop("messages", None),
                         n=n, temperature=1.0, top_p=0.97, max_new_tokens=max_new_tokens, seed=seed).to_dict()


def test_gguf_loads_and_samples_n_sequences_with_their_own_seeds(host, gguf):
    progress: list[tuple[int, int]] = []
    status: list[str] = []
    streamed: list[str] = []
    ev = HostEvents(on_progress=lambda d, t: progress.append((d, t)), on_status=status.append,
                    on_text=lambda seq, delta: streamed.append(delta))
    result = host.generate(load_settings(gguf, "llama_cpp"), request(n=2, max_new_tokens=12), idle_unload_s=60,
                           events=ev)
    assert len(result.texts) == 2
    assert result.texts[0] != result.texts[1], "samples use seeds seed, seed+1"
    assert any(s.startswith("loading") for s in status)
    assert "llama.cpp" in result.model
    assert progress[-1][1] == 24 and 0 < progress[-1][0] <= 24
    assert "".join(streamed) == result.texts[0]
    again = host.generate(load_settings(gguf, "llama_cpp"), request(n=2, max_new_tokens=12), idle_unload_s=60)
    assert again.texts == result.texts, "same seed, same samples"


def test_chat_messages_use_the_gguf_chat_template(host, gguf):
    msgs = [{"role": "user", "content": "class Model:"}]
    result = host.generate(load_settings(gguf, "llama_cpp"), request(n=1, max_new_tokens=6, prompt=None, messages=msgs),
                           idle_unload_s=60)
    assert len(result.texts) == 1


def test_cancel_stops_the_stream_promptly(host, gguf):
    cancel = CancelToken()
    fired: list[float] = []

    def on_progress(done: int, total: int) -> None:
        if done >= 5 and not fired:
            fired.append(time.monotonic())
            threading.Thread(target=cancel.cancel).start()

    with pytest.raises(Cancelled):
        host.generate(load_settings(gguf, "llama_cpp"), request(n=3, max_new_tokens=1900), idle_unload_s=60,
                      cancel=cancel, events=HostEvents(on_progress=on_progress))
    assert fired and time.monotonic() - fired[0] < 2.5
    assert host.alive()
