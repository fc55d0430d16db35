"""XLSX: hidden and very hidden sheets, hidden rows and columns, text in the cell's background colour,
tiny text. Spans carry the sheet name so they are only looked for in that sheet's elements."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

from access_index.errors import SanitizeError
from ingest.sanitize.colors import BLACK, WHITE, Rgba, invisible_on, parse_argb
from ingest.sanitize.model import HiddenSpan

TINY_POINTS = 2.0
# Excel's default theme: index 0 is "Background 1" (white), 1 is "Text 1" (black).
_THEME = {0: WHITE, 1: BLACK}


def _color(color: Any) -> Rgba | None:
    if color is None:
        return None
    kind = getattr(color, "type", None)
    if kind == "rgb" and isinstance(color.rgb, str):
        return parse_argb(color.rgb)
    if kind == "theme" and isinstance(color.theme, int):
        return _THEME.get(color.theme)
    if kind == "indexed" and color.indexed in (1, 9):  # indexed 1 and 9 are white in the legacy palette
        return WHITE
    return None


def _text(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


class XlsxScanner:
    """Hidden text of an Excel workbook."""

    def scan(self, path: Path) -> list[HiddenSpan]:
        """Hidden spans of the .xlsx at `path`."""
        from openpyxl import load_workbook

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                workbook = load_workbook(path, data_only=True)
        except (zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
            raise SanitizeError(f"{path}: not a readable workbook: {error}") from error
        spans: list[HiddenSpan] = []
        for number, sheet in enumerate(workbook.worksheets, start=1):
            spans.extend(self._sheet(sheet, number))
        workbook.close()
        return spans

    def _sheet(self, sheet: Any, number: int) -> list[HiddenSpan]:
        spans: list[HiddenSpan] = []
        title = str(sheet.title)
        if sheet.sheet_state in ("hidden", "veryHidden"):
            technique = "xlsx_very_hidden_sheet" if sheet.sheet_state == "veryHidden" else "xlsx_hidden_sheet"
            for row in sheet.iter_rows():
                text = " ".join(t for cell in row if (t := _text(cell.value)))
                if text:
                    where = f"sheet {title!r} row {row[0].row}"
                    spans.append(HiddenSpan(technique, where, text, page=None, sheet=title))
            return spans
        hidden_columns: set[int] = set()
        for dimension in sheet.column_dimensions.values():
            if dimension.hidden and dimension.min is not None and dimension.max is not None:
                hidden_columns.update(range(dimension.min, dimension.max + 1))
        for row in sheet.iter_rows():
            if not row:
                continue
            row_number = row[0].row
            if sheet.row_dimensions[row_number].hidden:
                text = " ".join(t for cell in row if (t := _text(cell.value)))
                if text:
                    spans.append(HiddenSpan("xlsx_hidden_row", f"sheet {title!r} row {row_number}", text, sheet=title))
                continue
            for cell in row:
                text = _text(cell.value)
                if not text:
                    continue
                hiding = self._cell_hidden(cell, hidden_columns)
                if hiding is not None:
                    spans.append(HiddenSpan(hiding, f"sheet {title!r} cell {cell.coordinate}", text, sheet=title))
        return spans

    @staticmethod
    def _cell_hidden(cell: Any, hidden_columns: set[int]) -> str | None:
        if cell.column in hidden_columns:
            return "xlsx_hidden_column"
        font = cell.font
        if font is not None and font.sz is not None and float(font.sz) <= TINY_POINTS:
            return "xlsx_tiny_text"
        foreground = _color(font.color) if font is not None else None
        if foreground is None:
            return None
        fill = cell.fill
        background = WHITE
        if fill is not None and getattr(fill, "fill_type", None) == "solid":
            background = _color(fill.fgColor) or WHITE
        if invisible_on(foreground, background):
            return "xlsx_background_color_text"
        return None
