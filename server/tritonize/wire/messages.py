"""Typed messages between the pool (server process) and a verify worker, each with a JSON round trip.

Both processes import this module, so it uses only the standard library and the plain data modules
`report.py` and `candidate.py` (never torch). `protocol.py` frames the dicts these classes turn into.

pool → worker:   Job(entry, payload)  Activate(device)  Exit()  Granted(id)
worker → pool:   Ready  Hello  Stage  Claim(id)  Release(id)  Result

Claim / Granted / Release: a job that times asks for its GPU to itself; the pool pauses the other
workers on that device until the Release (or the job's end), so nothing else runs on the GPU while
it is timed (verify/pool.py, "timing has the device to itself").

A job names one of the worker's entry points (worker/main.py: ENTRY_POINTS) and carries its payload.
The payloads of "verify" and "probe" are typed here (VerifyJob, ProbeJob), and so are their results
(report.CandidateResult, ProbeResult): the worker produces the result type the server uses, so nothing
is copied field by field. Other entry points ("template.build", "inductor.capture") define their own
JSON payloads and results.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..candidate import Candidate
from ..report import CandidateResult, Tolerance, candidate_result_from_dict

if TYPE_CHECKING:
    from ..settings import Settings


class MessageError(ValueError):
    """A dict that is not a valid message (unknown type, missing or mistyped field)."""


# ---- what a job needs from Settings ----------------------------------------------------------------


@dataclass
class JobOptions:
    """The settings that change how a worker judges a candidate. The time limit is not here: the pool
    enforces it (a hung worker cannot time itself out)."""

    seeds: int = 3  # input sets each candidate is checked on
    atol: float | None = None  # None: the dtype's default
    rtol: float | None = None
    allow_tf32: bool = False
    strict: bool = False  # torch compute-op fallbacks are fatal
    time_candidates: bool = True  # time correct candidates (GPU only)
    shape_checks: bool = True  # run correct candidates on the shape families too (worker/shapes.py)

    @classmethod
    def from_settings(cls, settings: Settings) -> JobOptions:
        """The one place Settings turn into what crosses to a worker."""
        return cls(seeds=settings.seeds, atol=settings.atol, rtol=settings.rtol, allow_tf32=settings.allow_tf32,
                   strict=settings.strict, time_candidates=settings.time_candidates,
                   shape_checks=settings.shape_checks)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobOptions:
        return cls(**_known(cls, d))


# ---- job payloads ------------------------------------------------------------------------------------


@dataclass
class ProbeJob:
    """Payload of "probe": run the recipe and the reference once."""

    source: str  # the standalone problem module (Problem.source)
    class_name: str
    options: JobOptions = field(default_factory=JobOptions)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "class_name": self.class_name, "options": self.options.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeJob:
        return cls(source=_str(d, "source"), class_name=_str(d, "class_name"),
                   options=JobOptions.from_dict(d.get("options") or {}))


@dataclass
class VerifyJob:
    """Payload of "verify": judge (and on GPU, time) one candidate against the problem."""

    source: str
    class_name: str
    candidate: Candidate
    options: JobOptions = field(default_factory=JobOptions)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "class_name": self.class_name, "candidate": self.candidate.to_dict(),
                "options": self.options.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VerifyJob:
        cand = d.get("candidate")
        if not isinstance(cand, dict):
            raise MessageError("verify job without a candidate")
        return cls(source=_str(d, "source"), class_name=_str(d, "class_name"), candidate=Candidate.from_dict(cand),
                   options=JobOptions.from_dict(d.get("options") or {}))


# ---- results that are not report types ---------------------------------------------------------------


@dataclass
class DeviceInfo:
    """What the pool's workers run on (from the first worker's hello)."""

    kind: str  # "cuda" | "cpu"
    name: str  # "NVIDIA H100 80GB HBM3" | "cpu (TRITON_INTERPRET=1)"
    count: int = 1  # CUDA devices used
    versions: dict[str, str] = field(default_factory=dict)  # python, torch, triton, cuda
    sandbox: dict[str, str] = field(default_factory=dict)  # layer → state, e.g. "network": "network namespace"

    @property
    def timed(self) -> bool:
        return self.kind == "cuda"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeviceInfo:
        return cls(**_known(cls, d))


@dataclass
class ProbeResult:
    """What running the problem's recipe and reference once told us."""

    dtype: str  # dtype of the first floating output, e.g. "float32"
    input_shapes: list[str]
    output_shapes: list[str]
    tolerance: Tolerance
    output_bytes: int = 0  # size of the reference's output

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeResult:
        d = _known(cls, d)
        return cls(**{**d, "tolerance": Tolerance(**d["tolerance"]), "input_shapes": list(d["input_shapes"]),
                      "output_shapes": list(d["output_shapes"])})


# Entry points whose payload and result are typed; the others carry plain JSON.
PAYLOAD_TYPES: dict[str, Any] = {"verify": VerifyJob, "probe": ProbeJob, "baselines": ProbeJob}
RESULT_TYPES: dict[str, Any] = {"verify": CandidateResult, "probe": ProbeResult}


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        return to_dict() if to_dict is not None else dataclasses.asdict(value)
    return value


def _decode_payload(entry: str, value: Any) -> Any:
    kind = PAYLOAD_TYPES.get(entry)
    if kind is None or value is None:
        return value
    if not isinstance(value, dict):
        raise MessageError(f"{entry} payload is not an object")
    return kind.from_dict(value)


