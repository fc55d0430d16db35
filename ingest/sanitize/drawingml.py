"""DrawingML, the graphics layer PowerPoint slides, Excel drawings and Word shapes share: theme colours
with their modifiers, fills, and shape boxes through group transforms.

Used by pptx.py, xlsx.py (shapes over cells) and docx.py (floating shapes and text colour effects)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from lxml import etree

from ingest.sanitize.colors import (
    TRANSPARENT,
    Rgba,
    parse_hex,
    toward_black,
    toward_white,
    with_lightness,
)
from ingest.sanitize.ooxml import Package, q
from ingest.sanitize.perception import Box

# How a slide master maps the scheme's roles to its slots when it says nothing (p:clrMap defaults).
DEFAULT_COLOR_MAP = {"bg1": "lt1", "tx1": "dk1", "bg2": "lt2", "tx2": "dk2"}
_PRESET = {"white": "ffffff", "black": "000000", "red": "ff0000", "blue": "0000ff", "green": "008000"}
MAX_ALPHA_PIXELS = 25_000_000  # larger pictures are judged by their format, not decoded
_COLOR_TAGS = ("srgbClr", "schemeClr", "sysClr", "prstClr", "scrgbClr", "hslClr")


@dataclass(frozen=True)
class Paint:
    """A fill as far as visibility goes: its colour when it has one, and whether nothing shows through.

    `color` None means a picture, gradient or pattern: no single colour to compare text with."""

    color: Rgba | None
    opaque: bool


NO_PAINT = Paint(TRANSPARENT, opaque=False)


class Theme:
    """A theme's colour scheme as one master (or workbook) maps it."""

    def __init__(self, root: etree._Element | None, color_map: dict[str, str] | None = None) -> None:
        self.color_map = dict(DEFAULT_COLOR_MAP if color_map is None else color_map)
        self.slots: dict[str, Rgba] = {}
        self.background_fills: list[etree._Element] = []
        if root is None:
            return
        scheme = next(root.iter(q("a:clrScheme")), None)
        for slot in scheme if scheme is not None else []:
            parsed = self.color(slot)
            if parsed is not None:
                self.slots[etree.QName(slot).localname] = parsed
        fills = next(root.iter(q("a:bgFillStyleLst")), None)
        self.background_fills = list(fills) if fills is not None else []

    def mapped(self, color_map: etree._Element | None) -> Theme:
        """The same theme under a master's `p:clrMap` (or a slide's override)."""
        if color_map is None:
            return self
        theme = Theme(None, {**self.color_map, **dict(color_map.attrib.items())})
        theme.slots, theme.background_fills = self.slots, self.background_fills
        return theme

    def scheme(self, name: str, placeholder: Rgba | None = None) -> Rgba | None:
        """A scheme colour by role (bg1, tx1, accent1, ...) or `phClr` (the referencing element's colour)."""
        if name == "phClr":
            return placeholder
        return self.slots.get(self.color_map.get(name, name))

    def color(self, parent: etree._Element | None, placeholder: Rgba | None = None) -> Rgba | None:
        """The colour `parent` holds (a colour element itself, or an element with one as its child)."""
        if parent is None:
            return None
        element = parent if etree.QName(parent).localname in _COLOR_TAGS else None
        if element is None:
            element = next((child for child in parent if etree.QName(child).localname in _COLOR_TAGS), None)
        if element is None:
            return None
        kind = etree.QName(element).localname
        base: Rgba | None = None
        if kind == "srgbClr":
            base = parse_hex(element.get("val", ""))
        elif kind == "sysClr":
            base = parse_hex(element.get("lastClr", "")) or {"window": parse_hex("ffffff")}.get(element.get("val", ""))
        elif kind == "prstClr":
            base = parse_hex(_PRESET.get(element.get("val", ""), ""))
        elif kind == "schemeClr":
            base = self.scheme(element.get("val", ""), placeholder)
        elif kind == "scrgbClr":
            base = Rgba(*(round(min(100000, max(0, int(element.get(k, "0")))) * 255 / 100000) for k in "rgb"))
        return None if base is None else modified(base, element)

    def paint(self, parent: etree._Element | None, placeholder: Rgba | None = None) -> Paint | None:
        """The fill declared under `parent` (spPr, bgPr, tcPr, rPr), None when it declares none."""
        for child in parent if parent is not None else []:
            found = self.fill(child, placeholder)
            if found is not None:
                return found
        return None

    def fill(self, element: etree._Element, placeholder: Rgba | None = None) -> Paint | None:
        """One fill element (noFill, solidFill, gradFill, blipFill, pattFill), None for anything else."""
        kind = etree.QName(element).localname
        if kind == "noFill":
            return NO_PAINT
        if kind == "solidFill":
            color = self.color(element, placeholder)
            return Paint(color, opaque=color is not None and color.a >= 0.999)
        if kind == "gradFill":
            stops = [self.color(stop, placeholder) for stop in element.iter(q("a:gs"))]
            return Paint(None, opaque=bool(stops) and all(s is not None and s.a >= 0.999 for s in stops))
        if kind in ("blipFill", "pattFill", "grpFill"):
            return Paint(None, opaque=kind == "blipFill")
        return None

    def background(self, bg: etree._Element | None) -> Paint | None:
        """A slide background: `p:bgPr` with a fill, or `p:bgRef` into the theme's background fills."""
        if bg is None:
            return None
        properties = bg.find(q("p:bgPr"))
        if properties is not None:
            return self.paint(properties)
        reference = bg.find(q("p:bgRef"))
        if reference is None:
            return None
        color = self.color(reference)
        index = int(reference.get("idx", "0") or 0)
        if index >= 1001 and index - 1001 < len(self.background_fills):
            return self.fill(self.background_fills[index - 1001], placeholder=color)
        return Paint(color, opaque=color is not None)


