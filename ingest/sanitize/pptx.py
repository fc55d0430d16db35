"""PPTX: what an audience of the slide show cannot see.

Each slide is modelled as PowerPoint paints it: the background (slide, layout or master), the layout's
and master's shapes, then the slide's shapes in z-order, groups resolved through their transforms and
placeholders through the layout and master they inherit their box from. On that model the principles
of perception.py apply: FORMATTING (hidden slides and shapes, speaker notes), POSITION (text mostly off
the slide), OCCLUSION (text mostly under an opaque shape or picture later in z-order), SIZE (an em
under the legibility threshold after autofit's font scale, letters squeezed by negative spacing) and
CONTRAST (the run's colour, theme colours and their modifiers and alpha resolved, against the fills
really behind it). Where text lies inside its box is estimated (perception.text_extent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from ingest.sanitize.colors import WHITE, Rgba, composite
from ingest.sanitize.drawingml import Paint, Theme, Transform, group_transform, picture_opaque, xfrm_box
from ingest.sanitize.model import HiddenSpan
from ingest.sanitize.ooxml import Package, q, text_of
from ingest.sanitize.perception import (
    Box,
    Principle,
    covered_fraction,
    illegible,
    nominal_advance,
    occluded,
    outside,
    text_extent,
    unreadable,
)

EMU_PER_PT = 12700
DEFAULT_SIZE = 1800  # hundredths of a point: PowerPoint's size when nothing in the cascade sets one
_INSETS = (91440, 45720, 91440, 45720)  # left, top, right, bottom text insets a bodyPr does not set
_ALIGN = {"ctr": "center", "r": "end", "just": "start", "dist": "start"}
_ANCHOR = {"ctr": "center", "b": "end"}


@dataclass
class _Item:
    """One thing painted on a slide, in z-order."""

    element: etree._Element
    box: Box | None
    paint: Paint | None  # None: draws nothing over what is behind it (no fill, a line, a chart)
    hidden: bool
    own: bool  # a shape of the slide itself (layout and master shapes only make the backdrop)
    group_paint: Paint | None = None


@dataclass
class _Defaults:
    """What a shape's text inherits when its runs say nothing: size (hundredths of a point) and colour."""

    size: int = DEFAULT_SIZE
    fill: Paint | None = None


@dataclass
class _Context:
    package: Package
    part: str
    theme: Theme
    layout: etree._Element | None
    master: etree._Element | None
    defaults: dict[str, _Defaults] = field(default_factory=dict)


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
            default_style = presentation.find(q("p:defaultTextStyle"))
            for number, slide_id in enumerate(slide_ids if slide_ids is not None else [], start=1):
                part = targets.get(slide_id.get(q("r:id"), ""), "")
                slide = package.xml(part)
                if slide is None:
                    continue
                context = _context(package, part, slide, default_style)
                spans.extend(_Slide(context, slide, number, Box(0, 0, width, height)).scan())
            return spans


def _context(package: Package, part: str, slide: etree._Element, default_style: etree._Element | None) -> _Context:
    layouts = package.related_by_type(part, "/slideLayout")
    layout = package.xml(layouts[0]) if layouts else None
    masters = package.related_by_type(layouts[0], "/slideMaster") if layouts else []
    master = package.xml(masters[0]) if masters else None
    themes = package.related_by_type(masters[0], "/theme") if masters else []
    theme = Theme(package.xml(themes[0]) if themes else None)
    theme = theme.mapped(master.find(q("p:clrMap")) if master is not None else None)
    override = slide.find(f"{q('p:clrMapOvr')}/{q('a:overrideClrMapping')}")
    theme = theme.mapped(override)
    other = _style_defaults(default_style, _Defaults(), theme)
    defaults = {"title": other, "body": other, "other": other}
    styles = master.find(q("p:txStyles")) if master is not None else None
    if styles is not None:
        for kind, tag in (("title", "p:titleStyle"), ("body", "p:bodyStyle"), ("other", "p:otherStyle")):
            defaults[kind] = _style_defaults(styles.find(q(tag)), other, theme)
    return _Context(package, part, theme, layout, master, defaults)


