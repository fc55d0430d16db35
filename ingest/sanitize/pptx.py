"""PPTX: hidden slides, hidden shapes, shapes off the slide, text in the background colour, tiny text,
and speaker notes (an audience never sees them)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from ingest.sanitize.colors import WHITE, Rgba, invisible_on, parse_hex
from ingest.sanitize.model import HiddenSpan
from ingest.sanitize.ooxml import Package, q, text_of

TINY_HUNDREDTHS = 200  # a:rPr/@sz is in hundredths of a point; 2pt and below cannot be read
_SCHEME = {"bg1": "lt1", "bg2": "lt2", "tx1": "dk1", "tx2": "dk2"}


class _Theme:
    """The theme's colour scheme, for schemeClr references."""

    def __init__(self, root: etree._Element | None) -> None:
        self._colors: dict[str, Rgba] = {}
        if root is None:
            return
        scheme = next(root.iter(q("a:clrScheme")), None)
        if scheme is None:
            return
        for slot in scheme:
            name = etree.QName(slot).localname
            srgb = slot.find(q("a:srgbClr"))
            system = slot.find(q("a:sysClr"))
            value = srgb.get("val") if srgb is not None else system.get("lastClr") if system is not None else None
            parsed = parse_hex(value) if value else None
            if parsed is not None:
                self._colors[name] = parsed

    def color(self, fill: etree._Element | None) -> Rgba | None:
        """The colour of an `a:solidFill` (or a fill reference holding a colour), None when unknown."""
        if fill is None:
            return None
        srgb = fill.find(q("a:srgbClr"))
        if srgb is not None:
            return parse_hex(srgb.get("val", ""))
        scheme = fill.find(q("a:schemeClr"))
        if scheme is not None:
            name = scheme.get("val", "")
            return self._colors.get(_SCHEME.get(name, name))
        return None


