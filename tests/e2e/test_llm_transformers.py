"""The transformers runtime through the model host, with a tiny real Llama built at test time."""

from __future__ import annotations

import threading
import time

import pytest
from llm_models import load_settings, need, tiny_hf
from tritonize.cancel import Cancelled, CancelToken
from tritonize.generate.host_client import HostEvents, ModelHost
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
    from tritonize.generate.host_client import ModelHostError

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelHostError) as err:
        host.generate(load_settings(str(tmp_path), "transformers"), request(n=1), idle_unload_s=60)
    assert str(err.value).split(":")[0].endswith(("Error", "Exception"))


def test_block_watch_stops_each_sequence_at_its_closing_fence(hf_dir):
    """The stopping criterion on real token ids: one finished answer, one still open."""
    import torch
    from transformers import AutoTokenizer
    from tritonize.model_host.hf import BlockWatch

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

    # The fast path's check (every few tokens, new tokens only): same verdicts, and where each row ends.
    fast = BlockWatch(tok, len(prompt), 3, 100, threading.Event(), events.append, backticks, True)
    eos_row = tok("```python\n").input_ids + [tok.eos_token_id] + [tok.pad_token_id] * 3
    new = [done + [tok.pad_token_id] * 4, open_, eos_row]
    assert not fast.check_rows([r[:3] for r in new], {tok.eos_token_id})
    assert not fast.check_rows(new, {tok.eos_token_id})
    assert fast.done == [True, False, True]
    assert fast.ended_at[0] == len(done) and fast.ended_at[2] == eos_row.index(tok.eos_token_id)


def cpu_runtime(hf_dir, fast: bool):
    from tritonize.model_host.hf import HFRuntime

    runtime = HFRuntime.load(hf_dir, dtype="float32", device="cpu", threads=1)
    runtime.fast_decode = fast  # on a CPU the fast path runs eagerly (no CUDA graph): same code, same tokens
    return runtime


def test_fast_path_greedy_tokens_equal_transformers_generate(hf_dir):
    """Static cache + own decode loop + GQA-folded attention give exactly transformers' greedy tokens."""
    req = SampleRequest(prompt="import torch\nclass ModelNew(torch.nn.Module):\n", messages=None, n=2,
                        temperature=0.0, top_p=1.0, max_new_tokens=40, seed=0, stop_at_block_end=False)
    fast = cpu_runtime(hf_dir, True)
    got = fast.generate(req, lambda ev: None, threading.Event())
    assert fast.fast_decode, "the fast path fell back to transformers' generate (see stderr)"
    assert fast._sampler.gqa, "the GQA attention was not installed"
    assert fast._sampler.prefill == "once", "the prompt should run once and be copied to both rows"
    want = cpu_runtime(hf_dir, False).generate(req, lambda ev: None, threading.Event())
    assert got == want
    assert got[0] == got[1]  # greedy: both rows the same
    assert len(fast.tokenizer(got[0], add_special_tokens=False).input_ids) >= 30


def test_gqa_attention_equals_repeated_heads_sdpa(hf_dir):
    """One decode step's logits with the folded attention match transformers' SDPA (repeat_kv)."""
    import torch
    from transformers import AutoModelForCausalLM, StaticCache
    from tritonize.model_host.hf_fast import install_gqa_attention

    def logits_after(model, prompt, nxt):
        cache = StaticCache(config=model.config, max_cache_len=64)
        with torch.inference_mode():
            model(input_ids=prompt, past_key_values=cache, use_cache=True)
            return model(input_ids=nxt, past_key_values=cache, use_cache=True).logits

    prompt = torch.randint(1, 200, (3, 11), generator=torch.Generator().manual_seed(1))
    nxt = torch.randint(1, 200, (3, 1), generator=torch.Generator().manual_seed(2))
    ref_model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32, attn_implementation="sdpa")
    want = logits_after(ref_model, prompt, nxt)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32, attn_implementation="sdpa")
    assert install_gqa_attention(model)
    got = logits_after(model, prompt, nxt)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_fast_path_samples_reports_progress_and_stops_on_cancel(hf_dir):
    """The fast path samples n different rows, reports progress, and stops at once when cancelled."""
    runtime = cpu_runtime(hf_dir, True)
    events: list[dict] = []
    texts = runtime.generate(SampleRequest.from_dict(request(n=3, max_new_tokens=16)), events.append, threading.Event())
    assert runtime.fast_decode
    assert len(set(texts)) == 3
    progress = [e for e in events if e["type"] == "progress"]
    assert progress[-1] == {"type": "progress", "tokens": 48, "total": 48}  # 3 × 16, none stopped early
    assert "".join(e["delta"] for e in events if e["type"] == "text") == texts[0]
    stop = threading.Event()
    stop.set()
    t0 = time.monotonic()
    runtime.generate(SampleRequest.from_dict(request(n=3, max_new_tokens=2000)), lambda ev: None, stop)
    assert time.monotonic() - t0 < 5