def _style_defaults(style: etree._Element | None, base: _Defaults, theme: Theme) -> _Defaults:
    """The first level's `defRPr` of a text style list (lstStyle, txStyles, defaultTextStyle) over `base`."""
    properties = style.find(f"{q('a:lvl1pPr')}/{q('a:defRPr')}") if style is not None else None
    if properties is None:
        return base
    size = properties.get("sz", "")
    fill = theme.paint(properties)
    return _Defaults(int(size) if size.isdigit() else base.size, fill if fill is not None else base.fill)


class _Slide:
    def __init__(self, context: _Context, slide: etree._Element, number: int, area: Box) -> None:
        self._context = context
        self._slide = slide
        self._number = number
        self._area = area
        self._where = f"slide {number} ({context.part})"

    def scan(self) -> list[HiddenSpan]:
        context = self._context
        items: list[_Item] = []
        show_master = self._slide.find(q("p:cSld")) is not None and self._slide.get("showMasterSp") != "0"
        for root, own in ((context.master, False), (context.layout, False), (self._slide, True)):
            if root is None or (not own and not show_master):
                continue
            tree = root.find(f"{q('p:cSld')}/{q('p:spTree')}")
            if tree is not None:
                self._flatten(tree, Transform(), False, own, None, items)
        hidden_slide = self._slide.get("show") in ("0", "false")
        spans: list[HiddenSpan] = []
        background = self._background()
        for z, item in enumerate(items):
            if not item.own:
                continue
            paragraphs = list(item.element.iter(q("a:p")))
            if not any(text_of(p, "a:t").strip() for p in paragraphs):
                continue
            cause = self._shape_cause(item, items[z + 1 :], hidden_slide)
            where = f"{self._where}, shape {_name(item.element)!r}"
            if cause is not None:
                for paragraph in paragraphs:
                    text = " ".join(text_of(paragraph, "a:t").split())
                    if text:
                        spans.append(HiddenSpan(cause[0], cause[1], where, text, page=self._number))
                continue
            spans.extend(self._runs(item, items[:z], background, where))
        spans.extend(self._notes())
        return spans

    # ------------------------------------------------------------------------------------ the model

    def _flatten(
        self,
        tree: etree._Element,
        transform: Transform,
        hidden: bool,
        own: bool,
        group_paint: Paint | None,
        items: list[_Item],
    ) -> None:
        theme = self._context.theme
        for child in tree:
            kind = etree.QName(child).localname
            name = next(child.iter(q("p:cNvPr")), None)
            is_hidden = hidden or (name is not None and name.get("hidden") in ("1", "true"))
            if kind == "grpSp":
                properties = child.find(q("p:grpSpPr"))
                xfrm = properties.find(q("a:xfrm")) if properties is not None else None
                paint = theme.paint(properties) if properties is not None else None
                self._flatten(child, group_transform(xfrm).then(transform), is_hidden, own, paint, items)
                continue
            if kind not in ("sp", "pic", "graphicFrame", "cxnSp"):
                continue
            if not own and child.find(f"{q('p:nvSpPr')}/{q('p:nvPr')}/{q('p:ph')}") is not None:
                continue  # a layout's placeholder is only a template for the slide's: it is not shown
            box = self._box(child)
            paint = self._paint(child, kind, group_paint)
            items.append(_Item(child, transform.apply(box) if box is not None else None, paint, is_hidden, own))

    def _box(self, shape: etree._Element) -> Box | None:
        properties = shape.find(q("p:spPr"))
        xfrm = properties.find(q("a:xfrm")) if properties is not None else shape.find(q("p:xfrm"))
        box = xfrm_box(xfrm)
        if box is not None:
            return box
        placeholder = next(shape.iter(q("p:ph")), None)
        if placeholder is None:
            return None
        for root in (self._context.layout, self._context.master):
            template = _placeholder(root, placeholder)
            if template is not None:
                found = xfrm_box(template.find(f"{q('p:spPr')}/{q('a:xfrm')}"))
                if found is not None:
                    return found
        return None

    def _paint(self, shape: etree._Element, kind: str, group_paint: Paint | None) -> Paint | None:
        theme = self._context.theme
        if kind == "pic":
            return Paint(None, opaque=self._picture_opaque(shape))
        if kind != "sp":
            return None
        declared = theme.paint(shape.find(q("p:spPr")))
        if declared is not None:
            if declared.color is None and not declared.opaque and group_paint is not None:
                return group_paint  # grpFill: the group's fill
            return declared
        reference = shape.find(f"{q('p:style')}/{q('a:fillRef')}")
        if reference is not None and reference.get("idx", "0") not in ("0", ""):
            color = theme.color(reference)  # a theme fill style in the shape's style colour
            return Paint(color, opaque=color is not None and color.a >= 0.999)
        return None

    def _picture_opaque(self, picture: etree._Element) -> bool:
        return picture_opaque(picture, self._context.package, self._context.part)

    def _background(self) -> list[Paint]:
        theme = self._context.theme
        for root in (self._slide, self._context.layout, self._context.master):
            if root is None:
                continue
            found = theme.background(root.find(f"{q('p:cSld')}/{q('p:bg')}"))
            if found is not None:
                return [found]
        return [Paint(WHITE, opaque=True)]

    # ---------------------------------------------------------------------------- the principles

    def _extent(self, item: _Item) -> Box | None:
        """Where the shape's text most likely lies (EMU), from its box, insets, alignment and anchor."""
        if item.box is None:
            return None
        body = item.element.find(f"{q('p:txBody')}/{q('a:bodyPr')}")
        insets = [
            int(body.get(n, d)) if body is not None else d
            for n, d in zip(("lIns", "tIns", "rIns", "bIns"), _INSETS, strict=True)
        ]
        inner = Box(
            item.box.left + insets[0], item.box.top + insets[1], item.box.right - insets[2], item.box.bottom - insets[3]
        )
        if inner.right <= inner.left or inner.bottom <= inner.top:
            inner = item.box
        paragraphs = [" ".join(text_of(p, "a:t").split()) for p in item.element.iter(q("a:p"))]
        chars = sum(len(text) for text in paragraphs)
        em = max((self._em(run, item) for run in item.element.iter(q("a:r"))), default=DEFAULT_SIZE / 100) * EMU_PER_PT
        first = item.element.find(f".//{q('a:pPr')}")
        align = _ALIGN.get(first.get("algn", "l") if first is not None else "l", "start")
        anchor = _ANCHOR.get(body.get("anchor", "t") if body is not None else "t", "start")
        wrap = body is None or body.get("wrap") != "none"
        return text_extent(inner, chars, em, align=align, anchor=anchor, wrap=wrap)  # type: ignore[arg-type]

    def _shape_cause(self, item: _Item, above: list[_Item], hidden_slide: bool) -> tuple[str, Principle] | None:
        if hidden_slide:
            return ("pptx_hidden_slide", "formatting")
        if item.hidden:
            return ("pptx_hidden_shape", "formatting")
        extent = self._extent(item)
        if extent is None:
            return None
        if outside(extent, self._area):
            return ("pptx_off_slide", "position")
        covers = [
            cover.box
            for cover in above
            if cover.box is not None and not cover.hidden and cover.paint is not None and cover.paint.opaque
        ]
        if occluded(extent, covers):
            return ("pptx_covered", "occlusion")
        return None

    def _defaults(self, item: _Item) -> _Defaults:
        """The size and colour a shape's runs inherit: its own list style, its shape style's font colour,
        then the master's text style for its kind of placeholder (or the presentation's default)."""
        placeholder = next(item.element.iter(q("p:ph")), None)
        kind = "other"
        if placeholder is not None:
            kind = "title" if placeholder.get("type", "body") in ("title", "ctrTitle") else "body"
        base = self._context.defaults[kind]
        font = item.element.find(f"{q('p:style')}/{q('a:fontRef')}")
        color = self._context.theme.color(font)
        if color is not None:
            base = _Defaults(base.size, Paint(color, opaque=color.a >= 0.999))
        return _style_defaults(item.element.find(f"{q('p:txBody')}/{q('a:lstStyle')}"), base, self._context.theme)

    def _em(self, run: etree._Element, item: _Item) -> float:
        """The run's size as shown (points), after autofit shrinks the text to fit its box."""
        properties = run.find(q("a:rPr"))
        paragraph_defaults = (
            run.getparent().find(f"{q('a:pPr')}/{q('a:defRPr')}") if run.getparent() is not None else None
        )
        size = next(
            (
                int(p.get("sz", ""))
                for p in (properties, paragraph_defaults)
                if p is not None and p.get("sz", "").isdigit()
            ),
            self._defaults(item).size,
        )
        autofit = item.element.find(f"{q('p:txBody')}/{q('a:bodyPr')}/{q('a:normAutofit')}")
        scale = int(autofit.get("fontScale", "100000")) / 100000 if autofit is not None else 1.0
        return size / 100 * scale

    def _runs(self, item: _Item, below: list[_Item], background: list[Paint], where: str) -> list[HiddenSpan]:
        spans: list[HiddenSpan] = []
        extent = self._extent(item)
        backdrop = self._backdrop(item, below, background, extent)
        defaults = self._defaults(item)
        for paragraph in item.element.iter(q("a:p")):
            current: tuple[str, Principle, list[str]] | None = None
            behind = self._cell_backdrop(paragraph, backdrop)
            for run in paragraph.iter(q("a:r")):
                text = text_of(run, "a:t")
                if not text.strip():
                    continue
                cause = self._run_cause(run, item, behind, defaults)
                if cause is None:
                    if current is not None:
                        spans.append(_span(current, where, self._number))
                        current = None
                    continue
                if current is not None and current[0] == cause[0]:
                    current[2].append(text)
                else:
                    if current is not None:
                        spans.append(_span(current, where, self._number))
                    current = (cause[0], cause[1], [text])
            if current is not None:
                spans.append(_span(current, where, self._number))
        return spans

    def _cell_backdrop(self, paragraph: etree._Element, backdrop: Rgba | None) -> Rgba | None:
        """A table cell's own fill over the backdrop; None for a cell filled by the table style (not read)."""
        cell = next((node for node in paragraph.iterancestors() if node.tag == q("a:tc")), None)
        if cell is None:
            return backdrop
        fill = self._context.theme.paint(cell.find(q("a:tcPr")))
        if fill is None or fill.color is None:
            return None if fill is None or fill.opaque else backdrop
        return fill.color.over(backdrop) if backdrop is not None else None

    def _run_cause(
        self, run: etree._Element, item: _Item, backdrop: Rgba | None, defaults: _Defaults
    ) -> tuple[str, Principle] | None:
        properties = run.find(q("a:rPr"))
        em = self._em(run, item)
        spacing = (
            int(properties.get("spc", "0")) / 100
            if properties is not None and properties.get("spc", "0").lstrip("-").isdigit()
            else 0.0
        )
        if illegible(em, nominal_advance(em, 1.0, spacing)):
            return ("pptx_tiny_text", "size")
        highlight = self._context.theme.color(properties.find(q("a:highlight"))) if properties is not None else None
        behind = highlight.over(backdrop) if highlight is not None and backdrop is not None else backdrop
        if behind is None:
            return None
        inks = self._inks(run, properties, defaults)
        if inks is not None and unreadable(inks, behind):
            return ("pptx_low_contrast", "contrast")
        return None

    def _inks(self, run: etree._Element, properties: etree._Element | None, defaults: _Defaults) -> list[Rgba] | None:
        """The colours a run paints with (fill and outline), None when one cannot be known (gradient)."""
        theme = self._context.theme
        paragraph_defaults = (
            run.getparent().find(f"{q('a:pPr')}/{q('a:defRPr')}") if run.getparent() is not None else None
        )
        fill: Paint | None = None
        for source in (properties, paragraph_defaults):
            fill = theme.paint(source) if source is not None else None
            if fill is not None:
                break
        if fill is None:
            fill = defaults.fill
        if fill is None:
            color = theme.scheme("tx1")
            fill = Paint(color, opaque=True) if color is not None else None
        if fill is None or fill.color is None:
            return None
        inks = [fill.color]
        outline = properties.find(q("a:ln")) if properties is not None else None
        if outline is not None and int(outline.get("w", "12700") or 0) > 0:
            stroke = theme.paint(outline)
            if stroke is not None and stroke.color is not None:
                inks.append(stroke.color)
        return inks

    def _backdrop(self, item: _Item, below: list[_Item], background: list[Paint], extent: Box | None) -> Rgba | None:
        """What is really behind the shape's text: background, the fills below that hold most of the text,
        the shape's own fill; None when a picture or gradient makes it unknowable."""
        layers = list(background)
        for other in below:
            if other.hidden or other.paint is None or other.box is None or extent is None:
                continue
            share = covered_fraction(extent, [other.box])
            if other.paint.color is None and other.paint.opaque and share > 0:
                return None  # a picture or gradient under part of the text: what the text sits on varies
            if share > 0.5:
                layers.append(other.paint)
        if item.paint is not None:
            layers.append(item.paint)
        known: list[Rgba] = []
        for layer in layers:
            if layer.color is None:
                if layer.opaque:
                    return None  # a picture or gradient lies right behind the text
                continue
            if layer.color.a >= 0.999:
                known = [layer.color]
            else:
                known.append(layer.color)
        return composite(known, base=WHITE)

    def _notes(self) -> list[HiddenSpan]:
        spans: list[HiddenSpan] = []
        for notes_part in self._context.package.related_by_type(self._context.part, "/notesSlide"):
            notes = self._context.package.xml(notes_part)
            if notes is None:
                continue
            for shape in notes.iter(q("p:sp")):
                placeholder = next(shape.iter(q("p:ph")), None)
                if placeholder is None or placeholder.get("type") != "body":
                    continue
                text = " ".join(text_of(shape, "a:t").split())
                if text:
                    where = f"slide {self._number} notes ({notes_part})"
                    spans.append(
                        HiddenSpan("pptx_speaker_notes", "formatting", where, text, page=self._number, body=False)
                    )
        return spans


def _span(current: tuple[str, Principle, list[str]], where: str, page: int) -> HiddenSpan:
    technique, principle, texts = current
    return HiddenSpan(technique, principle, where, " ".join("".join(texts).split()), page=page)


def _name(shape: etree._Element) -> str:
    node = next(shape.iter(q("p:cNvPr")), None)
    return node.get("name", "") if node is not None else ""


def _placeholder(root: etree._Element | None, placeholder: etree._Element) -> etree._Element | None:
    """The layout's or master's shape a slide placeholder inherits from: same index, else same type."""
    if root is None:
        return None
    index, kind = placeholder.get("idx"), placeholder.get("type", "body")
    by_type = None
    for shape in root.iter(q("p:sp")):
        template = next(shape.iter(q("p:ph")), None)
        if template is None:
            continue
        if index is not None and template.get("idx") == index:
            return shape
        if by_type is None and template.get("type", "body") == kind:
            by_type = shape
    return by_type
