"""HTML (and the HTML bodies of emails and rendered Markdown): text a browser does not show.

Walks the DOM with the computed visibility of each node: inline styles and stylesheet rules
(`display:none`, `visibility:hidden`, `opacity:0`, `font-size:0`, zero height with hidden overflow,
off-screen positioning, colour equal to the background), the `hidden` attribute, comments,
`<template>`, `<noscript>`, and instruction-like `alt`/`title` text. Screen-reader-only text (clipped
to a 1px box) is kept: assistive technology reads it to people."""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import soupsieve
from bs4 import BeautifulSoup
from bs4.element import CData, Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

from access_index.errors import SanitizeError
from ingest.sanitize.colors import BLACK, WHITE, Rgba, invisible_on, parse_css_color
from ingest.sanitize.css import length_px, parse_declarations, parse_stylesheet
from ingest.sanitize.instructions import InstructionDetector
from ingest.sanitize.model import HiddenSpan

OFFSCREEN_PX = -500.0
TINY_FONT_PX = 2.0  # no reader makes out text this small
PREHEADER_MAX_CHARS = 150  # inboxes show about this much of a preheader
_NOT_CONTENT = frozenset({"script", "style", "head", "meta", "link", "title", "svg", "math", "iframe", "object"})
_HIDDEN_TAGS = {"template": "html_template", "noscript": "html_noscript"}


INLINE = (1, 0, 0, 0)  # a style attribute outranks every selector
# Only these properties decide whether text shows; rules setting nothing else need no selector matching.
_VISIBILITY_PROPERTIES = frozenset(
    {
        "display", "visibility", "opacity", "font-size", "color", "background", "background-color", "height",
        "max-height", "width", "max-width", "overflow", "overflow-x", "overflow-y", "position", "left", "top",
        "right", "margin-left", "margin-top", "text-indent", "transform",
    }
)  # fmt: skip
_SUBJECT = re.compile(r"(?P<name>[a-zA-Z][\w-]*|\*)?(?P<rest>(?:[.#][\w-]+)*)")


