"""Cancellation and progress: parameters of the one pipeline, not forks of it (DESIGN.md, invariant 3)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


class Cancelled(Exception):
    """Raised inside the pipeline when the user cancelled the conversion."""


class CancelToken:
    """A thread-safe flag with callbacks, so cancelling can also kill workers at once."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            try:
                cb()
            except Exception:  # a failing callback must not stop the others
                pass

    def on_cancel(self, cb: Callable[[], None]) -> Callable[[], None]:
        """Call `cb` when cancelled (at once if already). Returns a function that unregisters it."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(cb)

                def remove() -> None:
                    with self._lock:
                        if cb in self._callbacks:
                            self._callbacks.remove(cb)

                return remove
        cb()
        return lambda: None

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)


@dataclass
class ProgressEvent:
    stage: str  # start | load | generate | verify | time | done
    message: str
    done: int = 0
    total: int = 0
    # Stage "text": `message` is the next piece of model sample number `sample` as it is written
    # (the REPL shows it); consumers that do not show model text ignore the stage.
    sample: int | None = None
    # A refinement loop's round (1-based) and how many it may take; the message says "round 2/4 · ...".
    round: int | None = None
    rounds: int | None = None

    def percentage(self) -> int | None:
        return int(100 * self.done / self.total) if self.total else None


ProgressFn = Callable[[ProgressEvent], None]


def no_progress(_: ProgressEvent) -> None:
    pass
