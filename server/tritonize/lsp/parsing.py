"""Parsing big documents off the event loop.

`ast` parses a 5 MB file in about 0.6 s inside one C call that holds the GIL, so a thread would
still stop the server from answering. Documents above `BIG` are parsed in a child process instead
(started on the first big document; a server that never sees one never starts it), and the
requests that need the parse await it while every other request is answered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..positions import line_starts
from ..problem import ModuleClass, list_modules

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger("tritonize.lsp")

BIG = 256 * 1024  # characters; below this a parse takes a few milliseconds


def _parse(text: str) -> tuple[list[ModuleClass], list[int]]:
    """In the helper process: the module classes and the line starts (the index a 5 MB document
    would otherwise build on the event loop: ~50 ms)."""
    return list_modules(text), line_starts(text)


class Parser:
    def __init__(self) -> None:
        self._executor: ProcessPoolExecutor | None = None

    async def modules(self, text: str) -> list[ModuleClass]:
        return (await self.parse(text))[0]

    async def parse(self, text: str) -> tuple[list[ModuleClass], list[int] | None]:
        """The module classes of `text`, and for a big text its line starts too."""
        if len(text) < BIG:
            return list_modules(text), None
        if self._executor is None:
            # Imported here: multiprocessing costs start-up time a server without big files never needs.
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: the server has threads (a forked copy could inherit a held lock)
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, _parse, text)
        except Exception as exc:  # a crashed parser process: parse here rather than answer nothing
            log.warning("parsing in the helper process failed (%s); parsing in the server", exc)
            self.close()
            return list_modules(text), None

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
