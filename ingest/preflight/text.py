"""Text formats whose parse cost is not linear in their size: CSV (a table, built densely by pandas and
rendered to HTML cell by cell) and Markdown (nested lists and quotes, which the Markdown parser handles
recursively). Both are measured on the bytes, before decoding: the characters that matter are ASCII."""

from __future__ import annotations

from pathlib import Path

from access_index.errors import LimitExceededError
from ingest.preflight.ooxml import MAX_SHEET_CELLS

MAX_COLUMNS = 16_384  # Excel's own limit: the widest table any spreadsheet application opens
MAX_NESTING = 100  # lists and quotes inside each other; markdown-it refuses deeper nesting by default too
_DELIMITERS = (b",", b";", b"\t", b"|")
_TAB_WIDTH = 4  # Python-Markdown's tab_length: one nesting level per four columns of indentation


def check_csv(path: Path) -> None:
    """Columns of every row, and rows × the first record's columns (pandas sizes the table by its first
    record and pads the rest). Delimiters inside quotes count too, so this can over-count, never under."""
    data = _ascii_view(path.read_bytes())
    first = 0
    for line in data.split(b"\n"):
        columns = max(line.count(delimiter) for delimiter in _DELIMITERS) + 1
        if columns > MAX_COLUMNS:
            raise LimitExceededError(f"a row with more than {MAX_COLUMNS:,} columns (wider than Excel allows)")
        first = first or (columns if line.strip() else 0)
    rows = data.count(b"\n") + 1
    if rows * first > MAX_SHEET_CELLS:
        raise LimitExceededError(
            f"spans more than {MAX_SHEET_CELLS:,} cells ({rows:,} rows x {first:,} columns, as pandas builds it)"
        )


def check_markdown(path: Path) -> None:
    """How deep block quotes and indented lists nest, line by line."""
    for number, line in enumerate(_ascii_view(path.read_bytes()).split(b"\n"), start=1):
        depth = _nesting(line)
        if depth > MAX_NESTING:
            raise LimitExceededError(f"line {number} nests {depth:,} levels deep, over {MAX_NESTING}")


def _nesting(line: bytes) -> int:
    """Quote markers plus indentation levels at the start of a line (`> > - item`, or eight spaces then `-`)."""
    quotes = columns = 0
    for byte in line:
        if byte == 0x3E:  # ">"
            quotes += 1
        elif byte == 0x20:
            columns += 1
        elif byte == 0x09:
            columns += _TAB_WIDTH - columns % _TAB_WIDTH
        else:
            break
    return quotes + columns // _TAB_WIDTH


def _ascii_view(data: bytes) -> bytes:
    """UTF-16 text decoded (its ASCII characters are two bytes each); anything else as it is."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace").encode("utf-8")
    return data
