"""Colours as the formats write them (CSS, Office XML, PDF), alpha compositing, and Office colour
modifiers (tint, shade, luminance). Whether a colour can be *read* on another is decided in
perception.py; this module only computes colours."""

from __future__ import annotations

import colorsys
import re
from collections.abc import Iterable
from dataclasses import dataclass

# CSS Color Module 4 named colours (all 148; an attacker may pick any of them).
_NAMED = dict(
    item.split(":")
    for item in [
        "aliceblue:f0f8ff",
        "antiquewhite:faebd7",
        "aqua:00ffff",
        "aquamarine:7fffd4",
        "azure:f0ffff",
        "beige:f5f5dc",
        "bisque:ffe4c4",
        "black:000000",
        "blanchedalmond:ffebcd",
        "blue:0000ff",
        "blueviolet:8a2be2",
        "brown:a52a2a",
        "burlywood:deb887",
        "cadetblue:5f9ea0",
        "chartreuse:7fff00",
        "chocolate:d2691e",
        "coral:ff7f50",
        "cornflowerblue:6495ed",
        "cornsilk:fff8dc",
        "crimson:dc143c",
        "cyan:00ffff",
        "darkblue:00008b",
        "darkcyan:008b8b",
        "darkgoldenrod:b8860b",
        "darkgray:a9a9a9",
        "darkgreen:006400",
        "darkgrey:a9a9a9",
        "darkkhaki:bdb76b",
        "darkmagenta:8b008b",
        "darkolivegreen:556b2f",
        "darkorange:ff8c00",
        "darkorchid:9932cc",
        "darkred:8b0000",
        "darksalmon:e9967a",
        "darkseagreen:8fbc8f",
        "darkslateblue:483d8b",
        "darkslategray:2f4f4f",
        "darkslategrey:2f4f4f",
        "darkturquoise:00ced1",
        "darkviolet:9400d3",
        "deeppink:ff1493",
        "deepskyblue:00bfff",
        "dimgray:696969",
        "dimgrey:696969",
        "dodgerblue:1e90ff",
        "firebrick:b22222",
        "floralwhite:fffaf0",
        "forestgreen:228b22",
        "fuchsia:ff00ff",
        "gainsboro:dcdcdc",
        "ghostwhite:f8f8ff",
        "gold:ffd700",
        "goldenrod:daa520",
        "gray:808080",
        "green:008000",
        "greenyellow:adff2f",
        "grey:808080",
        "honeydew:f0fff0",
        "hotpink:ff69b4",
        "indianred:cd5c5c",
        "indigo:4b0082",
        "ivory:fffff0",
        "khaki:f0e68c",
        "lavender:e6e6fa",
        "lavenderblush:fff0f5",
        "lawngreen:7cfc00",
        "lemonchiffon:fffacd",
        "lightblue:add8e6",
        "lightcoral:f08080",
        "lightcyan:e0ffff",
        "lightgoldenrodyellow:fafad2",
        "lightgray:d3d3d3",
        "lightgreen:90ee90",
        "lightgrey:d3d3d3",
        "lightpink:ffb6c1",
        "lightsalmon:ffa07a",
        "lightseagreen:20b2aa",
        "lightskyblue:87cefa",
        "lightslategray:778899",
        "lightslategrey:778899",
        "lightsteelblue:b0c4de",
        "lightyellow:ffffe0",
        "lime:00ff00",
        "limegreen:32cd32",
        "linen:faf0e6",
        "magenta:ff00ff",
        "maroon:800000",
        "mediumaquamarine:66cdaa",
        "mediumblue:0000cd",
        "mediumorchid:ba55d3",
        "mediumpurple:9370db",
        "mediumseagreen:3cb371",
        "mediumslateblue:7b68ee",
        "mediumspringgreen:00fa9a",
        "mediumturquoise:48d1cc",
        "mediumvioletred:c71585",
        "midnightblue:191970",
        "mintcream:f5fffa",
        "mistyrose:ffe4e1",
        "moccasin:ffe4b5",
        "navajowhite:ffdead",
        "navy:000080",
        "oldlace:fdf5e6",
        "olive:808000",
        "olivedrab:6b8e23",
        "orange:ffa500",
        "orangered:ff4500",
        "orchid:da70d6",
        "palegoldenrod:eee8aa",
        "palegreen:98fb98",
        "paleturquoise:afeeee",
        "palevioletred:db7093",
        "papayawhip:ffefd5",
        "peachpuff:ffdab9",
        "peru:cd853f",
        "pink:ffc0cb",
        "plum:dda0dd",
        "powderblue:b0e0e6",
        "purple:800080",
        "rebeccapurple:663399",
        "red:ff0000",
        "rosybrown:bc8f8f",
        "royalblue:4169e1",
        "saddlebrown:8b4513",
        "salmon:fa8072",
        "sandybrown:f4a460",
        "seagreen:2e8b57",
        "seashell:fff5ee",
        "sienna:a0522d",
        "silver:c0c0c0",
        "skyblue:87ceeb",
        "slateblue:6a5acd",
        "slategray:708090",
        "slategrey:708090",
        "snow:fffafa",
        "springgreen:00ff7f",
        "steelblue:4682b4",
        "tan:d2b48c",
        "teal:008080",
        "thistle:d8bfd8",
        "tomato:ff6347",
        "turquoise:40e0d0",
        "violet:ee82ee",
        "wheat:f5deb3",
        "white:ffffff",
        "whitesmoke:f5f5f5",
        "yellow:ffff00",
        "yellowgreen:9acd32",
    ]
)


