"""The `llm` generator end to end: settings → prompt → model host → parsed candidates → verifier."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from llm_models import need, tiny_hf
from tritonize.generate import GeneratorSkipped
from tritonize.generate.llm import build_prompt, resolve
from tritonize.settings import ModelSettings

PROBLEM = '''import torch
import torch.nn as nn


class ReluScale(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return torch.relu(x) * self.scale


def get_inputs():
    return [torch.randn(8, 32)]


def get_init_inputs():
    return [2.0]
'''


def test_no_model_configured_is_skipped_with_what_to_set():
    with pytest.raises(GeneratorSkipped, match=r"no model configured: set model.path \(HF dir or .gguf\) or model.url"):
        resolve(ModelSettings())


def test_missing_model_path_is_named(tmp_path):
    with pytest.raises(GeneratorSkipped, match="does not exist"):
        resolve(ModelSettings(path=str(tmp_path / "nope.gguf")))


def test_runtime_follows_what_the_path_is(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 16)
    if __import__("importlib").util.find_spec("llama_cpp"):
        assert resolve(ModelSettings(path=str(gguf))).runtime == "llama_cpp"
    assert resolve(ModelSettings(url="http://127.0.0.1:9/v1", name="kernelllm")).runtime == "openai"
    with pytest.raises(GeneratorSkipped, match="neither a GGUF file nor a transformers checkpoint"):
        resolve(ModelSettings(path=str(tmp_path)))


def test_prompt_has_the_module_and_asks_for_model_new(tmp_path):
    from tritonize.problem import extract

    problem = extract(PROBLEM, "ReluScale")
    prompt, messages = build_prompt(problem, ModelSettings(), chat=False)
    assert messages is None
    assert problem.source.strip() in prompt
    assert prompt.rstrip().endswith("NO testing code!")
    assert "Name your optimized output architecture ModelNew" in prompt
    _, messages = build_prompt(problem, ModelSettings(), chat=True)
    assert [m["role"] for m in messages] == ["system", "user"]
    custom = tmp_path / "p.txt"
    custom.write_text("Rewrite with {braces} kept:\n{problem}\n")
    prompt, _ = build_prompt(problem, ModelSettings(prompt=str(custom)), chat=False)
    assert prompt.startswith("Rewrite with {braces} kept:\n") and problem.source.strip() in prompt


@pytest.mark.llm
def test_cli_convert_with_a_tiny_model_lists_parse_failures(tmp_path_factory, tmp_path):
    """Nonsense samples must come back as candidates' `syntax` failures with a clear message, exit 1."""
    need("transformers")
    model = tiny_hf(str(tmp_path_factory.getbasetemp()))
    problem = tmp_path / "relu_scale.py"
    problem.write_text(PROBLEM)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"model": {"threads": 1, "maxNewTokens": 24}}))
    env = dict(os.environ, TRITONIZE_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "tritonize.cli.main", "convert", f"{problem}::ReluScale", "--generators", "llm",
         "--model", model, "-n", "2", "--seed", "3", "--no-cache", "--json", "--settings", str(settings)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    results = report["results"]
    assert [r["candidate_id"] for r in results] == ["llm:tiny-llama/1", "llm:tiny-llama/2"]
    for r in results:
        assert not r["passed"]
        assert r["kind"] == "syntax", r
        assert r["message"] in ("no Python code in the output", "the model produced no output") \
            or r["message"].startswith(("the code block is not valid Python", "no ModelNew class")), \
            f"expected the parse reason as the message (verify/pool.py must report parse_failure(candidate)), got {r['message']!r}"
    assert report["generators"][0]["name"] == "llm" and report["generators"][0]["produced"] == 2
