"""HTML (and the HTML bodies of emails and rendered Markdown): text a reader of the page cannot see.

The DOM is walked with each element's computed style (stylesheets with media queries evaluated for a
default screen, the cascade with specificity and `!important`, inline styles, custom properties,
presentational attributes, inheritance) and an estimated layout: boxes from offsets, sizes, margins,
transforms and the flow of text, clip areas from `overflow`, `clip` and `clip-path`. On that, the
principles of perception.py, the same for every text node:

- FORMATTING: `display:none`, `visibility:hidden`, `content-visibility:hidden`, the `hidden`
  attribute, `<template>`, `<noscript>`, a closed `<dialog>`, comments, instruction-like `alt`/`title`;
- SIZE: the em a reader sees (font size × transforms × zoom) under the legibility threshold, letters
  squeezed together, a clip box or a box with hidden overflow too small for a glyph (this includes
  the "screen-reader only" pattern: it is invisible to a sighted reader), blur wider than the glyphs;
- POSITION: the first line mostly outside the page (left of or above its origin, beyond the viewport
  width, a fixed box outside the window) or outside the box that clips it;
- OCCLUSION: the first line mostly under an opaque absolutely positioned box (or ::before/::after)
  painted above it;
- CONTRAST: fill, outline and shadow colours, alpha and opacity composited, against the backgrounds
  really behind the text. An unknown backdrop (a picture, a gradient) is not judged.

Without a layout engine the geometry is an estimate (README.md says where a browser would help)."""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.element import CData, Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

from access_index.errors import SanitizeError
from ingest.sanitize.colors import BLACK, WHITE, Rgba, parse_css_color
from ingest.sanitize.css import (
    ROOT_FONT_PX,
    length_px,
    number,
    resolve_variables,
    split_top_level,
)
from ingest.sanitize.html_cascade import Cascade
from ingest.sanitize.html_layout import (
    CANVAS,
    LINE_HEIGHT,
    VIEWPORT,
    Sizes,
    background_color,
    offsets,
    size_of,
    transformed,
)
from ingest.sanitize.instructions import InstructionDetector
from ingest.sanitize.model import HiddenSpan
from ingest.sanitize.perception import (
    AVERAGE_ADVANCE_EM,
    MIN_ADVANCE_PT,
    MIN_LEGIBLE_PT,
    PX_PER_PT,
    Box,
    Principle,
    illegible,
    nominal_advance,
    occluded,
    outside,
    unreadable,
)

PREHEADER_MAX_CHARS = 150  # inboxes show about this much of a preheader
_NOT_CONTENT = frozenset({"script", "style", "head", "meta", "link", "title", "svg", "math", "iframe", "object"})
_HIDDEN_TAGS = {"template": "html_template", "noscript": "html_noscript"}
_PICTURES = frozenset({"img", "picture", "video", "canvas", "svg", "object", "embed", "iframe"})
_INHERITED = frozenset(
    {
        "color", "font-size", "visibility", "letter-spacing", "-webkit-text-fill-color", "-webkit-text-stroke",
        "-webkit-text-stroke-width", "-webkit-text-stroke-color", "text-shadow", "text-indent", "line-height",
    }
)  # fmt: skip


@dataclass(frozen=True)
class _Paint:
    """Where an element paints in the stacking order: positioned or not, its z-index, its tree order."""

    positioned: bool = False
    z: int = 0
    order: int = 0

    def above(self, other: _Paint) -> bool:
        """Is something painted at `self` on top of something painted at `other`?"""
        if self.positioned != other.positioned:
            return self.positioned if self.z >= 0 and other.z >= 0 else self.z > other.z
        return (self.z, self.order) > (other.z, other.order)