def _decode_result(entry: str, value: Any) -> Any:
    kind = RESULT_TYPES.get(entry)
    if kind is None or value is None:
        return value
    if not isinstance(value, dict):
        raise MessageError(f"{entry} result is not an object")
    return candidate_result_from_dict(value) if kind is CandidateResult else kind.from_dict(value)


# ---- messages --------------------------------------------------------------------------------------


class Message:
    """A message on the job pipes: `to_dict()` carries `"type": TYPE`; `parse()` turns it back."""

    TYPE: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, **dataclasses.asdict(self)}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        return cls(**_known(cls, d))


@dataclass
class Job(Message):
    """pool → worker: run entry point `entry` on `payload`. `nonce` ties the result to this job, so a
    candidate that writes to the result pipe cannot forge one."""

    TYPE: ClassVar[str] = "job"
    id: int
    nonce: str
    entry: str  # a name in the worker's ENTRY_POINTS
    payload: Any = None  # VerifyJob | ProbeJob | the entry point's JSON payload

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, "id": self.id, "nonce": self.nonce, "entry": self.entry,
                "payload": _encode(self.payload)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        entry = _str(d, "entry")
        return cls(id=_int(d, "id"), nonce=_str(d, "nonce"), entry=entry,
                   payload=_decode_payload(entry, d.get("payload")))


@dataclass
class Activate(Message):
    """pool → standby worker: initialise `device` and start serving."""

    TYPE: ClassVar[str] = "activate"
    device: str


@dataclass
class Exit(Message):
    """pool → worker: leave (the pool kills it anyway if it does not)."""

    TYPE: ClassVar[str] = "exit"


@dataclass
class Ready(Message):
    """standby worker → pool: torch and triton are imported; waiting for Activate."""

    TYPE: ClassVar[str] = "ready"
    pid: int


@dataclass
class Hello(Message):
    """worker → pool: serving on this device."""

    TYPE: ClassVar[str] = "hello"
    pid: int
    kind: str  # "cuda" | "cpu"
    name: str
    count: int = 1  # CUDA devices visible
    index: int | None = None  # the CUDA device this worker uses
    versions: dict[str, str] = field(default_factory=dict)
    sandbox: dict[str, str] = field(default_factory=dict)


@dataclass
class Stage(Message):
    """worker → pool: progress inside a job (named in timeout and crash messages)."""

    TYPE: ClassVar[str] = "stage"
    id: int
    stage: str  # e.g. "ModelNew.forward (seed 1817243)"


@dataclass
class Claim(Message):
    """worker → pool: job `id` is about to time; it waits for Granted before it starts. With `baselines`,
    it also asks for the problem's eager and torch.compile times when the pool has them measured."""

    TYPE: ClassVar[str] = "claim"
    id: int
    baselines: bool = False


@dataclass
class Granted(Message):
    """pool → worker: job `id` has its device to itself until it sends Release (or its result); with the
    problem's baselines ({"eager_ms", "compile_ms", "compile_error"}) when they were asked for and known."""

    TYPE: ClassVar[str] = "granted"
    id: int
    baselines: dict[str, Any] | None = None


@dataclass
class Release(Message):
    """worker → pool: job `id` is done timing; the device may be shared again."""

    TYPE: ClassVar[str] = "release"
    id: int


@dataclass
class Result(Message):
    """worker → pool: how a job ended."""

    TYPE: ClassVar[str] = "result"
    id: int
    nonce: str
    entry: str
    ok: bool = False
    value: Any = None  # CandidateResult | ProbeResult | the entry point's JSON result (when ok)
    error: str | None = None  # "Type: message" (when not ok)
    traceback: str = ""
    problem_error: str | None = None  # not ok because the problem itself failed: its kind ("recipe_error")
    ran: bool = True  # False: refused, the worker was already tainted when the job arrived
    tainted: bool = False  # torch/triton/time callables changed: the worker cannot be trusted
    recycle: bool = False  # the pool must replace this worker (tainted, or a CUDA context at risk)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = {"type": self.TYPE, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}
        d["value"] = _encode(self.value)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        d = _known(cls, d)
        entry = _str(d, "entry")
        return cls(**{**d, "value": _decode_result(entry, d.get("value")) if d.get("ok") else d.get("value")})


MESSAGES: dict[str, type[Message]] = {m.TYPE: m for m in (Job, Activate, Exit, Granted, Ready, Hello, Stage, Claim,
                                                           Release, Result)}


def parse(d: dict[str, Any]) -> Message:
    """The typed message for a dict read off a pipe; MessageError when it is none."""
    kind = MESSAGES.get(str(d.get("type")))
    if kind is None:
        raise MessageError(f"unknown message type {d.get('type')!r}")
    try:
        return kind.from_dict(d)
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, MessageError):
            raise
        raise MessageError(f"bad {kind.TYPE} message: {type(e).__name__}: {e}") from None


# ---- helpers ------------------------------------------------------------------------------------------


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """The fields of `cls` present in `d` ("type" and unknown keys dropped: a newer peer may add some)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def _str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise MessageError(f"field {key!r} must be a string, got {value!r}")
    return value


def _int(d: dict[str, Any], key: str) -> int:
    value = d.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MessageError(f"field {key!r} must be an integer, got {value!r}")
    return value
