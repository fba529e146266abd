"""What the server keeps per open document: parses cached per version, and its classes' diagnostics.

Code actions and hover run on every cursor move, so the document's module classes and its line
index are computed once per text version. Diagnostics are kept per class together with the class
text they were computed for, so an edit elsewhere moves them and an edit of the class drops them.
No pygls here: callers pass the document's uri, version and text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lsprotocol import types as lsp

from ..positions import TextIndex
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

    key: tuple[int | None, int]  # (version, hash of the text): a client may reuse a version
    text: str
    modules: list[ModuleClass] | None = None
    index: TextIndex | None = None


@dataclass
class Documents:
    _parsed: dict[str, _Parsed] = field(default_factory=dict)
    _diagnostics: dict[str, dict[str, ClassDiagnostics]] = field(default_factory=dict)

    # ---- cached per version -------------------------------------------------------------------

    def _current(self, uri: str, version: int | None, text: str) -> _Parsed:
        key = (version, hash(text))
        parsed = self._parsed.get(uri)
        if parsed is None or parsed.key != key:
            parsed = self._parsed[uri] = _Parsed(key, text)
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

    # ---- diagnostics --------------------------------------------------------------------------

    def set_class_diagnostics(self, uri: str, name: str, entry: ClassDiagnostics | None) -> None:
        per_doc = self._diagnostics.setdefault(uri, {})
        if entry is None or not entry.diagnostics:
            per_doc.pop(name, None)
        else:
            per_doc[name] = entry

    def diagnostics(self, uri: str) -> list[lsp.Diagnostic]:
        return [d for entry in self._diagnostics.get(uri, {}).values() for d in entry.diagnostics]

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
        return bool(self._diagnostics.pop(uri, None))
