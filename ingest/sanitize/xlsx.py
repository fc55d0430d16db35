"""XLSX: cell text a reader of the workbook's grid cannot see.

What "visible" means for a sheet (README.md): the grid of a visible sheet in a visible workbook window,
at 100 % zoom, scrolled anywhere a reader can scroll. A cell's text is hidden when the grid does not
show it: FORMATTING (hidden workbook window, hidden or very hidden sheet, hidden row or column, a number
format that renders nothing or other text for the value, such as `;;;`), SIZE (an em under the
legibility threshold, a zero-width column, a row too low for its text), POSITION (rows and columns
left behind frozen panes, which scrolling cannot reach), OCCLUSION (an opaque shape or picture of the
sheet's drawing over the cell) or CONTRAST (font colour, theme and tint resolved, against the cell's
fill, conditional formats that apply included; rich-text runs judged one by one). The formula bar shows
any selected cell's value, hidden or not: it is an editing aid, not the sheet a reader reads.
Spans carry the sheet name so they are only looked for in that sheet's elements."""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from access_index.errors import SanitizeError
from ingest.sanitize.colors import BLACK, WHITE, Rgba, composite, parse_argb, parse_css_color, tinted
from ingest.sanitize.drawingml import Theme, group_transform, image_opaque, xfrm_box
from ingest.sanitize.model import HiddenSpan
from ingest.sanitize.ooxml import Package, q
from ingest.sanitize.perception import (
    MIN_LEGIBLE_PT,
    MIN_VISIBLE_FRACTION,
    Box,
    Principle,
    illegible,
    occluded,
    text_extent,
    unreadable,
)

EMU_PER_PT = 12700
EMU_PER_PX = 9525
DEFAULT_COLUMN_CHARS = 8.43
DEFAULT_ROW_PT = 15.0
DEFAULT_FONT_PT = 11.0
MAX_GEOMETRY_CELLS = 16_384  # columns or rows laid out for the shape test; a drawing further out covers nothing
# Excel's theme colour indices name these slots (index 0 is "Background 1", 1 is "Text 1").
_THEME_SLOTS = (
    "lt1",
    "dk1",
    "lt2",
    "dk2",
    "accent1",
    "accent2",
    "accent3",
    "accent4",
    "accent5",
    "accent6",
    "hlink",
    "folHlink",
)
# Share of the foreground colour in each pattern fill (the rest is the background colour).
_PATTERN_SHARE = {
    "solid": 1.0,
    "darkGray": 0.75,
    "mediumGray": 0.5,
    "lightGray": 0.25,
    "gray125": 0.125,
    "gray0625": 0.0625,
}
_FORMAT_COLORS = ("black", "blue", "cyan", "green", "magenta", "red", "white", "yellow")
_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
Cause = tuple[str, Principle]


@dataclass(frozen=True)
class _Look:
    """How a piece of cell text is drawn."""

    color: Rgba
    em: float


class XlsxScanner:
    """Hidden text of an Excel workbook."""

    def scan(self, path: Path) -> list[HiddenSpan]:
        """Hidden spans of the .xlsx at `path`."""
        from openpyxl import load_workbook

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                workbook = load_workbook(path, data_only=True, rich_text=True)
        except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError) as error:
            raise SanitizeError(f"{path}: not a readable workbook: {error}") from error
        try:
            with Package(path) as package:
                theme = Theme(package.xml("xl/theme/theme1.xml"))
                parts = _sheet_parts(package)
                window_hidden = any(
                    getattr(view, "visibility", None) in ("hidden", "veryHidden") for view in workbook.views[:1]
                )
                palette = list(getattr(workbook, "_colors", None) or [])
                spans: list[HiddenSpan] = []
                for sheet in workbook.worksheets:
                    covers = _drawing_covers(package, parts.get(str(sheet.title)), theme)
                    spans.extend(_Sheet(sheet, theme, palette, covers, window_hidden).scan())
                return spans
        finally:
            workbook.close()


def _sheet_parts(package: Package) -> dict[str, str]:
    """Sheet name → worksheet part, from the workbook's relationships."""
    workbook = package.xml("xl/workbook.xml")
    targets = package.related("xl/workbook.xml")
    parts: dict[str, str] = {}
    sheets = workbook.find(q("x:sheets")) if workbook is not None else None
    for sheet in sheets if sheets is not None else []:
        target = targets.get(sheet.get(q("r:id"), ""))
        if target:
            parts[sheet.get("name", "")] = target
    return parts