@dataclass(frozen=True)
class _State:
    hidden: tuple[str, Principle] | None  # display:none and friends: no descendant can undo it
    origin: Tag | None
    visibility_hidden: bool
    visibility_origin: Tag | None
    font_px: float
    scale_x: float
    scale_y: float
    scale_origin: Tag | None
    letter_spacing: float
    opacity: float
    opacity_origin: Tag | None
    blur: float
    color: Rgba | None  # None: a colour this module cannot read
    color_origin: Tag | None
    text_fill: Rgba | None  # -webkit-text-fill-color (overrides color for the glyph fill)
    gradient_text: bool  # background-clip:text: the glyphs are painted with the background
    stroke: Rgba | None
    shadows: tuple[Rgba, ...]
    backdrop: Rgba | None  # the backgrounds of the element and its ancestors; None: a picture or gradient
    box: Box
    clip: Box
    clip_origin: Tag | None
    containing: Box  # the containing block absolutely positioned descendants are placed in
    containing_clip: Box
    moved_origin: Tag | None  # the nearest element whose offset or transform moved the box
    paint: _Paint
    positioned_subtree: bool  # inside an absolutely positioned or fixed box
    font_origin: Tag | None = None
    container: Tag | None = None  # the element absolutely positioned descendants are placed in (None: the page)
    custom: tuple[tuple[str, str], ...] = ()
    indent: float = 0.0


@dataclass
class _Text:
    text: str
    state: _State
    extent: Box  # its first line (a long text clipped after some lines still shows)
    order: int
    ancestors: frozenset[int]  # id() of every element it sits in


@dataclass
class _Cover:
    """An opaque positioned box; its size may only be known once its containing block's content is laid out."""

    tag: Tag
    color: Rgba
    paint: _Paint
    container: int  # id() of the containing block's element (0: the page)
    offsets: dict[str, float | None]
    pseudo: bool = False  # a ::before/::after box: it paints over its own element's content
    box: Box | None = None

    def hides(self, item: _Text) -> bool:
        """Could this cover hide the text (a box never hides the content it holds, a pseudo-element can)?"""
        return self.box is not None and (self.pseudo or id(self.tag) not in item.ancestors)


def _selector(tag: Tag) -> str:
    """A CSS selector path a human can paste into the browser's inspector."""
    parts: list[str] = []
    node: Tag | None = tag
    while node is not None and node.name not in ("[document]", None):
        part = node.name
        ident = node.get("id")
        if isinstance(ident, str) and ident:
            parts.append(f"{part}#{ident}")
            break
        parent = node.parent
        if isinstance(parent, Tag):
            same = list(parent.find_all(node.name, recursive=False))
            if len(same) > 1:
                part += f":nth-of-type({same.index(node) + 1})"
        parts.append(part)
        node = parent if isinstance(parent, Tag) else None
    return " > ".join(reversed(parts))


