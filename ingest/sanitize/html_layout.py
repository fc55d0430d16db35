"""Geometry of an HTML page without a layout engine: the window a reader sees, positioned boxes,
transforms (translation, scale, rotation about the screen's axes) and clip shapes."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ingest.sanitize.colors import Rgba, parse_css_color
from ingest.sanitize.css import VIEWPORT_HEIGHT, VIEWPORT_WIDTH, length_px, number, split_top_level
from ingest.sanitize.perception import Box

# A page scrolls down, not sideways: a reader sees at most two window widths across (a wide monitor),
# from the page's top-left corner; nothing can be scrolled to left of or above that corner.
CANVAS = Box(0.0, 0.0, 2 * VIEWPORT_WIDTH, 1e9)
VIEWPORT = Box(0.0, 0.0, VIEWPORT_WIDTH, VIEWPORT_HEIGHT)
LINE_HEIGHT = 1.2
_CLIPPING = ("hidden", "clip")
_NO_CLIP = Box(-math.inf, -math.inf, math.inf, math.inf)


@dataclass(frozen=True)
class Sizes:
    """An element's declared sizes and offsets in px (None: auto), resolved against its containing block."""

    width: float | None
    height: float | None
    left: float | None
    right: float | None
    top: float | None
    bottom: float | None
    margin_left: float
    margin_top: float
    padding: tuple[float, float, float, float]  # top, right, bottom, left
    em: float

    @classmethod
    def read(cls, style: dict[str, str], em: float, block: Box, width_basis: float) -> Sizes:
        """Sizes from a computed style; percentages of the containing block (margins: of the parent's width)."""
        block_width, block_height = block.right - block.left, block.bottom - block.top

        def px(name: str, basis: float) -> float | None:
            value = style.get(name)
            return None if value is None or value == "auto" else length_px(value, em, percent_of=basis)

        width, height = px("width", block_width), px("height", block_height)
        max_width, max_height = px("max-width", block_width), px("max-height", block_height)
        if max_width is not None:
            width = max_width if width is None else min(width, max_width)
        if max_height is not None:
            height = max_height if height is None else min(height, max_height)
        padding = tuple(
            max(0.0, px(f"padding-{side}", width_basis) or 0.0) for side in ("top", "right", "bottom", "left")
        )
        return cls(
            width, height, px("left", block_width), px("right", block_width), px("top", block_height),
            px("bottom", block_height), px("margin-left", width_basis) or 0.0, px("margin-top", width_basis) or 0.0,
            (padding[0], padding[1], padding[2], padding[3]), em,
        )  # fmt: skip

    @property
    def offset_given(self) -> bool:
        offsets = (self.left, self.right, self.top, self.bottom)
        return any(value is not None for value in offsets) or bool(self.margin_left or self.margin_top)

    def absolute_box(self, block: Box, line: float, static: tuple[float, float]) -> Box:
        """An absolutely positioned box in its containing block; without offsets it stays where the flow
        (`static`) would have put it, one `line` high unless a height says otherwise."""
        block_width, block_height = block.right - block.left, block.bottom - block.top
        width = self.width
        if width is None:
            both = self.left is not None and self.right is not None
            width = block_width - (self.left or 0.0) - (self.right or 0.0) if both else block_width
        height = self.height
        if height is None:
            both = self.top is not None and self.bottom is not None
            height = block_height - (self.top or 0.0) - (self.bottom or 0.0) if both else line
        if self.left is not None:
            x = block.left + self.left
        elif self.right is not None:
            x = block.right - self.right - width
        else:
            x = static[0]
        if self.top is not None:
            y = block.top + self.top
        elif self.bottom is not None:
            y = block.bottom - self.bottom - height
        else:
            y = static[1]
        x, y = x + self.margin_left, y + self.margin_top
        return Box(x, y, x + width, y + height)

    def flow_box(self, parent: Box, flow_y: float, *, relative: bool) -> tuple[Box, bool]:
        """A box in the normal flow (shifted by relative offsets); and whether anything moved it."""
        x, y = parent.left + self.margin_left, flow_y + self.margin_top
        width = self.width if self.width is not None else max(0.0, parent.right - parent.left - self.margin_left)
        box = Box(x, y, x + width, y + (self.height if self.height is not None else 0.0))
        dx = dy = 0.0
        if relative:
            dx = self.left if self.left is not None else -self.right if self.right is not None else 0.0
            dy = self.top if self.top is not None else -self.bottom if self.bottom is not None else 0.0
        return box.moved(dx, dy), bool(dx or dy or self.margin_left < 0 or self.margin_top < 0)

    def clip_box(self, style: dict[str, str], box: Box, absolute: bool) -> Box | None:
        """The area this element leaves visible to its content: hidden overflow (at the padding edge, on the
        axes a size is given for), `clip: rect()` and `clip-path`; None when it clips nothing."""
        top, right, bottom, left = self.padding
        clip_x = style.get("overflow-x", "visible") in _CLIPPING and self.width is not None
        clip_y = style.get("overflow-y", "visible") in _CLIPPING and self.height is not None
        area = Box(
            box.left if clip_x else -math.inf,
            box.top if clip_y else -math.inf,
            box.right + left + right if clip_x else math.inf,
            box.bottom + top + bottom if clip_y else math.inf,
        )
        shaped = clip_shape(style, box, self.em, absolute)
        if shaped is not None:
            area = area.intersection(shaped)
        return None if area == _NO_CLIP else area


