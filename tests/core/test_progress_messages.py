"""What the editor's progress bar says (lsp/features.ProgressMapper): a refinement round reads as the
issue asks ("llm: round 2/4 · 7 correct · best 1.31× compile"), other stages are named."""

from __future__ import annotations

from tritonize.cancel import ProgressEvent
from tritonize.lsp.features import ProgressMapper


def test_round_progress_reads_as_the_generator_says_it() -> None:
    mapper = ProgressMapper()
    first = mapper.report(ProgressEvent("load", "starting workers"))
    assert first is not None and first.message == "load: starting workers"
    rnd = mapper.report(ProgressEvent("generate", "llm: round 2/4 · 7 correct · best 1.31× compile", round=2, rounds=4))
    assert rnd is not None and rnd.message == "llm: round 2/4 · 7 correct · best 1.31× compile"
    verify = mapper.report(ProgressEvent("verify", "verifying 3/8", 3, 8))
    assert verify is not None and verify.message == "verifying 3/8" and verify.percentage >= rnd.percentage
    assert mapper.report(ProgressEvent("verify", "verifying 3/8", 3, 8)) is None  # no repeats
