"""Office Open XML packages (docx, pptx, xlsx) before a parser opens them.

The zip's end record says how many parts there are, its central directory how large each inflates to and
how well it compressed. A directory can lie, and zipfile's whole-part read inflates up to 2 GiB before it
cuts a part to its declared size, so every part is then streamed in bounded reads, which stop at the
declared size and check the CRC: a part that inflates to other bytes than declared is refused as corrupt.
While streaming, the parts that drive a parser's cost are counted, stopping at the first limit passed:
paragraphs for Word and PowerPoint (unstructured makes an element, and runs its text classifier, per
paragraph), rows and the area a sheet spans for Excel (pandas and openpyxl build a sheet densely out to its
farthest cell, so one cell at XFD1048576 is 17 billion cells).
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

from access_index.errors import LimitExceededError, ParseError
from ingest.limits import MiB, ParseLimits

MAX_PARTS = 10_000  # a Word or Excel file holds tens of parts, a large deck a few thousand
MAX_RATIO = 200  # inflated / compressed, judged past RATIO_FLOOR: XML compresses 5-50x, bombs 300-1000x
RATIO_FLOOR = 64 * MiB
MAX_PARAGRAPHS = 200_000  # about 5,000 pages of Word text; tables count one per cell
MAX_SHEET_ROWS = 1_048_576  # Excel's own limit: no spreadsheet application writes more
MAX_SHEET_CELLS = 5_000_000  # rows x columns spanned, summed over the sheets (unstructured's own default too)
_BLOCK = 1 << 20
_CARRY = 64 * 1024
# Start tags whatever their namespace prefix. The sheet patterns begin with a literal so that re scans at C
# speed (a sheet is scanned several times); a block with prefixed rows (legal, rare) has them stripped first.
_PARAGRAPH = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?p[\s/>]")
_ROW_REFERENCE = re.compile(rb"<row\s[^>]*?\br\s*=\s*[\"'](\d{1,9})[\"']")
_CELL = re.compile(rb"<c[\s/>]")
_CELL_WITHOUT_REFERENCE = re.compile(rb"<c(?:\s(?![^>]*\br\s*=)[^>]*)?>")
_CELL_REFERENCE = {n: re.compile(rb"<c\s[^>]*?\br\s*=\s*[\"']([A-Z]{%d})\d" % n) for n in (1, 2, 3)}
_PREFIXED = re.compile(rb"<[A-Za-z_][\w.-]*:(?=(?:row|c)[\s/>])")


def check_package(path: Path, kind: Literal["docx", "pptx", "xlsx"], limits: ParseLimits) -> None:
    """LimitExceededError when the package at `path` would cost more than the limits to parse; ParseError
    when a part does not inflate to what the directory declares."""
    declared = _declared_parts(path)
    if declared is not None and declared > MAX_PARTS:
        raise LimitExceededError(f"{declared:,} parts in the zip package, over {MAX_PARTS:,}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        return  # not a readable zip: the parser says what is wrong with it
    counts = _Counts(kind)
    with archive:
        parts = archive.infolist()
        _check_sizes(parts, limits)
        for part in parts:
            try:
                with archive.open(part) as stream:
                    if part.filename.endswith(".xml"):
                        counts.add(stream, part.filename)
                    while stream.read(_BLOCK):
                        pass
            except (zipfile.BadZipFile, EOFError, zlib.error) as error:
                raise ParseError(
                    f"corrupt package: {part.filename} does not inflate to what the zip directory declares ({error})"
                ) from error
            except (NotImplementedError, RuntimeError):
                return  # an unsupported compression method or an encrypted part: the parser reports it


def _declared_parts(path: Path) -> int | None:
    """The entry count of the zip's end record (zip64 too), read before zipfile builds its directory."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - 22 - 65_535))  # the end record, after which only a comment may follow
        tail = handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return None
        (entries,) = struct.unpack_from("<H", tail, at + 10)
        locator = at - 20
        if entries != 0xFFFF or locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
            return int(entries)
        (record,) = struct.unpack_from("<Q", tail, locator + 8)
        handle.seek(record)
        zip64 = handle.read(56)
    if len(zip64) < 56 or zip64[:4] != b"PK\x06\x06":
        return None
    (total,) = struct.unpack_from("<Q", zip64, 32)
    return int(total)


