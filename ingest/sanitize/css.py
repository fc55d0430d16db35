"""Just enough CSS to decide visibility: stylesheet rules as a default screen applies them, declarations
with their shorthands expanded, custom properties, and lengths (calc, min, max, clamp included)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

VIEWPORT_WIDTH = 1280.0  # CSS px: the window a reader opens a page in (a laptop, 100 % zoom)
VIEWPORT_HEIGHT = 720.0
ROOT_FONT_PX = 16.0

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_FONT_KEYWORDS = {
    "xx-small": 9.0, "x-small": 10.0, "small": 13.0, "medium": 16.0, "large": 18.0, "x-large": 24.0,
    "xx-large": 32.0, "xxx-large": 48.0,
}  # fmt: skip


@dataclass(frozen=True)
class CssRule:
    """One selector with its declarations, in stylesheet order."""

    selector: str
    declarations: tuple[tuple[str, str], ...]


def parse_declarations(text: str) -> tuple[tuple[str, str], ...]:
    """`a: b; c: d` as ordered (property, value) pairs with shorthands expanded; names lower-cased,
    custom property names (`--x`) kept as written."""
    pairs: list[tuple[str, str]] = []
    for part in _COMMENT.sub("", text).split(";"):
        name, colon, value = part.partition(":")
        name = name.strip()
        if not colon or not name:
            continue
        if name.startswith("--"):
            pairs.append((name, value.strip()))
            continue
        pairs.extend(expand(name.lower(), value.strip().lower()))
    return tuple(pairs)


def expand(name: str, value: str) -> list[tuple[str, str]]:
    """A declaration with the shorthands that matter for visibility split into their longhands."""
    important = " !important" if value.endswith("!important") else ""
    bare = value.removesuffix("!important").strip()
    if name == "inset":
        sides = _four(bare)
        return [(side, v + important) for side, v in zip(("top", "right", "bottom", "left"), sides, strict=True)]
    if name in ("margin", "padding"):
        sides = _four(bare)
        return [
            (f"{name}-{side}", v + important) for side, v in zip(("top", "right", "bottom", "left"), sides, strict=True)
        ]
    if name == "font":
        for lexeme in split_top_level(bare):
            size = lexeme.split("/")[0]
            if size in _FONT_KEYWORDS or re.fullmatch(r"(?:calc|min|max|clamp)\(.*\)|[\d.]+(?:[a-z]+|%)", size):
                return [("font-size", size + important)]
        return []
    if name == "overflow":
        parts = bare.split() or [bare]
        return [("overflow-x", parts[0] + important), ("overflow-y", (parts + parts)[1] + important)]
    return [(name, value)]


def _four(value: str) -> list[str]:
    parts = split_top_level(value)
    if not parts:
        return ["0"] * 4
    while len(parts) < 4:
        parts.append(parts[{1: 0, 2: 0, 3: 1}[len(parts)]])
    return parts[:4]


def split_top_level(value: str, separator: str = " ") -> list[str]:
    """Split at separators outside parentheses (`0 calc(1px + 2px)` → two parts)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in value:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if (char == separator or (separator == " " and char.isspace())) and depth == 0:
            if "".join(current).strip():
                parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def parse_stylesheet(text: str) -> list[CssRule]:
    """The rules a default screen applies: top level, and inside @media blocks whose query matches,
    @supports, @layer and @container blocks; other at-rules are skipped."""
    rules: list[CssRule] = []
    _parse_block(_COMMENT.sub("", text), rules)
    return rules


def _parse_block(text: str, rules: list[CssRule]) -> None:
    position = 0
    while True:
        brace = text.find("{", position)
        if brace < 0:
            return
        prelude = text[position:brace]
        # Statement at-rules (@import, @charset, @layer a, b;) end at a semicolon before the next block.
        prelude = prelude.rsplit(";", 1)[-1].strip() if ";" in prelude else prelude.strip()
        depth, end = 1, brace + 1
        while end < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        body = text[brace + 1 : end - 1]
        if prelude.startswith("@"):
            keyword = prelude.split(None, 1)[0].lower()
            condition = prelude[len(keyword) :].strip()
            if (keyword == "@media" and media_matches(condition)) or keyword in (
                "@supports",
                "@layer",
                "@container",
                "@scope",
            ):
                _parse_block(body, rules)
        else:
            declarations = parse_declarations(body)
            for selector in split_top_level(prelude, ","):
                if selector.strip():
                    rules.append(CssRule(selector.strip(), declarations))
        position = end


