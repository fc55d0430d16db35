"""Maps hidden spans found in the original file onto the parsed elements and cuts them out.

Parsers change whitespace, punctuation, ligatures and case, so matching runs over letters and digits
only (NFKC, casefolded), across element boundaries, and in document order. Spans are looked for only in
the elements of their page or sheet when the scanner knows it."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ingest.sanitize.model import HiddenSpan

# Shorter spans would risk cutting a visible word that happens to contain the same letters.
MIN_MATCH_CHARS = 3
PIECE_WORDS = 5
# A renderer's text may lack letters the parser has (see _with_dropped_letters): at most this share more
# letters in the parsed window, anchored on a run of this many letters, for spans at least this long.
DROPPED_LETTERS = 0.15
ANCHOR_CHARS = 6
FUZZY_MIN_CHARS = 24


@dataclass(frozen=True)
class SpanPlacement:
    """Where a hidden span was cut: the first element it touched and how many characters went."""

    span: HiddenSpan
    element_index: int | None
    chars: int


def _key(text: str) -> list[tuple[str, int]]:
    """The matchable characters of a text with their positions in the original string."""
    keyed: list[tuple[str, int]] = []
    for position, char in enumerate(text):
        for folded in unicodedata.normalize("NFKC", char).casefold():
            if folded.isalnum():
                keyed.append((folded, position))
    return keyed


def _page(element: Any) -> int | None:
    value = getattr(getattr(element, "metadata", None), "page_number", None)
    return value if isinstance(value, int) else None


def _sheet(element: Any) -> str | None:
    value = getattr(getattr(element, "metadata", None), "page_name", None)
    return value if isinstance(value, str) else None


class ElementCutter:
    """Cuts hidden spans out of element texts; `texts()` gives the rewritten texts afterwards."""

    def __init__(self, elements: Sequence[Any]) -> None:
        self._elements = elements
        self._texts = [str(getattr(element, "text", "") or "") for element in elements]
        self._removed = [bytearray(len(text)) for text in self._texts]
        self._cursor: dict[tuple[int | None, str | None], int] = {}

    def cut(self, span: HiddenSpan) -> SpanPlacement:
        """Remove one hidden span (its first match after the previous one of the same scope)."""
        needle = "".join(char for char, _ in _key(span.text))
        if len(needle) < MIN_MATCH_CHARS:
            return SpanPlacement(span, None, 0)
        indices = [
            i
            for i, element in enumerate(self._elements)
            if (span.page is None or _page(element) in (span.page, None))
            and (span.sheet is None or _sheet(element) in (span.sheet, None))
        ]
        haystack: list[tuple[str, int, int]] = []  # (char, element index, position)
        for i in indices:
            haystack.extend(
                (char, i, position) for char, position in _key(self._texts[i]) if not self._removed[i][position]
            )
        flat = "".join(char for char, _, _ in haystack)
        scope = (span.page, span.sheet)
        start = flat.find(needle, self._cursor.get(scope, 0))
        if start < 0:
            start = flat.find(needle)
        end = start + len(needle)
        if start < 0:
            found = _with_dropped_letters(flat, needle)
            if found is None:
                return SpanPlacement(span, None, 0)
            start, end = found
        self._cursor[scope] = start
        hits = haystack[start:end]
        chars = 0
        by_element: dict[int, tuple[int, int]] = {}
        for _, i, position in hits:
            low, high = by_element.get(i, (position, position))
            by_element[i] = (min(low, position), max(high, position))
        for i, (low, high) in by_element.items():
            text = self._texts[i]
            # Take the punctuation glued to the span too (a trailing period, quotes), never a neighbour's letters.
            while high + 1 < len(text) and not text[high + 1].isspace() and not text[high + 1].isalnum():
                high += 1
            while low > 0 and not text[low - 1].isspace() and not text[low - 1].isalnum():
                low -= 1
            for position in range(low, high + 1):
                if not self._removed[i][position] and not text[position].isspace():
                    chars += 1
                self._removed[i][position] = 1
        return SpanPlacement(span, hits[0][1], chars)

    def cut_all(self, span: HiddenSpan) -> SpanPlacement:
        """Cut a span whole or, when the parser reordered or interleaved it (columns, tables), piece by
        piece: runs of PIECE_WORDS words, so no hidden sentence survives just because its order changed."""
        placed = self.cut(span)
        words = span.text.split()
        if placed.chars or not span.body or len(words) < 2 * PIECE_WORDS:
            return placed
        chars, first = 0, None
        for start in range(0, len(words), PIECE_WORDS):
            piece = " ".join(words[start : start + PIECE_WORDS])
            part = self.cut(replace(span, text=piece))
            chars += part.chars
            first = first if first is not None else part.element_index
        return SpanPlacement(span, first, chars)

    def texts(self) -> list[str]:
        """Element texts with every cut span removed and the whitespace left behind tidied."""
        result: list[str] = []
        for text, removed in zip(self._texts, self._removed, strict=True):
            if not any(removed):
                result.append(text)
                continue
            kept = "".join(char for char, gone in zip(text, removed, strict=True) if not gone)
            result.append(_tidy(kept))
        return result


def _with_dropped_letters(flat: str, needle: str) -> tuple[int, int] | None:
    """Where `needle` occurs with a few letters missing from it: a renderer drops a glyph drawn over an
    identical one (squeezed or overprinted text) that the parser keeps. The needle must be a subsequence
    of a window at most DROPPED_LETTERS longer (in share), found from an exact run of ANCHOR_CHARS of its
    first letters (tried at three places, since the dropped letter may be among them), and the window is
    the tightest one, so a short or ordinary span never matches loosely and no neighbour's letter is cut."""
    if len(needle) < FUZZY_MIN_CHARS:
        return None
    limit = int(len(needle) * (1 + DROPPED_LETTERS))
    for offset in (0, ANCHOR_CHARS, 2 * ANCHOR_CHARS):
        head = needle[offset : offset + ANCHOR_CHARS]
        found = flat.find(head)
        while found >= 0:
            reach = int(offset * (1 + DROPPED_LETTERS)) + 1  # how far before the anchor the span may start
            start = max(0, found - reach)
            end = _subsequence_end(flat, needle, start, found + limit + 1)
            if end is not None:
                first = _subsequence_start(flat, needle, end)
                if end - first <= limit:
                    return first, end
            found = flat.find(head, found + 1)
    return None


def _subsequence_end(flat: str, needle: str, start: int, stop: int) -> int | None:
    """Just past where `needle` ends, read as a subsequence of flat[start:stop]; None when it does not fit."""
    matched = 0
    for position in range(start, min(stop, len(flat))):
        if flat[position] == needle[matched]:
            matched += 1
            if matched == len(needle):
                return position + 1
    return None


def _subsequence_start(flat: str, needle: str, end: int) -> int:
    """The latest start from which `needle` is still a subsequence of flat[start:end] (read backwards)."""
    remaining = len(needle)
    position = end
    while remaining and position > 0:
        position -= 1
        if flat[position] == needle[remaining - 1]:
            remaining -= 1
    return position


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)
