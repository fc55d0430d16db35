"""The glob grammar as a property: access_index/globs.py against a reference written from the grammar in
docs/acl-semantics.md in another way (a recursive, memoised, character-by-character matcher over the raw glob
text, and a validator of its own), on generated globs and paths with newlines, brackets, unicode (composed
and decomposed) and undecodable bytes. Plus the table of examples the documentation shows."""

from __future__ import annotations

import time
import unicodedata
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access_index.globs import parse_glob

# -- the reference ----------------------------------------------------------------------------------------


class Refused(Exception):
    pass


def reference_check(text: str) -> None:
    """Raise Refused when `text` is outside the grammar."""
    if not text or text.strip() != text or text[0] in "/!" or "\\" in text:
        raise Refused
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in text):
        raise Refused
    outside: list[str] = []  # the glob with every class replaced by '#', to check what lies outside them
    position = 0
    while position < len(text):
        if text[position] != "[":
            outside.append(text[position])
            position += 1
            continue
        end = text.find("]", position + 1)
        if end < 0:
            raise Refused
        body = text[position + 1 : end]
        items = body[1:] if body.startswith("!") else body
        if "/" in body or not items or body.startswith("^") or any(o in items for o in ("[:", "[.", "[=")):
            raise Refused
        for k in range(len(items) - 2):
            if items[k + 1] == "-" and items[k + 2] < items[k] and _starts_item(items, k):
                raise Refused
        outside.append("#")
        position = end + 1
    flat = "".join(outside)
    if "{" in flat or "}" in flat or any(f"{c}(" in flat for c in "?*+@!"):
        raise Refused
    for segment in flat.split("/"):
        if segment in ("", ".", "..") or (segment != "**" and "**" in segment):
            raise Refused


def _starts_item(items: str, k: int) -> bool:
    """Whether position k of a class body begins an item (ranges consume three characters)."""
    position = 0
    while position < k:
        position += 3 if position + 2 < len(items) and items[position + 1] == "-" else 1
    return position == k


def reference_match(glob: str, path: str) -> bool:
    g = unicodedata.normalize("NFC", glob).split("/")
    p = unicodedata.normalize("NFC", path).split("/")

    @cache
    def segments(i: int, j: int) -> bool:
        if i == len(g):
            return j == len(p)
        if g[i] == "**":
            if i == len(g) - 1:
                return j < len(p)
            return any(segments(i + 1, k) for k in range(j, len(p) + 1))
        return j < len(p) and segment_match(g[i], p[j]) and segments(i + 1, j + 1)

    return segments(0, 0)


def segment_match(pattern: str, name: str) -> bool:
    @cache
    def at(a: int, b: int) -> bool:
        if a == len(pattern):
            return b == len(name)
        char = pattern[a]
        if char == "*":
            return at(a + 1, b) or (b < len(name) and at(a, b + 1))
        if b == len(name):
            return False
        if char == "?":
            return at(a + 1, b + 1)
        if char == "[":
            end = pattern.index("]", a + 1)
            return in_class(pattern[a + 1 : end], name[b]) and at(end + 1, b + 1)
        return char == name[b] and at(a + 1, b + 1)

    return at(0, 0)


def in_class(body: str, char: str) -> bool:
    negated = body.startswith("!")
    items = body[1:] if negated else body
    hit = False
    k = 0
    while k < len(items):
        if k + 2 < len(items) and items[k + 1] == "-":
            hit = hit or items[k] <= char <= items[k + 2]
            k += 3
        else:
            hit = hit or items[k] == char
            k += 1
    return hit != negated


# -- generated globs and paths -----------------------------------------------------------------------------

PIECES = ["a", "b", "é", "e\u0301", ".", "-", "!", "(", ")", "]", "日", "*", "?", "[ab]", "[!a]", "[a-c]"]
PIECES += ["[0-9]", "[[]", "[!-]", "[a-]", "[-a]", "[--a]", "[a-c-]", "[é-ü]", "[]a]", "[!]", "[z-a]"]
PIECES += ["{", "a,b}", "[", "\\", "@(", "^"]
NAME_CHARS = ["a", "b", "c", "é", "e\u0301", "ü", ".", "-", "!", "\n", "[", "]", "0", "5", "9", " ", "*", "?"]
NAME_CHARS += ["日", "\udcff", "(", "{", "\t"]

names = st.lists(st.sampled_from(NAME_CHARS), min_size=1, max_size=6).map("".join)
paths = st.lists(names, min_size=1, max_size=6).map("/".join)
plain_segments = st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join)
segments = st.one_of(st.just("**"), st.just("."), plain_segments)
globs = st.lists(segments, min_size=1, max_size=5).map("/".join)
texts = st.text(alphabet=st.sampled_from(sorted(set("".join(PIECES + NAME_CHARS)) | {"/", " "})), max_size=14)


