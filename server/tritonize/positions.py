"""Positions in source text: the one place that converts between the ways of counting them.

Three units meet in tritonize, and they agree only on ASCII lines:

- **UTF-16 code units**: LSP columns, and the columns of every `Range` here. The language server
  offers only the `utf-16` position encoding, so what a client sends and receives is always this.
- **Python `str` indexes** (code points): what slicing the text needs. A character outside the
  Basic Multilingual Plane (🚀, 𠀀) is one index but two UTF-16 units.
- **UTF-8 byte offsets**: `ast` node columns. `É` is one index, one UTF-16 unit and two bytes.

Lines end at `\\r\\n`, `\\r` or `\\n`: what LSP and Python's tokenizer count as line ends
(`str.splitlines` knows more, e.g. form feed and U+2028, and would disagree with both).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Range:
    """0-based lines, UTF-16 columns, end-exclusive: an LSP range without the LSP types."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int

    def contains(self, line: int, col: int) -> bool:
        if (line, col) < (self.start_line, self.start_col):
            return False
        return (line, col) <= (self.end_line, self.end_col)

    def to_dict(self) -> dict:
        return {"start_line": self.start_line, "start_col": self.start_col, "end_line": self.end_line, "end_col": self.end_col}

    @classmethod
    def from_dict(cls, d: dict) -> Range:
        return cls(d["start_line"], d["start_col"], d["end_line"], d["end_col"])


# ---- one line: columns in the three units --------------------------------------------------------


def split_lines(text: str) -> list[str]:
    """The lines of `text` without their line ends (a trailing line end gives a last empty line)."""
    return NEWLINE.split(text)


def utf16_len(s: str) -> int:
    if s.isascii():
        return len(s)
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def utf16_col(line: str, index: int) -> int:
    """`str` index in `line` → UTF-16 column."""
    return utf16_len(line[:index])


def str_index(line: str, col: int) -> int:
    """UTF-16 column in `line` → `str` index.

    Past the end of the line: the line's length (as LSP says). Inside a surrogate pair, which no
    client should send: the index after that character.
    """
    if line.isascii():
        return max(0, min(col, len(line)))
    units = 0
    for i, ch in enumerate(line):
        if units >= col:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


def str_index_from_bytes(line: str, byte_col: int) -> int:
    """UTF-8 byte offset in `line` (an `ast` column) → `str` index."""
    if line.isascii():
        return byte_col
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))


def utf16_col_from_bytes(line: str, byte_col: int) -> int:
    """UTF-8 byte offset in `line` (an `ast` column) → UTF-16 column."""
    if line.isascii():
        return byte_col
    return utf16_col(line, str_index_from_bytes(line, byte_col))


# ---- a whole text: offsets ⇄ positions -----------------------------------------------------------


def line_starts(text: str) -> list[int]:
    """Offset of the first character of each line."""
    return [0, *(m.end() for m in NEWLINE.finditer(text))]


class TextIndex:
    """`str` offsets ⇄ (line, UTF-16 column) in one text; its line starts are found once.

    Build one per text version and ask it many times: an edit, a diagnostic or a hover converts
    several positions of the same text.
    """

    def __init__(self, text: str, starts: list[int] | None = None) -> None:
        self.text = text
        self.starts = starts if starts is not None else line_starts(text)

    def replaced(self, r: Range, new: str) -> TextIndex:
        """The index of this text with `r` replaced by `new`, its line starts updated around the
        change instead of found again (an edit of a 5 MB document stays a few milliseconds)."""
        start, end = self.span(r)
        text = self.text[:start] + new + self.text[end:]
        delta = len(new) - (end - start)
        first = bisect.bisect_right(self.starts, start) - 1  # the line the change starts on
        if first > 0 and self.text[self.starts[first] - 1] == "\r":
            first -= 1  # a "\r" ending the line before may become "\r\n" with the new text
        last = bisect.bisect_right(self.starts, end) - 1  # ... and ends on
        # Re-scan from the first line's start to the end of the last line (its line end included),
        # so a line end the change splits, joins or adds is counted once.
        region_start = self.starts[first]
        old_region_end = self.starts[last + 1] if last + 1 < len(self.starts) else len(self.text)
        region_end = old_region_end + delta
        inside = [m.end() for m in NEWLINE.finditer(text, region_start, region_end)]
        tail = [s + delta for s in self.starts[last + 1:]]
        if tail:
            inside = [s for s in inside if s < region_end]
        return TextIndex(text, self.starts[: first + 1] + inside + tail)

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line_start(self, line: int) -> int:
        """Offset where `line` starts; the end of the text for a line past the last one."""
        return self.starts[line] if 0 <= line < len(self.starts) else len(self.text)

    def line(self, line: int) -> str | None:
        """Line `line` without its line end, or None past the last line."""
        if not 0 <= line < len(self.starts):
            return None
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[line]:end].rstrip("\r\n")

    def offset(self, line: int, col: int) -> int:
        """(line, UTF-16 column) → `str` offset. A line past the end is the end of the text; a
        column past the end of its line is the end of that line (LSP's rule)."""
        if line >= len(self.starts):
            return len(self.text)
        if line < 0:
            return 0
        return self.starts[line] + str_index(self.line(line) or "", col)

    def position(self, offset: int) -> tuple[int, int]:
        """`str` offset → (line, UTF-16 column)."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, utf16_len(self.text[self.starts[line]:offset])

    def range(self, start: int, end: int) -> Range:
        """`str` offsets [start, end) → Range."""
        return Range(*self.position(start), *self.position(end))

    def span(self, r: Range) -> tuple[int, int]:
        """Range → `str` offsets [start, end)."""
        return self.offset(r.start_line, r.start_col), self.offset(r.end_line, r.end_col)

    def slice(self, r: Range) -> str:
        start, end = self.span(r)
        return self.text[start:end]


__all__ = [
    "NEWLINE",
    "Range",
    "TextIndex",
    "line_starts",
    "split_lines",
    "str_index",
    "str_index_from_bytes",
    "utf16_col",
    "utf16_col_from_bytes",
    "utf16_len",
]
