"""What every entry point gets besides its payload: the job's directory, the device, a way to report the
stage it is in, a way to have the device to itself while timing, and a way to ask for the worker to be
replaced afterwards."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from .errors import Verdict


@dataclass
class JobContext:
    job_dir: str  # the job's own directory (problem.py); deleted after the job. A candidate is imported from
    # a temporary directory of its own (candidate_module.py), which is its sandbox directory
    device: Any  # torch.device the worker serves
    stage: Callable[[str], None] = lambda _s: None  # progress, named in timeout and crash messages
    tampered: Callable[[], list[str]] = lambda: []  # names of checker callables a candidate changed
    recycle: bool = False  # set when the CUDA context may be poisoned (or torch was patched)
    current_stage: str = ""  # the last stage reported (named when the GPU runs out of memory)
    # `with ctx.exclusive() as shared:` the device to this job alone (the pool pauses the other workers on
    # it): every GPU timing runs inside one. `exclusive(baselines=True)` also asks for the problem's
    # baselines measured elsewhere in the pool (`shared`: their dict, or None). Outside a pool (tests
    # calling entry points directly): no-op, None.
    exclusive: Callable[..., AbstractContextManager[Any]] = lambda baselines=False: contextlib.nullcontext()
    started: float = field(default_factory=time.monotonic)

    def check_untouched(self, when: str) -> None:
        """Stop with `cheat` if candidate code patched what the checker relies on (torch, triton, time)."""
        changed = self.tampered()
        if changed:
            self.recycle = True
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            raise Verdict("cheat", f"{when} changed {', '.join(changed[:3])}{more}", recycle=True)

    def stop(self, verdict: Verdict) -> Verdict:
        """`verdict`, after noting that it needs a fresh worker (for `raise ctx.stop(...)`)."""
        if verdict.recycle:
            self.recycle = True
        return verdict
