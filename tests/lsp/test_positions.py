"""positions.py: str indexes, UTF-16 columns and UTF-8 byte offsets on lines outside ASCII.

🚀 (U+1F680) and 𠀀 (U+20000) lie outside the Basic Multilingual Plane: one str index, two UTF-16
units, four UTF-8 bytes. É is one index, one unit, two bytes.
"""

from __future__ import annotations

import ast

import pytest
from tritonize.positions import (
    Range,
    TextIndex,
    line_starts,
    split_lines,
    str_index,
    str_index_from_bytes,
    utf16_col,
    utf16_col_from_bytes,
    utf16_len,
)

LINE = 'x = "🚀é🚀"  # 𠀀 end'


def _utf16_units(s: str) -> int:
    """An independent count: what an LSP client counts."""
    return len(s.encode("utf-16-le")) // 2


def test_utf16_len_counts_astral_characters_twice():
    assert utf16_len("") == 0 and utf16_len("abc") == 3
    assert utf16_len("🚀") == 2 and utf16_len("é") == 1 and utf16_len("𠀀") == 2
    assert utf16_len(LINE) == _utf16_units(LINE) == len(LINE) + 3


@pytest.mark.parametrize("index", range(len(LINE) + 1))
def test_str_index_and_utf16_col_round_trip(index: int):
    col = utf16_col(LINE, index)
    assert col == _utf16_units(LINE[:index])
    assert str_index(LINE, col) == index


def test_str_index_clamps_and_never_splits_a_character():
    assert str_index(LINE, 10_000) == len(LINE)  # past the end: the line's end (LSP)
    assert str_index("abc", 99) == 3 and str_index("abc", -1) == 0
    assert str_index("🚀a", 1) == 1  # inside the surrogate pair: after the 🚀
    assert str_index("🚀a", 2) == 1 and str_index("🚀a", 3) == 2


def test_byte_columns_from_ast():
    text = 'y = ("🚀", "é", Écheller)\n'
    node = ast.parse(text).body[0].value.elts[2]  # the name after the astral and the accented character
    line = split_lines(text)[0]
    at = str_index_from_bytes(line, node.col_offset)
    assert line[at:].startswith("Écheller")
    assert utf16_col_from_bytes(line, node.col_offset) == _utf16_units(line[:at]) == at + 1
    assert node.col_offset == len(line[:at].encode())  # ast counts bytes: more again


def test_lines_end_at_lsp_line_ends_only():
    text = "a🚀\r\nb\rc\n\x0cd\u2028e"  # form feed and U+2028 are no line ends for LSP or Python
    assert split_lines(text) == ["a🚀", "b", "c", "\x0cd\u2028e"]
    assert line_starts(text) == [0, 4, 6, 8]
    assert split_lines("x\n") == ["x", ""]


def test_text_index_offsets_and_positions():
    text = "import torch\n# 🚀🚀\nclass Écheller:  # 🚀\n    pass"
    index = TextIndex(text)
    at = text.index("Écheller")
    assert index.position(at) == (2, 6)
    end_of_comment = text.index("\nclass")
    assert index.position(end_of_comment) == (1, 2 + 4)  # "# " then two 🚀 of two units each
    assert index.offset(1, 6) == end_of_comment
    assert index.offset(2, 6) == at
    # the last line, and positions past the end of a line or of the text
    assert index.position(len(text)) == (3, 8)
    assert index.offset(1, 99) == end_of_comment
    assert index.offset(99, 0) == len(text)
    assert index.line(2) == "class Écheller:  # 🚀" and index.line(4) is None
    # every offset round-trips
    for off in range(len(text) + 1):
        assert index.offset(*index.position(off)) == off


def test_text_index_ranges_and_slices():
    text = 'a = "🚀"\nb = "🚀🚀"  # é\r\nc = 3\n'
    index = TextIndex(text)
    start, end = text.index('"🚀🚀"'), text.index("  # é")
    r = index.range(start, end)
    assert r == Range(1, 4, 1, 10)
    assert index.slice(r) == '"🚀🚀"' and index.span(r) == (start, end)
    assert index.line(1) == 'b = "🚀🚀"  # é'  # without its \r\n
    assert index.line_start(2) == text.index("c = 3") and index.line_start(9) == len(text)
    whole = index.range(0, len(text))
    assert whole == Range(0, 0, 3, 0) and index.slice(whole) == text


def test_range_dict_round_trip_and_contains():
    r = Range(1, 2, 3, 4)
    assert Range.from_dict(r.to_dict()) == r
    assert r.contains(1, 2) and r.contains(3, 4) and r.contains(2, 0)
    assert not r.contains(1, 1) and not r.contains(3, 5)


def test_an_index_updated_by_a_change_equals_one_built_from_scratch():
    """`TextIndex.replaced` (how the server follows each edit of a big document) against
    `line_starts` of the new text, on random edits that split, join and add \\r, \\n and \\r\\n."""
    import random

    from tritonize.positions import Range, TextIndex, line_starts

    rng = random.Random(7)
    alphabet = ["a", "\n", "\r", "\r\n", "🚀", "é", " "]
    for _ in range(1500):
        index = TextIndex("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25))))
        for _ in range(4):
            l1 = rng.randint(0, index.line_count)
            l2 = rng.randint(l1, index.line_count)
            c1, c2 = sorted((rng.randint(0, 6), rng.randint(0, 6))) if l1 == l2 else (rng.randint(0, 6), rng.randint(0, 6))
            r = Range(l1, c1, l2, c2)
            new = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))
            start, end = index.span(r)
            updated = index.replaced(r, new)
            assert updated.text == index.text[:start] + new + index.text[end:]
            assert updated.starts == line_starts(updated.text), (index.text, r, new)
            index = updated