# ------------------------------------------------------------------------------------ media queries

_FEATURES: dict[str, str] = {
    "prefers-color-scheme": "light", "hover": "hover", "any-hover": "hover", "pointer": "fine", "any-pointer": "fine",
    "orientation": "landscape", "prefers-reduced-motion": "no-preference", "prefers-contrast": "no-preference",
    "scripting": "enabled", "display-mode": "browser", "forced-colors": "none", "inverted-colors": "none",
    "update": "fast", "overflow-block": "scroll", "overflow-inline": "scroll", "color-gamut": "srgb",
    "prefers-reduced-transparency": "no-preference", "dynamic-range": "standard",
}  # fmt: skip
_SIZES = {"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT, "device-width": VIEWPORT_WIDTH,
          "device-height": VIEWPORT_HEIGHT, "resolution": 1.0, "color": 8.0, "monochrome": 0.0}  # fmt: skip


def media_matches(query: str) -> bool:
    """Does a media query list match a default screen (1280×720 CSS px, light scheme, mouse, 1 dppx)?

    An empty query matches; features this module does not know count as matching, so a hiding rule
    behind an unusual condition is applied rather than overlooked."""
    text = query.strip().lower()
    if not text:
        return True
    return any(_one_query(part) for part in split_top_level(text, ","))


def _one_query(query: str) -> bool:
    words = query.strip()
    negate = words.startswith("not ")
    words = re.sub(r"^(?:not|only)\s+", "", words)
    head = re.match(r"^([a-z-]+)\s*(?:and\s+|$)", words)
    matched = True
    if head and not words.startswith("("):
        matched = head.group(1) in ("all", "screen")
        words = words[head.end() :]
    for condition in re.findall(r"\(([^()]*)\)", words):
        matched = matched and _feature(condition.strip())
    if re.search(r"\bor\b", words):
        matched = any(_feature(c.strip()) for c in re.findall(r"\(([^()]*)\)", words))
    return matched != negate


def _feature(condition: str) -> bool:
    if ":" not in condition:
        if re.search(r"[<>=]", condition):
            return _range(condition)
        name = condition.strip()
        return _FEATURES.get(name, "x") not in ("none", "no-preference") and _SIZES.get(name, 1.0) != 0
    name, _, value = (part.strip() for part in condition.partition(":"))
    prefix, _, feature = name.partition("-") if name.startswith(("min-", "max-")) else ("", "", name)
    if feature in _SIZES:
        wanted = _query_number(value, feature)
        if wanted is None:
            return True
        actual = _SIZES[feature]
        return (
            actual >= wanted
            if prefix == "min"
            else actual <= wanted
            if prefix == "max"
            else math.isclose(actual, wanted)
        )
    if feature == "aspect-ratio":
        return True
    return _FEATURES.get(feature, value) == value