@dataclass(frozen=True)
class _Cover:
    """An opaque shape or picture anchored on the sheet, as cell coordinates or EMU."""

    anchor: tuple[int, int, int, int, int, int, int, int] | None  # from col, colOff, row, rowOff, to ... (EMU)
    box: Box | None  # EMU from the sheet's top-left corner, when given absolutely


def _drawing_covers(package: Package, sheet_part: str | None, theme: Theme) -> list[_Cover]:
    if sheet_part is None:
        return []
    covers: list[_Cover] = []
    for drawing_part in package.related_by_type(sheet_part, "/drawing"):
        drawing = package.xml(drawing_part)
        if drawing is None:
            continue
        for anchor in drawing:
            kind = etree.QName(anchor).localname
            if kind not in ("twoCellAnchor", "oneCellAnchor", "absoluteAnchor"):
                continue
            for box in _opaque_shapes(package, drawing_part, anchor, theme):
                if box is not None:
                    covers.append(_Cover(None, box))
                elif kind == "twoCellAnchor":
                    covers.append(_Cover(_anchor(anchor), None))
                else:
                    extent = anchor.find(f"{{{_XDR}}}ext")
                    start = anchor.find(f"{{{_XDR}}}from")
                    if extent is not None and start is not None:
                        col, col_off, row, row_off = _marker(start)
                        cx, cy = int(extent.get("cx", "0")), int(extent.get("cy", "0"))
                        covers.append(_Cover((col, col_off, row, row_off, col, col_off + cx, row, row_off + cy), None))
    return covers


def _opaque_shapes(package: Package, part: str, anchor: etree._Element, theme: Theme) -> Iterator[Box | None]:
    """The anchor's opaque, shown shapes and pictures: None for one that fills the anchor, a box for a
    group's child (groups place their children by their own transforms)."""
    for child in anchor:
        kind = etree.QName(child).localname
        if kind == "grpSp":
            properties = child.find(f"{{{_XDR}}}grpSpPr")
            transform = group_transform(properties.find(q("a:xfrm")) if properties is not None else None)
            for inner in child.iter(f"{{{_XDR}}}sp", f"{{{_XDR}}}pic"):
                if _opaque(package, part, inner, theme):
                    properties = inner.find(f"{{{_XDR}}}spPr")
                    box = xfrm_box(properties.find(q("a:xfrm")) if properties is not None else None)
                    if box is not None:
                        yield transform.apply(box)
        elif kind in ("sp", "pic") and _opaque(package, part, child, theme):
            yield None


def _opaque(package: Package, part: str, shape: etree._Element, theme: Theme) -> bool:
    name = next(shape.iter(f"{{{_XDR}}}cNvPr"), None)
    if name is not None and name.get("hidden") in ("1", "true"):
        return False
    if etree.QName(shape).localname == "pic":
        blip = next(shape.iter(q("a:blip")), None)
        target = package.related(part).get(blip.get(q("r:embed"), "")) if blip is not None else None
        data = package.read(target) if target else None
        return data is not None and blip is not None and blip.find(q("a:alphaModFix")) is None and image_opaque(data)
    declared = theme.paint(shape.find(f"{{{_XDR}}}spPr"))
    if declared is not None:
        return declared.opaque
    reference = shape.find(f"{{{_XDR}}}style/{q('a:fillRef')}")
    if reference is not None and reference.get("idx", "0") not in ("0", ""):
        color = theme.color(reference)
        return color is not None and color.a >= 0.999
    return False


def _marker(marker: etree._Element) -> tuple[int, int, int, int]:
    def value(name: str) -> int:
        node = marker.find(f"{{{_XDR}}}{name}")
        try:
            return int(node.text or 0) if node is not None else 0
        except ValueError:
            return 0

    return value("col"), value("colOff"), value("row"), value("rowOff")


def _anchor(anchor: etree._Element) -> tuple[int, int, int, int, int, int, int, int] | None:
    start, end = anchor.find(f"{{{_XDR}}}from"), anchor.find(f"{{{_XDR}}}to")
    if start is None or end is None:
        return None
    return (*_marker(start), *_marker(end))


