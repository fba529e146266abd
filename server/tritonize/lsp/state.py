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
from urllib.parse import unquote

import attrs
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcServerNotInitialized
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.workspace import TextDocument

from ..cancel import ProgressEvent, ProgressFn
from ..edit import Anchor, block_marks, class_digest
from ..positions import Range, TextIndex
from ..problem import ModuleClass
from ..report import Report
from ..settings import Settings
from . import features as F
from .capabilities import ClientSupport
from .convert_job import ConversionRunner, Job
from .documents import ClassDiagnostics, Documents
from .jobs import Cancels, until_done_or_cancelled
from .logs import LogForwarder
from .parsing import Parser
from .settings import SECTION, SettingsLayers
from .version import server_version

log = logging.getLogger("tritonize.lsp")

HEAVY_MODULES = ("torch", "triton", "transformers", "llama_cpp")
# Stale-kernel analysis runs this long after the last change (typing is not slowed by it).
ANALYSE_DELAY_S = 0.15


class _Unparsable:
    """A message whose params did not parse; already answered, nothing else to do."""

    jsonrpc = "2.0"


class TritonizeProtocol(LanguageServerProtocol):
    initialize_seen = False

    # ---- JSON-RPC errors the way LSP defines them ---------------------------------------------

    def structure_message(self, data: dict[str, Any]):
        """Params that do not parse: answer the request with -32602 (InvalidParams), which pygls
        would only log (the client would wait forever)."""
        try:
            return super().structure_message(data)
        except JsonRpcInvalidParams as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                reason = str(exc.__cause__ or exc).splitlines()[0][:300]
                err = JsonRpcInvalidParams(f"invalid params for {data['method']}: {reason}")
                self._send_response(data["id"], None, err.to_response_error())
            return _Unparsable()

    def handle_message(self, message):
        if isinstance(message, _Unparsable):
            return None
        return super().handle_message(message)

    def _handle_request(self, msg_id, method_name: str, params: Any):
        # Before `initialize` a request gets -32002 (ServerNotInitialized), not a traceback.
        if not self.initialize_seen and method_name != lsp.INITIALIZE:
            err = JsonRpcServerNotInitialized(f"{method_name} before initialize")
            self._send_response(msg_id, None, err.to_response_error())
            return None
        return super()._handle_request(msg_id, method_name, params)

    def _handle_notification(self, method_name: str, params: Any):
        if not self.initialize_seen and method_name != lsp.EXIT:
            log.info("dropped %s: it came before initialize", method_name)
            return None
        return super()._handle_notification(method_name, params)

    @lsp_method(lsp.SHUTDOWN)
    def lsp_shutdown(self, *args):
        # pygls cancels every pending request while iterating over the live dict; a cancelled
        # request (a `workspace/applyEdit` the client never answered) removes itself from that
        # dict meanwhile. Cancel from a snapshot instead.
        if (user_handler := self.fm.features.get(lsp.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams):
        # Incremental changes are applied with the document's line index kept up to date
        # (documents.py), not by pygls, which splits and joins every line for each change: 80 ms
        # per keystroke on a 5 MB file.
        server = self._server
        ident = params.text_document
        if not isinstance(server, TritonizeServer) or not server.is_open(ident.uri):
            yield from super().lsp_text_document__did_change(params)
            return None
        doc = self.workspace.get_text_document(ident.uri)
        version = doc.version
        for change in params.content_changes:
            if isinstance(change, lsp.TextDocumentContentChangePartial):
                r = change.range
                doc._source = server.documents.apply_change(
                    ident.uri, version, doc.source,
                    Range(r.start.line, r.start.character, r.end.line, r.end.character), change.text)
                version = None  # the index now follows the changed text
            else:
                self.workspace.update_text_document(ident, change)
        doc.version = ident.version
        server.documents.changed_version(ident.uri, ident.version)
        if (user_handler := self.fm.features.get(lsp.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None
        return None

    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams):
        self.initialize_seen = True
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
        super().__init__("tritonize", server_version(), protocol_cls=TritonizeProtocol,
                         text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.layers = SettingsLayers()
        self.runner = ConversionRunner(self.store_for)
        self.documents = Documents()
        self.parser = Parser()
        self.cancels = Cancels()
        self.support = ClientSupport()  # until `initialize` says more
        self.loop: asyncio.AbstractEventLoop | None = None
        self.shutdown_requested = False
        self.early_initialize = False  # bootstrap.py answered `initialize` from the stored answer
        self._stores: dict[str, Any] = {}
        self._init_problems: list[str] = []
        self._announced: list[str] = []
        self._analysis: dict[str, asyncio.TimerHandle] = {}
        self._parsing: dict[str, tuple[str, asyncio.Future]] = {}  # uri → (text, its parse in flight)
        self._tasks: set[asyncio.Future] = set()
        # (uri, class) → digest of the class's text when it was last converted in this session
        self._converted: dict[tuple[str, str], str] = {}

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
        self.parser.close()

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
        return unquote(uri) in self.workspace.text_documents  # pygls keys documents by the unquoted uri

    def readable(self, uri: str) -> TextDocument | None:
        """The document, or None when it is neither open nor a file that can be read (a request
        about it has nothing to answer; it must not answer with a traceback)."""
        if self.is_open(uri):
            return self.document(uri)
        try:
            doc = self.document(uri)
            doc.source  # noqa: B018 - pygls reads an unopened document from disk here
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        return doc

    def modules(self, uri: str) -> list[ModuleClass]:
        """The document's module classes, parsed once per version (listing must stay cheap).
        Parses here, on the event loop: flows that run per keystroke use `modules_async`."""
        doc = self.document(uri)
        return self.documents.modules(uri, doc.version, doc.source)

    async def modules_async(self, uri: str) -> tuple[str, list[ModuleClass]]:
        """The document's text and its module classes; a big document is parsed in the parser
        process while the server answers other requests. (The text is the one parsed: the
        document may have changed meanwhile.)"""
        doc = self.document(uri)
        version, text = doc.version, doc.source
        cached = self.documents.cached_modules(uri, version, text)
        if cached is not None:
            return text, cached
        # One parse per text: a code action and the stale analysis asking together share it (on a
        # 5 MB document a second parse would take a core for another half second).
        pending = self._parsing.get(uri)
        if pending is None or pending[0] is not text:
            future = asyncio.ensure_future(self.parser.parse(text))
            self._parsing[uri] = pending = (text, future)
            future.add_done_callback(lambda f, uri=uri: self._parse_done(uri, f))
        modules, starts = await asyncio.shield(pending[1])
        if doc.version == version and doc.source is text:
            self.documents.set_modules(uri, version, text, modules, starts)
        return text, modules

    def _parse_done(self, uri: str, future: asyncio.Future) -> None:
        if self._parsing.get(uri, (None, None))[1] is future:
            del self._parsing[uri]
        if not future.cancelled() and future.exception() is not None:
            log.warning("parsing %s failed: %s", uri, future.exception())

    def text_index(self, uri: str) -> TextIndex:
        """Offsets ⇄ positions in the document as it is now (built once per version)."""
        doc = self.document(uri)
        return self.documents.index(uri, doc.version, doc.source)

    def line_at(self, uri: str, line: int) -> str | None:
        return self.text_index(uri).line(line)

    def document_opened(self, uri: str) -> None:
        self.documents.opened(uri)
        self._schedule_analysis(uri, 0.0)

    def document_changed(self, uri: str) -> None:
        doc = self.document(uri)
        if self.documents.follow_change(uri, doc.version, doc.source):
            self.publish(uri)
        self._schedule_analysis(uri)

    def _schedule_analysis(self, uri: str, delay: float = ANALYSE_DELAY_S) -> None:
        """Look for stale kernels once the user pauses (debounced: each change restarts the wait)."""
        handle = self._analysis.pop(uri, None)
        if handle is not None:
            handle.cancel()
        if self.loop is not None and not self.loop.is_closed():
            self._analysis[uri] = self.loop.call_later(delay, self._analyse, uri)

    def _analyse(self, uri: str) -> None:
        self._analysis.pop(uri, None)
        if self.is_open(uri):
            self._tasks.add(task := asyncio.ensure_future(self._analyse_async(uri)))
            task.add_done_callback(self._tasks.discard)

    async def _analyse_async(self, uri: str) -> None:
        doc = self.document(uri)
        version = doc.version
        text, _ = await self.modules_async(uri)  # cached for this version when it is still current
        if not self.is_open(uri) or doc.version != version or doc.source is not text:
            return  # changed meanwhile: the next analysis is already scheduled
        if self.documents.analyse(uri, version, text):
            self.publish(uri)
        self.refresh_code_lenses()

    def refresh_code_lenses(self) -> None:
        if self.support.code_lens_refresh:
            self.workspace_code_lens_refresh(None)

    def remember_conversion(self, uri: str, anchor: Anchor) -> None:
        """The class text a conversion (and so the latest report) was made for."""
        self._converted[(uri, anchor.name)] = anchor.digest

    async def report_is_stale(self, uri: str, name: str) -> bool:
        """Has class `name` changed since the conversion behind its latest report? Known from this
        session's conversions, else from the marker of the kernel block in the document."""
        text, modules = await self.modules_async(uri)
        mod = next((m for m in modules if m.name == name), None)
        if mod is None:
            return False
        known = self._converted.get((uri, name))
        if known is None:
            known = next((m.digest for m in block_marks(text) if m.origin == name and m.digest), None)
        index = self.text_index(uri) if text is self.document(uri).source else TextIndex(text)
        return known is not None and known != class_digest(index.slice(mod.range))

    def document_closed(self, uri: str) -> None:
        handle = self._analysis.pop(uri, None)
        if handle is not None:
            handle.cancel()
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

    def _device_name(self) -> str | None:
        """What verify workers run on, once a worker has said hello (never waits for one)."""
        pool = self.runner.pool
        if pool is None or pool.serving() == 0:
            return None
        return pool.device_info().name

    def debug_info(self) -> dict:
        """For tests and `tritonize doctor`: what this process has loaded and spawned."""
        return {
            "pid": os.getpid(),
            "heavy_modules": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY_MODULES),
            "pool_started": self.runner.pool is not None,
            "device": self._device_name(),
            "version": self.version,
            "early_initialize": self.early_initialize,
            "running": self.runner.running(),
            "settings": self.settings.to_dict(),
        }