def test_fast_path_failure_falls_back_without_losing_the_request(hf_dir, monkeypatch, capfd):
    """A compile failure: the same loop runs eagerly; a failure there: transformers' generate. No request lost."""
    import torch
    from tritonize.model_host import hf_fast

    runtime = cpu_runtime(hf_dir, True)
    runtime.compile_decode = True

    def no_compiler(*a, **k):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", no_compiler)
    req = SampleRequest.from_dict(request(n=2, max_new_tokens=8))
    assert len(runtime.generate(req, lambda ev: None, threading.Event())) == 2
    assert runtime.fast_decode and not runtime.compile_decode
    assert "using the fast path without compiling" in capfd.readouterr().err

    def broken(self, *a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(hf_fast.FastSampler, "sample", broken)
    assert len(runtime.generate(req, lambda ev: None, threading.Event())) == 2
    assert not runtime.fast_decode
    assert "using transformers' generate" in capfd.readouterr().err


def test_first_compiled_request_says_it_is_compiling(hf_dir, monkeypatch):
    """A new batch/cache size compiles once (about a minute on a GPU): the user is told, once."""
    import torch

    runtime = cpu_runtime(hf_dir, True)
    runtime.compile_decode = True
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)  # the loop as compiled, without a compiler
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: None)
    req = SampleRequest.from_dict(request(n=2, max_new_tokens=8))
    first: list[dict] = []
    second: list[dict] = []
    runtime.generate(req, first.append, threading.Event())
    runtime.generate(req, second.append, threading.Event())
    status = [e["message"] for e in first if e["type"] == "status"]
    assert len(status) == 1 and status[0].startswith("compiling the decode step for 2 samples × 1024 positions")
    assert not [e for e in second if e["type"] == "status"]
    assert runtime.fast_decode and runtime.compile_decode


def test_exponential_race_draws_follow_top_p_distribution():
    """sample_next's draw has the nucleus distribution: tokens outside top-p never come, the rest in proportion."""
    import torch
    from tritonize.model_host.hf_fast import sample_next

    torch.manual_seed(0)
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log().expand(20000, 4).clone()
    tokens = sample_next(logits, torch.tensor(1.0), torch.tensor(0.9))  # keeps 0.5, 0.3, 0.15
    counts = torch.bincount(tokens, minlength=4).float() / tokens.numel()
    assert counts[3] == 0
    torch.testing.assert_close(counts[:3], torch.tensor([0.5, 0.3, 0.15]) / 0.95, atol=0.02, rtol=0)
    assert sample_next(logits[:5], None, None).tolist() == [0] * 5  # greedy


@pytest.mark.gpu
def test_gpu_fast_path_static_cache_compiled_decode(hf_dir):
    """On a GPU the runtime samples on the fast path (static cache, compiled step) and keeps doing so."""
    from tritonize.model_host.hf import HFRuntime

    runtime = HFRuntime.load(hf_dir, dtype="bfloat16", device="cuda")
    assert runtime.fast_decode
    req = SampleRequest.from_dict(request(n=4, max_new_tokens=32))
    first = runtime.generate(req, lambda ev: None, threading.Event())
    second = runtime.generate(req, lambda ev: None, threading.Event())
    assert len(first) == 4 and len(second) == 4
    assert runtime.fast_decode and runtime.compile_decode, "the compiled fast path failed and fell back (see stderr)"
    assert runtime._sampler.compiled_shapes == 1, "the second request should reuse the compiled step"
    runtime.close()


@pytest.mark.gpu
def test_gpu_compiled_fast_path_greedy_tokens_equal_a_plain_forward_loop(hf_dir):
    """The CUDA-graph step (static cache, folded GQA, prompt run once) picks the same greedy tokens
    as recomputing the whole sequence with the model's plain forward, in fp32."""
    import torch
    from transformers import AutoModelForCausalLM
    from tritonize.model_host.hf_fast import FastSampler

    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).to("cuda").eval()
    sampler = FastSampler(model)
    assert sampler.compile_step and sampler.gqa
    prompt = torch.randint(1, 200, (1, 37), generator=torch.Generator().manual_seed(3)).to("cuda")
    got = sampler.sample(prompt, 3, max_new_tokens=24, cache_len=64, temperature=0.0, top_p=1.0, check=lambda t: False)
    assert sampler.prefill == "once"
    seq = prompt
    with torch.inference_mode():
        for _ in range(24):
            seq = torch.cat([seq, model(input_ids=seq).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    want = seq[0, 37:].tolist()
    assert [row.tolist() for row in got] == [want] * 3
