"""Template generator: readable Triton kernels from op patterns, no model needed (server side).

This module runs in the server/CLI process and imports no torch: tracing the module and emitting
kernels happens in a verify worker (its entry point "template.build": worker/template/build.py,
`build_candidates`), reached through `WorkerPool.call`.
The pattern library and what fuses is described in docs/TEMPLATES.md.
"""

from __future__ import annotations

from ..candidate import Candidate
from ..problem import Problem, problem_lines
from . import GenerateContext, GeneratorSkipped

BUILD_ENTRY = "template.build"  # the worker entry point (worker/main.py: ENTRY_POINTS)
BUILD_TIMEOUT_S = 120.0  # tracing + emitting takes well under a second; this bounds a hung recipe


class TemplateGenerator:
    name = "template"

    def generate(self, problem: Problem, ctx: GenerateContext) -> list[Candidate]:
        ctx.progress("matching op patterns", 0, 1)
        payload = {"problem": problem.to_dict(), "n": ctx.settings.n, "allow_tf32": ctx.settings.allow_tf32}
        # seconds at most (the recipe's inputs, one trace): any idle worker may build
        result = ctx.pool.call(BUILD_ENTRY, payload, timeout=BUILD_TIMEOUT_S, cancel=ctx.cancel, lane="any")
        if result.get("skipped"):  # "no pattern for ... at line N" of problem.source: tell the file's line
            result = {**result, "skipped": problem_lines(problem, str(result["skipped"]))}
        return candidates_from_result(result, ctx)

    @staticmethod
    def parse(result: dict) -> list[Candidate]:
        """Candidates from build_candidates' reply; raises GeneratorSkipped with its reason."""
        if result.get("skipped"):
            raise GeneratorSkipped(str(result["skipped"]))
        cands = [Candidate.from_dict(c) for c in result.get("candidates", [])]
        if not cands:
            raise GeneratorSkipped("template: no pattern matched")
        return cands


def candidates_from_result(result: dict, ctx: GenerateContext | None = None) -> list[Candidate]:
    cands = TemplateGenerator.parse(result)
    if ctx is not None:
        ctx.progress(f"{len(cands)} variant(s)", 1, 1)
    return cands
