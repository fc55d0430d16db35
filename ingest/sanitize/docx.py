"""DOCX: text a reader of the Word document (print layout, final view) cannot see.

Every text part is read (body, headers, footers, footnotes, endnotes, text boxes) with Word's
cascade: document defaults → paragraph style chain → table style → character style chain → direct
formatting. On that, the principles of perception.py: FORMATTING (`w:vanish`, hidden drawings,
deleted revisions, comments), SIZE (an em under the legibility threshold, letters squeezed by
`w:w` or condensed `w:spacing`), CONTRAST (the run colour, theme colours with tint and shade and
w14 text fills with alpha resolved, against run, paragraph, cell and table shading, highlight and
the page colour), POSITION (a paragraph indented off the page, a floating text box off the page)
and OCCLUSION (an opaque floating shape in front of the text: of its anchor paragraph, or of a
text box under it). Where body text lies on a page needs a layout engine: floating shapes are judged
against what their anchor fixes (README.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from ingest.sanitize.colors import BLACK, TRANSPARENT, WHITE, Rgba, composite, parse_hex, toward_black, toward_white
from ingest.sanitize.drawingml import Paint, Theme, picture_opaque
from ingest.sanitize.instructions import InstructionDetector
from ingest.sanitize.model import HiddenSpan
from ingest.sanitize.ooxml import Package, q, text_of, xml_path
from ingest.sanitize.perception import (
    Box,
    Principle,
    illegible,
    nominal_advance,
    occluded,
    outside,
    text_extent,
    unreadable,
)

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
WPS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
VML = "urn:schemas-microsoft-com:vml"
EMU_PER_TWIP = 635
DEFAULT_HALF_POINTS = 20  # Word's size when neither defaults nor styles set one
SCRIPT_SCALE = 0.65  # superscript and subscript are drawn at about two thirds of the size
_THEME_SLOTS = {
    "background1": "lt1", "text1": "dk1", "background2": "lt2", "text2": "dk2", "light1": "lt1", "dark1": "dk1",
    "light2": "lt2", "dark2": "dk2", "hyperlink": "hlink", "followedHyperlink": "folHlink",
}  # fmt: skip
_HIGHLIGHT = {
    "white": "ffffff", "black": "000000", "yellow": "ffff00", "green": "00ff00", "cyan": "00ffff",
    "magenta": "ff00ff", "blue": "0000ff", "red": "ff0000", "darkBlue": "000080", "darkCyan": "008080",
    "darkGreen": "008000", "darkMagenta": "800080", "darkRed": "800000", "darkYellow": "808000",
    "darkGray": "808080", "lightGray": "c0c0c0",
}  # fmt: skip
Cause = tuple[str, Principle]


@dataclass(frozen=True)
class _RunStyle:
    vanish: bool = False
    color: Rgba | None = None  # None: "auto", which Word draws in black or white, whichever shows
    fill: Rgba | None = None  # a w14:textFill (may be transparent); None when there is none
    fill_unknown: bool = False  # a gradient text fill: no single colour
    size: int | None = None  # half-points
    shading: Rgba | None = None
    width: float = 1.0  # w:w character scale
    spacing: float = 0.0  # w:spacing, points (negative: condensed)
    script: bool = False  # superscript or subscript


@dataclass(frozen=True)
class _Page:
    """The page of the body-level (last) section, twips: what the body text is laid out on."""

    width: float = 12240
    height: float = 15840
    left: float = 1440
    right: float = 1440
    top: float = 1440
    bottom: float = 1440


@dataclass(frozen=True)
class _Float:
    """A floating drawing (wp:anchor): where it is and what it hides."""

    element: etree._Element
    box: Box | None  # EMU relative to the page, when both axes are fixed relative to page or margins
    vertical_from_paragraph: bool
    in_front: bool  # painted over the text (not behind it)
    order: int  # relativeHeight: larger is nearer the reader
    opaque: bool
    hidden: bool
    fill: Rgba | None


class _Colors:
    """Word colour attributes (`w:val`, `w:themeColor`, `w:themeTint`, `w:themeShade`)."""

    def __init__(self, theme: Theme) -> None:
        self.theme = theme

    def of(self, element: etree._Element | None, value_attribute: str = "val") -> Rgba | None:
        if element is None:
            return None
        theme_name = element.get(q("w:themeColor"), "")
        color: Rgba | None = None
        if theme_name:
            color = self.theme.scheme(_THEME_SLOTS.get(theme_name, theme_name))
            if color is None:
                color = WHITE if theme_name in ("background1", "light1") else BLACK
        if color is None:
            value = element.get(q(f"w:{value_attribute}"), "auto")
            color = None if value in ("auto", "") else parse_hex(value)
        if color is None:
            return None
        tint, shade = element.get(q("w:themeTint")), element.get(q("w:themeShade"))
        if tint:
            color = toward_white(color, int(tint, 16) / 255)
        if shade:
            color = toward_black(color, int(shade, 16) / 255)
        return color

    def shading(self, shd: etree._Element | None) -> Rgba | None:
        """A `w:shd`: its fill with its pattern colour laid over it (solid, pctNN), None when there is none."""
        if shd is None:
            return None
        pattern = shd.get(q("w:val"), "clear")
        fill = self.of(shd, "fill")
        if pattern in ("nil", "clear"):
            return fill
        ink = shd.get(q("w:color"), "auto")
        pattern_color = BLACK if ink == "auto" else parse_hex(ink) or BLACK
        share = (
            1.0
            if pattern == "solid"
            else int(pattern[3:]) / 100
            if pattern.startswith("pct") and pattern[3:].isdigit()
            else 0.5
        )
        return composite([pattern_color.faded(share)], base=fill or WHITE)


def _on(element: etree._Element | None) -> bool | None:
    if element is None:
        return None
    return element.get(q("w:val"), "true").lower() not in ("false", "0", "off")


def _apply(style: _RunStyle, rpr: etree._Element | None, colors: _Colors) -> _RunStyle:
    """Run properties `rpr` layered over `style` (later layers win, as Word's cascade does)."""
    if rpr is None:
        return style
    vanish = _on(rpr.find(q("w:vanish")))
    if vanish is not None:
        style = replace(style, vanish=vanish)
    color = rpr.find(q("w:color"))
    if color is not None:
        style = replace(style, color=colors.of(color))
    size = rpr.find(q("w:sz"))
    if size is not None and (size.get(q("w:val")) or "").isdigit():
        style = replace(style, size=int(size.get(q("w:val"), "0")))
    shading = colors.shading(rpr.find(q("w:shd")))
    highlight = rpr.find(q("w:highlight"))
    if highlight is not None and highlight.get(q("w:val")) in _HIGHLIGHT:
        shading = parse_hex(_HIGHLIGHT[highlight.get(q("w:val"), "")])
    if shading is not None:
        style = replace(style, shading=shading)
    scale = rpr.find(q("w:w"))
    if scale is not None and (scale.get(q("w:val")) or "").rstrip("%").isdigit():
        style = replace(style, width=int((scale.get(q("w:val")) or "100").rstrip("%")) / 100)
    spacing = rpr.find(q("w:spacing"))
    if spacing is not None and (spacing.get(q("w:val")) or "").lstrip("-").isdigit():
        style = replace(style, spacing=int(spacing.get(q("w:val"), "0")) / 20)
    script = rpr.find(q("w:vertAlign"))
    if script is not None:
        style = replace(style, script=script.get(q("w:val")) in ("superscript", "subscript"))
    text_fill = rpr.find(f"{{{W14}}}textFill")
    if text_fill is not None:
        style = _text_fill(style, text_fill, colors.theme)
    return style


def _text_fill(style: _RunStyle, text_fill: etree._Element, theme: Theme) -> _RunStyle:
    """A Word 2010 text effect fill: none (transparent text), a solid colour with alpha, or a gradient."""
    for child in text_fill:
        kind = etree.QName(child).localname
        if kind == "noFill":
            return replace(style, fill=TRANSPARENT, fill_unknown=False)
        if kind == "solidFill":
            color = _w14_color(child, theme)
            return replace(style, fill=color, fill_unknown=color is None)
        if kind == "gradFill":
            return replace(style, fill=None, fill_unknown=True)
    return style


def _w14_color(fill: etree._Element, theme: Theme) -> Rgba | None:
    """w14 colours mirror DrawingML's (srgbClr/schemeClr with alpha, lumMod, ...) in the w14 namespace."""
    translated = etree.fromstring(
        etree.tostring(fill).replace(W14.encode(), b"http://schemas.openxmlformats.org/drawingml/2006/main")
    )
    for node in translated.iter():
        for name in list(node.attrib):
            if name.startswith("{"):
                node.set(etree.QName(name).localname, node.attrib.pop(name))
    return theme.color(translated)


class _Styles:
    """styles.xml: the run properties each style contributes, following `w:basedOn`."""

    def __init__(self, root: etree._Element | None, colors: _Colors) -> None:
        self._styles: dict[str, etree._Element] = {}
        self._colors = colors
        self.default_paragraph: str | None = None
        self.default_table: str | None = None
        self.defaults = _RunStyle()
        if root is None:
            return
        self.defaults = _apply(_RunStyle(), root.find(f"{q('w:docDefaults')}/{q('w:rPrDefault')}/{q('w:rPr')}"), colors)
        for style in root.iter(q("w:style")):
            ident = style.get(q("w:styleId"), "")
            self._styles[ident] = style
            if style.get(q("w:default")) in ("1", "true", "on"):
                if style.get(q("w:type")) == "paragraph":
                    self.default_paragraph = ident
                elif style.get(q("w:type")) == "table":
                    self.default_table = ident

    def chain(self, ident: str | None) -> list[etree._Element]:
        """The style and its bases, base first (basedOn loops are cut)."""
        chain: list[etree._Element] = []
        seen: set[str] = set()
        while ident and ident in self._styles and ident not in seen:
            seen.add(ident)
            chain.append(self._styles[ident])
            based = self._styles[ident].find(q("w:basedOn"))
            ident = based.get(q("w:val")) if based is not None else None
        return list(reversed(chain))

    def layer(self, base: _RunStyle, ident: str | None) -> _RunStyle:
        for style in self.chain(ident):
            base = _apply(base, style.find(q("w:rPr")), self._colors)
        return base

    def paragraph_shading(self, ident: str | None) -> Rgba | None:
        found = None
        for style in self.chain(ident):
            shading = self._colors.shading(style.find(f"{q('w:pPr')}/{q('w:shd')}"))
            found = shading if shading is not None else found
        return found


class DocxScanner:
    """Hidden text of a Word document."""

    def __init__(self, detector: InstructionDetector) -> None:
        self._detector = detector

    def scan(self, path: Path) -> list[HiddenSpan]:
        """Hidden spans of the .docx at `path`."""
        with Package(path) as package:
            spans: list[HiddenSpan] = []
            document = package.xml("word/document.xml")
            colors = _Colors(Theme(_first(package, "word/document.xml", "/theme")))
            styles = _Styles(package.xml("word/styles.xml"), colors)
            page = _page(document)
            background = colors.of(document.find(q("w:background")), "color") if document is not None else None
            parts: list[tuple[str, etree._Element]] = []
            if document is not None:
                parts.append(("word/document.xml", document))
            for kind in ("/header", "/footer", "/footnotes", "/endnotes"):
                for part in package.related_by_type("word/document.xml", kind):
                    root = package.xml(part)
                    if root is not None:
                        parts.append((part, root))
            for part, root in parts:
                walker = _Part(package, part, root, styles, colors, page, background or WHITE)
                spans.extend(walker.scan())
            comments = package.xml("word/comments.xml")
            if comments is not None:
                for comment in comments.iter(q("w:comment")):
                    text = " ".join(text_of(comment, "w:t").split())
                    if text:
                        author = comment.get(q("w:author"), "")
                        where = f"word/comments.xml: comment {comment.get(q('w:id'), '?')} by {author!r}"
                        spans.append(HiddenSpan("docx_comment", "formatting", where, text, body=False))
            spans.extend(self._properties(package))
            return spans

    def _properties(self, package: Package) -> list[HiddenSpan]:
        spans: list[HiddenSpan] = []
        for part in ("docProps/core.xml", "docProps/app.xml", "docProps/custom.xml"):
            root = package.xml(part)
            if root is None:
                continue
            for node in root.iter():
                text = (node.text or "").strip()
                if text and self._detector.is_instruction_like(text):
                    name = etree.QName(node).localname
                    spans.append(
                        HiddenSpan("docx_document_property", "formatting", f"{part}: {name}", text, body=False)
                    )
        return spans


def _first(package: Package, part: str, kind: str) -> etree._Element | None:
    found = package.related_by_type(part, kind)
    return package.xml(found[0]) if found else None


def _twips(element: etree._Element | None, name: str, default: float = 0.0) -> float:
    if element is None:
        return default
    value = element.get(q(f"w:{name}"))
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _page(document: etree._Element | None) -> _Page:
    section = document.find(f"{q('w:body')}/{q('w:sectPr')}") if document is not None else None
    if section is None:
        return _Page()
    size, margins = section.find(q("w:pgSz")), section.find(q("w:pgMar"))
    return _Page(
        _twips(size, "w", 12240), _twips(size, "h", 15840), _twips(margins, "left", 1440),
        _twips(margins, "right", 1440), _twips(margins, "top", 1440), _twips(margins, "bottom", 1440),
    )  # fmt: skip


class _Part:
    """One text part (body, header, footer, footnotes, endnotes) and its floating drawings."""

    def __init__(
        self,
        package: Package,
        name: str,
        root: etree._Element,
        styles: _Styles,
        colors: _Colors,
        page: _Page,
        page_color: Rgba,
    ) -> None:
        self._package = package
        self._name = name
        self._root = root
        self._styles = styles
        self._colors = colors
        self._page = page
        self._page_color = page_color
        # Keyed by the elements themselves: holding them keeps lxml's proxies (and so their identity) alive.
        self._floats = {a: f for a in root.iter(f"{{{WP}}}anchor") if (f := self._float(a)) is not None}
        # A picture or filled shape behind the text (a letterhead band, a page background picture) lies
        # somewhere under this part's text: where, only a layout engine knows.
        self._behind = any(
            anchor.get("behindDoc") in ("1", "true") and (shape.fill is not None or shape.opaque)
            for anchor, shape in self._floats.items()
        ) or any(_vml_behind(shape) for shape in root.iter(f"{{{VML}}}shape", f"{{{VML}}}rect"))

    def scan(self) -> list[HiddenSpan]:
        spans: list[HiddenSpan] = []
        for deleted in self._root.iter(q("w:del"), q("w:moveFrom")):
            text = " ".join("".join(node.text or "" for node in deleted.iter(q("w:delText"), q("w:t"))).split())
            if text:
                where = f"{self._name}:{xml_path(deleted)}"
                spans.append(HiddenSpan("docx_deleted_revision", "formatting", where, text, body=False))
        covered_anchors = self._paragraphs_covered()
        for paragraph in self._root.iter(q("w:p")):
            if _inside_fallback(paragraph) or _is_separator(paragraph):
                continue
            spans.extend(self._paragraph(paragraph, covered_anchors))
        return spans

    # ----------------------------------------------------------------------------- floating shapes

    def _float(self, anchor: etree._Element) -> _Float | None:
        """A floating drawing's page box (EMU), z-order and fill."""
        extent = anchor.find(f"{{{WP}}}extent")
        if extent is None:
            return None
        cx, cy = float(extent.get("cx", "0") or 0), float(extent.get("cy", "0") or 0)
        x, x_known = self._axis(anchor.find(f"{{{WP}}}positionH"), cx, horizontal=True)
        y, y_known = self._axis(anchor.find(f"{{{WP}}}positionV"), cy, horizontal=False)
        vertical = anchor.find(f"{{{WP}}}positionV")
        from_paragraph = vertical is not None and vertical.get("relativeFrom") in ("paragraph", "line")
        box = Box(x, y, x + cx, y + cy) if x_known and (y_known or from_paragraph) else None
        doc_properties = anchor.find(f"{{{WP}}}docPr")
        hidden = doc_properties is not None and doc_properties.get("hidden") in ("1", "true")
        wraps_none = anchor.find(f"{{{WP}}}wrapNone") is not None
        in_front = anchor.get("behindDoc") not in ("1", "true") and wraps_none
        fill = self._shape_fill(anchor)
        opaque = fill is not None and fill.opaque
        if fill is None and next(anchor.iter(q("a:blip")), None) is not None:
            opaque = self._picture_opaque(anchor)
        return _Float(
            anchor, box, from_paragraph, in_front, int(anchor.get("relativeHeight", "0") or 0), opaque, hidden,
            fill.color if fill is not None else None,
        )  # fmt: skip

    def _axis(self, position: etree._Element | None, size: float, *, horizontal: bool) -> tuple[float, bool]:
        """One coordinate of a floating box on the page (EMU), and whether it is fixed to the page."""
        if position is None:
            return 0.0, False
        page = self._page
        relative = position.get("relativeFrom", "page")
        extent = (page.width if horizontal else page.height) * EMU_PER_TWIP
        near, far = (page.left, page.right) if horizontal else (page.top, page.bottom)
        frames = {
            "page": (0.0, extent),
            "margin": (near * EMU_PER_TWIP, extent - far * EMU_PER_TWIP),
            "column": (near * EMU_PER_TWIP, extent - far * EMU_PER_TWIP),
            "leftMargin": (0.0, near * EMU_PER_TWIP),
            "topMargin": (0.0, near * EMU_PER_TWIP),
            "rightMargin": (extent - far * EMU_PER_TWIP, extent),
            "bottomMargin": (extent - far * EMU_PER_TWIP, extent),
            "insideMargin": (0.0, near * EMU_PER_TWIP),
            "outsideMargin": (extent - far * EMU_PER_TWIP, extent),
        }
        if relative in ("paragraph", "line", "character"):
            start, end, known = (page.left * EMU_PER_TWIP, extent, horizontal) if horizontal else (0.0, 0.0, True)
        elif relative in frames:
            (start, end), known = frames[relative], True
        else:
            return 0.0, False
        offset = position.find(f"{{{WP}}}posOffset")
        align = position.find(f"{{{WP}}}align")
        if offset is not None and (offset.text or "").strip().lstrip("-").isdigit():
            return start + int((offset.text or "0").strip()), known
        if align is not None:
            where = (align.text or "").strip()
            share = {"center": 0.5, "right": 1.0, "bottom": 1.0, "outside": 1.0}.get(where, 0.0)
            return start + (end - start - size) * share, known
        return start, known

    def _shape_fill(self, anchor: etree._Element) -> Paint | None:
        properties = next(anchor.iter(f"{{{WPS}}}spPr"), None)
        if properties is None:
            return None
        declared = self._colors.theme.paint(properties)
        if declared is not None:
            return declared
        reference = next(anchor.iter(q("a:fillRef")), None)
        if reference is not None and reference.get("idx", "0") not in ("0", ""):
            color = self._colors.theme.color(reference)
            return Paint(color, opaque=color is not None and color.a >= 0.999)
        return None

    def _picture_opaque(self, anchor: etree._Element) -> bool:
        return picture_opaque(anchor, self._package, self._name)

    def _paragraphs_covered(self) -> set[etree._Element]:
        """Paragraphs an opaque in-front drawing anchored in them hides: positioned from the paragraph over
        its first lines, or over the page's whole body area (the anchor paragraph is on that page)."""
        covered: set[etree._Element] = set()
        page = self._page
        body = Box(
            page.left * EMU_PER_TWIP, page.top * EMU_PER_TWIP,
            (page.width - page.right) * EMU_PER_TWIP, (page.height - page.bottom) * EMU_PER_TWIP,
        )  # fmt: skip
        for shape in self._floats.values():
            if not (shape.in_front and shape.opaque and not shape.hidden) or shape.box is None:
                continue
            paragraph = _paragraph_of(shape.element)
            if paragraph is None:
                continue
            text = _own_text(paragraph)
            em = self._em(paragraph) * 12700
            if shape.vertical_from_paragraph:
                column = Box(body.left, 0, body.right, 1)
                extent = text_extent(column, len(text), em, line_height=1.15)
            else:
                extent = body
            if text and occluded(extent, [shape.box]):
                covered.add(paragraph)
        return covered

    def _em(self, paragraph: etree._Element) -> float:
        sizes = [self._run_style(run, paragraph).size or DEFAULT_HALF_POINTS for run in _own_runs(paragraph)]
        return max(sizes, default=DEFAULT_HALF_POINTS) / 2

    # ---------------------------------------------------------------------------- paragraphs, runs

    def _paragraph_base(self, paragraph: etree._Element) -> _RunStyle:
        ppr = paragraph.find(q("w:pPr"))
        pstyle = ppr.find(q("w:pStyle")) if ppr is not None else None
        ident = pstyle.get(q("w:val")) if pstyle is not None else self._styles.default_paragraph
        base = self._styles.defaults
        table = _table_style(paragraph, self._styles)
        for layer in table:
            base = _apply(base, layer.find(q("w:rPr")), self._colors)
        return self._styles.layer(base, ident)

    def _run_style(self, run: etree._Element, paragraph: etree._Element) -> _RunStyle:
        rpr = run.find(q("w:rPr"))
        rstyle = rpr.find(q("w:rStyle")) if rpr is not None else None
        base = self._styles.layer(
            self._paragraph_base(paragraph), rstyle.get(q("w:val")) if rstyle is not None else None
        )
        return _apply(base, rpr, self._colors)

    def _backdrop(self, paragraph: etree._Element) -> Rgba | None:
        """Page colour, then a floating text box's fill, cell or table shading, then paragraph shading."""
        layers: list[Rgba] = [self._page_color]
        anchor = _anchor_of(paragraph)
        if anchor is not None:
            shape = self._floats.get(anchor)
            if shape is not None and shape.fill is not None:
                layers.append(shape.fill)
        for table_layer in _table_style(paragraph, self._styles):
            shading = self._colors.shading(table_layer.find(f"{q('w:tcPr')}/{q('w:shd')}"))
            if shading is not None:
                layers.append(shading)
        cell = _cell_of(paragraph)
        if cell is not None:
            shading = self._colors.shading(cell.find(f"{q('w:tcPr')}/{q('w:shd')}"))
            if shading is not None:
                layers.append(shading)
        ppr = paragraph.find(q("w:pPr"))
        pstyle = ppr.find(q("w:pStyle")) if ppr is not None else None
        style_shading = self._styles.paragraph_shading(
            pstyle.get(q("w:val")) if pstyle is not None else self._styles.default_paragraph
        )
        direct = self._colors.shading(ppr.find(q("w:shd")) if ppr is not None else None)
        for shading in (style_shading, direct):
            if shading is not None:
                layers.append(shading)
        if self._behind and len(layers) == 1:
            return None  # only the page, and a drawing behind the text somewhere on it: not judged
        return composite(layers[1:], base=layers[0])

    def _paragraph_cause(self, paragraph: etree._Element, covered: set[etree._Element]) -> Cause | None:
        anchor = _anchor_of(paragraph)
        shape = self._floats.get(anchor) if anchor is not None else None
        if shape is not None and shape.hidden:
            return ("docx_hidden_drawing", "formatting")
        text = _own_text(paragraph)
        em = self._em(paragraph) * 12700
        if shape is not None and shape.box is not None and not shape.vertical_from_paragraph:
            extent = text_extent(shape.box, len(text), em)
            page = Box(0, 0, self._page.width * EMU_PER_TWIP, self._page.height * EMU_PER_TWIP)
            if outside(extent, page):
                return ("docx_off_page", "position")
            covers = [
                other.box for other in self._floats.values()
                if other is not shape and other.box is not None and other.opaque and not other.hidden
                and not other.vertical_from_paragraph and other.order > shape.order and other.element is not anchor
            ]  # fmt: skip
            if occluded(extent, covers):
                return ("docx_covered", "occlusion")
        if anchor is None:
            column = self._column(paragraph)
            if column is not None:
                extent = text_extent(column, len(text), em / EMU_PER_TWIP)
                if outside(extent, Box(0, extent.top, self._page.width, extent.bottom)):
                    return ("docx_off_page", "position")
        if paragraph in covered:
            return ("docx_covered", "occlusion")
        return None

    def _column(self, paragraph: etree._Element) -> Box | None:
        """The horizontal band (twips) a body paragraph's lines occupy, after its indentation."""
        if _cell_of(paragraph) is not None or self._name != "word/document.xml":
            return None
        ppr = paragraph.find(q("w:pPr"))
        indent = ppr.find(q("w:ind")) if ppr is not None else None
        if indent is None:
            return None
        left = _twips(indent, "left", _twips(indent, "start"))
        right = _twips(indent, "right", _twips(indent, "end"))
        first = _twips(indent, "firstLine") - _twips(indent, "hanging")
        page = self._page
        return Box(page.left + left + min(0.0, first), 0, page.width - page.right - right, 1)

    def _paragraph(self, paragraph: etree._Element, covered: set[etree._Element]) -> list[HiddenSpan]:
        spans: list[HiddenSpan] = []
        cause = self._paragraph_cause(paragraph, covered)
        if cause is not None:
            text = _own_text(paragraph)
            if text:
                spans.append(HiddenSpan(cause[0], cause[1], f"{self._name}:{xml_path(paragraph)}", text))
            return spans
        backdrop = self._backdrop(paragraph)
        current: tuple[str, Principle, list[str], etree._Element] | None = None
        for run in _own_runs(paragraph):
            text = text_of(run, "w:t")
            if not text.strip():
                continue
            style = self._run_style(run, paragraph)
            found = _hidden(style, backdrop)
            if found is None:
                if current is not None:
                    spans.append(self._span(current))
                    current = None
                continue
            if current is not None and current[0] == found[0]:
                current[2].append(text)
            else:
                if current is not None:
                    spans.append(self._span(current))
                current = (found[0], found[1], [text], run)
        if current is not None:
            spans.append(self._span(current))
        return spans

    def _span(self, current: tuple[str, Principle, list[str], etree._Element]) -> HiddenSpan:
        technique, principle, texts, first = current
        return HiddenSpan(technique, principle, f"{self._name}:{xml_path(first)}", " ".join("".join(texts).split()))


def _hidden(style: _RunStyle, backdrop: Rgba | None) -> Cause | None:
    if style.vanish:
        return ("docx_vanish", "formatting")
    em = (style.size or DEFAULT_HALF_POINTS) / 2 * (SCRIPT_SCALE if style.script else 1.0)
    if illegible(em, nominal_advance(em, style.width, style.spacing)):
        return ("docx_tiny_text", "size")
    if style.fill_unknown or backdrop is None:
        return None
    ink = style.fill if style.fill is not None else style.color
    if ink is None:
        return None  # "auto" colour: Word picks black or white against what is behind
    behind = style.shading.over(backdrop) if style.shading is not None else backdrop
    if unreadable([ink], behind):
        return ("docx_low_contrast", "contrast")
    return None


def _table_style(paragraph: etree._Element, styles: _Styles) -> list[etree._Element]:
    """The table style layers (whole table, then its first-row or first-column part) over a cell's paragraph."""
    cell = _cell_of(paragraph)
    if cell is None:
        return []
    row = cell.getparent()
    table = row.getparent() if row is not None else None
    if table is None or row is None:
        return []
    properties = table.find(q("w:tblPr"))
    ident_node = properties.find(q("w:tblStyle")) if properties is not None else None
    ident = ident_node.get(q("w:val")) if ident_node is not None else styles.default_table
    chain = styles.chain(ident)
    if not chain:
        return []
    look = properties.find(q("w:tblLook")) if properties is not None else None
    flags = int(look.get(q("w:val"), "0"), 16) if look is not None and look.get(q("w:val")) else 0
    first_row = _on_flag(look, "firstRow", bool(flags & 0x20))
    first_column = _on_flag(look, "firstColumn", bool(flags & 0x80))
    rows = [child for child in table if child.tag == q("w:tr")]
    cells = [child for child in row if child.tag == q("w:tc")]
    kinds = []
    if first_row and rows and rows[0] is row:
        kinds.append("firstRow")
    if first_column and cells and cells[0] is cell:
        kinds.append("firstCol")
    layers: list[etree._Element] = []
    for style in chain:
        layers.append(style)
        for part in style.iter(q("w:tblStylePr")):
            if part.get(q("w:type")) in kinds:
                layers.append(part)
    return layers


def _on_flag(look: etree._Element | None, name: str, default: bool) -> bool:
    if look is None or look.get(q(f"w:{name}")) is None:
        return default
    return look.get(q(f"w:{name}")) in ("1", "true", "on")


def _own_runs(paragraph: etree._Element) -> list[etree._Element]:
    """The paragraph's shown runs: not those of a text box inside it, not deleted ones."""
    return [
        run for run in paragraph.iter(q("w:r"))
        if _owner(run) is paragraph and not _inside(run, (q("w:del"), q("w:moveFrom"))) and not _inside_fallback(run)
    ]  # fmt: skip


def _own_text(paragraph: etree._Element) -> str:
    return " ".join("".join(text_of(run, "w:t") for run in _own_runs(paragraph)).split())


def _owner(run: etree._Element) -> etree._Element | None:
    node = run.getparent()
    while node is not None and node.tag != q("w:p"):
        node = node.getparent()
    return node


def _inside(run: etree._Element, tags: tuple[str, ...]) -> bool:
    node = run.getparent()
    while node is not None and node.tag != q("w:p"):
        if node.tag in tags:
            return True
        node = node.getparent()
    return False


def _inside_fallback(element: etree._Element) -> bool:
    """Inside `mc:Fallback`: the VML copy Word keeps of a drawing it also stores as `mc:Choice`."""
    return any(node.tag == f"{{{MC}}}Fallback" for node in element.iterancestors())


def _vml_behind(shape: etree._Element) -> bool:
    """A legacy VML shape with a fill or picture placed behind the text (negative z-index)."""
    style = shape.get("style", "").replace(" ", "").lower()
    filled = shape.get("filled", "t") not in ("f", "false") and (
        shape.get("fillcolor") is not None or shape.find(f"{{{VML}}}imagedata") is not None
    )
    return "z-index:-" in style and filled


def _is_separator(paragraph: etree._Element) -> bool:
    note = next((n for n in paragraph.iterancestors() if n.tag in (q("w:footnote"), q("w:endnote"))), None)
    return note is not None and note.get(q("w:type")) in ("separator", "continuationSeparator", "continuationNotice")


def _anchor_of(paragraph: etree._Element) -> etree._Element | None:
    """The floating drawing a text-box paragraph belongs to, if any."""
    return next((node for node in paragraph.iterancestors() if node.tag == f"{{{WP}}}anchor"), None)


def _paragraph_of(anchor: etree._Element) -> etree._Element | None:
    """The paragraph a floating drawing is anchored in."""
    return next((node for node in anchor.iterancestors() if node.tag == q("w:p")), None)


def _cell_of(paragraph: etree._Element) -> etree._Element | None:
    for node in paragraph.iterancestors():
        if node.tag == q("w:tc"):
            return node
        if node.tag == f"{{{WP}}}anchor":
            return None
    return None
