"""The one glob grammar of ACL manifests, and a matcher that is polynomial by construction.

A glob is matched against a document's POSIX path relative to its source's root (docs/acl-semantics.md,
"Manifest globs", has the table of examples):

    glob     = segment ("/" segment)*
    segment  = "**"                      zero or more whole path segments; as the last segment, one or more
             | piece+                    one path segment
    piece    = "*"                       any characters (none included) within the segment
             | "?"                       exactly one character
             | "[" ["!"] item+ "]"       one character in (or with "!", not in) the class
             | literal                   itself
    item     = char | char "-" char      a character or an inclusive range of code points

Nothing can match across a "/": `*`, `?` and classes stay inside one segment, and only a whole-segment `**`
spans segments. Every other character matches itself, newlines and brackets in names included (a `]` outside
a class is an ordinary character). Anything else is refused by `parse_glob` with the reason and the fix:
absolute paths, empty, "." or ".." segments, `**` sharing a segment, braces, backslashes, unbalanced or empty
classes, reversed ranges, POSIX classes such as `[:digit:]`, `[^...]`, a leading `!`, extended globs such as
`@(a|b)`, control and invisible format characters, and leading or trailing whitespace. A glob that does not
mean what it seems to must never load, because first-match-wins would then hand its files to a broader rule.

Matching is the classic wildcard scan, twice: within a segment over characters (`*` the star), and across
segments over names (`**` the star). On a mismatch the scan lets the last star take one more item and retries
from just after it; earlier stars never need revisiting, so the work is O(pattern length × input length)
whatever the glob, and neither adjacent `**` nor many `*` can stall ingest or the sync
(tests/access_index/test_globs.py).
Both sides are compared in Unicode NFC, so a name stored decomposed (as macOS writes them) still matches.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

_SPECIAL_OUTSIDE = {"{": "braces", "}": "braces"}
_EXTGLOB_OPENERS = "?*+@!"
PatternItem = TypeVar("PatternItem")
Item = TypeVar("Item")


@dataclass(frozen=True)
class CharClass:
    """`[...]`: single characters and inclusive code-point ranges, possibly negated."""

    chars: frozenset[str]
    ranges: tuple[tuple[str, str], ...]
    negated: bool

    def __contains__(self, char: object) -> bool:
        if not isinstance(char, str) or char == "/":
            return False
        inside = char in self.chars or any(low <= char <= high for low, high in self.ranges)
        return inside != self.negated


class _Star:
    """`*` inside a segment."""

    def __repr__(self) -> str:
        return "STAR"


class _One:
    """`?`: any one character."""

    def __repr__(self) -> str:
        return "ONE"


STAR = _Star()
ONE = _One()
Piece = str | _Star | _One | CharClass  # a str piece is one literal character


@dataclass(frozen=True)
class Segment:
    """One glob segment other than `**`; `literal` is set when it has no wildcard (a plain comparison)."""

    pieces: tuple[Piece, ...]
    literal: str | None

    def matches(self, name: str) -> bool:
        if self.literal is not None:
            return name == self.literal
        return _wildcard_scan(self.pieces, name, STAR, _piece_matches)


class _AnySegments:
    """`**` as a whole segment."""

    def __repr__(self) -> str:
        return "ANY_SEGMENTS"


ANY_SEGMENTS = _AnySegments()
ANY_NAME = Segment((STAR,), None)  # `*` as a whole segment: any one name


@dataclass(frozen=True)
class Glob:
    """A parsed glob; `text` is what the manifest says, `segments` what it means."""

    text: str
    segments: tuple[Segment | _AnySegments, ...]
    # What the scan reads: `segments` with a last `**` (one or more segments) as `*/**`.
    scan: tuple[Segment | _AnySegments, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        last_is_any = self.segments[-1] is ANY_SEGMENTS
        scan = (*self.segments[:-1], ANY_NAME, ANY_SEGMENTS) if last_is_any else self.segments
        object.__setattr__(self, "scan", scan)

    def matches(self, relpath: str) -> bool:
        """Whether the POSIX path `relpath` (relative to the source's root) matches."""
        return self.matches_parts(split_path(relpath))

    def matches_parts(self, parts: Sequence[str]) -> bool:
        """Match a path already split by `split_path` (one split per path, however many globs).
        Across segments `**` is what `*` is within one: the same scan, over names."""
        return _wildcard_scan(self.scan, parts, ANY_SEGMENTS, _segment_matches)


def split_path(relpath: str) -> tuple[str, ...]:
    """A relative POSIX path as the matcher reads it: NFC, split on '/'."""
    return tuple(unicodedata.normalize("NFC", relpath).split("/"))


def parse_glob(text: str) -> Glob:
    """Parse one glob of the grammar above; ValueError says what is wrong and how to write it instead."""
    if not text:
        raise ValueError("an empty glob matches nothing: write e.g. 'hr/**'")
    if text != text.strip():
        raise ValueError("leading or trailing whitespace: remove it (a name that really has one is matched with '?')")
    if "\\" in text:
        raise ValueError(
            "backslashes are not part of the grammar: the separator is '/', and there is no escaping "
            "(match a special character with '?' or a class such as '[[]')"
        )
    if text.startswith("/") or any(part == ".." for part in text.split("/")):
        raise ValueError("a glob is a relative POSIX path pattern such as 'hr/**' (no leading '/', no '..')")
    if text.startswith("!"):
        raise ValueError(
            "negation ('!' first) is not part of the grammar: rules are first-match, so put a narrower rule first"
        )
    normalized = unicodedata.normalize("NFC", text)
    segments = tuple(_parse_segment(raw) for raw in _split_segments(normalized))
    return Glob(text=text, segments=segments)


def _split_segments(text: str) -> list[str]:
    """Split on '/' outside classes; a '/' inside a class is refused (it could never match)."""
    segments: list[str] = []
    current: list[str] = []
    in_class = False
    for position, char in enumerate(text):
        if unicodedata.category(char) in ("Cc", "Cf"):
            raise ValueError(
                f"control or invisible format character {char!r} at position {position}: match it with '?' instead"
            )
        if in_class:
            if char == "/":
                raise ValueError("a class never matches '/': a '[...]' cannot hold '/' (use '**' to span folders)")
            if char == "]":  # the first ']' closes the class; an empty class is refused with its own message
                in_class = False
        elif char == "[":
            in_class = True
        elif char == "/":
            segments.append("".join(current))
            current = []
            continue
        current.append(char)
    if in_class:
        raise ValueError("unbalanced '[': close the class with ']' (match a literal '[' with '[[]')")
    segments.append("".join(current))
    for segment in segments:
        if segment == "":
            raise ValueError("an empty segment ('//', or a trailing '/') matches nothing: write 'hr/**' for a folder")
        if segment == ".":
            raise ValueError("a '.' segment (as in './hr/**') matches nothing: paths are relative, write 'hr/**'")
    return segments


def _parse_segment(raw: str) -> Segment | _AnySegments:
    if raw == "**":
        return ANY_SEGMENTS
    pieces: list[Piece] = []
    position = 0
    while position < len(raw):
        char = raw[position]
        if char in _EXTGLOB_OPENERS and raw.startswith("(", position + 1):
            raise ValueError(
                f"extended globs such as {char}(a|b) are not part of the grammar: write one glob per alternative "
                "(match a literal '(' with '[(]')"
            )
        if char in _SPECIAL_OUTSIDE:
            raise ValueError(
                f"{_SPECIAL_OUTSIDE[char]} ({{a,b}}) are not part of the grammar: list one glob per alternative "
                "in 'paths' (match a literal brace with '[{]' or '[}]')"
            )
        if char == "*":
            if pieces and pieces[-1] is STAR:
                raise ValueError(
                    f"'**' must be a whole segment, not part of {raw!r}: write '**/{raw.replace('**', '*')}' "
                    "or 'folder/**'"
                )
            pieces.append(STAR)
            position += 1
        elif char == "?":
            pieces.append(ONE)
            position += 1
        elif char == "[":
            end = raw.index("]", position + 1)
            pieces.append(_parse_class(raw[position + 1 : end]))
            position = end + 1
        else:
            pieces.append(char)
            position += 1
    literal = "".join(p for p in pieces if isinstance(p, str)) if all(isinstance(p, str) for p in pieces) else None
    return Segment(tuple(pieces), literal)


def _parse_class(body: str) -> CharClass:
    negated = body.startswith("!")
    items = body[1:] if negated else body
    if not items:
        raise ValueError("an empty class '[]' or '[!]' matches nothing: list characters, e.g. '[0-9]'")
    if body.startswith("^"):
        raise ValueError("'[^...]' is not part of the grammar: write '[!...]' for a negated class")
    for opener in ("[:", "[.", "[="):
        if opener in items:
            raise ValueError(
                f"POSIX classes such as '[:digit:]' ({opener!r}) are not part of the grammar: "
                "write ranges, e.g. '[0-9]'"
            )
    chars: set[str] = set()
    ranges: list[tuple[str, str]] = []
    position = 0
    while position < len(items):
        char = items[position]
        if position + 2 < len(items) and items[position + 1] == "-":  # a '-' first or last is itself
            high = items[position + 2]
            if high < char:
                raise ValueError(f"the range '{char}-{high}' is reversed and matches nothing: write '{high}-{char}'")
            ranges.append((char, high))
            position += 3
        else:
            chars.add(char)
            position += 1
    return CharClass(frozenset(chars), tuple(ranges), negated)


def _piece_matches(piece: Piece, char: str) -> bool:
    if isinstance(piece, str):
        return piece == char
    return piece is ONE or (isinstance(piece, CharClass) and char in piece)


def _segment_matches(segment: Segment | _AnySegments, name: str) -> bool:
    return isinstance(segment, Segment) and segment.matches(name)


def _wildcard_scan(
    pattern: Sequence[PatternItem], items: Sequence[Item], star: object, one: Callable[[PatternItem, Item], bool]
) -> bool:
    """The classic wildcard scan: `star` takes any run of items, every other element exactly one item that
    `one` accepts. Advance on a match; on a mismatch, let the last star take one more item and retry from just
    after it. Earlier stars never need revisiting, so the work is O(len(pattern) × len(items))."""
    at = item = 0
    star_at = -1
    star_item = 0
    count = len(pattern)
    while item < len(items):
        if at < count:
            if pattern[at] is star:
                star_at, star_item = at, item
                at += 1
                continue
            if one(pattern[at], items[item]):
                at += 1
                item += 1
                continue
        if star_at < 0:
            return False
        star_item += 1
        item = star_item
        at = star_at + 1
    while at < count and pattern[at] is star:
        at += 1
    return at == count
