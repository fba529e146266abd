"""Shared by tests/hostile/test_hostile.py and scripts/hostile_figures.py: load the hostile cases,
run them through one WorkerPool, and check what they may have left behind.

A case is `cases/<name>.py` with header comments:
  # expect: <kind>          pass | cheat | mismatch | crash | timeout | syntax | import | runtime | compile
  # expect-cuda: <kind>     optional: the verdict on a GPU worker, where a layer differs (e.g. host
                            memory: RLIMIT_AS on CPU raises MemoryError, the GPU's RSS watchdog kills)
  # problem: <file>         in problems/
  # settings: strict        optional: verify with strict=True (torch fallbacks fatal)
  # finding: <rule>         optional: a finding the result must record
  # says: <text>            optional: text the result's message must contain
  # needs: cuda             optional: run only on a GPU machine
  # known-gap: <why>        optional: the verifier is known to get this one wrong (strict xfail)
"""

from __future__ import annotations

import glob
import os
import re
import time
from dataclasses import dataclass

import procs  # tests/procs.py: the one place that walks /proc

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
PROBLEMS_DIR = os.path.join(HERE, "problems")
SECRET_NAME = "TRITONIZE_HOSTILE_SECRET"
SECRET_VALUE = "hostile-secret-4f1c"
MARKER_GLOB = "/tmp/tritonize-hostile-*"
CONTROL = "control_add_scale"
# Host-memory limit of the suite's GPU workers (MiB): small enough that the RSS watchdog stops
# `memory_blowup` well inside the suite's 10 s job timeout (the default is half of RAM, ≤ 32 GiB).
GPU_WORKER_MEMORY_MB = "6144"


@dataclass
class Case:
    name: str
    path: str
    expect: str
    problem: str
    strict: bool = False
    finding: str | None = None
    needs: str | None = None
    gap: str | None = None
    says: str | None = None
    expect_cuda: str | None = None
    doc: str = ""

    def expected(self, device_kind: str = "cpu") -> str:
        """The verdict this case must get on a `cpu` or `cuda` worker."""
        return self.expect_cuda if device_kind == "cuda" and self.expect_cuda else self.expect

    @property
    def code(self) -> str:
        with open(self.path, encoding="utf-8") as f:
            return f.read()


def load_cases(include_cuda: bool = False) -> list[Case]:
    cases = []
    for path in sorted(glob.glob(os.path.join(CASES_DIR, "*.py"))):
        with open(path, encoding="utf-8") as f:
            head = {}
            doc = ""
            for line in f:
                m = re.match(r"#\s*([a-z-]+):\s*(.+)", line)
                if m:
                    head[m.group(1)] = m.group(2).strip()
                elif line.startswith("#") and not doc:
                    doc = line.lstrip("# ").strip()
                elif not line.startswith("#"):
                    break
        case = Case(name=os.path.basename(path)[:-3], path=path, expect=head["expect"], problem=head["problem"],
                    strict=head.get("settings") == "strict", finding=head.get("finding"), needs=head.get("needs"),
                    gap=head.get("known-gap"), says=head.get("says"), expect_cuda=head.get("expect-cuda"),
                    doc=doc)
        if case.needs == "cuda" and not include_cuda:
            continue
        cases.append(case)
    return cases


_problems: dict = {}


def problem_for(case: Case):
    from tritonize.problem import extract

    if case.problem not in _problems:
        path = os.path.join(PROBLEMS_DIR, case.problem)
        with open(path, encoding="utf-8") as f:
            _problems[case.problem] = extract(f.read(), "Model", path=path)
    return _problems[case.problem]


def make_settings(device: str = "cpu", strict: bool = False):
    from tritonize.settings import Settings

    return Settings(device=device, seeds=2, timeout_s=10.0, strict=strict, time_candidates=False,
                    use_cache=False, generators=["template"])


def make_pool(device: str = "cpu"):
    """A pool whose workers inherit a fake secret from this process (they must not be able to read it)."""
    from tritonize.verify.pool import WorkerPool

    os.environ[SECRET_NAME] = SECRET_VALUE
    if device != "cpu":
        from tritonize.worker.sandbox import MEMORY_ENV

        os.environ.setdefault(MEMORY_ENV, GPU_WORKER_MEMORY_MB)
    pool = WorkerPool(make_settings(device))
    pool.start()
    return pool


def run_case(pool, case: Case, device: str = "cpu"):
    """(CandidateResult, seconds)."""
    from tritonize.candidate import Candidate

    settings = make_settings(device, strict=case.strict)
    cand = Candidate(code=case.code, origin=f"hostile:{case.name}", candidate_id=case.name)
    started = time.monotonic()
    result = pool.submit(problem_for(case), cand, settings).result(timeout=120)
    return result, time.monotonic() - started


def device_kind(pool) -> str:
    """"cuda" or "cpu": what the pool's workers run on (device "auto" is either)."""
    return pool.device_info().kind


def verdict_problems(case: Case, result, kind: str = "cpu") -> list[str]:
    """What is wrong with a case's result on a `kind` ("cpu" | "cuda") worker (empty when it is as
    expected)."""
    problems = []
    got = "pass" if result.passed else result.kind
    expect = case.expected(kind)
    if got != expect:
        problems.append(f"expected {expect}, got {got}: {result.message}")
    if not result.passed and (not result.message or not result.message.strip() or "\n" in result.message.strip()):
        problems.append(f"message is not one readable line: {result.message!r}")
    if case.says and case.says not in result.message:
        problems.append(f"message does not say {case.says!r}: {result.message!r}")
    if case.finding and case.finding not in {f.rule for f in result.findings}:
        problems.append(f"finding {case.finding} not recorded: {[f.rule for f in result.findings]}")
    return problems


def markers() -> set[str]:
    """Files the cases try to create outside their job directory."""
    return set(glob.glob(MARKER_GLOB))


descendants = procs.descendants
session_members = procs.session_members