@dataclass(frozen=True)
class Rgba:
    """A colour with channels in 0..255 and alpha in 0..1."""

    r: int
    g: int
    b: int
    a: float = 1.0

    def luminance(self) -> float:
        """WCAG relative luminance (of the colour itself; composite first when it is translucent)."""
        return luminance_of_levels(self.r, self.g, self.b)

    def over(self, background: Rgba) -> Rgba:
        """This colour composited on a background (the result is opaque when the background is)."""
        a = self.a
        out_a = a + background.a * (1 - a)
        if out_a <= 0:
            return Rgba(0, 0, 0, 0.0)
        return Rgba(
            round((self.r * a + background.r * background.a * (1 - a)) / out_a),
            round((self.g * a + background.g * background.a * (1 - a)) / out_a),
            round((self.b * a + background.b * background.a * (1 - a)) / out_a),
            out_a,
        )

    def faded(self, opacity: float) -> Rgba:
        """The colour with its alpha multiplied by `opacity` (CSS opacity, Office alpha modifiers)."""
        return Rgba(self.r, self.g, self.b, max(0.0, min(1.0, self.a * opacity)))


WHITE = Rgba(255, 255, 255)
BLACK = Rgba(0, 0, 0)
TRANSPARENT = Rgba(0, 0, 0, 0.0)


def _linear(level: float) -> float:
    c = level / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance_of_levels(r: float, g: float, b: float) -> float:
    """WCAG relative luminance of 0..255 channel levels (a grey level passes the same value three times)."""
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def composite(layers: Iterable[Rgba], base: Rgba = WHITE) -> Rgba:
    """What is really behind a piece of text: the layers painted bottom to top over `base` (the page)."""
    result = base
    for layer in layers:
        result = layer.over(result)
    return result


def with_lightness(color: Rgba, change: float, *, factor: float = 1.0) -> Rgba:
    """HSL lightness L → L·factor + change (clamped): DrawingML lumMod/lumOff, Excel tint."""
    h, lightness, s = colorsys.rgb_to_hls(color.r / 255, color.g / 255, color.b / 255)
    lightness = max(0.0, min(1.0, lightness * factor + change))
    r, g, b = colorsys.hls_to_rgb(h, lightness, s)
    return Rgba(round(r * 255), round(g * 255), round(b * 255), color.a)


def tinted(color: Rgba, tint: float) -> Rgba:
    """Excel's tint (-1..1): negative darkens, positive lightens, on HSL lightness."""
    if tint < 0:
        return with_lightness(color, 0.0, factor=1 + tint)
    return with_lightness(color, tint, factor=1 - tint)


def toward_white(color: Rgba, keep: float) -> Rgba:
    """Word's themeTint and DrawingML's tint: keep `keep` (0..1) of the colour, the rest white."""

    def mix(c: int) -> int:
        return round(c * keep + 255 * (1 - keep))

    return Rgba(mix(color.r), mix(color.g), mix(color.b), color.a)


def toward_black(color: Rgba, keep: float) -> Rgba:
    """Word's themeShade and DrawingML's shade: keep `keep` (0..1) of the colour, the rest black."""
    return Rgba(round(color.r * keep), round(color.g * keep), round(color.b * keep), color.a)


def parse_hex(value: str) -> Rgba | None:
    """`RRGGBB` (Office), `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa` (CSS); None when it is not one."""
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
    """Excel's `AARRGGBB` (Excel ignores the alpha byte of font and fill colours)."""
    text = value.strip()
    if len(text) == 8:
        return parse_hex(text[2:])
    return parse_hex(text)


_FUNCTION = re.compile(r"(rgba?|hsla?)\(\s*([^)]*)\)")


def parse_css_color(value: str) -> Rgba | None:
    """A CSS colour value, or None when it is not one this module understands (treated as unknown)."""
    text = value.strip().lower().replace("!important", "").strip()
    if text == "transparent":
        return TRANSPARENT
    if text in _NAMED:
        return parse_hex(_NAMED[text])
    if text.startswith("#"):
        return parse_hex(text)
    found = _FUNCTION.fullmatch(text)
    if not found:
        return None
    parts = [part for part in re.split(r"[\s,/]+", found.group(2)) if part]
    if len(parts) not in (3, 4):
        return None
    try:
        alpha = 1.0 if len(parts) == 3 else _fraction(parts[3], 1.0)
        if found.group(1).startswith("rgb"):
            r, g, b = (_channel(part) for part in parts[:3])
            return Rgba(r, g, b, alpha)
        hue = float(parts[0].removesuffix("deg")) % 360 / 360
        saturation, lightness = _fraction(parts[1], 100.0), _fraction(parts[2], 100.0)
    except ValueError:
        return None
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
    return Rgba(round(red * 255), round(green * 255), round(blue * 255), alpha)


def _channel(text: str) -> int:
    if text.endswith("%"):
        return round(max(0.0, min(100.0, float(text[:-1]))) * 2.55)
    return max(0, min(255, round(float(text))))


def _fraction(text: str, scale: float) -> float:
    """`50%` → 0.5; a bare number is divided by `scale` (1 for alpha, 100 for HSL percentages)."""
    number = float(text[:-1]) / 100 if text.endswith("%") else float(text) / scale
    return max(0.0, min(1.0, number))
