"""Client of the model host, the child process that holds a loaded language model between requests.

Runs in the server/CLI process and uses only the standard library (DESIGN.md, invariant 1): the
host itself is model_host/main.py, started here as `python -m tritonize.model_host.main READ_FD
WRITE_FD` on the first request. Whoever runs conversions owns one `ModelHost` and closes it when
done, like the worker pool: `pipeline.convert` (when not given one), the language server's
`ConversionRunner`, the REPL, `tritonize bench`. The host keeps the model for later requests, streams
progress and text back while sampling, stops within a step when told to cancel, and after
`idle_unload_s` without requests exits (freeing GPU memory); the next request starts a fresh one.
Only text comes back: candidate code never runs in the host (invariant 2).

Messages use the verify protocol's framing (length-prefixed JSON over a dedicated pipe pair), so
a library that prints to stdout cannot corrupt them:
  server → host  {"type": "generate", "id", "load": {...}, "request": {...}, "idle_unload_s"}
                 {"type": "cancel", "id"}   {"type": "exit"}
  host → server  {"type": "loading", "id", "message"}  {"type": "loaded", "id", "model", "seconds"}
                 {"type": "progress", "id", "tokens", "total"}  {"type": "text", "id", "seq", "delta"}
                 {"type": "sample", "id", "seq", "text"}  (sample seq is finished: verify it now)
                 {"type": "status", "id", "message"}  (e.g. a one-time compile before sampling)
                 {"type": "done", "id", "texts", "cancelled", "seconds"}
                 {"type": "error", "id", "error", "traceback"}   {"type": "unloaded", "reason"}
"""

from __future__ import annotations

import collections
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import worker_python
from ..cancel import Cancelled, CancelToken
from ..wire.protocol import Reader, send

CANCEL_GRACE_S = 2.0  # after this long without an answer to "cancel", the host is killed


class ModelHostError(Exception):
    """The host failed a request or died; the message says why (with its last stderr lines)."""


class _HostGone(Exception):
    def __init__(self, why: str, answered: bool) -> None:
        super().__init__(why)
        self.answered = answered  # the host had started on this request before it went


@dataclass
class HostResult:
    texts: list[str]
    cancelled: bool = False
    model: str = ""
    seconds: float = 0.0


@dataclass
class HostEvents:
    """Callbacks for what the host streams during one request."""

    on_progress: Callable[[int, int], None] = lambda tokens, total: None
    on_text: Callable[[int, str], None] = lambda seq, delta: None
    # (sample index, its final text) as soon as one sample is finished, before the others are
    on_sample: Callable[[int, str], None] = lambda seq, text: None
    on_status: Callable[[str], None] = lambda message: None
    log: list[str] = field(default_factory=list)


