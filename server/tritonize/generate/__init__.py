"""Candidate generators: one module per source, one small interface for all (DESIGN.md, invariant 4).

A generator turns a Problem into Candidates. It runs in the server/CLI process but must not import
torch, triton or model runtimes there: work that needs them goes to a verify worker
(`ctx.pool.call("module:function", payload)`) or to the model host.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..cancel import CancelToken
from ..candidate import Candidate
from ..problem import Problem
from ..settings import Settings

if TYPE_CHECKING:
    from ..verify.pool import DeviceInfo, WorkerPool


class GeneratorSkipped(Exception):
    """This generator cannot produce candidates here; the message says why (e.g. "needs CUDA")."""


@dataclass
class GenerateContext:
    settings: Settings
    pool: WorkerPool
    device: DeviceInfo
    cancel: CancelToken
    progress: Callable[[str, int, int], None]  # (message, done, total)


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
