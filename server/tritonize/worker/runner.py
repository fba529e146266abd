"""Every call the verifier makes into code the candidate defined goes through `CandidateRunner`.

Construction, `load_state_dict` and its hooks, forward, and the finalizers of whatever the candidate
made (`__del__`, `weakref.finalize`) all run:
- inside the sandbox guard (a refusal is a `cheat`), with the recorder listening (guards.Recorder);
- with their exceptions classified inside the guard (a candidate's exception type runs its own code
  in `__str__`), the exception kept rather than dropped;
- followed by the checks that candidate code must not defeat: the tamper fingerprint (checks.py), the
  reference's sealed weights (seal.py), and the outputs being plain data (outputs.py).

Objects the candidate made or touched are kept in custody (`keep`) and dropped only in `release()`,
under the guard, followed by a garbage collection: automatic collection is off for the whole job,
since a cycle collected at a random allocation would run the candidate's finalizers unguarded.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from ..report import Finding
from .candidate_module import CandidateModule
from .checks import guarded, recorder_findings, synchronize
from .compare import Stats
from .context import JobContext
from .errors import Verdict
from .guards import Recorder
from .outputs import inputs_as_left, plain
from .seal import Seal, unchanged
from .trees import clone_tree

T = TypeVar("T")


@dataclass
class SeedRun:
    """One seed that passed: what later calls reuse (its candidate model, which may count its calls;
    the pristine inputs; the reference's output for them, computed after the candidate had run)."""

    seed: int
    candidate: Any
    inputs: list
    ref_out: Any
    stats: Stats
    ref_mutates: bool = False  # the reference itself changes its inputs (the candidate may too)
    reference: torch.nn.Module | None = None  # kept for the first seed only (stress, timing)
    first_out: Any = None  # a private copy of the candidate's output that matched `ref_out` (repeat calls)


@dataclass
class CandidateRunner:
    module: CandidateModule
    ctx: JobContext
    strict: bool
    findings: list[Finding]
    seals: list[Seal] = field(default_factory=list)  # live references whose weights must not change
    keep: list[Any] = field(default_factory=list)  # candidate objects, dropped in release()
    forward_calls: int = 0
    _gc_was_enabled: bool = False

    def start(self) -> None:
        self._gc_was_enabled = gc.isenabled()
        gc.disable()

    # ---- running candidate code ----

    def call(self, fn: Callable[[], T], where: str, forward: bool = False, record: bool = True) -> T:
        """Run `fn` (candidate code); its failure raises the Verdict it earns."""
        result, failure = self.attempt(fn, where, forward, record)
        if failure is not None:
            raise self.ctx.stop(failure)
        return result  # type: ignore[return-value]

    def attempt(self, fn: Callable[[], T], where: str, forward: bool = False,
                record: bool = True) -> tuple[T | None, Verdict | None]:
        """Run `fn` (candidate code): (result, None), or (None, the Verdict its exception earns). A
        sandbox refusal, tampering or a change to the reference raise at once. `record=False` for
        timing, where the recorder's overhead would be measured too."""
        recorder = Recorder() if record else None
        result: Any = None
        failure: Verdict | None = None
        with guarded(self.module.dir):
            try:
                with recorder or contextlib.nullcontext():
                    result = fn()
                synchronize(self.ctx.device)
            except BaseException as e:  # noqa: BLE001 - candidate code; classified inside the guard
                self.keep.append(e)
                failure = self.module.failure(e, where)
        self.keep.append(result)
        if failure is not None and failure.kind == "crash":
            # the CUDA context is gone: nothing more may touch the device (the seal would)
            self.ctx.recycle = True
            return None, failure
        self.after(where, recorder, forward)
        return result, failure

    def after(self, where: str, recorder: Recorder | None, forward: bool) -> None:
        """Checks after each step of candidate code."""
        self.ctx.check_untouched(where)
        broken = unchanged(self.seals)
        if broken is not None:
            raise Verdict("cheat", f"{where} changed {broken}")
        found = recorder_findings(recorder, where, self.strict, forward=forward) if recorder is not None else []
        for finding in found:
            if not any(f.rule == finding.rule for f in self.findings):
                self.findings.append(finding)
        if gc.isenabled():  # a library turned it back on (gc.enable is no audit event)
            gc.disable()

    def forward(self, model: Any, inputs: list) -> tuple[Any, Any, Verdict | None]:
        """One call of ModelNew.forward on fresh copies of `inputs`: (plain outputs, the inputs as the
        candidate left them, failure). Outputs that are not plain tensors are a `cheat` here, before
        anything compares them."""
        given = clone_tree(inputs)
        self.keep.append(given)
        self.forward_calls += 1
        out, failure = self.attempt(lambda: _forward(model, given), "ModelNew.forward", forward=True)
        if failure is not None:
            return None, None, failure
        return plain(out), inputs_as_left(inputs, given), None

    # ---- custody ----

    def release(self, drop: Callable[[], None] = lambda: None, full: bool = False) -> None:
        """Drop the candidate's objects (and whatever `drop` lets go of) under the guard, then collect:
        finalizers are candidate code too. With automatic collection off, everything the candidate
        made since the job started is in the two young generations: the last release (`full`) collects
        both (a few ms; a full collection of the worker's heap would cost ~100 ms), the others the
        youngest."""
        recorder = Recorder()
        with guarded(self.module.dir), recorder:
            drop()
            self.keep.clear()
            gc.collect(1 if full else 0)
        self.after("a finalizer of the candidate's objects", recorder, forward=False)

    def finish(self, drop: Callable[[], None]) -> Verdict | None:
        """At the end of the job: unload the module and collect everything the candidate made, under the
        guard. A finalizer that tries something forbidden now still fails the candidate."""
        def drop_all() -> None:
            drop()
            self.seals.clear()  # the references go too (and after a CUDA fault, nothing may read them)
            self.module.unload()

        try:
            self.release(drop_all, full=True)
        except Verdict as v:
            return v
        finally:
            self.module.remove_files()
            if self._gc_was_enabled:
                gc.enable()
        return None


def _forward(model: Any, inputs: list) -> Any:
    with torch.no_grad():
        return model(*inputs)
