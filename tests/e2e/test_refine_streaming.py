"""Streaming verification and refinement rounds with the tiny local models (transformers, llama.cpp)
through the real model host, worker pool and pipeline. The models write nonsense: these tests check
the plumbing — each sample reaches the verifier as soon as it is finished, cancel stops a round at
once, and a bad sample never stops the round."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
from llm_models import load_settings, need, tiny_gguf, tiny_hf
from tritonize.cancel import Cancelled, CancelToken, ProgressEvent
from tritonize.generate.host_client import HostEvents, ModelHost
from tritonize.generate.runtimes import SampleRequest
from tritonize.pipeline import convert
from tritonize.problem import extract
from tritonize.settings import Settings
from tritonize.verify.pool import WorkerPool

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripted_model import SCALED_ADD  # noqa: E402

pytestmark = pytest.mark.llm
PROBLEM = extract(SCALED_ADD, "ScaledAdd")


@pytest.fixture(scope="module")
def host():
    h = ModelHost()
    yield h
    h.close()


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(Settings(device="cpu", seeds=1, shape_checks=False), standby=False)
    yield p
    p.close()


@pytest.fixture(scope="module")
def gguf(tmp_path_factory) -> str:
    need("transformers")
    need("gguf")
    need("llama_cpp")
    return tiny_gguf(str(tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory) -> str:
    need("transformers")
    return tiny_hf(str(tmp_path_factory.getbasetemp()))


def settings_for(path: str, **extra) -> Settings:
    model = {"path": path, "seed": 5, "threads": 1, "nCtx": 4096, "gpuLayers": 0, "dtype": "float32",
             **extra.pop("model", {})}
    s, problems = Settings.from_dict({"generators": ["llm"], "device": "cpu", "seeds": 1, "useCache": False,
                                      "shapeChecks": False, "model": model, **extra})
    assert not problems
    return s


class Watch:
    """Progress events with the time each arrived."""

    def __init__(self) -> None:
        self.events: list[tuple[float, ProgressEvent]] = []

    def __call__(self, ev: ProgressEvent) -> None:
        self.events.append((time.monotonic(), ev))

    def first_verdict(self) -> float:
        return next(t for t, ev in self.events if ev.stage == "verify" and ev.done >= 1)

    def last_sampling(self, round_tag: str = "") -> float:
        return max(t for t, ev in self.events if ev.stage == "generate" and "so far" in ev.message
                   and round_tag in ev.message)


def test_llamacpp_samples_are_verified_one_by_one_and_rounds_go_on_past_bad_samples(gguf, host, pool):
    watch = Watch()
    report = convert(PROBLEM, settings_for(gguf, n=3, rounds=2, model={"maxNewTokens": 160}), progress=watch,
                     pool=pool, model_host=host)
    # Sample 1's verdict came while round 1 was still sampling (llama.cpp writes samples one by one).
    assert watch.first_verdict() < watch.last_sampling("round 1/2"), "sample 1 waited for the last sample"
    # Every nonsense sample is a failed candidate; none stopped its round; both rounds ran.
    assert len(report.results) == 6 and not any(r.passed for r in report.results)
    assert all(r.kind for r in report.results)
    assert [(r.round, r.asked, len(r.candidates), r.correct) for r in report.rounds] == \
        [(1, "first", 3, 0), (2, "fix", 3, 0)]
    assert report.rounds[1].feedback.startswith("fix: ")
    assert report.rounds[0].tokens > 0 and report.rounds[1].tokens > 0
    assert any("round 2/2 · 0 correct · none correct yet" in ev.message for _, ev in watch.events)


def test_cancel_mid_round_stops_at_once_and_the_host_survives(gguf, host, pool):
    cancel = CancelToken()
    fired: list[float] = []

    def progress(ev: ProgressEvent) -> None:
        if ev.stage == "verify" and not fired:  # sample 1 is verified; samples 2 and 3 are being written
            fired.append(time.monotonic())
            threading.Thread(target=cancel.cancel).start()

    with pytest.raises(Cancelled):
        convert(PROBLEM, settings_for(gguf, n=3, rounds=3, model={"maxNewTokens": 1500}), progress=progress,
                cancel=cancel, pool=pool, model_host=host)
    assert fired and time.monotonic() - fired[0] < 2.5
    assert host.alive(), "the host stops cooperatively and keeps the model"


def test_transformers_chat_template_rounds(hf_dir, host, pool):
    watch = Watch()
    report = convert(PROBLEM, settings_for(hf_dir, n=2, rounds=2, model={"maxNewTokens": 24, "chatTemplate": True}),
                     progress=watch, pool=pool, model_host=host)
    assert len(report.results) == 4 and all(r.kind for r in report.results)
    assert [(r.round, len(r.candidates)) for r in report.rounds] == [(1, 2), (2, 2)]
    assert [r.candidate_id for r in report.results] == [f"llm:tiny-llama/{i}" for i in range(1, 5)]


def test_transformers_hands_each_sample_over_once_with_its_final_text(hf_dir, host):
    samples: list[tuple[int, str]] = []
    ev = HostEvents(on_sample=lambda seq, text: samples.append((seq, text)))
    req = SampleRequest(prompt="import torch\nclass ModelNew(", messages=None, n=3, temperature=1.0, top_p=0.97,
                        max_new_tokens=20, seed=4).to_dict()
    result = host.generate(load_settings(hf_dir, "transformers"), req, idle_unload_s=60, events=ev)
    assert sorted(samples) == sorted(enumerate(result.texts))


def test_block_watch_hands_a_sample_over_when_its_block_closes(hf_dir):
    """On real token ids: the closed answer is sent at the step its fence closes, the open one later."""
    import torch
    from transformers import AutoTokenizer
    from tritonize.model_host.hf import BlockWatch

    tok = AutoTokenizer.from_pretrained(hf_dir)
    vocab = tok.convert_ids_to_tokens(list(range(len(tok))))
    backticks = {i for i, t in enumerate(vocab) if "`" in t}
    prompt = tok("Write it:\n").input_ids
    closed = tok("Sure.\n```python\nx = 1\n```").input_ids
    still_open = tok("```python\nx = 1\ny = 2\nz = 3\n").input_ids + [tok.eos_token_id]
    width = max(len(closed), len(still_open))
    pad = tok.pad_token_id
    rows = [prompt + closed + [pad] * (width - len(closed)), prompt + still_open + [pad] * (width - len(still_open))]
    events: list[dict] = []
    watch = BlockWatch(tok, len(prompt), 2, 100, threading.Event(), events.append, backticks, True,
                       eos_ids={tok.eos_token_id})
    for step in range(1, width + 1):
        watch(torch.tensor([r[: len(prompt) + step] for r in rows]), None)
        sent = [e for e in events if e["type"] == "sample"]
        if step == len(closed):
            assert [(e["seq"], e["text"]) for e in sent] == [(0, "Sure.\n```python\nx = 1\n```")]
    sent = [e for e in events if e["type"] == "sample"]
    assert [e["seq"] for e in sent] == [0, 1]  # the open one at its end of sequence
    assert sent[1]["text"] == "```python\nx = 1\ny = 2\nz = 3\n"
