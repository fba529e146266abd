"""`TritonizeServer`: the state the handlers share, behind a public API.

The pygls `LanguageServer` subclass is the object every handler receives, so it owns what lives as
long as the connection: settings, what the client supports, the open documents' caches and
diagnostics, the conversion runner (and through it the worker pool), report stores, the cancel
tokens of running jobs. Handlers (handlers.py) and the flows they call (conversion.py,
verification.py, reports.py) use only the methods here.

Everything here runs on the event loop thread; job threads reach it through
`loop.call_soon_threadsafe` (see `progress_callback`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Hashable
from typing import Any

import attrs
from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.workspace import TextDocument

from .. import __version__
from ..cancel import ProgressEvent, ProgressFn
from ..positions import TextIndex
from ..problem import ModuleClass
from ..report import Report
from ..settings import Settings
from . import features as F
from .capabilities import ClientSupport
from .convert_job import ConversionRunner, Job
from .documents import ClassDiagnostics, Documents
from .jobs import Cancels, until_done_or_cancelled
from .logs import LogForwarder
from .settings import SECTION, SettingsLayers

log = logging.getLogger("tritonize.lsp")

HEAVY_MODULES = ("torch", "triton", "transformers", "llama_cpp")


class TritonizeProtocol(LanguageServerProtocol):
    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams):
        # Every column tritonize computes is a UTF-16 column (positions.py), the encoding every
        # client must support. pygls would pick the client's first preference (Neovim: utf-8),
        # so offer only utf-16.
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            params.capabilities = attrs.evolve(params.capabilities, general=attrs.evolve(
                general, position_encodings=[lsp.PositionEncodingKind.Utf16]))
        return (yield from super().lsp_initialize(params))

    def _handle_cancel_notification(self, msg_id):
        # `$/cancelRequest` for a running conversion: stop its pipeline and workers too, not just
        # the asyncio task that waits for it.
        server = self._server
        if isinstance(server, TritonizeServer):
            server.cancels.cancel_request(msg_id)
        super()._handle_cancel_notification(msg_id)


class TritonizeServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("tritonize", __version__, protocol_cls=TritonizeProtocol,
                         text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.layers = SettingsLayers()
        self.runner = ConversionRunner(self.store_for)
        self.documents = Documents()
        self.cancels = Cancels()
        self.support = ClientSupport()  # until `initialize` says more
        self.loop: asyncio.AbstractEventLoop | None = None
        self.shutdown_requested = False
        self._stores: dict[str, Any] = {}
        self._init_problems: list[str] = []
        self._announced: list[str] = []

    @property
    def settings(self) -> Settings:
        return self.layers.current

    # ---- lifecycle ----------------------------------------------------------------------------

    def on_initialize(self, params: lsp.InitializeParams) -> None:
        self.loop = asyncio.get_running_loop()
        LogForwarder.install(self)
        self.support = ClientSupport.of(params.capabilities)
        self._init_problems = self.layers.set_init(params.initialization_options)

    async def on_initialized(self) -> None:
        """Say what was wrong with initializationOptions (the client can show messages only now),
        ask to hear about configuration changes, and pull the configuration."""
        self.announce_settings_problems(self._init_problems)
        if self.support.register_configuration:
            try:
                await self.client_register_capability_async(lsp.RegistrationParams(registrations=[
                    lsp.Registration(id=str(uuid.uuid4()), method=lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
                ]))
            except Exception as exc:
                log.info("could not register for configuration changes: %s", exc)
        await self.pull_configuration()

    async def on_configuration_changed(self, pushed: Any) -> None:
        """Clients with workspace/configuration are asked again; the others sent the values."""
        if self.support.configuration:
            await self.pull_configuration()
        else:
            self.announce_settings_problems(self.layers.set_config(pushed))

    def on_shutdown(self) -> None:
        self.shutdown_requested = True
        self.close()

    def close(self) -> None:
        """Cancel running jobs and close the pool: no worker may outlive the server. (Stores stay
        open: a cancelled job's thread may still be writing its report.)"""
        self.runner.close()

    # ---- settings -----------------------------------------------------------------------------

    async def pull_configuration(self) -> None:
        if not self.support.configuration:
            return
        try:
            result = await self.workspace_configuration_async(
                lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section=SECTION)])
            )
        except Exception as exc:
            log.info("workspace/configuration failed: %s", exc)
            return
        self.announce_settings_problems(self.layers.set_config(result[0] if result else None))

    def announce_settings_problems(self, problems: list[str]) -> None:
        # Each layer change re-validates everything: say it once, until the set of problems changes.
        if not problems or problems == self._announced:
            self._announced = problems
            return
        self._announced = problems
        text = "invalid settings, defaults used: " + "; ".join(problems)
        log.warning("tritonize: %s", text)
        self.show(lsp.MessageType.Warning, text)

    # ---- messages -----------------------------------------------------------------------------

    def show(self, kind: lsp.MessageType, text: str) -> None:
        """`window/showMessage`, prefixed so the user knows who speaks."""
        self.window_show_message(lsp.ShowMessageParams(kind, f"tritonize: {text}"))

    # ---- documents ----------------------------------------------------------------------------

    def document(self, uri: str) -> TextDocument:
        return self.workspace.get_text_document(uri)

    def is_open(self, uri: str) -> bool:
        return uri in self.workspace.text_documents

    def modules(self, uri: str) -> list[ModuleClass]:
        """The document's module classes, parsed once per version (listing must stay cheap)."""
        doc = self.document(uri)
        return self.documents.modules(uri, doc.version, doc.source)

    def text_index(self, uri: str) -> TextIndex:
        """Offsets ⇄ positions in the document as it is now (built once per version)."""
        doc = self.document(uri)
        return self.documents.index(uri, doc.version, doc.source)

    def line_at(self, uri: str, line: int) -> str | None:
        return self.text_index(uri).line(line)

    def document_opened(self, uri: str) -> None:
        self.documents.opened(uri)

    def document_changed(self, uri: str) -> None:
        doc = self.document(uri)
        if self.documents.follow_change(uri, doc.version, doc.source):
            self.publish(uri)

    def document_closed(self, uri: str) -> None:
        if self.documents.closed(uri) and not self.support.pull_diagnostics:
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    # ---- diagnostics --------------------------------------------------------------------------

    def set_class_diagnostics(self, uri: str, name: str, entry: ClassDiagnostics | None) -> None:
        self.documents.set_class_diagnostics(uri, name, entry)
        self.publish(uri)

    def diagnostics_for(self, uri: str) -> list[lsp.Diagnostic]:
        return self.documents.diagnostics(uri)

    def publish(self, uri: str) -> None:
        """Push the document's diagnostics, or ask a pulling client to pull again."""
        if self.support.pull_diagnostics:
            if self.support.diagnostic_refresh:
                self.workspace_diagnostic_refresh(None)
            return
        doc = self.document(uri)
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, version=doc.version, diagnostics=self.diagnostics_for(uri))
        )

    # ---- reports ------------------------------------------------------------------------------

    def store_for(self, settings: Settings):
        """The report store of the settings' cache directory (opened once; sqlite3 only on first use)."""
        from ..store import Store

        directory = settings.resolved_cache_dir()
        if directory not in self._stores:
            self._stores[directory] = Store(directory)
        return self._stores[directory]

    def store(self):
        return self.store_for(self.settings)

    def latest_report(self, uri: str, name: str) -> Report | None:
        return self.store().latest(name, self.document(uri).path)

    # ---- progress and jobs --------------------------------------------------------------------

    async def begin_progress(self, title: str) -> Hashable | None:
        """A cancellable progress bar, or None when the client has none (or refuses one)."""
        if not self.support.progress:
            return None
        token = f"tritonize/{uuid.uuid4()}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception as exc:  # a client may refuse; converting without a bar is fine
            log.info("client refused a progress token: %s", exc)
            return None
        self.work_done_progress.begin(
            token, lsp.WorkDoneProgressBegin(title=title, cancellable=True, message="starting", percentage=0)
        )
        return token

    def progress_callback(self, token: Hashable | None) -> ProgressFn:
        """The job thread's ProgressFn: events cross to the loop and go out as `$/progress` reports."""
        loop = asyncio.get_running_loop()
        mapper = F.ProgressMapper()

        def report(ev: ProgressEvent) -> None:
            value = mapper.report(ev)
            if value is not None:
                self.work_done_progress.report(token, value)

        def on_progress(ev: ProgressEvent) -> None:
            if token is not None:
                loop.call_soon_threadsafe(report, ev)

        return on_progress

    def end_progress(self, token: Hashable | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message=message))

    async def await_job(self, job: Job, progress_token: Hashable | None) -> Any:
        """The job's result. `$/cancelRequest` for this request and cancel in its progress bar fire
        the job's token; both answer at once (Cancelled / CancelledError) while the job winds down."""
        with self.cancels.watching(self.protocol.msg_id, progress_token, job.token):
            try:
                return await until_done_or_cancelled(job.future, job.token)
            except asyncio.CancelledError:
                job.token.cancel()
                self.end_progress(progress_token, "cancelled")
                raise

    # ---- introspection ------------------------------------------------------------------------

    def debug_info(self) -> dict:
        """For tests and `tritonize doctor`: what this process has loaded and spawned."""
        return {
            "pid": os.getpid(),
            "heavy_modules": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY_MODULES),
            "pool_started": self.runner.pool is not None,
            "running": self.runner.running(),
            "settings": self.settings.to_dict(),
        }