class PptxScanner:
    """Hidden text of a PowerPoint deck, with slide numbers as pages."""

    def scan(self, path: Path) -> list[HiddenSpan]:
        """Hidden spans of the .pptx at `path`."""
        with Package(path) as package:
            presentation = package.xml("ppt/presentation.xml")
            if presentation is None:
                return []
            size = presentation.find(q("p:sldSz"))
            width = int(size.get("cx", "9144000")) if size is not None else 9144000
            height = int(size.get("cy", "6858000")) if size is not None else 6858000
            targets = package.related("ppt/presentation.xml")
            spans: list[HiddenSpan] = []
            slide_ids = presentation.find(q("p:sldIdLst"))
            for number, slide_id in enumerate(slide_ids if slide_ids is not None else [], start=1):
                part = targets.get(slide_id.get(q("r:id"), ""), "")
                slide = package.xml(part)
                if slide is None:
                    continue
                spans.extend(self._slide(package, part, slide, number, (width, height)))
            return spans

    def _slide(
        self, package: Package, part: str, slide: etree._Element, number: int, size: tuple[int, int]
    ) -> list[HiddenSpan]:
        spans: list[HiddenSpan] = []
        theme, background = self._background(package, part, slide)
        hidden_slide = slide.get("show") in ("0", "false")
        for shape in slide.iter(q("p:sp"), q("p:graphicFrame")):
            body_text = " ".join(text_of(shape, "a:t").split())
            if not body_text:
                continue
            name_node = next(shape.iter(q("p:cNvPr")), None)
            name = name_node.get("name", "") if name_node is not None else ""
            where = f"slide {number} ({part}), shape {name!r}"
            technique = "pptx_hidden_slide" if hidden_slide else self._shape_hidden(shape, name_node, size)
            if technique is not None:
                for paragraph in shape.iter(q("a:p")):
                    text = " ".join(text_of(paragraph, "a:t").split())
                    if text:
                        spans.append(HiddenSpan(technique, where, text, page=number))
                continue
            fill = theme.color(shape.find(f"{q('p:spPr')}/{q('a:solidFill')}")) or background
            spans.extend(self._runs(shape, theme, fill, where, number))
        for notes_part in package.related_by_type(part, "/notesSlide"):
            notes = package.xml(notes_part)
            if notes is None:
                continue
            for shape in notes.iter(q("p:sp")):
                placeholder = next(shape.iter(q("p:ph")), None)
                if placeholder is None or placeholder.get("type") != "body":
                    continue
                text = " ".join(text_of(shape, "a:t").split())
                if text:
                    spans.append(
                        HiddenSpan(
                            "pptx_speaker_notes", f"slide {number} notes ({notes_part})", text, page=number, body=False
                        )
                    )
        return spans

    @staticmethod
    def _shape_hidden(shape: etree._Element, name_node: etree._Element | None, size: tuple[int, int]) -> str | None:
        if name_node is not None and name_node.get("hidden") in ("1", "true"):
            return "pptx_hidden_shape"
        if any(parent.tag == q("p:grpSp") for parent in shape.iterancestors()):
            return None  # group transforms move children; their own offsets do not say where they land
        offset = next(shape.iter(q("a:off")), None)
        extent = next(shape.iter(q("a:ext")), None)
        if offset is None or extent is None:
            return None
        x, y = int(offset.get("x", "0")), int(offset.get("y", "0"))
        cx, cy = int(extent.get("cx", "0")), int(extent.get("cy", "0"))
        width, height = size
        if x >= width or y >= height or x + cx <= 0 or y + cy <= 0:
            return "pptx_off_slide"
        return None

    def _background(self, package: Package, part: str, slide: etree._Element) -> tuple[_Theme, Rgba | None]:
        """The slide's background colour, from the slide, its layout or its master (None: a picture or gradient)."""
        layouts = package.related_by_type(part, "/slideLayout")
        layout = package.xml(layouts[0]) if layouts else None
        masters = package.related_by_type(layouts[0], "/slideMaster") if layouts else []
        master = package.xml(masters[0]) if masters else None
        themes = package.related_by_type(masters[0], "/theme") if masters else []
        theme = _Theme(package.xml(themes[0]) if themes else None)
        for root in (slide, layout, master):
            if root is None:
                continue
            background = next(root.iter(q("p:bg")), None)
            if background is None:
                continue
            properties = background.find(q("p:bgPr"))
            if properties is not None:
                return theme, theme.color(properties.find(q("a:solidFill")))
            reference = background.find(q("p:bgRef"))
            return theme, theme.color(reference)
        return theme, WHITE

    @staticmethod
    def _runs(shape: etree._Element, theme: _Theme, fill: Rgba | None, where: str, page: int) -> list[HiddenSpan]:
        spans: list[HiddenSpan] = []
        for paragraph in shape.iter(q("a:p")):
            current: tuple[str, list[str]] | None = None
            for run in paragraph.iter(q("a:r")):
                text = text_of(run, "a:t")
                properties = run.find(q("a:rPr"))
                technique = None
                if properties is not None and text.strip():
                    size = properties.get("sz", "")
                    color = theme.color(properties.find(q("a:solidFill")))
                    if size.isdigit() and int(size) <= TINY_HUNDREDTHS:
                        technique = "pptx_tiny_text"
                    elif color is not None and fill is not None and invisible_on(color, fill):
                        technique = "pptx_background_color_text"
                if technique is None:
                    if current is not None and text.strip():
                        spans.append(HiddenSpan(current[0], where, " ".join("".join(current[1]).split()), page=page))
                        current = None
                    continue
                if current is not None and current[0] == technique:
                    current[1].append(text)
                else:
                    if current is not None:
                        spans.append(HiddenSpan(current[0], where, " ".join("".join(current[1]).split()), page=page))
                    current = (technique, [text])
            if current is not None:
                spans.append(HiddenSpan(current[0], where, " ".join("".join(current[1]).split()), page=page))
        return spans