def _range(condition: str) -> bool:
    """Media query range syntax: `width >= 600px`, `400px <= width <= 700px`."""
    tokens = re.split(r"\s*(<=|>=|<|>|=)\s*", condition.strip())
    values = [_SIZES.get(lexeme) if lexeme in _SIZES else _query_number(lexeme, "width") for lexeme in tokens[::2]]
    operators = tokens[1::2]
    if any(v is None for v in values):
        return True
    checks: dict[str, Callable[[float, float], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "=": lambda a, b: math.isclose(a, b),
    }
    known = [value for value in values if value is not None]
    return all(checks[op](known[i], known[i + 1]) for i, op in enumerate(operators))


def _query_number(value: str, feature: str) -> float | None:
    if feature == "resolution":
        found = re.match(r"([\d.]+)\s*(dppx|x|dpi|dpcm)?", value)
        if not found:
            return None
        return float(found.group(1)) / {"dpi": 96.0, "dpcm": 96 / 2.54}.get(found.group(2) or "dppx", 1.0)
    if feature in ("color", "monochrome"):
        return float(value) if re.fullmatch(r"[\d.]+", value) else None
    return length_px(value, ROOT_FONT_PX)


# ------------------------------------------------------------------------------------------ lengths

_UNITS = {
    "px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4, "q": 96 / 101.6,
    **dict.fromkeys(("vw", "vmax", "svw", "lvw", "dvw"), VIEWPORT_WIDTH / 100),
    **dict.fromkeys(("vh", "vmin", "svh", "lvh", "dvh"), VIEWPORT_HEIGHT / 100),
}  # fmt: skip
_TOKEN = re.compile(
    r"\s*(?:(?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(?P<unit>[a-z%]*)|(?P<op>[-+*/(),])|(?P<name>[a-z-]+)\()"
)


def length_px(value: str, parent_px: float = ROOT_FONT_PX, *, percent_of: float | None = None) -> float | None:
    """A CSS length in px (units, `calc()`, `min()`, `max()`, `clamp()`, font-size keywords), or None.

    `em`/`%` are relative to `parent_px` unless `percent_of` gives the basis for percentages."""
    text = value.strip().lower().removesuffix("!important").strip()
    if text in _FONT_KEYWORDS:
        return _FONT_KEYWORDS[text]
    if text == "smaller":
        return parent_px / 1.2
    if text == "larger":
        return parent_px * 1.2
    parser = _Calc(text, parent_px, parent_px if percent_of is None else percent_of)
    try:
        result = parser.expression()
    except (ValueError, IndexError, ZeroDivisionError, OverflowError):
        return None
    return result if math.isfinite(result) else None


class _Calc:
    """A small recursive-descent evaluator for CSS math over lengths, every term converted to px."""

    def __init__(self, text: str, em: float, percent: float) -> None:
        self._tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            found = _TOKEN.match(text, position)
            if not found or found.end() == position:
                if text[position:].strip():
                    # Anything after the first complete length (`1px solid`) is not part of it.
                    break
                break
            if found.group("number") is not None:
                self._tokens.append(("number", found.group("number") + "|" + found.group("unit")))
            elif found.group("op") is not None:
                self._tokens.append(("op", found.group("op")))
            else:
                self._tokens.append(("function", found.group("name")))
            position = found.end()
        self._index = 0
        self._em = em
        self._percent = percent

    def expression(self) -> float:
        value = self._term()
        while self._peek() in ("+", "-"):
            operator = self._next()[1]
            right = self._term()
            value = value + right if operator == "+" else value - right
        return value

    def _term(self) -> float:
        value = self._factor()
        while self._peek() in ("*", "/"):
            operator = self._next()[1]
            right = self._factor()
            value = value * right if operator == "*" else value / right
        return value

    def _factor(self) -> float:
        kind, lexeme = self._next()
        if kind == "number":
            number, unit = lexeme.split("|")
            return float(number) * self._unit(unit, float(number))
        if kind == "op" and lexeme == "(":
            value = self.expression()
            self._expect(")")
            return value
        if kind == "op" and lexeme == "-":
            return -self._factor()
        if kind == "function" and lexeme in ("calc", "min", "max", "clamp"):
            arguments = [self.expression()]
            while self._peek() == ",":
                self._next()
                arguments.append(self.expression())
            self._expect(")")
            if lexeme == "calc":
                return arguments[0]
            if lexeme == "min":
                return min(arguments)
            if lexeme == "max":
                return max(arguments)
            return max(arguments[0], min(arguments[1], arguments[2]))
        raise ValueError(lexeme)

    def _unit(self, unit: str, number: float) -> float:
        if unit in _UNITS:
            return _UNITS[unit]
        if unit in ("em", "lh"):
            return self._em
        if unit in ("rem", "rlh"):
            return ROOT_FONT_PX
        if unit in ("ex", "ch", "cap", "ic"):
            return self._em / 2
        if unit == "%":
            return self._percent / 100
        if unit == "":
            return 1.0  # a bare number (0, or a factor inside calc)
        raise ValueError(unit)

    def _peek(self) -> str | None:
        return (
            self._tokens[self._index][1]
            if self._index < len(self._tokens) and self._tokens[self._index][0] == "op"
            else None
        )

    def _next(self) -> tuple[str, str]:
        lexeme = self._tokens[self._index]
        self._index += 1
        return lexeme

    def _expect(self, op: str) -> None:
        if self._next() != ("op", op):
            raise ValueError(op)


def number(value: str) -> float | None:
    text = value.strip()
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return None


def resolve_variables(value: str, custom: dict[str, str], depth: int = 0) -> str:
    """Substitute `var(--name, fallback)` with the custom property's value (nested up to a few levels)."""
    if "var(" not in value or depth > 8:
        return value

    def substitute(found: re.Match[str]) -> str:
        name, _, fallback = found.group(1).partition(",")
        return resolve_variables(custom.get(name.strip(), fallback.strip()), custom, depth + 1)

    return resolve_variables(
        re.sub(r"var\(\s*(--[\w-]+\s*(?:,[^()]*(?:\([^()]*\))?[^()]*)?)\)", substitute, value), custom, depth + 1
    ).lower()