class _Sheet:
    def __init__(self, sheet: Any, theme: Theme, palette: list[str], covers: list[_Cover], window_hidden: bool) -> None:
        self._sheet = sheet
        self._theme = theme
        self._palette = palette
        self._window_hidden = window_hidden
        self._title = str(sheet.title)
        self._hidden_columns = _hidden_columns(sheet)
        self._unreachable = _behind_frozen_panes(sheet)
        self._rules = _conditional_rules(sheet)
        self._styled = _styled_elsewhere(sheet)
        self._column_edges: list[float] = []
        self._row_edges: list[float] = []
        self._covers = [box for cover in covers if (box := self._cover_box(cover)) is not None]

    def scan(self) -> list[HiddenSpan]:
        spans: list[HiddenSpan] = []
        sheet_cause = self._sheet_cause()
        for row in self._sheet.iter_rows():
            if not row:
                continue
            number = row[0].row
            row_cause = sheet_cause or self._row_cause(number)
            if row_cause is not None:
                text = " ".join(t for cell in row if (t := _plain(cell.value)))
                if text:
                    where = f"sheet {self._title!r} row {number}"
                    spans.append(HiddenSpan(row_cause[0], row_cause[1], where, text, sheet=self._title))
                continue
            for cell in row:
                spans.extend(self._cell(cell))
        return spans

    # --------------------------------------------------------------------------- whole sheet, rows

    def _sheet_cause(self) -> Cause | None:
        if self._window_hidden:
            return ("xlsx_hidden_window", "formatting")
        state = self._sheet.sheet_state
        if state == "veryHidden":
            return ("xlsx_very_hidden_sheet", "formatting")
        if state == "hidden":
            return ("xlsx_hidden_sheet", "formatting")
        return None

    def _row_cause(self, number: int) -> Cause | None:
        dimension = self._sheet.row_dimensions[number]
        if dimension.hidden:
            return ("xlsx_hidden_row", "formatting")
        if dimension.ht is not None and float(dimension.ht) < MIN_LEGIBLE_PT:
            return ("xlsx_zero_height_row", "size")
        if number in self._unreachable[0]:
            return ("xlsx_behind_frozen_pane", "position")
        return None

    # ------------------------------------------------------------------------------------ one cell

    def _cell(self, cell: Any) -> list[HiddenSpan]:
        text = _plain(cell.value)
        if not text:
            return []
        where = f"sheet {self._title!r} cell {cell.coordinate}"
        cause = self._cell_cause(cell, text)
        if cause is not None:
            return [HiddenSpan(cause[0], cause[1], where, text, sheet=self._title)]
        spans: list[HiddenSpan] = []
        for piece, look in self._pieces(cell):
            found = self._look_cause(look, cell)
            if found is not None and piece.strip():
                spans.append(HiddenSpan(found[0], found[1], where, " ".join(piece.split()), sheet=self._title))
        return spans

    def _cell_cause(self, cell: Any, text: str) -> Cause | None:
        if cell.column in self._hidden_columns:
            return ("xlsx_hidden_column", "formatting")
        if self._column_chars(cell.column_letter) == 0:
            return ("xlsx_zero_width_column", "size")
        if cell.column in self._unreachable[1]:
            return ("xlsx_behind_frozen_pane", "position")
        if not _shows_value(str(cell.number_format or "General"), cell.value):
            return ("xlsx_number_format", "formatting")
        height = self._sheet.row_dimensions[cell.row].ht
        em = _em(cell.font)
        if height is not None and float(height) < MIN_VISIBLE_FRACTION * em:
            return ("xlsx_zero_height_row", "size")
        if self._covers and occluded(self._extent(cell, text, em), self._covers):
            return ("xlsx_covered_cell", "occlusion")
        return None

    def _pieces(self, cell: Any) -> list[tuple[str, _Look]]:
        """The cell's text with how each part is drawn: rich-text runs each with their own font."""
        font, _ = self._conditional(cell)
        # A conditional format's font colour beats the number format's colour, which beats the cell's font.
        drawn = _format_color(str(cell.number_format or "General"), cell.value, self._palette)
        color = self._color(cell.font.color, BLACK) if drawn is None else drawn
        if font is not None and font.color is not None:
            color = self._color(font.color, color)
        base = _Look(color, _em(cell.font))
        if font is not None and font.sz is not None:
            base = _Look(base.color, float(font.sz))
        value = cell.value
        blocks = getattr(value, "__iter__", None) if type(value).__name__ == "CellRichText" else None
        if blocks is None:
            return [(_plain(value), base)]
        pieces: list[tuple[str, _Look]] = []
        for block in value:
            inline = getattr(block, "font", None)
            if inline is None:
                pieces.append((str(block), base))
                continue
            color = self._color(inline.color, base.color) if inline.color is not None else base.color
            size = float(inline.sz) if inline.sz is not None else base.em
            pieces.append((str(block.text), _Look(color, size)))
        return pieces

    def _look_cause(self, look: _Look, cell: Any) -> Cause | None:
        if illegible(look.em):
            return ("xlsx_tiny_text", "size")
        backdrop = self._backdrop(cell)
        if backdrop is not None and unreadable([look.color], backdrop):
            return ("xlsx_low_contrast", "contrast")
        return None

    def _backdrop(self, cell: Any) -> Rgba | None:
        _, conditional_fill = self._conditional(cell)
        fill = conditional_fill if conditional_fill is not None else cell.fill
        kind = getattr(fill, "fill_type", None) or getattr(fill, "patternType", None)
        if type(fill).__name__ == "GradientFill":
            return None  # no single colour behind the text
        tables, scales = self._styled
        if any(cell.coordinate in ranges for ranges in scales):
            return None  # a colour scale or data bar paints the cell, a colour per value
        if kind is None or kind == "none":
            # An Excel table's style fills its cells where they have no fill of their own.
            return None if any(cell.coordinate in ranges for ranges in tables) else WHITE
        foreground = self._color(getattr(fill, "fgColor", None), BLACK)
        background = self._color(getattr(fill, "bgColor", None), WHITE)
        if conditional_fill is not None and kind == "solid":
            # A differential fill keeps its colour in bgColor (Excel's dxf convention).
            foreground = self._color(getattr(fill, "bgColor", None), foreground)
        share = _PATTERN_SHARE.get(str(kind), 0.5)
        return composite(
            [Rgba(foreground.r, foreground.g, foreground.b, share)], base=background if share < 1 else WHITE
        )

    def _color(self, color: Any, default: Rgba) -> Rgba:
        """An openpyxl colour: rgb, theme slot with tint, indexed palette entry, or auto (Excel's black)."""
        if color is None:
            return default
        kind = getattr(color, "type", None)
        tint = float(getattr(color, "tint", 0.0) or 0.0)
        resolved: Rgba | None = None
        if kind == "rgb" and isinstance(color.rgb, str):
            resolved = parse_argb(color.rgb)
        elif kind == "theme" and isinstance(color.theme, int) and 0 <= color.theme < len(_THEME_SLOTS):
            resolved = self._theme.slots.get(_THEME_SLOTS[color.theme]) or (WHITE if color.theme in (0, 2) else BLACK)
        elif kind == "indexed" and isinstance(color.indexed, int):
            resolved = _indexed(color.indexed, self._palette)
        elif kind == "auto":
            resolved = BLACK
        if resolved is None:
            return default
        return tinted(resolved, tint) if tint else resolved

    # ------------------------------------------------------------------------ conditional formats

    def _conditional(self, cell: Any) -> tuple[Any, Any]:
        """The font and fill of the conditional formats that apply to the cell (highest priority wins)."""
        font: Any = None
        fill: Any = None
        for ranges, rule in self._rules:
            if cell.coordinate not in ranges or rule.dxf is None or not _applies(rule, cell.value):
                continue
            if font is None and rule.dxf.font is not None and rule.dxf.font.color is not None:
                font = rule.dxf.font
            if fill is None and rule.dxf.fill is not None:
                fill = rule.dxf.fill
            if rule.stopIfTrue:
                break
        return font, fill

    # -------------------------------------------------------------------------------- geometry

    def _extent(self, cell: Any, text: str, em: float) -> Box:
        left, right = self._edge(self._column_edges, cell.column - 1), self._edge(self._column_edges, cell.column)
        top, bottom = self._edge(self._row_edges, cell.row - 1), self._edge(self._row_edges, cell.row)
        horizontal = str(getattr(cell.alignment, "horizontal", "") or "")
        align: Literal["start", "center", "end"] = (
            "center" if horizontal == "center" else "end" if horizontal == "right" else "start"
        )
        wrap = bool(getattr(cell.alignment, "wrap_text", False))
        return text_extent(
            Box(left, top, right, bottom), len(text), em * EMU_PER_PT, align=align, anchor="end", wrap=wrap
        )

    def _edge(self, edges: list[float], index: int) -> float:
        """The EMU offset of column (or row) boundary `index`, laid out lazily from the sheet's sizes."""
        columns = edges is self._column_edges
        index = min(index, MAX_GEOMETRY_CELLS)
        while len(edges) <= index:
            if not edges:
                edges.append(0.0)
                continue
            number = len(edges)  # 1-based column or row whose far edge comes next
            edges.append(edges[-1] + (self._column_emu(number) if columns else self._row_emu(number)))
        return edges[index]

    def _column_emu(self, number: int) -> float:
        from openpyxl.utils import get_column_letter

        if number in self._hidden_columns:
            return 0.0
        chars = self._column_chars(get_column_letter(number))
        return 0.0 if chars == 0 else (chars * 7 + 5) * EMU_PER_PX

    def _column_chars(self, letter: str) -> float:
        """A column's width in characters as the file sets it (0: a zero-width column), else the default."""
        dimensions = self._sheet.column_dimensions
        width = dimensions[letter].width if letter in dimensions else None
        if width is None:
            width = self._sheet.sheet_format.defaultColWidth or DEFAULT_COLUMN_CHARS
        return max(0.0, float(width))

    def _row_emu(self, number: int) -> float:
        dimension = self._sheet.row_dimensions.get(number, None)
        if dimension is not None and dimension.hidden:
            return 0.0
        height = (
            dimension.ht
            if dimension is not None and dimension.ht is not None
            else self._sheet.sheet_format.defaultRowHeight
        )
        return float(height or DEFAULT_ROW_PT) * EMU_PER_PT

    def _cover_box(self, cover: _Cover) -> Box | None:
        if cover.box is not None:
            return cover.box
        if cover.anchor is None:
            return None
        col, col_off, row, row_off, to_col, to_col_off, to_row, to_row_off = cover.anchor
        if max(col, to_col, row, to_row) >= MAX_GEOMETRY_CELLS:
            return None
        return Box(
            self._edge(self._column_edges, col) + col_off,
            self._edge(self._row_edges, row) + row_off,
            self._edge(self._column_edges, to_col) + to_col_off,
            self._edge(self._row_edges, to_row) + to_row_off,
        )


