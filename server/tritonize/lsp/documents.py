"""What the server keeps per open document: parses cached per version, and its classes' diagnostics.

Code actions and hover run on every cursor move, so the document's module classes and its line
index are computed once per text version. Diagnostics are kept per class together with the class
text they were computed for, so an edit elsewhere moves them and an edit of the class drops them.
No pygls here: callers pass the document's uri, version and text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lsprotocol import types as lsp

from ..edit import Staleness, stale_blocks
from ..positions import Range, TextIndex
from ..problem import ModuleClass, ProblemError, list_modules


@dataclass
class ClassDiagnostics:
    """Diagnostics of one class and the class text they were computed for."""

    class_text: str | None  # None: a problem error, cleared on any change of the document
    name_offset: int  # str offset of the class name inside class_text
    diagnostics: list[lsp.Diagnostic]


@dataclass
class _Parsed:
    """One version of one document, and what has been computed from it so far."""

    version: int | None  # a client may reuse a version: the text is compared too
    text: str
    modules: list[ModuleClass] | None = None
    index: TextIndex | None = None
    stale: list[Staleness] | None = None


@dataclass
class Documents:
    _parsed: dict[str, _Parsed] = field(default_factory=dict)
    _diagnostics: dict[str, dict[str, ClassDiagnostics]] = field(default_factory=dict)
    # Stale-kernel warnings per document, from the last analysed version (see `analyse`).
    _stale: dict[str, list[lsp.Diagnostic]] = field(default_factory=dict)

    # ---- cached per version -------------------------------------------------------------------

    def _current(self, uri: str, version: int | None, text: str) -> _Parsed:
        # The same str object almost always (the document's own text); else one comparison, which
        # stops at the first difference (hashing a 5 MB text took ~7 ms on every keystroke).
        parsed = self._parsed.get(uri)
        if parsed is None or parsed.version != version or (parsed.text is not text and parsed.text != text):
            parsed = self._parsed[uri] = _Parsed(version, text)
        return parsed

    def modules(self, uri: str, version: int | None, text: str) -> list[ModuleClass]:
        """The document's module classes (never raises: a broken file lists what parses)."""
        parsed = self._current(uri, version, text)
        if parsed.modules is None:
            try:
                parsed.modules = list_modules(text)
            except (ProblemError, SyntaxError, ValueError):
                parsed.modules = []
        return parsed.modules

    def index(self, uri: str, version: int | None, text: str) -> TextIndex:
        """Offsets ⇄ LSP positions in this version of the document."""
        parsed = self._current(uri, version, text)
        if parsed.index is None:
            parsed.index = TextIndex(text)
        return parsed.index

    def cached_modules(self, uri: str, version: int | None, text: str) -> list[ModuleClass] | None:
        return self._current(uri, version, text).modules

    def set_modules(self, uri: str, version: int | None, text: str, modules: list[ModuleClass],
                    starts: list[int] | None = None) -> None:
        """Record a parse made elsewhere (the helper process), and the line starts it found."""
        parsed = self._current(uri, version, text)
        parsed.modules = modules
        if starts is not None and parsed.index is None:
            parsed.index = TextIndex(text, starts)

    def apply_change(self, uri: str, version: int | None, text: str, r: Range, new: str) -> str:
        """The document's text after one incremental change, its line index carried over (pygls
        would split and join every line of the document for each change)."""
        index = self.index(uri, version, text).replaced(r, new)
        self._parsed[uri] = _Parsed(None, index.text, index=index)
        return index.text

    def changed_version(self, uri: str, version: int | None) -> None:
        """The version the last changes brought the document to (its index stays)."""
        parsed = self._parsed.get(uri)
        if parsed is not None and parsed.version is None:
            parsed.version = version

    def stale(self, uri: str, version: int | None, text: str) -> list[Staleness]:
        """Marked blocks of this version whose original class changed since they were generated."""
        parsed = self._current(uri, version, text)
        if parsed.stale is None:
            parsed.stale = stale_blocks(text, self.modules(uri, version, text), self.index(uri, version, text))
        return parsed.stale

    def analyse(self, uri: str, version: int | None, text: str) -> bool:
        """Recompute the stale-kernel warnings for this version; True when they changed."""
        index = self.index(uri, version, text)
        diags = []
        for st in self.stale(uri, version, text):
            line = index.line(st.mark.line) or ""
            rng = lsp.Range(lsp.Position(st.mark.line, 0), lsp.Position(st.mark.line, len(line.encode("utf-16-le")) // 2))
            diags.append(lsp.Diagnostic(range=rng, message=st.message, severity=lsp.DiagnosticSeverity.Warning,
                                        source="tritonize", code="stale"))
        old = self._stale.get(uri, [])
        if [(d.range, d.message) for d in old] == [(d.range, d.message) for d in diags]:
            return False
        self._stale[uri] = diags
        return True

    # ---- diagnostics --------------------------------------------------------------------------

    def set_class_diagnostics(self, uri: str, name: str, entry: ClassDiagnostics | None) -> None:
        per_doc = self._diagnostics.setdefault(uri, {})
        if entry is None or not entry.diagnostics:
            per_doc.pop(name, None)
        else:
            per_doc[name] = entry

    def diagnostics(self, uri: str) -> list[lsp.Diagnostic]:
        own = [d for entry in self._diagnostics.get(uri, {}).values() for d in entry.diagnostics]
        return own + self._stale.get(uri, [])

    def follow_change(self, uri: str, version: int | None, text: str) -> bool:
        """After an edit: keep diagnostics whose class text is unchanged (moved to where the class
        is now), drop the rest. True when anything changed (the client must be told)."""
        per_doc = self._diagnostics.get(uri)
        if not per_doc:
            return False
        changed = False
        for name, entry in list(per_doc.items()):
            at = text.find(entry.class_text) if entry.class_text else -1
            if at < 0:
                del per_doc[name]
                changed = True
                continue
            line, col = self.index(uri, version, text).position(at + entry.name_offset)
            old = entry.diagnostics[0].range
            if (old.start.line, old.start.character) != (line, col):
                width = old.end.character - old.start.character  # the name's width: same line, same units
                rng = lsp.Range(lsp.Position(line, col), lsp.Position(line, col + width))
                for d in entry.diagnostics:
                    d.range = rng
                changed = True
        return changed

    # ---- lifetime -----------------------------------------------------------------------------

    def opened(self, uri: str) -> None:
        self._parsed.pop(uri, None)

    def closed(self, uri: str) -> bool:
        """Forget the document; True when it had diagnostics (the client should clear them)."""
        self._parsed.pop(uri, None)
        stale = self._stale.pop(uri, None)
        return bool(self._diagnostics.pop(uri, None)) or bool(stale)
