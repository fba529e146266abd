"""Candidate generators: one module per source, one small interface for all (DESIGN.md, invariant 4).

A generator turns a Problem into Candidates: it returns them, or hands them to the verifier as soon as
each exists with `ctx.emit(candidates)`, which gives back one future verdict per candidate (the llm
generator streams its samples this way and reads its round's verdicts to write the next prompt). It runs in the server/CLI process but must not import
torch, triton or model runtimes there: work that needs them goes to a verify worker
(`ctx.pool.call(...)`) or to the model host (`ctx.model_host`). Both are owned by the caller of
the pipeline and handed in through the context; a generator never starts or closes them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..cancel import CancelToken
from ..candidate import Candidate
from ..problem import Problem
from ..report import CandidateResult, RoundRecord
from ..settings import Settings

if TYPE_CHECKING:
    from ..verify.pool import DeviceInfo, WorkerPool
    from .host_client import ModelHost


class GeneratorSkipped(Exception):
    """This generator cannot produce candidates here; the message says why (e.g. "needs CUDA")."""


@dataclass
class GenerateContext:
    settings: Settings
    pool: WorkerPool
    device: DeviceInfo
    cancel: CancelToken
    progress: Callable[[str, int, int], None]  # (message, done, total)
    model_host: ModelHost
    # (sample index, text delta): model text as it is written, for whoever watches (the REPL)
    on_text: Callable[[int, str], None] = lambda seq, delta: None
    # Hand candidates to the verifier now; one future verdict each (the pipeline names, submits and
    # collects them, as it does with returned candidates). None: return them instead (no verdicts).
    emit: Callable[[list[Candidate]], list[Future[CandidateResult]]] | None = None
    # A refinement round is over (generate/llm.py): the record goes into the report
    on_round: Callable[[RoundRecord], None] = lambda record: None


class Generator(Protocol):
    name: str

    def generate(self, problem: Problem, ctx: GenerateContext) -> list[Candidate]: ...


def get_generator(name: str) -> Generator:
    """The generator registered under `name` (template | inductor | llm)."""
    if name == "template":
        from .template import TemplateGenerator

        return TemplateGenerator()
    if name == "inductor":
        from .inductor import InductorGenerator

        return InductorGenerator()
    if name == "llm":
        from .llm import LLMGenerator

        return LLMGenerator()
    raise ValueError(f"unknown generator {name!r}")