def _check_sizes(parts: list[zipfile.ZipInfo], limits: ParseLimits) -> None:
    if len(parts) > MAX_PARTS:
        raise LimitExceededError(f"{len(parts):,} parts in the zip package, over {MAX_PARTS:,}")
    inflated = sum(part.file_size for part in parts)
    if inflated > limits.max_decompressed_bytes:
        raise LimitExceededError(limits.decompressed_reason(f"its parts inflate to {inflated // MiB:,} MiB"))
    compressed = max(1, sum(part.compress_size for part in parts))
    if inflated > RATIO_FLOOR and inflated / compressed > MAX_RATIO:
        raise LimitExceededError(
            f"its parts inflate {inflated // compressed:,}x (to {inflated // MiB:,} MiB), over {MAX_RATIO}x: "
            "a zip bomb, not a document"
        )


class _Counts:
    """Paragraphs (Word, PowerPoint) or the spanned area of the sheets (Excel) seen so far in one package.

    Elements are found by their start tags, whatever their namespace prefix: a byte scan, so that the check
    stays cheap next to the parse it guards (lxml would build every element of every part)."""

    def __init__(self, kind: Literal["docx", "pptx", "xlsx"]) -> None:
        self.kind = kind
        self.paragraphs = 0
        self.area = 0

    def add(self, stream: IO[bytes], name: str) -> None:
        if self.kind == "xlsx":
            self._sheet(stream, name)
        else:
            self._paragraphs(stream)

    def _paragraphs(self, stream: IO[bytes]) -> None:
        for block in _blocks(stream):
            self.paragraphs += len(_PARAGRAPH.findall(block))
            if self.paragraphs > MAX_PARAGRAPHS:
                raise LimitExceededError(f"more than {MAX_PARAGRAPHS:,} paragraphs")

    def _sheet(self, stream: IO[bytes], name: str) -> None:
        """Rows and the area of one sheet: out to the farthest row and column reference, or as far as rows and
        cells without a reference reach (each follows the one before). Counted per block with C-speed scans."""
        rows = last_row = widest = 0
        for block in _blocks(stream):
            if b":row" in block:
                block = _PREFIXED.sub(b"<", block)
            rows += block.count(b"<row>") + block.count(b"<row ") + block.count(b"<row/")
            last_row = max([last_row, *map(int, _ROW_REFERENCE.findall(block))])
            widest = max(widest, _farthest_column(block))
            if _CELL_WITHOUT_REFERENCE.search(block):
                widest = max(widest, *map(len, map(_CELL.findall, block.split(b"<row"))))
            if rows > MAX_SHEET_ROWS or last_row > MAX_SHEET_ROWS:
                raise LimitExceededError(f"more than {MAX_SHEET_ROWS:,} rows in one sheet (Excel's own limit)")
            if self.area + max(last_row, rows) * widest > MAX_SHEET_CELLS:
                raise LimitExceededError(
                    f"its sheets span more than {MAX_SHEET_CELLS:,} cells (rows x columns out to the farthest "
                    f"cell; {name} reaches row {max(last_row, rows):,}, column {widest:,})"
                )
        self.area += max(last_row, rows) * widest


def _farthest_column(block: bytes) -> int:
    """The highest column of the cell references in a block: references of the same letter count compare as
    bytes, so the longest ones present are looked at alone (no Python loop over the cells)."""
    for letters in (3, 2, 1):
        found = _CELL_REFERENCE[letters].findall(block)
        if found:
            return _column(max(found))
    return 0


def _column(letters: bytes) -> int:
    """`XFD` → 16384: the column number of a cell reference's letters."""
    number = 0
    for letter in letters:
        number = number * 26 + letter - ord("A") + 1
    return number


def _blocks(stream: IO[bytes]) -> Iterator[bytes]:
    """The stream in bounded blocks that end after a `>`: a tag cut by a block boundary is carried whole into
    the next block (up to _CARRY bytes of it)."""
    carried = b""
    while block := stream.read(_BLOCK):
        text = carried + block
        cut = text.rfind(b">") + 1
        yield text[:cut]
        carried = text[cut:][-_CARRY:]
