"""Reading the report store for the editor: hover, and `tritonize.showReport`.

Hover runs on every mouse rest, so it does no more than find the word, check that it names a
class of the document, and read one indexed row.
"""

from __future__ import annotations

import os

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from ..report import Report
from ..settings import Settings
from . import features as F
from .state import TritonizeServer


def hover(ls: TritonizeServer, uri: str, position: lsp.Position) -> lsp.Hover | None:
    """The report table, on the name of an original class or of its generated `<Name>Triton`."""
    line_text = ls.line_at(uri, position.line)
    hit = F.word_at(line_text, position.character) if line_text is not None else None
    if hit is None:
        return None
    word, start, end = hit
    doc = ls.document(uri)
    name = F.hover_class(doc.source, word)
    report = ls.store().latest(name, doc.path) if name else None
    if report is None:
        return None
    from ..render import hover_markdown

    return lsp.Hover(
        contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=hover_markdown(report)),
        range=lsp.Range(lsp.Position(position.line, start), lsp.Position(position.line, end)),
    )


async def show_report(ls: TritonizeServer, uri: str, name: str | None) -> dict | None:
    """Write the full text report to the cache dir and open it (or say where it is)."""
    report = ls.latest_report(uri, name) if name else None
    if report is None:
        ls.show(lsp.MessageType.Info, f"no report for {name} yet")
        return None
    from ..render import hover_markdown, report_text

    text = report_text(report)
    path = _write_report(ls.settings, report, text)
    if ls.support.show_document:
        await ls.window_show_document_async(lsp.ShowDocumentParams(uri=from_fs_path(path), take_focus=True))
    else:
        ls.show(lsp.MessageType.Info, f"{name}: {F.outcome_message(report)} (full report: {path})")
    return {"markdown": hover_markdown(report), "text": text, "path": path}


def _write_report(settings: Settings, report: Report, text: str) -> str:
    directory = os.path.join(settings.resolved_cache_dir(), "reports")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{report.problem_name}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return path
