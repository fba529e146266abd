"""Worker pool (server side, no torch). SKELETON — the contract the pipeline and generators use."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..cancel import CancelToken
from ..candidate import Candidate
from ..problem import Problem
from ..report import CandidateResult, Tolerance
from ..settings import Settings


@dataclass
class DeviceInfo:
    kind: str  # "cuda" | "cpu"
    name: str  # "NVIDIA H100 80GB HBM3" | "cpu (TRITON_INTERPRET=1)"
    count: int = 1  # CUDA devices used
    versions: dict[str, str] = field(default_factory=dict)  # python, torch, triton, cuda

    @property
    def timed(self) -> bool:
        return self.kind == "cuda"


@dataclass
class ProbeResult:
    """What running the problem's recipe and reference once told us."""

    dtype: str  # dtype of the first floating output, e.g. "float32"
    input_shapes: list[str]
    output_shapes: list[str]
    tolerance: Tolerance


class WorkerCallError(Exception):
    """A function run with `WorkerPool.call` raised in the worker (message + traceback text)."""

    def __init__(self, message: str, traceback: str = ""):
        super().__init__(message)
        self.traceback = traceback


class WorkerPool:
    def __init__(self, settings: Settings, *, log=None) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Spawn the workers in the background and return at once (pre-start during generation)."""

    def device_info(self) -> DeviceInfo:
        """Wait for the first worker's hello and say what it runs on."""
        raise NotImplementedError

    def probe(self, problem: Problem, settings: Settings, cancel: CancelToken | None = None) -> ProbeResult:
        """Run the recipe and the reference once. Raises ProblemError(kind="recipe_error") when they fail."""
        raise NotImplementedError

    def call(self, func: str, payload: dict, *, timeout: float | None = None, cancel: CancelToken | None = None) -> Any:
        """Run `package.module:function(payload)` in a worker and return its JSON-able result."""
        raise NotImplementedError

    def submit(self, problem: Problem, candidate: Candidate, settings: Settings, cancel: CancelToken | None = None) -> Future[CandidateResult]:
        """Verify (and on GPU, time) one candidate. The future never raises: failures are results."""
        raise NotImplementedError

    def close(self) -> None:
        """Terminate every worker; none remain afterwards."""