class _TagIndex:
    """Elements by name, class and id, so a rule is only matched against elements that could be its subject."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self._soup = soup
        self._all: list[Tag] = list(soup.find_all(True))
        self._by_name: dict[str, list[Tag]] = {}
        self._by_class: dict[str, list[Tag]] = {}
        self._by_id: dict[str, list[Tag]] = {}
        for tag in self._all:
            self._by_name.setdefault(tag.name, []).append(tag)
            classes = tag.get("class")
            for name in classes if isinstance(classes, list) else []:
                self._by_class.setdefault(name, []).append(tag)
            ident = tag.get("id")
            if isinstance(ident, str):
                self._by_id.setdefault(ident, []).append(tag)

    def select(self, selector: str) -> list[Tag]:
        """The elements `selector` matches (soupsieve decides; the index only narrows the candidates)."""
        compounds = re.split(r"\s*[\s>+~]\s*", selector.strip())
        subject = _SUBJECT.fullmatch(compounds[-1])
        if subject is None:
            return list(self._soup.select(selector))
        candidates = self._narrowest(subject)
        first = _SUBJECT.fullmatch(compounds[0])
        if len(compounds) > 1 and first is not None and first.group("rest") and not re.search(r"[+~]", selector):
            # Descendant and child combinators: the subject must sit inside an element the first part matches.
            inside: dict[int, Tag] = {}
            for root in self._narrowest(first):
                for tag in root.find_all(True):
                    inside[id(tag)] = tag
            candidates = [tag for tag in candidates if id(tag) in inside]
        compiled = soupsieve.compile(selector)
        return [tag for tag in candidates if compiled.match(tag)]

    def _narrowest(self, compound: re.Match[str]) -> list[Tag]:
        """The smallest index list that holds every element the compound selector could match."""
        candidates = self._all
        name = compound.group("name")
        if name and name != "*":
            candidates = self._by_name.get(name.lower(), [])
        for part in re.findall(r"[.#][\w-]+", compound.group("rest")):
            table = self._by_class if part[0] == "." else self._by_id
            narrowed = table.get(part[1:], [])
            if len(narrowed) < len(candidates):
                candidates = narrowed
        return candidates


@dataclass(frozen=True)
class _Declared:
    important: bool
    weight: tuple[int, int, int, int]
    order: int
    name: str
    value: str


def _declared(weight: tuple[int, int, int, int], order: int, name: str, value: str) -> _Declared:
    important = value.endswith("!important")
    return _Declared(important, weight, order, name, value.removesuffix("!important").strip())


def specificity(selector: str) -> tuple[int, int, int, int]:
    """CSS specificity (inline, ids, classes/attributes/pseudo-classes, elements) of one selector."""
    bare = re.sub(r"\([^)]*\)", "", selector)
    ids = len(re.findall(r"#[\w-]+", bare))
    classes = len(re.findall(r"\.[\w-]+|\[[^\]]*\]|(?<!:):[\w-]+", bare))
    elements = len(re.findall(r"(?:^|[\s>+~])[a-zA-Z][\w-]*", bare))
    return (0, ids, classes, elements)


@dataclass(frozen=True)
class _State:
    hidden: str | None  # the technique hiding this subtree, if any
    origin: Tag | None  # the element that hid it (or set the colour), for the location
    color: Rgba
    color_origin: Tag | None
    background: Rgba
    font_px: float
    opacity: float
    visibility_hidden: bool


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
        self._styles: dict[int, list[_Declared]] = {}
        self._spans: list[HiddenSpan] = []
        self._group: tuple[str, int] | None = None  # (technique, id(origin)) of the span being built
        self._seen_visible = False

    def run(self) -> list[HiddenSpan]:
        styles = self._soup.find_all("style")
        index = _TagIndex(self._soup) if styles else None
        for style in styles:
            for rule in parse_stylesheet(style.get_text()):
                if "::" in rule.selector or re.search(r":(?:hover|focus|active|visited|before|after)", rule.selector):
                    continue  # interaction states and pseudo-elements do not hide the resting text
                relevant = [(name, value) for name, value in rule.declarations if name in _VISIBILITY_PROPERTIES]
                if not relevant or index is None:
                    continue
                try:
                    matches = index.select(rule.selector)
                except Exception:  # noqa: S112 - soupsieve rejects selectors it does not know; they are skipped
                    continue
                weight = specificity(rule.selector)
                for tag in matches:
                    declared = self._styles.setdefault(id(tag), [])
                    for name, value in relevant:
                        declared.append(_declared(weight, len(declared), name, value))
        root = _State(None, None, BLACK, None, WHITE, 16.0, 1.0, False)
        self._visit(self._soup, root)
        return self._spans

    def _declarations(self, tag: Tag) -> dict[str, str]:
        """The cascade for one element: !important first, then specificity (inline highest), then order."""
        entries = list(self._styles.get(id(tag), []))
        inline = tag.get("style")
        if isinstance(inline, str):
            for name, value in parse_declarations(inline):
                entries.append(_declared(INLINE, len(entries), name, value))
        declared = {
            entry.name: entry.value for entry in sorted(entries, key=lambda e: (e.important, e.weight, e.order))
        }
        for attribute, name in (("bgcolor", "background-color"), ("color", "color")):
            presentational = tag.get(attribute)
            if (
                isinstance(presentational, str)
                and name not in declared
                and (attribute == "bgcolor" or tag.name == "font")
            ):
                declared[name] = presentational
        return declared

    def _state(self, tag: Tag, parent: _State) -> _State:
        state = parent
        style = self._declarations(tag)
        font = style.get("font-size")
        if font is not None:
            size = length_px(font, parent.font_px)
            if size is not None:
                state = replace(state, font_px=size)
        background = style.get("background-color") or style.get("background", "").split(" ")[0]
        color = parse_css_color(background) if background else None
        if color is not None and color.a > 0:
            state = replace(state, background=color.over(parent.background))
        foreground = parse_css_color(style["color"]) if "color" in style else None
        if foreground is not None:
            state = replace(state, color=foreground, color_origin=tag)
        opacity = style.get("opacity")
        if opacity is not None:
            with contextlib.suppress(ValueError):  # an unparsable opacity leaves the inherited one
                factor = float(opacity.rstrip("%")) / (100 if "%" in opacity else 1)
                state = replace(state, opacity=state.opacity * factor)
        visibility = style.get("visibility")
        if visibility in ("hidden", "collapse"):
            state = replace(state, visibility_hidden=True)
        elif visibility == "visible":
            state = replace(state, visibility_hidden=False)
        if state.hidden is not None and state.hidden != "html_visibility_hidden":
            return state  # display:none and friends cannot be undone by a descendant
        technique = self._hiding(tag, style, state)
        if technique is not None:
            return replace(state, hidden=technique, origin=tag)
        if state.hidden == "html_visibility_hidden" and not state.visibility_hidden:
            return replace(state, hidden=None, origin=None)
        return state

    def _hiding(self, tag: Tag, style: dict[str, str], state: _State) -> str | None:
        if tag.name in _HIDDEN_TAGS:
            return _HIDDEN_TAGS[tag.name]
        if tag.has_attr("hidden"):
            return "html_hidden_attribute"
        if style.get("display", "").startswith("none"):
            return "html_display_none"
        if state.visibility_hidden:
            return "html_visibility_hidden"
        if state.opacity <= 0.01:
            return "html_opacity_zero"
        if state.font_px <= TINY_FONT_PX:
            return "html_font_size_zero"
        overflow_hidden = style.get("overflow", "").startswith("hidden") or style.get("overflow-y", "") == "hidden"
        for name in ("max-height", "height", "max-width", "width"):
            size = length_px(style.get(name, "auto"))
            if size is not None and size <= 0 and overflow_hidden:
                return "html_zero_size"
        if self._offscreen(style):
            return "html_offscreen"
        return None

    @staticmethod
    def _offscreen(style: dict[str, str]) -> bool:
        positioned = style.get("position", "") in ("absolute", "fixed", "relative")
        for name in ("left", "top", "right", "margin-left", "margin-top", "text-indent"):
            if name in ("left", "top", "right") and not positioned:
                continue
            value = length_px(style.get(name, ""))
            if value is not None and (value <= OFFSCREEN_PX or (name in ("left", "top") and value >= 5000)):
                return True
        found = re.search(r"translate[xy]?\(\s*(-?[\d.]+)(px|%|em)?", style.get("transform", ""))
        if found and float(found.group(1)) <= -500 and found.group(2) != "%":
            return True
        # scale(0) shrinks the box to nothing; it is positioning in effect, so it is reported the same way.
        return bool(re.search(r"scale[xy]?\(\s*0*(?:\.0*)?\s*[,)]", style.get("transform", "")))

    def _visit(self, node: Tag, state: _State) -> None:
        for child in list(node.children):
            if isinstance(child, Comment):
                self._comment(child, node)
            elif isinstance(child, CData | Declaration | Doctype | ProcessingInstruction):
                continue
            elif isinstance(child, NavigableString):
                self._text(str(child), state)
            elif isinstance(child, Tag):
                if child.name in _NOT_CONTENT:
                    continue
                self._attributes(child)
                self._visit(child, self._state(child, state))

    def _text(self, text: str, state: _State) -> None:
        if not text.strip():
            return
        technique, origin = state.hidden, state.origin
        if technique is None and invisible_on(replace(state.color, a=state.color.a * state.opacity), state.background):
            technique, origin = "html_same_color", state.color_origin
        if technique is None:
            self._seen_visible = True
            self._group = None
            return
        if self._preheader(origin, text):
            return
        key = (technique, id(origin))
        location = _selector(origin) if origin is not None else "document"
        if self._group == key and self._spans:
            last = self._spans[-1]
            self._spans[-1] = replace(last, text=f"{last.text} {text.strip()}")
        else:
            self._spans.append(HiddenSpan(technique, location, text.strip()))
            self._group = key

    def _preheader(self, origin: Tag | None, text: str) -> bool:
        """An email's leading hidden preview text is shown by every inbox: a reader does see it."""
        if self._seen_visible or origin is None or len(text.strip()) > PREHEADER_MAX_CHARS:
            return False
        style = origin.get("style")
        email_markup = isinstance(style, str) and "mso-hide" in style.lower()
        return self._email or email_markup

    def _comment(self, comment: Comment, parent: Tag) -> None:
        text = str(comment).strip()
        if not text or text.startswith("[if") or text.startswith("<![endif"):
            return  # Outlook conditional comments wrap markup, not prose
        self._spans.append(HiddenSpan("html_comment", f"{_selector(parent)} (comment)", text, body=False))
        self._group = None

    def _attributes(self, tag: Tag) -> None:
        for attribute in ("alt", "title", "aria-label"):
            value = tag.get(attribute)
            if isinstance(value, str) and value.strip() and self._detector.is_instruction_like(value):
                location = f"{_selector(tag)}[{attribute}]"
                self._spans.append(HiddenSpan("html_attribute_text", location, value.strip(), body=False))
                self._group = None