def _plain(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _em(font: Any) -> float:
    size = getattr(font, "sz", None) if font is not None else None
    return float(size) if size is not None else DEFAULT_FONT_PT


def _indexed(index: int, palette: list[str]) -> Rgba | None:
    from openpyxl.styles.colors import COLOR_INDEX

    if index == 64:
        return BLACK  # system foreground
    if index == 65:
        return WHITE  # system background
    table = palette or list(COLOR_INDEX)
    return parse_argb(table[index]) if 0 <= index < len(table) else None


def _hidden_columns(sheet: Any) -> set[int]:
    hidden: set[int] = set()
    for dimension in sheet.column_dimensions.values():
        if dimension.hidden and dimension.min is not None and dimension.max is not None:
            hidden.update(range(dimension.min, min(dimension.max, MAX_GEOMETRY_CELLS) + 1))
    return hidden


def _behind_frozen_panes(sheet: Any) -> tuple[set[int], set[int]]:
    """Rows and columns that frozen panes leave above and left of the window: frozen while scrolled, the
    sheet cannot be scrolled back to them (only Unfreeze Panes shows them again)."""
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    view = sheet.sheet_view
    pane = getattr(view, "pane", None)
    if pane is None or pane.state not in ("frozen", "frozenSplit"):
        return set(), set()
    try:
        letters, first_row = coordinate_from_string(view.topLeftCell or "A1")
        first_column = column_index_from_string(letters)
    except ValueError:
        return set(), set()
    rows = set(range(1, min(first_row, MAX_GEOMETRY_CELLS))) if (pane.ySplit or 0) > 0 else set()
    columns = set(range(1, min(first_column, MAX_GEOMETRY_CELLS))) if (pane.xSplit or 0) > 0 else set()
    return rows, columns


def _styled_elsewhere(sheet: Any) -> tuple[list[Any], list[Any]]:
    """Cell ranges whose fill comes from outside the cell: Excel tables (their table style) and colour
    scales or data bars (a colour per value)."""
    from openpyxl.worksheet.cell_range import CellRange

    tables: list[Any] = []
    for table in sheet.tables.values():
        try:
            tables.append(CellRange(table.ref))
        except (TypeError, ValueError):
            continue
    scales = [
        formatting.sqref
        for formatting in sheet.conditional_formatting
        if any(rule.type in ("colorScale", "dataBar") for rule in formatting.rules)
    ]
    return tables, scales


def _conditional_rules(sheet: Any) -> list[tuple[Any, Any]]:
    """(cell range, rule) pairs in priority order (1 first)."""
    pairs: list[tuple[Any, Any]] = []
    for formatting in sheet.conditional_formatting:
        for rule in formatting.rules:
            pairs.append((formatting.sqref, rule))
    pairs.sort(key=lambda pair: pair[1].priority or 0)
    return pairs


_SECTION = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|;')


def _sections(code: str) -> list[str]:
    """A number format's sections, split at semicolons outside quotes, escapes and brackets."""
    sections, current = [], []
    position = 0
    for found in _SECTION.finditer(code):
        current.append(code[position : found.start()])
        if found.group() == ";":
            sections.append("".join(current))
            current = []
        else:
            current.append(found.group())
        position = found.end()
    current.append(code[position:])
    sections.append("".join(current))
    return sections


def _bare(section: str) -> str:
    """A section without its literals, escapes, colours, conditions, fills and spacers."""
    return re.sub(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.', "", section)


def _section(code: str, value: Any) -> str | None:
    """The section of a number format that draws this value; None when Excel shows it unformatted."""
    if code in ("General", ""):
        return None
    sections = _sections(code)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if any(re.search(r"\[[<>=]", section) for section in sections):
            return None  # conditional sections: not evaluated, the value is taken as shown
        if value > 0 or len(sections) == 1:
            return sections[0]
        return sections[1] if value < 0 else sections[2 if len(sections) > 2 else 0]
    if len(sections) >= 4:
        return sections[3]
    return sections[0] if len(sections) == 1 and "@" in _bare(sections[0]) else None


def _shows_value(code: str, value: Any) -> bool:
    """Does the number format display the cell's value at all (`;;;` shows nothing; `;;;"x"` shows x)?"""
    section = _section(code, value)
    if section is None:
        return True
    bare = _bare(section).lower()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return bool(re.search(r"[0#?]|general|e[+-]|[ymdhs]", bare))
    return "@" in bare


def _format_color(code: str, value: Any, palette: list[str]) -> Rgba | None:
    """The colour a number format's section draws the value in (`[White]@`, `[Color2]0.00`), if any."""
    section = _section(code, value)
    found = re.search(r"\[([A-Za-z]+)(\d*)\]", section or "")
    if found is None:
        return None
    name, index = found.group(1).lower(), found.group(2)
    if name == "color" and index:
        return _indexed(int(index) + 7, palette)  # [Color1] is the legacy palette's entry 8
    return parse_css_color(name) if name in _FORMAT_COLORS else None


def _applies(rule: Any, value: Any) -> bool:
    """Whether a conditional format applies to a text cell; a formula it cannot evaluate counts as applying
    (a rule that can make the text unreadable is treated as doing so)."""
    kind = rule.type
    text = _plain(value).lower()
    formulas = [str(f).strip() for f in (rule.formula or [])]
    if kind == "expression":
        if not formulas:
            return False
        constant = formulas[0].upper().removesuffix("()")
        return constant not in ("FALSE", "0")
    if kind == "notContainsBlanks":
        return bool(text.strip())
    if kind == "containsBlanks":
        return not text.strip()
    if kind in ("containsText", "notContainsText", "beginsWith", "endsWith"):
        needle = str(rule.text or "").lower()
        found = {
            "containsText": needle in text,
            "notContainsText": needle not in text,
            "beginsWith": text.startswith(needle),
            "endsWith": text.endswith(needle),
        }
        return found[kind]
    if kind == "cellIs" and formulas:
        operand = formulas[0]
        if operand.startswith('"') and operand.endswith('"'):
            same = operand[1:-1].lower() == text
            return {"equal": same, "notEqual": not same}.get(str(rule.operator), True)
        if isinstance(value, str):
            # Excel orders any text after any number.
            return str(rule.operator) in ("greaterThan", "greaterThanOrEqual", "notEqual", "notBetween")
        return True
    # Rules on numbers and dates never match text; duplicate and unique values depend on other cells.
    return kind in ("duplicateValues", "uniqueValues", "notContainsErrors")
