"""PDF: every stream inflated with a capped decompressor before a parser inflates it for real.

pdfminer inflates a content stream whole before reading it, and pdfium does the same when the hidden-text
check renders a page, so a 600 KB file can hold a 600 MB stream. Streams are found by their keywords in the
file's bytes (`stream` after a dictionary, up to `endstream`; object streams hold objects, never streams, so
none is missed and no cross-reference table has to be trusted), each one's filter chain is read from its
dictionary, and the filters that expand (Flate, LZW, RunLength) run with one output budget for the whole
file. Filters that shrink (ASCIIHex, ASCII85) are applied first when they come first; image codecs are left
to the worker's memory limit. An encrypted stream does not inflate and counts as its own size.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

from access_index.errors import LimitExceededError
from ingest.limits import ParseLimits

_STREAM = re.compile(rb"(?<!end)stream(?:\r\n|\n|\r)")
_OBJ = re.compile(rb"\bobj\b")
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[^\s/\[\]<>()]+)")
_NAME = re.compile(rb"/([^\s/\[\]<>()]+)")
_ABBREVIATIONS = {b"Fl": b"FlateDecode", b"LZW": b"LZWDecode", b"RL": b"RunLengthDecode"}
_ABBREVIATIONS |= {b"AHx": b"ASCIIHexDecode", b"A85": b"ASCII85Decode"}
_STEP = 1 << 20


def check_pdf(path: Path, limits: ParseLimits) -> None:
    """LimitExceededError when the streams of the PDF at `path` inflate past the decompressed budget."""
    budget = limits.max_decompressed_bytes
    used = 0
    for filters, data in _streams(path.read_bytes()):
        used += _inflated_size(filters, data, budget - used + 1)
        if used > budget:
            raise LimitExceededError(limits.decompressed_reason(f"its streams inflate to more than {budget:,} bytes"))


def _streams(pdf: bytes) -> Iterator[tuple[list[bytes], bytes]]:
    """(filter names, raw data) of every stream, in file order."""
    position = 0
    while match := _STREAM.search(pdf, position):
        start = match.end()
        dictionary = pdf[position : match.start()]
        objects = list(_OBJ.finditer(dictionary))
        if objects:
            dictionary = dictionary[objects[-1].end() :]
        end = pdf.find(b"endstream", start)
        end = len(pdf) if end < 0 else end
        found = _FILTER.search(dictionary)
        names = [_ABBREVIATIONS.get(name, name) for name in _NAME.findall(found.group(1))] if found else []
        yield names, pdf[start:end]
        position = end + len(b"endstream")


def _inflated_size(filters: list[bytes], data: bytes, cap: int) -> int:
    """Bytes the chain produces, counted up to `cap`: the shrinking filters in front are applied, then the
    first expanding one is counted; what follows it (predictors, image codecs) does not change the order."""
    try:
        for name in filters:
            if name == b"ASCIIHexDecode":
                data = binascii.unhexlify(_hex_digits(data))
            elif name == b"ASCII85Decode":
                data = base64.a85decode(data.split(b"~>")[0].strip().removeprefix(b"<~"), ignorechars=b" \t\r\n")
            elif name == b"FlateDecode":
                return _inflate(data, cap)
            elif name == b"LZWDecode":
                return _lzw(data, cap)
            elif name == b"RunLengthDecode":
                return _run_length(data, cap)
            else:
                break
    except (ValueError, binascii.Error):
        pass  # a malformed stream: the parser decides what to do with it
    return len(data)


def _hex_digits(data: bytes) -> bytes:
    digits = bytes(byte for byte in data.split(b">")[0] if chr(byte) in "0123456789abcdefABCDEF")
    return digits + b"0" if len(digits) % 2 else digits


def _inflate(data: bytes, cap: int) -> int:
    """zlib or raw DEFLATE output size, never producing more than `cap` bytes in all."""
    wbits = 15 if data[:1] in (b"\x08", b"\x18", b"\x28", b"\x38", b"\x48", b"\x58", b"\x68", b"\x78") else -15
    inflater = zlib.decompressobj(wbits)
    produced = 0
    pending = data
    try:
        while pending and produced < cap:
            produced += len(inflater.decompress(pending, min(_STEP, cap - produced)))
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error:
        pass  # a damaged or encrypted stream: what inflated so far counts
    return produced


def _lzw(data: bytes, cap: int) -> int:
    from pdfminer.lzw import LZWDecoder

    produced = 0
    try:
        for piece in LZWDecoder(BytesIO(data)).run():
            produced += len(piece)
            if produced >= cap:
                break
    except (ValueError, IndexError, EOFError):
        pass
    return produced


def _run_length(data: bytes, cap: int) -> int:
    """RunLengthDecode's output size from its length bytes alone: 0-127 copy n+1 bytes, 129-255 repeat one."""
    produced = position = 0
    while position < len(data) and produced < cap:
        length = data[position]
        if length == 128:
            break
        if length < 128:
            produced += length + 1
            position += length + 2
        else:
            produced += 257 - length
            position += 2
    return produced