class HtmlScanner:
    """Hidden text of an HTML file; `email=True` keeps a leading hidden preheader (inbox preview text)."""

    def __init__(self, detector: InstructionDetector, email: bool = False) -> None:
        self._detector = detector
        self._email = email

    def scan(self, path: Path) -> list[HiddenSpan]:
        """Hidden spans of the HTML file at `path`."""
        try:
            markup = path.read_bytes()
        except OSError as error:
            raise SanitizeError(f"{path}: cannot read the file: {error}") from error
        return self.scan_markup(markup)

    def scan_markup(self, markup: str | bytes) -> list[HiddenSpan]:
        """Hidden spans of an HTML string."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(markup, "lxml")
        return _Walk(soup, self._detector, self._email).run()


class _Walk:
    def __init__(self, soup: BeautifulSoup, detector: InstructionDetector, email: bool) -> None:
        self._soup = soup
        self._detector = detector
        self._email = email
        self._cascade = Cascade(soup)
        self._pictures: dict[int, bool] = {}  # whether a block holds pictures, by id() of the block
        self._texts: list[_Text] = []
        self._other: list[tuple[int, HiddenSpan]] = []  # comments and attribute text, by position
        self._covers: list[_Cover] = []
        self._blocks: dict[int, Box] = {}  # positioned elements' boxes, heights from their content, by id()
        self._order = 0
        self._flow = [0.0]  # the flow cursor (y, px) of each formatting context being laid out

    def run(self) -> list[HiddenSpan]:
        root = _State(
            hidden=None, origin=None, visibility_hidden=False, visibility_origin=None, font_px=ROOT_FONT_PX,
            scale_x=1.0, scale_y=1.0, scale_origin=None, letter_spacing=0.0, opacity=1.0, opacity_origin=None,
            blur=0.0, color=BLACK, color_origin=None, text_fill=None, gradient_text=False, stroke=None, shadows=(),
            backdrop=WHITE, box=VIEWPORT, clip=CANVAS, clip_origin=None, containing=VIEWPORT, containing_clip=CANVAS,
            moved_origin=None, paint=_Paint(), positioned_subtree=False,
        )  # fmt: skip
        self._visit(self._soup, root)
        self._place_covers()
        return self._spans()

    # --------------------------------------------------------------------------- computed style

    def _state(self, tag: Tag, parent: _State) -> _State:
        style = self._cascade.declarations(tag)
        custom = dict(parent.custom)
        custom.update({name: value for name, value in style.items() if name.startswith("--")})
        style = {name: resolve_variables(value, custom) for name, value in style.items() if not name.startswith("--")}
        for name, value in list(style.items()):
            if value in ("inherit", "unset") and name not in _INHERITED:
                del style[name]
        state = replace(parent, custom=tuple(custom.items()), indent=parent.indent)
        state = self._font(state, style, parent, tag)
        state = self._effects(state, style, tag)
        state = self._colors(state, style, tag)
        state = self._geometry(state, style, parent, tag)
        if state.hidden is None:
            hiding = self._formatting(tag, style)
            if hiding is not None:
                state = replace(state, hidden=hiding, origin=tag)
        visibility = style.get("visibility")
        if visibility in ("hidden", "collapse"):
            state = replace(state, visibility_hidden=True, visibility_origin=tag)
        elif visibility == "visible":
            state = replace(state, visibility_hidden=False, visibility_origin=None)
        return state

    @staticmethod
    def _formatting(tag: Tag, style: dict[str, str]) -> tuple[str, Principle] | None:
        if tag.name in _HIDDEN_TAGS:
            return (_HIDDEN_TAGS[tag.name], "formatting")
        if tag.name == "dialog" and not tag.has_attr("open"):
            return ("html_closed_dialog", "formatting")
        if tag.has_attr("hidden"):
            return ("html_hidden_attribute", "formatting")
        if style.get("display", "").startswith("none"):
            return ("html_display_none", "formatting")
        if style.get("content-visibility", "") == "hidden":
            return ("html_content_visibility", "formatting")
        return None

    @staticmethod
    def _font(state: _State, style: dict[str, str], parent: _State, tag: Tag) -> _State:
        font = style.get("font-size")
        if font is not None and font not in ("inherit", "unset"):
            size = length_px(font, parent.font_px)
            if font == "initial":
                size = ROOT_FONT_PX
            if size is not None and size >= 0:
                state = replace(state, font_px=size, font_origin=tag)
        spacing = style.get("letter-spacing")
        if spacing is not None:
            value = 0.0 if spacing == "normal" else length_px(spacing, state.font_px)
            if value is not None:
                state = replace(state, letter_spacing=value)
        zoom = style.get("zoom")
        if zoom is not None and zoom != "normal":
            factor = number(zoom)
            if factor is not None and factor >= 0:
                state = replace(state, scale_x=state.scale_x * factor, scale_y=state.scale_y * factor, scale_origin=tag)
        indent = style.get("text-indent")
        if indent is not None:
            value = length_px(indent, state.font_px, percent_of=state.box.right - state.box.left)
            if value is not None:
                state = replace(state, indent=value, moved_origin=tag if value else state.moved_origin)
        return state

    @staticmethod
    def _colors(state: _State, style: dict[str, str], tag: Tag) -> _State:
        color = style.get("color")
        if color is not None and color not in ("inherit", "unset", "currentcolor"):
            state = replace(state, color=BLACK if color == "initial" else parse_css_color(color), color_origin=tag)
        fill = style.get("-webkit-text-fill-color")
        if fill is not None:
            state = replace(
                state, text_fill=None if fill == "currentcolor" else parse_css_color(fill), color_origin=tag
            )
        clip_text = style.get("-webkit-background-clip", style.get("background-clip", ""))
        background = style.get("background-color", "")
        shorthand = style.get("background", "")
        image = bool(re.search(r"url\(|gradient\(|image\(", shorthand + " " + style.get("background-image", "")))
        if "text" in clip_text and image:
            state = replace(state, gradient_text=True)
        elif image:
            state = replace(state, backdrop=None)  # a picture or gradient behind the text: no single colour
        else:
            tokens = split_top_level(shorthand) if shorthand else []
            candidates = [background, *tokens]
            found = next((c for t in candidates if t and (c := parse_css_color(t)) is not None), None)
            if found is not None and found.a > 0 and state.backdrop is not None:
                state = replace(state, backdrop=found.faded(state.opacity).over(state.backdrop))
        stroke = style.get("-webkit-text-stroke", "")
        width = style.get("-webkit-text-stroke-width", stroke.split()[0] if stroke.split() else "")
        stroke_color = style.get("-webkit-text-stroke-color", stroke.split()[-1] if len(stroke.split()) > 1 else "")
        if stroke or "-webkit-text-stroke-width" in style:
            thickness = length_px(width, state.font_px) if width else None
            ink = parse_css_color(stroke_color) if stroke_color else state.color
            state = replace(state, stroke=ink if thickness and thickness > 0 else None)
        shadow = style.get("text-shadow")
        if shadow is not None:
            inks = tuple(
                c
                for part in split_top_level(shadow, ",")
                for token in split_top_level(part)
                if (c := parse_css_color(token)) is not None
            )
            bare_shadows = [
                p
                for p in split_top_level(shadow, ",")
                if p != "none" and not any(parse_css_color(t) for t in split_top_level(p))
            ]
            state = replace(state, shadows=inks + ((state.color,) if bare_shadows and state.color is not None else ()))
        return state

    @staticmethod
    def _effects(state: _State, style: dict[str, str], tag: Tag) -> _State:
        opacity = number(style.get("opacity", ""))
        if opacity is not None:
            state = replace(state, opacity=state.opacity * max(0.0, min(1.0, opacity)), opacity_origin=tag)
        for name, argument in re.findall(r"(opacity|blur)\(([^)]*)\)", style.get("filter", "")):
            if name == "opacity":
                factor = number(argument) if argument else 1.0
                if factor is not None:
                    state = replace(state, opacity=state.opacity * max(0.0, min(1.0, factor)), opacity_origin=tag)
            else:
                radius = length_px(argument or "0", state.font_px)
                if radius is not None:
                    state = replace(state, blur=max(state.blur, radius), opacity_origin=tag)
        return state

    # -------------------------------------------------------------------------------- geometry

    def _geometry(self, state: _State, style: dict[str, str], parent: _State, tag: Tag) -> _State:
        """The element's box, stacking, containing block and clip, from its position and sizes."""
        position = style.get("position", "static")
        block = parent.containing if position == "absolute" else VIEWPORT if position == "fixed" else parent.box
        sizes = Sizes.read(style, state.font_px, block, parent.box.right - parent.box.left)
        moved = state.moved_origin
        if position in ("absolute", "fixed"):
            box = sizes.absolute_box(block, LINE_HEIGHT * state.font_px, (parent.box.left, self._flow[-1]))
            clip = VIEWPORT if position == "fixed" else parent.containing_clip
            moved = tag if sizes.offset_given else moved
        else:
            box, shifted = sizes.flow_box(parent.box, self._flow[-1], relative=position in ("relative", "sticky"))
            clip = state.clip
            moved = tag if shifted else moved
        box, scale_x, scale_y, turned_away, translated = transformed(
            box, style, state.font_px, state.scale_x, state.scale_y
        )
        moved = tag if translated else moved
        if (scale_x, scale_y) != (state.scale_x, state.scale_y):
            state = replace(state, scale_x=scale_x, scale_y=scale_y, scale_origin=tag)
        if turned_away and state.hidden is None:
            state = replace(state, hidden=("html_backface_hidden", "formatting"), origin=tag)
        own_clip = sizes.clip_box(style, box, position in ("absolute", "fixed"))
        clip_origin = state.clip_origin
        if own_clip is not None:
            clip, clip_origin = clip.intersection(own_clip), tag
        state = replace(
            state, box=box, clip=clip, clip_origin=clip_origin, moved_origin=moved,
            positioned_subtree=state.positioned_subtree or position in ("absolute", "fixed"),
        )  # fmt: skip
        if position not in ("absolute", "fixed", "relative", "sticky"):
            return state
        z_text = style.get("z-index", "auto")
        z = int(z_text) if re.fullmatch(r"-?\d+", z_text) else parent.paint.z
        return replace(state, paint=_Paint(True, z, self._order), containing=box, containing_clip=clip, container=tag)

    # ------------------------------------------------------------------------------------ walk

    def _visit(self, node: Tag, state: _State, ancestors: frozenset[int] = frozenset()) -> None:
        for child in list(node.children):
            if isinstance(child, Comment):
                self._comment(child, node)
            elif isinstance(child, CData | Declaration | Doctype | ProcessingInstruction):
                continue
            elif isinstance(child, NavigableString):
                self._text(str(child), state, ancestors)
            elif isinstance(child, Tag):
                if child.name in _NOT_CONTENT:
                    continue
                self._attributes(child)
                self._order += 1
                child_state = self._state(child, state)
                position = self._cascade.declarations(child).get("position", "static")
                out_of_flow = position in ("absolute", "fixed")
                if out_of_flow:
                    self._flow.append(child_state.box.top)
                start = self._flow[-1]
                self._cover(child, child_state)
                pseudo = self._cascade.pseudo_elements(child)
                for kind, declarations in pseudo:
                    if kind == "before":
                        self._pseudo_cover(child, child_state, declarations)
                self._visit(child, child_state, ancestors | {id(child)})
                for kind, declarations in pseudo:
                    if kind == "after":
                        self._pseudo_cover(child, child_state, declarations)
                end = self._flow[-1]
                box = child_state.box
                if position != "static":
                    self._blocks[id(child)] = Box(
                        box.left, box.top, box.right, max(box.bottom, box.top + (end - start))
                    )
                if out_of_flow:
                    self._flow.pop()
                elif box.bottom > self._flow[-1]:
                    self._flow[-1] = box.bottom

    def _text(self, text: str, state: _State, ancestors: frozenset[int]) -> None:
        if not text.strip():
            return
        chars = len(" ".join(text.split()))
        em = state.font_px * state.scale_y
        advance = AVERAGE_ADVANCE_EM * state.font_px * state.scale_x + state.letter_spacing * state.scale_x
        available = max(1.0, state.box.right - state.box.left)
        line = LINE_HEIGHT * max(em, 0.0)
        x = state.box.left + state.indent
        y = self._flow[-1]
        extent = Box(x, y, x + max(min(available, chars * max(advance, 0.0)), 0.0), y + line)
        lines = max(1, math.ceil(chars * max(advance, 0.0) / available))
        self._flow[-1] = y + lines * line
        self._texts.append(_Text(" ".join(text.split()), state, extent, self._order, ancestors))

    # ---------------------------------------------------------------------------------- covers

    def _cover(self, tag: Tag, state: _State) -> None:
        """An absolutely positioned box with an opaque background: it hides what it is painted over."""
        style = self._cascade.declarations(tag)
        if style.get("position") not in ("absolute", "fixed") or state.hidden or state.visibility_hidden:
            return
        color = background_color(style)
        if color is None or color.faded(state.opacity).a < 0.999:
            return
        container = 0 if style.get("position") == "fixed" else self._container_of(tag)
        self._covers.append(_Cover(tag, color, state.paint, container, offsets(style, state.font_px)))

    def _pseudo_cover(self, tag: Tag, state: _State, style: dict[str, str]) -> None:
        """A ::before or ::after box that paints an opaque background over its element's content."""
        if style.get("content", "none") in ("none", "normal") or style.get("position") not in ("absolute", "fixed"):
            return
        color = background_color(style)
        if color is None or color.faded(state.opacity).a < 0.999 or state.hidden or state.visibility_hidden:
            return
        positioned = self._cascade.declarations(tag).get("position", "static") != "static"
        container = id(tag) if positioned else self._container_of(tag)
        self._order += 1
        z_text = style.get("z-index", "auto")
        z = int(z_text) if re.fullmatch(r"-?\d+", z_text) else state.paint.z
        self._covers.append(
            _Cover(tag, color, _Paint(True, z, self._order), container, offsets(style, state.font_px), pseudo=True)
        )

    def _container_of(self, tag: Tag) -> int:
        for ancestor in tag.parents:
            if (
                isinstance(ancestor, Tag)
                and ancestor.name != "[document]"
                and self._cascade.declarations(ancestor).get("position", "static") != "static"
            ):
                return id(ancestor)
        return 0

    def _place_covers(self) -> None:
        """Boxes for the covers, now that the containing blocks' content heights are known."""
        for cover in self._covers:
            block = self._blocks.get(cover.container, VIEWPORT) if cover.container else VIEWPORT
            o = cover.offsets
            width = size_of(o, "width", block.right - block.left)
            height = size_of(o, "height", block.bottom - block.top)
            x0, x1 = _span(block.left, block.right, o.get("left"), o.get("right"), width)
            y0, y1 = _span(block.top, block.bottom, o.get("top"), o.get("bottom"), height)
            if x0 is not None and x1 is not None and y0 is not None and y1 is not None:
                cover.box = Box(x0, y0, x1, y1)

    # ---------------------------------------------------------------------------------- verdicts

    def _verdict(self, item: _Text) -> tuple[str, Principle, Tag | None] | None:
        state = item.state
        if state.hidden is not None:
            return (*state.hidden, state.origin)
        if state.visibility_hidden:
            return ("html_visibility_hidden", "formatting", state.visibility_origin)
        if state.opacity <= 0.01:
            return ("html_opacity_zero", "contrast", state.opacity_origin)
        em = state.font_px * state.scale_y
        advance = nominal_advance(em, state.scale_x / max(state.scale_y, 1e-9), state.letter_spacing * state.scale_x)
        if illegible(em / PX_PER_PT, advance / PX_PER_PT):
            small_font = state.font_px / PX_PER_PT < MIN_LEGIBLE_PT
            return (
                "html_tiny_text",
                "size",
                state.font_origin if small_font else state.scale_origin or state.font_origin,
            )
        if state.blur >= em / 2:
            return ("html_blurred", "size", state.opacity_origin)
        clip = state.clip
        if clip.right - clip.left < MIN_ADVANCE_PT * PX_PER_PT or clip.bottom - clip.top < MIN_LEGIBLE_PT * PX_PER_PT:
            return ("html_clipped", "size", state.clip_origin)
        if outside(item.extent, clip):
            off_page = outside(item.extent, CANVAS)
            return (
                "html_offscreen",
                "position",
                (state.moved_origin if off_page else state.clip_origin) or state.moved_origin,
            )
        above = [c for c in self._covers if c.hides(item) and c.paint.above(state.paint)]
        if above and occluded(item.extent, [c.box for c in above if c.box is not None]):
            return ("html_covered", "occlusion", above[-1].tag)
        backdrop = self._backdrop(item)
        inks = self._inks(state)
        if backdrop is not None and inks and unreadable(inks, backdrop):
            return ("html_low_contrast", "contrast", state.color_origin)
        return None

    def _backdrop(self, item: _Text) -> Rgba | None:
        """The backgrounds really behind the text: its ancestors', then opaque positioned boxes painted
        below it that hold its first line. Unknown when positioned text may lie over a picture."""
        state = item.state
        if state.backdrop is None:
            return None
        if state.positioned_subtree and self._has_pictures(state):
            return None
        backdrop = state.backdrop
        for cover in self._covers:
            below = cover.hides(item) and cover.box is not None and state.paint.above(cover.paint)
            if below and cover.box is not None and not outside(item.extent, cover.box):
                backdrop = cover.color.over(backdrop)
        return backdrop

    def _has_pictures(self, state: _State) -> bool:
        """Are there pictures in the block the text's positioned box is laid out in?"""
        scope: Tag | BeautifulSoup = self._soup
        for tag in [state.container] if state.container is not None else []:
            parent = tag.parent
            while isinstance(parent, Tag) and parent.name != "[document]":
                if self._cascade.declarations(parent).get("position", "static") != "static":
                    scope = parent
                    break
                parent = parent.parent
        known = self._pictures.get(id(scope))
        if known is None:
            known = self._pictures[id(scope)] = scope.find(list(_PICTURES)) is not None
        return known

    @staticmethod
    def _inks(state: _State) -> list[Rgba]:
        if state.gradient_text:
            return []
        fill = state.text_fill if state.text_fill is not None else state.color
        inks: list[Rgba] = [] if fill is None else [fill.faded(state.opacity)]
        if fill is None:
            return []
        if state.stroke is not None:
            inks.append(state.stroke.faded(state.opacity))
        inks.extend(shadow.faded(state.opacity) for shadow in state.shadows)
        return inks

    def _spans(self) -> list[HiddenSpan]:
        spans: list[tuple[int, HiddenSpan]] = list(self._other)
        group: tuple[str, int] | None = None
        seen_visible = False
        for item in self._texts:
            verdict = self._verdict(item)
            if verdict is None:
                seen_visible = True
                group = None
                continue
            technique, principle, origin = verdict
            if self._email_preheader(origin, item.text, seen_visible):
                continue
            key = (technique, id(origin))
            location = _selector(origin) if origin is not None else "document"
            if group == key and spans:
                order, last = spans[-1]
                spans[-1] = (order, replace(last, text=f"{last.text} {item.text}"))
            else:
                spans.append((item.order, HiddenSpan(technique, principle, location, item.text)))
                group = key
        spans.sort(key=lambda pair: pair[0])
        return [span for _, span in spans]

    def _email_preheader(self, origin: Tag | None, text: str, seen_visible: bool) -> bool:
        """An email's leading hidden preview text is shown by every inbox: a reader does see it."""
        if seen_visible or origin is None or len(text) > PREHEADER_MAX_CHARS:
            return False
        style = origin.get("style")
        email_markup = isinstance(style, str) and "mso-hide" in style.lower()
        return self._email or email_markup

    def _comment(self, comment: Comment, parent: Tag) -> None:
        text = str(comment).strip()
        if not text or text.startswith("[if") or text.startswith("<![endif"):
            return  # Outlook conditional comments wrap markup, not prose
        span = HiddenSpan("html_comment", "formatting", f"{_selector(parent)} (comment)", text, body=False)
        self._other.append((self._order, span))

    def _attributes(self, tag: Tag) -> None:
        for attribute in ("alt", "title", "aria-label"):
            value = tag.get(attribute)
            if isinstance(value, str) and value.strip() and self._detector.is_instruction_like(value):
                location = f"{_selector(tag)}[{attribute}]"
                span = HiddenSpan("html_attribute_text", "formatting", location, value.strip(), body=False)
                self._other.append((self._order, span))


def _span(
    low: float, high: float, start: float | None, end: float | None, size: float | None
) -> tuple[float | None, float | None]:
    """Where a positioned box lies along one axis of its containing block (low..high): from its start and end
    offsets (CSS left/right, or top/bottom) and its size, as far as they determine it."""
    first = low + start if start is not None else high - end - size if end is not None and size is not None else None
    last = high - end if end is not None else first + size if first is not None and size is not None else None
    return first, last
