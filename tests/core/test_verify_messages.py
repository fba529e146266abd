"""The typed messages between the pool and a worker (wire/messages.py): every one survives a JSON round
trip through the real framing, and the server side imports neither torch nor the worker package."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from tritonize.candidate import Candidate
from tritonize.report import CandidateResult, Finding, Timing, Tolerance
from tritonize.settings import Settings
from tritonize.wire import messages, protocol
from tritonize.wire.messages import (
    Activate,
    DeviceInfo,
    Exit,
    Hello,
    Job,
    JobOptions,
    MessageError,
    ProbeJob,
    ProbeResult,
    Ready,
    Result,
    Stage,
    VerifyJob,
)

CAND = Candidate(code="class ModelNew: ...\n", origin="template:softmax", candidate_id="template:softmax/b1024w4",
                 notes=["launch config: b1024w4", "uses private torch APIs (torch._inductor)"])
OPTIONS = JobOptions(seeds=2, atol=1e-3, rtol=None, allow_tf32=True, strict=True, time_candidates=False)
TOL = Tolerance(atol=1e-2, rtol=1e-2, dtype="float32", tf32=True)
VERDICT = CAND.result(passed=False, kind="mismatch", message="mismatch: 1 of 4,096 elements beyond atol=0.0001",
                      drop_in=True, max_abs_err=0.31, rel_err=math.inf, worst_index="out[0, 12]", seeds=1,
                      kernels_launched=2, timing=Timing(ms=0.5, eager_ms=1.0, compile_ms=None, runs=200),
                      findings=[Finding("seeds", "inputs drawn with seeds 7..8", False, None),
                                Finding("torch-fallback", "torch.matmul", True, 12)],
                      seconds=1.5, phases={"load": 0.1, "first_forward": 0.2})
PROBE = ProbeResult(dtype="float16", input_shapes=["float16[16, 256]"], output_shapes=["float16[16, 256]"],
                    tolerance=TOL, output_bytes=8192)

MESSAGES = {
    "verify job": Job(id=1, nonce="ab12", entry="verify",
                      payload=VerifyJob(source="class Model: ...", class_name="Softmax", candidate=CAND, options=OPTIONS)),
    "probe job": Job(id=2, nonce="cd34", entry="probe", payload=ProbeJob(source="src", class_name="Model")),
    "call job": Job(id=3, nonce="ef56", entry="template.build", payload={"problem": {"name": "M"}, "n": 4}),
    "activate": Activate(device="cuda:1"),
    "exit": Exit(),
    "ready": Ready(pid=123),
    "hello cuda": Hello(pid=124, kind="cuda", name="NVIDIA H100 80GB HBM3", count=2, index=1,
                        versions={"torch": "2.13.0", "triton": "3.7.1"}, sandbox={"network": "network namespace"}),
    "hello cpu": Hello(pid=125, kind="cpu", name="cpu (TRITON_INTERPRET=1)"),
    "stage": Stage(id=1, stage="ModelNew.forward (seed 1817243)"),
    "claim": messages.Claim(id=1),
    "granted": messages.Granted(id=1),
    "release": messages.Release(id=1),
    "verify result": Result(id=1, nonce="ab12", entry="verify", ok=True, value=VERDICT, recycle=True, seconds=2.0),
    "probe result": Result(id=2, nonce="cd34", entry="probe", ok=True, value=PROBE),
    "recipe error": Result(id=2, nonce="cd34", entry="probe", error="get_inputs() raised RuntimeError: no data",
                           problem_error="recipe_error"),
    "call result": Result(id=3, nonce="ef56", entry="template.build", ok=True, value={"candidates": [], "skipped": "x"}),
    "call error": Result(id=3, nonce="ef56", entry="template.build", error="ValueError: boom", traceback="Traceback..."),
    "refused job": Result(id=4, nonce="0", entry="verify", error="worker state changed between jobs", ran=False,
                          tainted=True, recycle=True),
}


def _through_the_pipe(message: messages.Message) -> messages.Message:
    """Encode, frame, write to a real pipe, read back and parse: what the two processes do."""
    r, w = os.pipe()
    try:
        protocol.send(w, message.to_dict())
        raw = protocol.Reader(r).recv(timeout=5)
    finally:
        os.close(r)
        os.close(w)
    assert raw is not None, "the message did not come back through the pipe"
    return messages.parse(raw)


@pytest.mark.parametrize("name", list(MESSAGES))
def test_every_message_round_trips(name: str) -> None:
    message = MESSAGES[name]
    back = _through_the_pipe(message)
    assert type(back) is type(message)
    assert back == message
    assert back.to_dict() == message.to_dict()


def test_every_message_type_is_covered() -> None:
    assert {type(m) for m in MESSAGES.values()} == set(messages.MESSAGES.values())


def test_typed_payloads_and_results_come_back_typed() -> None:
    job = _through_the_pipe(MESSAGES["verify job"])
    assert isinstance(job.payload, VerifyJob) and isinstance(job.payload.candidate, Candidate)
    assert isinstance(job.payload.options, JobOptions) and job.payload.options == OPTIONS
    result = _through_the_pipe(MESSAGES["verify result"])
    verdict = result.value
    assert isinstance(verdict, CandidateResult) and isinstance(verdict.timing, Timing)
    assert all(isinstance(f, Finding) for f in verdict.findings)  # findings are report.Finding, never dicts
    assert verdict.rel_err == math.inf and verdict.private_apis
    probe = _through_the_pipe(MESSAGES["probe result"]).value
    assert isinstance(probe, ProbeResult) and isinstance(probe.tolerance, Tolerance)


@pytest.mark.parametrize("value", [OPTIONS, JobOptions(), DeviceInfo("cuda", "H100", 2, {"torch": "2"}, {"a": "b"}),
                                   DeviceInfo("cpu", "cpu (TRITON_INTERPRET=1)"), PROBE,
                                   ProbeJob("src", "M", OPTIONS),
                                   VerifyJob("src", "M", CAND, OPTIONS)])
def test_parts_round_trip_through_json(value) -> None:
    back = type(value).from_dict(json.loads(json.dumps(value.to_dict())))
    assert back == value


def test_candidate_result_round_trips() -> None:
    assert CandidateResult.from_dict(json.loads(json.dumps(VERDICT.to_dict(), allow_nan=True))) == VERDICT


def test_job_options_come_from_settings_in_one_place() -> None:
    s = Settings(seeds=5, atol=1e-3, rtol=2e-3, allow_tf32=True, strict=True, time_candidates=False, timeout_s=9.0)
    assert JobOptions.from_settings(s) == JobOptions(seeds=5, atol=1e-3, rtol=2e-3, allow_tf32=True, strict=True,
                                                     time_candidates=False)


def test_device_info_says_whether_candidates_are_timed() -> None:
    assert DeviceInfo("cuda", "H100").timed and not DeviceInfo("cpu", "cpu").timed


@pytest.mark.parametrize("raw", [{"type": "nonsense"}, {"type": "job", "id": "1", "nonce": "n", "entry": "verify"},
                                 {"type": "job", "id": 1, "nonce": "n", "entry": "verify", "payload": {"source": "s"}},
                                 {"type": "stage", "id": 1}, {"no": "type"}])
def test_bad_messages_are_refused_by_name(raw: dict) -> None:
    with pytest.raises(MessageError):
        messages.parse(raw)


def test_unknown_fields_are_ignored() -> None:
    raw = {**Ready(pid=1).to_dict(), "added_later": True}
    assert messages.parse(raw) == Ready(pid=1)


def test_the_server_side_imports_neither_torch_nor_the_worker() -> None:
    code = ("import sys; import tritonize.verify.pool, tritonize.wire.messages, tritonize.generate.template, "
            "tritonize.generate.inductor; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'triton') "
            "or m == 'tritonize.worker' or m.startswith('tritonize.worker.')); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
