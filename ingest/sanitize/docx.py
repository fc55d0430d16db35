"""DOCX: hidden runs (`w:vanish` through the style cascade), white or tiny text, comments, deleted
revisions, and instruction-like document properties."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from ingest.sanitize.colors import BLACK, WHITE, Rgba, invisible_on, parse_hex
from ingest.sanitize.instructions import InstructionDetector
from ingest.sanitize.model import HiddenSpan
from ingest.sanitize.ooxml import Package, q, text_of, xml_path

TINY_HALF_POINTS = 4  # 2pt and below: unreadable at any zoom a reader uses
_THEME_WHITE = {"background1", "light1"}
_HIGHLIGHT = {
    "white": WHITE,
    "black": BLACK,
    "yellow": Rgba(255, 255, 0),
    "lightGray": Rgba(192, 192, 192),
    "darkGray": Rgba(128, 128, 128),
    "cyan": Rgba(0, 255, 255),
    "green": Rgba(0, 255, 0),
}


@dataclass(frozen=True)
class _RunStyle:
    vanish: bool = False
    color: Rgba | None = None
    size: int | None = None  # half-points
    shading: Rgba | None = None


def _on(element: etree._Element | None) -> bool | None:
    if element is None:
        return None
    return element.get(q("w:val"), "true").lower() not in ("false", "0", "off")


def _apply(style: _RunStyle, rpr: etree._Element | None) -> _RunStyle:
    """Run properties `rpr` layered over `style` (later layers win, as Word's cascade does)."""
    if rpr is None:
        return style
    vanish = _on(rpr.find(q("w:vanish")))
    if vanish is not None:
        style = replace(style, vanish=vanish)
    color = rpr.find(q("w:color"))
    if color is not None:
        theme = color.get(q("w:themeColor"), "")
        value = color.get(q("w:val"), "auto")
        parsed = WHITE if theme in _THEME_WHITE else (None if value == "auto" else parse_hex(value))
        style = replace(style, color=parsed)
    size = rpr.find(q("w:sz"))
    if size is not None and (size.get(q("w:val")) or "").isdigit():
        style = replace(style, size=int(size.get(q("w:val"), "0")))
    shading = _fill(rpr.find(q("w:shd")))
    highlight = rpr.find(q("w:highlight"))
    if highlight is not None and highlight.get(q("w:val")) in _HIGHLIGHT:
        shading = _HIGHLIGHT[highlight.get(q("w:val"), "")]
    if shading is not None:
        style = replace(style, shading=shading)
    return style


def _fill(shd: etree._Element | None) -> Rgba | None:
    if shd is None:
        return None
    fill = shd.get(q("w:fill"), "auto")
    return None if fill in ("auto", "") else parse_hex(fill)


class _Styles:
    """styles.xml: the run properties each style contributes, following `w:basedOn`."""

    def __init__(self, root: etree._Element | None) -> None:
        self._styles: dict[str, etree._Element] = {}
        self.default_paragraph: str | None = None
        self.defaults = _RunStyle()
        if root is None:
            return
        self.defaults = _apply(_RunStyle(), root.find(f"{q('w:docDefaults')}/{q('w:rPrDefault')}/{q('w:rPr')}"))
        for style in root.iter(q("w:style")):
            ident = style.get(q("w:styleId"), "")
            self._styles[ident] = style
            if style.get(q("w:type")) == "paragraph" and style.get(q("w:default")) in ("1", "true", "on"):
                self.default_paragraph = ident

    def layer(self, base: _RunStyle, ident: str | None) -> _RunStyle:
        chain: list[etree._Element] = []
        seen: set[str] = set()
        while ident and ident in self._styles and ident not in seen:  # basedOn loops are ignored
            seen.add(ident)
            chain.append(self._styles[ident])
            based = self._styles[ident].find(q("w:basedOn"))
            ident = based.get(q("w:val")) if based is not None else None
        for style in reversed(chain):
            base = _apply(base, style.find(q("w:rPr")))
        return base


class DocxScanner:
    """Hidden text of a Word document."""

    def __init__(self, detector: InstructionDetector) -> None:
        self._detector = detector

    def scan(self, path: Path) -> list[HiddenSpan]:
        """Hidden spans of the .docx at `path`."""
        with Package(path) as package:
            spans: list[HiddenSpan] = []
            document = package.xml("word/document.xml")
            styles = _Styles(package.xml("word/styles.xml"))
            if document is not None:
                spans.extend(self._runs(document, styles))
            comments = package.xml("word/comments.xml")
            if comments is not None:
                for comment in comments.iter(q("w:comment")):
                    text = " ".join(text_of(comment, "w:t").split())
                    if text:
                        author = comment.get(q("w:author"), "")
                        where = f"word/comments.xml: comment {comment.get(q('w:id'), '?')} by {author!r}"
                        spans.append(HiddenSpan("docx_comment", where, text, body=False))
            spans.extend(self._properties(package))
            return spans

    def _runs(self, document: etree._Element, styles: _Styles) -> list[HiddenSpan]:
        spans: list[HiddenSpan] = []
        for deleted in document.iter(q("w:del")):
            text = " ".join("".join(node.text or "" for node in deleted.iter(q("w:delText"))).split())
            if text:
                spans.append(
                    HiddenSpan("docx_deleted_revision", f"word/document.xml:{xml_path(deleted)}", text, body=False)
                )
        for paragraph in document.iter(q("w:p")):
            ppr = paragraph.find(q("w:pPr"))
            pstyle = ppr.find(q("w:pStyle")) if ppr is not None else None
            base = styles.layer(
                styles.defaults, pstyle.get(q("w:val")) if pstyle is not None else styles.default_paragraph
            )
            background = _fill(ppr.find(q("w:shd")) if ppr is not None else None) or _cell_fill(paragraph) or WHITE
            current: tuple[str, list[str], etree._Element] | None = None
            for run in paragraph.iter(q("w:r")):
                if _owner(run) is not paragraph or _inside(run, q("w:del")):
                    continue
                text = text_of(run, "w:t")
                if not text.strip():
                    continue
                rpr = run.find(q("w:rPr"))
                rstyle = rpr.find(q("w:rStyle")) if rpr is not None else None
                style = _apply(styles.layer(base, rstyle.get(q("w:val")) if rstyle is not None else None), rpr)
                technique = _hidden(style, background)
                if technique is None:
                    if current is not None:
                        spans.append(_span(current))
                        current = None
                    continue
                if current is not None and current[0] == technique:
                    current[1].append(text)
                else:
                    if current is not None:
                        spans.append(_span(current))
                    current = (technique, [text], run)
            if current is not None:
                spans.append(_span(current))
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
                    spans.append(HiddenSpan("docx_document_property", f"{part}: {name}", text, body=False))
        return spans


def _hidden(style: _RunStyle, background: Rgba) -> str | None:
    if style.vanish:
        return "docx_vanish"
    if style.size is not None and style.size <= TINY_HALF_POINTS:
        return "docx_tiny_text"
    if style.color is not None and invisible_on(style.color, style.shading or background):
        return "docx_white_text"
    return None


def _span(current: tuple[str, list[str], etree._Element]) -> HiddenSpan:
    technique, texts, first = current
    return HiddenSpan(technique, f"word/document.xml:{xml_path(first)}", " ".join("".join(texts).split()))


def _owner(run: etree._Element) -> etree._Element | None:
    node = run.getparent()
    while node is not None and node.tag != q("w:p"):
        node = node.getparent()
    return node


def _inside(run: etree._Element, tag: str) -> bool:
    node = run.getparent()
    while node is not None and node.tag != q("w:p"):
        if node.tag == tag:
            return True
        node = node.getparent()
    return False


def _cell_fill(paragraph: etree._Element) -> Rgba | None:
    node = paragraph.getparent()
    while node is not None:
        if node.tag == q("w:tc"):
            tcpr = node.find(q("w:tcPr"))
            return _fill(tcpr.find(q("w:shd")) if tcpr is not None else None)
        node = node.getparent()
    return None