def offsets(style: dict[str, str], em: float) -> dict[str, float | None]:
    """A positioned box's insets and size in px; a percentage size is kept as a fraction (`width%`)."""
    offsets: dict[str, float | None] = {}
    for name in ("top", "right", "bottom", "left", "width", "height"):
        value = style.get(name, "auto")
        if value == "auto":
            offsets[name] = None
        elif value.endswith("%") and name in ("width", "height"):
            offsets[f"{name}%"] = number(value)
            offsets[name] = None
        else:
            offsets[name] = length_px(value, em)
    return offsets


def size_of(offsets: dict[str, float | None], name: str, basis: float) -> float | None:
    if offsets.get(name) is not None:
        return offsets[name]
    fraction = offsets.get(f"{name}%")
    return fraction * basis if fraction is not None else None


def background_color(style: dict[str, str]) -> Rgba | None:
    if re.search(r"url\(|gradient\(", style.get("background", "") + style.get("background-image", "")):
        return None
    for candidate in [style.get("background-color", ""), *split_top_level(style.get("background", ""))]:
        found = parse_css_color(candidate) if candidate else None
        if found is not None:
            return found
    return None


def transformed(
    box: Box, style: dict[str, str], font_px: float, scale_x: float, scale_y: float
) -> tuple[Box, float, float, bool, bool]:
    """The box moved by translations, and the accumulated scale (scale, matrix, rotations about the
    screen's axes, which turn a box edge-on); whether the back of a box with `backface-visibility:
    hidden` faces the reader; whether it was translated."""
    turned, translated = False, False
    width, height = box.right - box.left, box.bottom - box.top
    transform = " ".join(filter(None, (style.get("transform", ""), _individual(style))))
    for name, arguments in re.findall(r"([a-z3]+)\(([^)]*)\)", transform):
        values = list(split_top_level(arguments.replace(",", " ")))
        if name.startswith("translate"):
            dx = dy = 0.0
            if name in ("translate", "translate3d", "translatex"):
                dx = length_px(values[0], font_px, percent_of=width) or 0.0 if values else 0.0
            if name in ("translate", "translate3d") and len(values) > 1:
                dy = length_px(values[1], font_px, percent_of=height) or 0.0
            if name == "translatey" and values:
                dy = length_px(values[0], font_px, percent_of=height) or 0.0
            box = box.moved(dx, dy)
            translated = translated or bool(dx or dy)
        elif name.startswith("scale"):
            numbers = [number(v) for v in values]
            factors = [abs(n) for n in numbers if n is not None]
            if not factors:
                continue
            if name in ("scale", "scale3d"):
                scale_x *= factors[0]
                scale_y *= factors[1] if len(factors) > 1 else factors[0]
            elif name == "scalex":
                scale_x *= factors[0]
            elif name == "scaley":
                scale_y *= factors[0]
        elif name in ("matrix", "matrix3d"):
            matrix = [n for v in values if (n := number(v)) is not None]
            if len(matrix) == 6:
                a, b, c, d, e, f = matrix
                scale_x *= math.hypot(a, b)
                scale_y *= math.hypot(c, d)
                box = box.moved(e, f)
                translated = translated or bool(e or f)
        elif name in ("rotatex", "rotatey"):
            angle = _angle(values[0]) if values else 0.0
            factor = math.cos(angle)
            if name == "rotatex":
                scale_y *= abs(factor)
            else:
                scale_x *= abs(factor)
            turned = turned or (factor < 0 and style.get("backface-visibility") == "hidden")
    return box, scale_x, scale_y, turned, translated


