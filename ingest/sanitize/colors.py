"""Colours from CSS and Office XML, and whether text in one colour is readable on another."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Below this WCAG contrast ratio a reader does not see the text (WCAG asks 4.5 for body text; 1.0 is none).
# 1.12 is #f0f0f0 on white: faint watermarks and captions are lighter than body text but still seen.
INVISIBLE_CONTRAST = 1.12

_NAMED = {
    "white": "ffffff",
    "black": "000000",
    "red": "ff0000",
    "green": "008000",
    "blue": "0000ff",
    "yellow": "ffff00",
    "gray": "808080",
    "grey": "808080",
    "silver": "c0c0c0",
    "snow": "fffafa",
    "ivory": "fffff0",
    "whitesmoke": "f5f5f5",
    "ghostwhite": "f8f8ff",
    "azure": "f0ffff",
    "navy": "000080",
    "lightgray": "d3d3d3",
    "lightgrey": "d3d3d3",
    "darkgray": "a9a9a9",
    "gainsboro": "dcdcdc",
    "linen": "faf0e6",
    "seashell": "fff5ee",
    "floralwhite": "fffaf0",
    "mintcream": "f5fffa",
    "aliceblue": "f0f8ff",
    "honeydew": "f0fff0",
    "beige": "f5f5dc",
    "orange": "ffa500",
    "purple": "800080",
}


@dataclass(frozen=True)
class Rgba:
    """A colour with channels in 0..255 and alpha in 0..1."""

    r: int
    g: int
    b: int
    a: float = 1.0

    def luminance(self) -> float:
        """WCAG relative luminance."""

        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(self.r) + 0.7152 * channel(self.g) + 0.0722 * channel(self.b)

    def over(self, background: Rgba) -> Rgba:
        """This colour composited on an opaque background."""
        a = self.a
        return Rgba(
            round(self.r * a + background.r * (1 - a)),
            round(self.g * a + background.g * (1 - a)),
            round(self.b * a + background.b * (1 - a)),
        )


WHITE = Rgba(255, 255, 255)
BLACK = Rgba(0, 0, 0)


def contrast(foreground: Rgba, background: Rgba) -> float:
    """WCAG contrast ratio of text in `foreground` on `background` (1.0 = invisible, 21 = black on white)."""
    fg = foreground.over(background)
    light, dark = sorted((fg.luminance(), background.luminance()), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def invisible_on(foreground: Rgba, background: Rgba) -> bool:
    """True when text in this colour cannot be read on this background."""
    return contrast(foreground, background) < INVISIBLE_CONTRAST


def parse_hex(value: str) -> Rgba | None:
    """`RRGGBB`, `AARRGGBB` (Excel) or `#rgb`/`#rrggbb`/`#rrggbbaa` (CSS)."""
    text = value.strip().lstrip("#").lower()
    if not re.fullmatch(r"[0-9a-f]+", text):
        return None
    if len(text) in (3, 4):
        text = "".join(ch * 2 for ch in text)
    if len(text) == 6:
        return Rgba(int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
    if len(text) == 8:
        return Rgba(int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16), int(text[6:8], 16) / 255)
    return None


def parse_argb(value: str) -> Rgba | None:
    """Excel's `AARRGGBB` (alpha is ignored by Excel for font colours)."""
    text = value.strip()
    if len(text) == 8:
        return parse_hex(text[2:])
    return parse_hex(text)


def parse_css_color(value: str) -> Rgba | None:
    """A CSS colour value, or None when it is not one this module understands (treated as unknown)."""
    text = value.strip().lower().replace("!important", "").strip()
    if text == "transparent":
        return Rgba(0, 0, 0, 0.0)
    if text in _NAMED:
        return parse_hex(_NAMED[text])
    if text.startswith("#"):
        return parse_hex(text)
    found = re.fullmatch(r"rgba?\(\s*([\d.]+%?)[\s,]+([\d.]+%?)[\s,]+([\d.]+%?)(?:[\s,/]+([\d.]+%?))?\s*\)", text)
    if found:
        channels = [_channel(found.group(i)) for i in (1, 2, 3)]
        alpha_text = found.group(4)
        alpha = 1.0 if alpha_text is None else _alpha(alpha_text)
        return Rgba(channels[0], channels[1], channels[2], alpha)
    return None


def _channel(text: str) -> int:
    if text.endswith("%"):
        return round(min(100.0, float(text[:-1])) * 2.55)
    return min(255, round(float(text)))


def _alpha(text: str) -> float:
    if text.endswith("%"):
        return min(100.0, float(text[:-1])) / 100
    return min(1.0, float(text))
