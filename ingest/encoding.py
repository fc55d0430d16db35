"""Bytes → text for the plain-text formats, with the encoding detected rather than assumed."""

from __future__ import annotations

from dataclasses import dataclass

from charset_normalizer import from_bytes

from access_index.errors import UndecodableError

_WESTERN = ("cp1252", "latin_1", "iso8859_15")


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str


def decode_text(data: bytes) -> DecodedText:
    """UTF-8 (with or without BOM) first, since it is never ambiguous; otherwise the best detected charset."""
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UndecodableError("binary content (NUL bytes) in a text file")
    try:
        return DecodedText(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError:
        pass
    matches = list(from_bytes(data))
    if not matches:
        raise UndecodableError("no text encoding fits the bytes")
    # Short Western texts fit several code pages equally well (cp775 and cp1250 both "work" for
    # German); among the cleanest candidates prefer Windows-1252/Latin-1, by far the most common
    # legacy encoding of office text, before charset_normalizer's own first choice.
    cleanest = min(match.chaos for match in matches)
    for match in matches:
        if match.chaos <= cleanest + 0.01:
            for western in _WESTERN:
                if western in match.could_be_from_charset:
                    try:
                        return _checked(DecodedText(data.decode(western), western))
                    except UnicodeDecodeError:
                        continue
    best = matches[0]
    return _checked(DecodedText(str(best), str(best.encoding)))


def _checked(decoded: DecodedText) -> DecodedText:
    if _control_ratio(decoded.text) > 0.05:
        raise UndecodableError(f"decodes as {decoded.encoding} only into control characters")
    return decoded


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return controls / len(text)
