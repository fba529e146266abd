"""The transformers runtime through the model host, with a tiny real Llama built at test time."""

from __future__ import annotations

import threading
import time

import pytest
from llm_models import load_settings, need, tiny_hf
from tritonize.cancel import Cancelled, CancelToken
from tritonize.generate.model_host import HostEvents, ModelHost
from tritonize.generate.runtimes import SampleRequest

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory) -> str:
    need("transformers")
    return tiny_hf(str(tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="module")
def host():
    h = ModelHost()
    yield h
    h.close()
    assert not h.alive()


def request(n: int = 3, max_new_tokens: int = 16, seed: int = 7, **kw) -> dict:
    return SampleRequest(prompt=kw.pop("prompt", "import torch\nclass ModelNew("), messages=kw.pop("messages", None),
                         n=n, temperature=1.0, top_p=0.97, max_new_tokens=max_new_tokens, seed=seed, **kw).to_dict()


class Recorder(HostEvents):
    def __init__(self) -> None:
        super().__init__()
        self.progress: list[tuple[int, int]] = []
        self.text = ""
        self.status: list[str] = []
        self.on_progress = lambda d, t: self.progress.append((d, t))
        self.on_text = lambda seq, delta: setattr(self, "text", self.text + delta)
        self.on_status = self.status.append


def test_n_samples_from_one_batched_call_with_progress(host, hf_dir):
    ev = Recorder()
    result = host.generate(load_settings(hf_dir, "transformers"), request(n=3), idle_unload_s=60, events=ev)
    assert len(result.texts) == 3
    assert len(set(result.texts)) == 3, "sampling should give three different sequences"
    assert any(s.startswith("loading") for s in ev.status)
    assert ev.progress and ev.progress[-1] == (48, 48)  # 3 sequences × 16 tokens, none stopped early
    assert ev.text == result.texts[0]  # the first sample streamed as it grew
    assert "tiny-llama" in result.model


def test_same_seed_same_samples_and_model_stays_loaded(host, hf_dir):
    ev = Recorder()
    a = host.generate(load_settings(hf_dir, "transformers"), request(seed=11), idle_unload_s=60, events=ev)
    b = host.generate(load_settings(hf_dir, "transformers"), request(seed=11), idle_unload_s=60, events=ev)
    c = host.generate(load_settings(hf_dir, "transformers"), request(seed=12), idle_unload_s=60, events=ev)
    assert a.texts == b.texts
    assert a.texts != c.texts
    assert not any(s.startswith("loading") for s in ev.status), "the loaded model should be reused"


def test_chat_template_prompt(host, hf_dir):
    msgs = [{"role": "system", "content": "You write Triton kernels."}, {"role": "user", "content": "class Model:"}]
    result = host.generate(load_settings(hf_dir, "transformers"), request(n=2, prompt=None, messages=msgs),
                           idle_unload_s=60)
    assert len(result.texts) == 2


def test_cancel_mid_generation_returns_promptly_and_host_survives(host, hf_dir):
    cancel = CancelToken()
    ev = Recorder()
    cancelled_at: list[float] = []

    def on_progress(done: int, total: int) -> None:
        if done >= 12 and not cancel.cancelled:
            cancelled_at.append(time.monotonic())
            threading.Thread(target=cancel.cancel).start()

    ev.on_progress = on_progress
    with pytest.raises(Cancelled):
        host.generate(load_settings(hf_dir, "transformers"), request(n=2, max_new_tokens=3000), idle_unload_s=60,
                      cancel=cancel, events=ev)
    assert cancelled_at, "generation never reported progress"
    assert time.monotonic() - cancelled_at[0] < 2.5
    assert host.alive(), "the host should stop cooperatively, not be killed"
    again = host.generate(load_settings(hf_dir, "transformers"), request(n=1, max_new_tokens=4), idle_unload_s=60)
    assert len(again.texts) == 1


def test_idle_host_unloads_and_a_later_request_reloads(hf_dir):
    h = ModelHost()
    try:
        h.generate(load_settings(hf_dir, "transformers"), request(n=1, max_new_tokens=4), idle_unload_s=1.0)
        assert h.alive()
        deadline = time.monotonic() + 20
        while h.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not h.alive(), "the host should unload the model and exit after idle_unload_s"
        ev = Recorder()
        h.generate(load_settings(hf_dir, "transformers"), request(n=1, max_new_tokens=4), idle_unload_s=60, events=ev)
        assert any(s.startswith("loading") for s in ev.status)
    finally:
        h.close()


def test_missing_checkpoint_is_a_clear_error(host, tmp_path):
    from tritonize.generate.model_host import ModelHostError

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelHostError) as err:
        host.generate(load_settings(str(tmp_path), "transformers"), request(n=1), idle_unload_s=60)
    assert str(err.value).split(":")[0].endswith(("Error", "Exception"))


def test_block_watch_stops_each_sequence_at_its_closing_fence(hf_dir):
    """The stopping criterion on real token ids: one finished answer, one still open."""
    import torch
    from transformers import AutoTokenizer
    from tritonize.generate.runtimes.hf import BlockWatch

    tok = AutoTokenizer.from_pretrained(hf_dir)
    vocab = tok.convert_ids_to_tokens(list(range(len(tok))))
    backticks = {i for i, t in enumerate(vocab) if "`" in t}
    prompt = tok("Write it:\n").input_ids
    done = tok("```python\nx = 1\n```").input_ids
    open_ = tok("```python\nx = 1\ny = 2\n").input_ids
    width = max(len(done), len(open_))
    rows = [prompt + done + [tok.pad_token_id] * (width - len(done)), prompt + open_ + [tok.pad_token_id] * (width - len(open_))]
    events: list[dict] = []
    stop = threading.Event()
    watch = BlockWatch(tok, len(prompt), 2, 100, stop, events.append, backticks, True)
    flags = None
    for step in range(1, width + 1):
        ids = torch.tensor([r[: len(prompt) + step] for r in rows])
        flags = watch(ids, None)
        if step == len(done):
            assert flags.tolist() == [True, False]
    assert flags.tolist() == [True, False]
    stop.set()
    assert watch(torch.tensor(rows), None).tolist() == [True, True]


@pytest.mark.gpu
def test_gpu_fast_path_static_cache_compiled_decode(hf_dir):
    """On a GPU the runtime decodes with a static cache (compiled by transformers) and keeps doing so."""
    from tritonize.generate.runtimes.hf import HFRuntime

    runtime = HFRuntime.load(hf_dir, dtype="bfloat16", device="cuda")
    assert runtime.fast_decode
    req = SampleRequest.from_dict(request(n=4, max_new_tokens=32))
    first = runtime.generate(req, lambda ev: None, threading.Event())
    second = runtime.generate(req, lambda ev: None, threading.Event())
    assert len(first) == 4 and len(second) == 4
    assert runtime.fast_decode, "the static-cache path failed and fell back (see stderr)"
    runtime.close()
