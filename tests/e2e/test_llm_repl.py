"""`tritonize repl`: paste a module, watch the model's text stream, read the verdicts, leave on EOF."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from llm_models import need, tiny_hf
from tritonize.cli.repl import read_module

MODULE = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x)


def get_inputs():
    return [torch.randn(4, 16)]


def get_init_inputs():
    return []
'''


def test_read_module_until_eof_and_quit_command():
    import io

    out = io.StringIO()
    assert read_module(io.StringIO(MODULE), out) == MODULE
    assert read_module(io.StringIO(":quit\n"), out) is None
    assert read_module(io.StringIO(""), out) is None  # Ctrl-D on an empty prompt
    assert "end with Ctrl-D" in out.getvalue()


@pytest.mark.llm
def test_repl_streams_the_model_and_lists_verdicts(tmp_path_factory, tmp_path):
    need("transformers")
    model = tiny_hf(str(tmp_path_factory.getbasetemp()))
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"model": {"threads": 1, "maxNewTokens": 16}}))
    env = dict(os.environ, TRITONIZE_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "tritonize.cli.main", "repl", "--generators", "llm", "--model", model, "-n", "1",
         "--seed", "1", "--settings", str(settings)],
        input=MODULE, capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "tritonize repl" in out
    assert "[model] sample 1:" in out  # the model's text streamed to the terminal
    assert "llm:tiny-llama/1" in out and "syntax" in out  # the candidate's verdict
    assert "no candidate passed" in out