def instantiate(glob: str, data: st.DataObject) -> str:
    """A path built from the glob itself, so that matches (not only misses) are exercised."""
    out: list[str] = []
    for segment in glob.split("/"):
        if segment == "**":
            out.extend(data.draw(st.lists(names, max_size=2)))
            continue
        name: list[str] = []
        position = 0
        while position < len(segment):
            char = segment[position]
            if char == "[":
                end = segment.index("]", position + 1)
                name.append(data.draw(st.sampled_from([*NAME_CHARS, segment[position + 1]])))
                position = end + 1
                continue
            if char == "*":
                name.append("".join(data.draw(st.lists(st.sampled_from(NAME_CHARS), max_size=3))))
            elif char == "?":
                name.append(data.draw(st.sampled_from(NAME_CHARS)))
            else:
                name.append(char)
            position += 1
        out.append("".join(name))
    return "/".join(out) or "x"


def accepted(text: str) -> bool:
    try:
        parse_glob(text)
    except ValueError:
        return False
    return True


def reference_accepts(text: str) -> bool:
    try:
        reference_check(text)
    except Refused:
        return False
    return True


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(globs, texts))
def test_the_grammar_refuses_exactly_what_the_reference_refuses(text: str) -> None:
    assert accepted(text) == reference_accepts(text), repr(text)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(glob=globs, data=st.data())
def test_matching_agrees_with_the_reference(glob: str, data: st.DataObject) -> None:
    if not reference_accepts(glob):
        return
    parsed = parse_glob(glob)
    for path in (instantiate(glob, data), data.draw(paths)):
        assert parsed.matches(path) == reference_match(glob, path), (glob, path)


@settings(max_examples=300, deadline=None)
@given(glob=globs, path=paths)
def test_nothing_matches_across_a_slash_except_a_whole_double_star(glob: str, path: str) -> None:
    """A glob without `**` only matches paths with exactly as many segments as it has."""
    if not reference_accepts(glob) or "**" in glob.split("/"):
        return
    if parse_glob(glob).matches(path):
        assert len(path.split("/")) == len(glob.split("/"))


# -- the table of examples in docs/acl-semantics.md ---------------------------------------------------------

EXAMPLES = [
    ("hr/**", "hr/salaries.md", True),
    ("hr/**", "hr/2027/q1/bonus.xlsx", True),
    ("hr/**", "hr", False),
    ("hr/**", "hrx/a.md", False),
    ("**", "anything/at/any/depth.txt", True),
    ("**/*.md", "readme.md", True),
    ("**/*.md", "docs/deep/page.md", True),
    ("**/*.md", "docs/page.mdx", False),
    ("hr/**/payroll/*", "hr/payroll/2027.xlsx", True),
    ("hr/**/payroll/*", "hr/eu/de/payroll/2027.xlsx", True),
    ("*.md", "docs/page.md", False),
    ("notes/?.txt", "notes/a.txt", True),
    ("notes/?.txt", "notes/ab.txt", False),
    ("reports/q[1-4].pdf", "reports/q3.pdf", True),
    ("reports/q[1-4].pdf", "reports/q5.pdf", False),
    ("reports/[!.]*", "reports/.hidden", False),
    ("reports/[!.]*", "reports/summary", True),
    ("hr[!x]salaries.md", "hr/salaries.md", False),
    ("hr/*", "hr/line one\nline two.md", True),
    ("hr/[[]draft].md", "hr/[draft].md", True),
    ("hr/résumé.md", "hr/re\u0301sume\u0301.md", True),
    ("HR/**", "hr/salaries.md", False),
]


@pytest.mark.parametrize(("glob", "path", "expected"), EXAMPLES)
def test_documented_examples(glob: str, path: str, expected: bool) -> None:
    assert parse_glob(glob).matches(path) is expected
    assert reference_match(glob, path) is expected


def test_the_documentation_shows_the_examples() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "acl-semantics.md").read_text(encoding="utf-8")
    for glob, _path, _expected in EXAMPLES:
        if "\n" not in _path and "\u0301" not in _path:
            assert f"`{glob}`" in page, glob


def test_matching_is_polynomial_in_the_worst_cases() -> None:
    """Adjacent `**` (exponential for a backtracking regex) and many `*` in one segment, against long paths
    that do not match: each check stays in milliseconds."""
    worst = [
        ("**/" * 40 + "x", "/".join(["d"] * 200) + "/y"),
        ("**/a/" * 20 + "x", "/".join(["a"] * 200) + "/y"),
        ("*a" * 30 + "*b", "a" * 400),
        ("**/" + "*a" * 15 + "*b/**/" * 10 + "z", "/".join(["a" * 50] * 40)),
    ]
    for glob, path in worst:
        parsed = parse_glob(glob)
        started = time.perf_counter()
        assert not parsed.matches(path)
        assert time.perf_counter() - started < 0.5, glob
