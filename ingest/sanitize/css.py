"""Just enough CSS to decide visibility: stylesheet rules (screen media only) and declarations."""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
# Rules inside these media queries apply on screens; print, dark-mode and other variants do not change
# what a default reader sees.
_SCREEN_MEDIA = re.compile(r"^@media\s+(?:only\s+)?(?:screen|all)\s*(?:$|\{|,)", re.IGNORECASE)


@dataclass(frozen=True)
class CssRule:
    """One selector with its declarations, in stylesheet order."""

    selector: str
    declarations: tuple[tuple[str, str], ...]


def parse_declarations(text: str) -> tuple[tuple[str, str], ...]:
    """`a: b; c: d` as ordered (property, value) pairs, property lower-cased."""
    pairs: list[tuple[str, str]] = []
    for part in _COMMENT.sub("", text).split(";"):
        name, colon, value = part.partition(":")
        if colon and name.strip():
            pairs.append((name.strip().lower(), value.strip().lower()))
    return tuple(pairs)


def parse_stylesheet(text: str) -> list[CssRule]:
    """Top-level rules and rules of screen media blocks; other at-rules are skipped."""
    rules: list[CssRule] = []
    _parse_block(_COMMENT.sub("", text), rules)
    return rules


def _parse_block(text: str, rules: list[CssRule]) -> None:
    position = 0
    while True:
        brace = text.find("{", position)
        if brace < 0:
            return
        prelude = text[position:brace].strip()
        depth, end = 1, brace + 1
        while end < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        body = text[brace + 1 : end - 1]
        if prelude.startswith("@"):
            if _SCREEN_MEDIA.match(prelude):
                _parse_block(body, rules)
        else:
            declarations = parse_declarations(body)
            for selector in prelude.split(","):
                if selector.strip():
                    rules.append(CssRule(selector.strip(), declarations))
        position = end


def length_px(value: str, parent_px: float = 16.0) -> float | None:
    """A CSS length in pixels (px, pt, em, rem, %, bare 0), or None when it is not one."""
    found = re.match(r"^\s*(-?[\d.]+)\s*(px|pt|em|rem|%|vw|vh|in|cm|mm)?", value)
    if not found:
        return None
    try:
        number = float(found.group(1))
    except ValueError:
        return None
    unit = found.group(2) or ("px" if number == 0 else "")
    factors = {
        "px": 1.0,
        "pt": 4 / 3,
        "em": parent_px,
        "rem": 16.0,
        "%": parent_px / 100,
        "vw": 12.8,
        "vh": 7.2,
        "in": 96.0,
        "cm": 37.8,
        "mm": 3.78,
    }
    return number * factors[unit] if unit in factors else None