class ModelHost:
    """A handle on one host process: started on the first request, started again after it exits
    (idle unload, crash), ended by `close()`. Its owner closes it, like a WorkerPool."""

    def __init__(self, python: str | None = None) -> None:
        self.python = python or worker_python.resolve()  # the interpreter that has the model runtimes
        self._proc: subprocess.Popen | None = None
        self._reader: Reader | None = None
        self._write_fd: int | None = None
        self._lock = threading.Lock()  # one request at a time: the host holds one model
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._next_id = 0
        self.loaded: str | None = None  # what the host said it loaded, while it is alive
        self.closed = False  # after close(), a request fails instead of starting a host nobody closes

    # ---- process ------------------------------------------------------------------------------

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _start(self) -> None:
        to_host_r, to_host_w = os.pipe()
        from_host_r, from_host_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = worker_python.pythonpath(self.python, env.get("PYTHONPATH"))
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        self._proc = subprocess.Popen(
            [self.python, "-m", "tritonize.model_host.main", str(to_host_r), str(from_host_w)],
            pass_fds=(to_host_r, from_host_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env, start_new_session=True,
        )
        os.close(to_host_r)
        os.close(from_host_w)
        self._reader = Reader(from_host_r)
        self._write_fd = to_host_w
        self._stderr_tail.clear()
        threading.Thread(target=self._drain_stderr, args=(self._proc,), daemon=True).start()

    def _drain_stderr(self, proc: subprocess.Popen) -> None:
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line:
                self._stderr_tail.append(line)

    def _reset(self) -> None:
        if self._write_fd is not None:
            os.close(self._write_fd)
        if self._reader is not None:
            os.close(self._reader.fd)
        self._proc = self._reader = self._write_fd = None
        self.loaded = None

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._reset()

    def close(self) -> None:
        """Ask the host to exit; kill it if it does not within a few seconds. Waits for a running
        request to end (cancel it first: it then stops within CANCEL_GRACE_S)."""
        with self._lock:
            self.closed = True
            if self.alive():
                try:
                    send(self._write_fd, {"type": "exit"})
                    self._proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if self._proc is not None:
                self._kill()

    def _why_dead(self) -> str:
        code = self._proc.poll() if self._proc else None
        tail = "\n".join(list(self._stderr_tail)[-8:])
        return f"the model host exited (code {code})" + (f":\n{tail}" if tail else "")

    # ---- requests -----------------------------------------------------------------------------

    def generate(self, load: dict, request: dict, *, idle_unload_s: float, cancel: CancelToken | None = None,
                 events: HostEvents | None = None, timeout_s: float | None = None) -> HostResult:
        """Sample in the host; raises Cancelled, ModelHostError, or TimeoutError."""
        events = events or HostEvents()
        cancel = cancel or CancelToken()
        try:
            return self._generate_once(load, request, idle_unload_s, cancel, events, timeout_s)
        except _HostGone as gone:
            if gone.answered or cancel.cancelled:
                raise ModelHostError(str(gone)) from None
            # It exited (idle unload) just as the request went out: a fresh host takes it.
            return self._generate_once(load, request, idle_unload_s, cancel, events, timeout_s)

    def _generate_once(self, load: dict, request: dict, idle_unload_s: float, cancel: CancelToken,
                       events: HostEvents, timeout_s: float | None) -> HostResult:
        with self._lock:
            if self.closed:
                raise ModelHostError("the model host was closed")
            if self._proc is not None and not self.alive():
                self._reset()  # it unloaded when idle, or died: start a fresh one
            if self._proc is None:
                self._start()
            self._next_id += 1
            job_id = f"job{self._next_id}"
            cancel_sent = threading.Event()

            def on_cancel() -> None:
                try:
                    send(self._write_fd, {"type": "cancel", "id": job_id})
                except OSError:
                    pass
                cancel_sent.set()

            try:
                send(self._write_fd, {"type": "generate", "id": job_id, "load": load, "request": request,
                                      "idle_unload_s": idle_unload_s})
            except OSError:
                why = self._why_dead()
                self._kill()
                raise _HostGone(why, answered=False)
            unregister = cancel.on_cancel(on_cancel)
            try:
                return self._wait(job_id, cancel, cancel_sent, events, timeout_s)
            finally:
                unregister()

    def _wait(self, job_id: str, cancel: CancelToken, cancel_sent: threading.Event, events: HostEvents,
              timeout_s: float | None) -> HostResult:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        cancel_deadline: float | None = None
        answered = False
        while True:
            if cancel_sent.is_set() and cancel_deadline is None:
                cancel_deadline = time.monotonic() + CANCEL_GRACE_S
            if cancel_deadline is not None and time.monotonic() > cancel_deadline:
                self._kill()  # it did not stop in time: a fresh host serves the next request
                raise Cancelled()
            if deadline is not None and time.monotonic() > deadline:
                self._kill()
                raise TimeoutError(f"the model did not finish within {timeout_s:g}s")
            msg = self._reader.recv(timeout=0.05)
            if msg is None:
                if self._reader.eof:
                    self._proc.wait(timeout=10)
                    why = self._why_dead()
                    self._reset()
                    if cancel.cancelled:
                        raise Cancelled()
                    raise _HostGone(why, answered=answered)
                continue
            kind = msg.get("type")
            if kind == "unloaded":
                self.loaded = None
                continue
            if msg.get("id") != job_id:
                continue  # a late message of an earlier, abandoned request
            answered = True
            if kind == "progress":
                events.on_progress(int(msg["tokens"]), int(msg["total"]))
            elif kind == "text":
                events.on_text(int(msg["seq"]), msg["delta"])
            elif kind == "sample":
                if not cancel.cancelled:
                    events.on_sample(int(msg["seq"]), msg["text"])
            elif kind in ("loading", "status"):
                events.on_status(msg["message"])
            elif kind == "loaded":
                self.loaded = msg["model"]
                events.on_status(f"loaded {msg['model']} in {msg['seconds']:.1f}s")
            elif kind == "error":
                events.log.append(msg.get("traceback", ""))
                raise ModelHostError(msg["error"])
            elif kind == "done":
                if cancel.cancelled:
                    raise Cancelled()
                return HostResult(texts=list(msg["texts"]), cancelled=bool(msg["cancelled"]),
                                  model=self.loaded or "", seconds=float(msg["seconds"]))