def modified(color: Rgba, element: etree._Element) -> Rgba:
    """A colour after its DrawingML modifiers (alpha, lumMod/lumOff, tint, shade), in document order."""
    lum_mod, lum_off = 1.0, 0.0
    for child in element:
        kind = etree.QName(child).localname
        value = int(child.get("val", "0") or 0) / 100000
        if kind == "alpha":
            color = Rgba(color.r, color.g, color.b, max(0.0, min(1.0, value)))
        elif kind == "alphaMod":
            color = color.faded(value)
        elif kind == "alphaOff":
            color = Rgba(color.r, color.g, color.b, max(0.0, min(1.0, color.a + value)))
        elif kind == "lumMod":
            lum_mod = value
        elif kind == "lumOff":
            lum_off = value
        elif kind == "tint":
            color = toward_white(color, value)
        elif kind == "shade":
            color = toward_black(color, value)
    if lum_mod != 1.0 or lum_off != 0.0:
        color = with_lightness(color, lum_off, factor=lum_mod)
    return color


@dataclass(frozen=True)
class Transform:
    """Maps a group's child coordinates to its parent's (identity outside groups)."""

    scale_x: float = 1.0
    scale_y: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    def apply(self, box: Box) -> Box:
        return Box(
            box.left * self.scale_x + self.shift_x,
            box.top * self.scale_y + self.shift_y,
            box.right * self.scale_x + self.shift_x,
            box.bottom * self.scale_y + self.shift_y,
        )

    def then(self, outer: Transform) -> Transform:
        """This transform followed by `outer` (a group inside a group)."""
        return Transform(
            self.scale_x * outer.scale_x,
            self.scale_y * outer.scale_y,
            self.shift_x * outer.scale_x + outer.shift_x,
            self.shift_y * outer.scale_y + outer.shift_y,
        )


def xfrm_box(xfrm: etree._Element | None) -> Box | None:
    """The box of an `a:xfrm` (EMU), turned a quarter when rotated by about 90° or 270°."""
    if xfrm is None:
        return None
    offset, extent = xfrm.find(q("a:off")), xfrm.find(q("a:ext"))
    if offset is None or extent is None:
        return None
    x, y = _int(offset.get("x")), _int(offset.get("y"))
    cx, cy = _int(extent.get("cx")), _int(extent.get("cy"))
    box = Box(x, y, x + cx, y + cy)
    turns = round(_int(xfrm.get("rot")) / 5_400_000) % 4  # rot is in 60,000ths of a degree
    if turns % 2:
        middle_x, middle_y = x + cx / 2, y + cy / 2
        box = Box(middle_x - cy / 2, middle_y - cx / 2, middle_x + cy / 2, middle_y + cx / 2)
    return box


def group_transform(group_xfrm: etree._Element | None) -> Transform:
    """How a group (`a:xfrm` with `chOff`/`chExt`) places its children."""
    if group_xfrm is None:
        return Transform()
    offset, extent = group_xfrm.find(q("a:off")), group_xfrm.find(q("a:ext"))
    child_offset, child_extent = group_xfrm.find(q("a:chOff")), group_xfrm.find(q("a:chExt"))
    if offset is None or extent is None or child_offset is None or child_extent is None:
        return Transform()
    child_cx, child_cy = _int(child_extent.get("cx")), _int(child_extent.get("cy"))
    scale_x = _int(extent.get("cx")) / child_cx if child_cx else 1.0
    scale_y = _int(extent.get("cy")) / child_cy if child_cy else 1.0
    return Transform(
        scale_x,
        scale_y,
        _int(offset.get("x")) - _int(child_offset.get("x")) * scale_x,
        _int(offset.get("y")) - _int(child_offset.get("y")) * scale_y,
    )


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def picture_opaque(picture: etree._Element, package: Package, part: str) -> bool:
    """A picture (in part `part`) covers what is under it unless its blip is faded or its image, read from the
    package, has transparent pixels."""
    blip = next(picture.iter(q("a:blip")), None)
    if blip is None or blip.find(q("a:alphaModFix")) is not None:
        return False
    target = package.related(part).get(blip.get(q("r:embed"), ""))
    data = package.read(target) if target else None
    return data is not None and image_opaque(data)


def image_opaque(data: bytes) -> bool:
    """A picture hides what is under it unless some of its pixels are transparent."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            if not has_alpha or image.width * image.height > MAX_ALPHA_PIXELS:
                return not has_alpha
            lowest = image.convert("RGBA").getchannel("A").getextrema()[0]
            return isinstance(lowest, int | float) and lowest >= 255
    except (OSError, ValueError, Image.DecompressionBombError):
        return False
