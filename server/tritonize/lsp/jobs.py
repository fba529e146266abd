"""Waiting on a conversion or verification job from the event loop, and cancelling it.

A job runs in a `ConversionRunner` thread; the request that started it waits here. Two things can
cancel it — `$/cancelRequest` for that request and the cancel button of its progress bar — and
both must answer at once while the job winds down in its thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..cancel import Cancelled, CancelToken

log = logging.getLogger("tritonize.lsp")


@dataclass
class Cancels:
    """The cancel token of each running job, by request id and by progress token."""

    _by_request: dict[Hashable, CancelToken] = field(default_factory=dict)
    _by_progress: dict[Hashable, CancelToken] = field(default_factory=dict)

    @contextmanager
    def watching(self, msg_id: Hashable, progress_token: Hashable | None, token: CancelToken) -> Iterator[None]:
        """While the block runs, cancelling the request or its progress bar fires `token`."""
        self._by_request[msg_id] = token
        if progress_token is not None:
            self._by_progress[progress_token] = token
        try:
            yield
        finally:
            self._by_request.pop(msg_id, None)
            self._by_progress.pop(progress_token, None)

    def cancel_request(self, msg_id: Hashable) -> None:
        token = self._by_request.get(msg_id)
        if token is not None:
            log.info("request %s cancelled by the client; stopping its job", msg_id)
            token.cancel()

    def cancel_progress(self, progress_token: Hashable) -> None:
        token = self._by_progress.get(progress_token)
        if token is not None:
            log.info("cancelled from the progress UI; stopping the job")
            token.cancel()


async def until_done_or_cancelled(future: Future, token: CancelToken) -> Any:
    """The job's result, or Cancelled as soon as the token fires.

    The pipeline notices a cancel at its next check (and may be waiting for a worker to start); the
    user should not wait for that: we answer at once and the job winds down in its thread.
    """
    loop = asyncio.get_running_loop()
    cancelled = loop.create_future()

    def fire() -> None:
        loop.call_soon_threadsafe(lambda: cancelled.done() or cancelled.set_result(None))

    remove = token.on_cancel(fire)
    done_fut = asyncio.wrap_future(future)
    try:
        await asyncio.wait({done_fut, cancelled}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        done_fut.cancel()
        raise
    finally:
        remove()
    if done_fut.done():
        return done_fut.result()
    done_fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieve, never log
    raise Cancelled()
