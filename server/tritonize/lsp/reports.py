"""Reading the report store for the editor: hover, and `tritonize.showReport`.

Hover runs on every mouse rest, so it does no more than find the word, check that it names a
class of the document, and read one indexed row.
"""

from __future__ import annotations

import asyncio
import os

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from ..edit import block_marks, generated_name, removal_edit, stale_blocks
from ..report import Report
from ..settings import Settings
from . import features as F
from .state import TritonizeServer


async def hover(ls: TritonizeServer, uri: str, position: lsp.Position) -> lsp.Hover | None:
    """The report table, on the name of an original class or of its generated `<Name>Triton`;
    once the class has changed since that report, a line saying so instead of the old table."""
    if ls.readable(uri) is None:
        return None
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
    if await ls.report_is_stale(uri, name):
        value = (f"**tritonize: {name}** — the class changed since its last conversion "
                 f"({report.created or 'earlier'}); its report no longer applies. Re-run the conversion.")
    else:
        from ..render import hover_markdown

        value = hover_markdown(report)
    return lsp.Hover(
        contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=value),
        range=lsp.Range(lsp.Position(position.line, start), lsp.Position(position.line, end)),
    )


async def code_lenses(ls: TritonizeServer, uri: str) -> list[lsp.CodeLens]:
    """Lenses above each class that has a kernel block in the document."""
    doc = ls.readable(uri)
    if doc is None or "# >>> tritonize: " not in doc.source:
        return []
    version = doc.version
    text, modules = await ls.modules_async(uri)
    marks = {m.origin: m for m in block_marks(text) if m.origin}
    marks.update({m.generated[: -len(F.GENERATED_SUFFIX)]: m for m in block_marks(text)
                  if m.origin is None and m.generated.endswith(F.GENERATED_SUFFIX)})
    now = ls.document(uri)
    current = now.version == version and now.source is text  # not changed while it was parsed
    found = ls.documents.stale(uri, version, text) if current else stale_blocks(text, modules)
    stale = {st.mark.origin: st.message for st in found}
    store = ls.store()
    out: list[lsp.CodeLens] = []
    for mod in modules:
        if mod.name in marks:
            out += F.class_lenses(uri, mod.name, mod.name_range, store.latest(mod.name, doc.path), stale.get(mod.name))
    return out


async def remove_kernel(ls: TritonizeServer, uri: str, name: str) -> dict:
    """`tritonize.removeKernel`: delete the marked block of `<name>Triton` (the lens's Remove)."""
    doc = ls.readable(uri)
    removal = removal_edit(doc.source, generated_name(name)) if doc is not None else None
    if removal is None:
        ls.show(lsp.MessageType.Info, f"no {generated_name(name)} block to remove")
        return {"applied": False, "reason": "no block"}
    edit = F.workspace_edit(uri, doc.version, [removal], document_changes=ls.support.document_changes,
                            can_create=False, path_to_uri=from_fs_path)
    if not ls.support.apply_edit:
        return {"applied": False, "edit": ls.protocol._converter.unstructure(edit)}
    try:
        result = await asyncio.wait_for(ls.workspace_apply_edit_async(lsp.ApplyWorkspaceEditParams(
            edit=edit, label=f"Remove {generated_name(name)}")), ls.settings.apply_edit_timeout_s)
    except (asyncio.TimeoutError, Exception) as exc:
        return {"applied": False, "reason": str(exc) or type(exc).__name__,
                "edit": ls.protocol._converter.unstructure(edit)}
    return {"applied": bool(result and result.applied)}


async def show_report(ls: TritonizeServer, uri: str, name: str | None, show: bool = True) -> dict | None:
    """Write the full text report to the cache dir and open it (or say where it is). `show` False:
    the caller shows the answer itself (the VS Code extension's markdown preview)."""
    report = ls.latest_report(uri, name) if name else None
    if report is None:
        ls.show(lsp.MessageType.Info, f"no report for {name} yet")
        return None
    from ..render import hover_markdown, report_text

    text = report_text(report)
    path = _write_report(ls.settings, report, text)
    if not show:
        pass
    elif ls.support.show_document:
        await ls.window_show_document_async(lsp.ShowDocumentParams(uri=from_fs_path(path), take_focus=True))
    else:
        ls.show(lsp.MessageType.Info, f"{name}: {F.outcome_message(report)} (full report: {path})")
    markdown = f"{hover_markdown(report)}\n\n```text\n{text}\n```\n"
    return {"markdown": markdown, "text": text, "path": path}


def _write_report(settings: Settings, report: Report, text: str) -> str:
    directory = os.path.join(settings.resolved_cache_dir(), "reports")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{report.problem_name}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return path