def _individual(style: dict[str, str]) -> str:
    """The individual transform properties (`translate`, `scale`) as transform functions."""
    parts = []
    if style.get("translate", "none") != "none":
        parts.append(f"translate({style['translate']})")
    if style.get("scale", "none") != "none":
        parts.append(f"scale({style['scale']})")
    return " ".join(parts)


def _angle(value: str) -> float:
    found = re.fullmatch(r"\s*(-?[\d.]+)\s*(deg|rad|turn|grad)?\s*", value)
    if not found:
        return 0.0
    number = float(found.group(1))
    unit = found.group(2) or "deg"
    return number * {"deg": math.pi / 180, "rad": 1.0, "turn": 2 * math.pi, "grad": math.pi / 200}[unit]


def clip_shape(style: dict[str, str], box: Box, em: float, absolute: bool) -> Box | None:
    """The area `clip: rect()` (absolutely positioned boxes only) or `clip-path` leaves visible, if any."""
    width, height = box.right - box.left, box.bottom - box.top
    found = re.fullmatch(r"rect\((.*)\)", style.get("clip", "").strip()) if absolute else None
    area: Box | None = None
    if found:
        sides = list(split_top_level(found.group(1).replace(",", " ")))
        if len(sides) == 4:
            edges = [None if s == "auto" else length_px(s, em) for s in sides]
            top, right, bottom, left = edges
            area = Box(
                box.left + (left or 0.0),
                box.top + (top or 0.0),
                box.left + right if right is not None else box.right,
                box.top + bottom if bottom is not None else box.bottom,
            )
    path = style.get("clip-path", "").strip()
    shape = re.match(r"(inset|circle|ellipse|polygon|rect|xywh)\((.*)\)", path)
    if shape is None:
        return area
    kind, arguments = shape.group(1), shape.group(2)
    values = split_top_level(arguments.split(" at ")[0].replace(",", " ")) if kind != "polygon" else []
    shaped: Box | None = None
    if kind in ("inset", "rect"):
        sides = (values + values + values + values)[:4] if values else ["0"] * 4
        if len(values) == 2:
            sides = [values[0], values[1], values[0], values[1]]
        elif len(values) == 3:
            sides = [values[0], values[1], values[2], values[1]]
        vertical = [length_px(sides[i], em, percent_of=height) for i in (0, 2)]
        horizontal = [length_px(sides[i], em, percent_of=width) for i in (1, 3)]
        if None not in vertical and None not in horizontal:
            t, b = vertical
            r, lft = horizontal
            if kind == "inset":
                shaped = Box(box.left + lft, box.top + t, box.right - r, box.bottom - b)  # type: ignore[operator]
            else:
                shaped = Box(box.left + lft, box.top + t, box.left + r, box.top + b)  # type: ignore[operator]
    elif kind in ("circle", "ellipse"):
        radii = [
            length_px(v, em, percent_of=min(width, height))
            for v in values[:2]
            if v not in ("closest-side", "farthest-side")
        ]
        if radii and None not in radii:
            middle_x, middle_y = (box.left + box.right) / 2, (box.top + box.bottom) / 2
            rx = radii[0] or 0.0
            ry = radii[1] if len(radii) > 1 and radii[1] is not None else rx
            shaped = Box(middle_x - rx, middle_y - ry, middle_x + rx, middle_y + ry)
    elif kind == "polygon":
        points = [split_top_level(p) for p in split_top_level(arguments, ",")]
        xs = [length_px(p[0], em, percent_of=width) for p in points if len(p) == 2]
        ys = [length_px(p[1], em, percent_of=height) for p in points if len(p) == 2]
        if xs and None not in xs and None not in ys:
            shaped = Box(box.left + min(xs), box.top + min(ys), box.left + max(xs), box.top + max(ys))  # type: ignore[type-var,operator]
    elif kind == "xywh" and len(values) >= 4:
        x, y, w, h = (length_px(v, em, percent_of=width) for v in values[:4])
        if None not in (x, y, w, h):
            shaped = Box(box.left + x, box.top + y, box.left + x + w, box.top + y + h)  # type: ignore[operator]
    if shaped is None:
        return area
    return shaped if area is None else area.intersection(shaped)
