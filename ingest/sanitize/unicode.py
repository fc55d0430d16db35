"""Context-aware Unicode smuggling: tag characters, zero-width characters, bidi overrides and
variation-selector runs. Legitimate uses are kept: subdivision flags (black flag + tags), ZWJ inside
emoji sequences, ZWNJ/ZWJ between letters of scripts that need them (Arabic, Persian, Indic, ...),
one variation selector after its base character."""

from __future__ import annotations

from dataclasses import dataclass

BLACK_FLAG = 0x1F3F4
CANCEL_TAG = 0xE007F
ZWNJ, ZWJ = 0x200C, 0x200D
ZERO_WIDTH = frozenset({0x200B, ZWNJ, ZWJ, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x180E})
BIDI_OVERRIDES = frozenset({0x202D, 0x202E})  # LRO, RLO: display order differs from what a model reads
POP_DIRECTIONAL = 0x202C

# Scripts whose orthography uses ZWNJ/ZWJ between letters (Persian, Arabic, Syriac, Indic, Myanmar, Khmer).
_JOINING_SCRIPTS = (
    (0x0600, 0x08FF),
    (0x0700, 0x074F),
    (0x0900, 0x0DFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFC),
)
# Emoji blocks, skin tones and the emoji presentation selector: ZWJ between these builds one emoji.
_EMOJI = (
    (0x1F000, 0x1FAFF),
    (0x2600, 0x27BF),
    (0x2300, 0x23FF),
    (0x2B00, 0x2BFF),
    (0x2190, 0x21FF),
    (0xFE0F, 0xFE0F),
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x2049),
)
# Ideographs and other bases that legitimately take one variation selector (ideographic variation sequences).
_IDEOGRAPHS = ((0x3400, 0x9FFF), (0x20000, 0x3FFFF), (0xF900, 0xFAFF))


@dataclass(frozen=True)
class UnicodeRemoval:
    """One smuggled run taken out of a text: its technique, the decoded payload, characters removed."""

    technique: str
    text: str
    chars: int


@dataclass(frozen=True)
class UnicodeResult:
    """A cleaned text and what was removed from it, in order."""

    text: str
    removals: tuple[UnicodeRemoval, ...]


def _in(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


def _is_tag(code: int) -> bool:
    return 0xE0000 <= code <= 0xE007F


def _variation_value(code: int) -> int | None:
    """The byte a variation selector stands for in the common smuggling encoding, else None."""
    if 0xFE00 <= code <= 0xFE0F:
        return code - 0xFE00
    if 0xE0100 <= code <= 0xE01EF:
        return code - 0xE0100 + 16
    return None


def _decode_bits(run: list[int]) -> str:
    """Zero-width runs made of two distinct characters often carry bits; show them as ASCII when they do."""
    symbols = sorted(set(run))
    if len(symbols) != 2 or len(run) % 8:
        return ""
    bits = "".join("0" if code == symbols[0] else "1" for code in run)
    data = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    text = data.decode("utf-8", errors="replace")
    return text if text.isprintable() else ""


class UnicodeScanner:
    """Removes invisible Unicode smuggling from element text, keeping legitimate sequences."""

    def clean(self, text: str) -> UnicodeResult:
        """The text without smuggled characters, and one removal per smuggled run."""
        codes = [ord(ch) for ch in text]
        out: list[str] = []
        removals: list[UnicodeRemoval] = []
        i, n = 0, len(codes)
        while i < n:
            code = codes[i]
            if _is_tag(code):
                j = i
                while j < n and _is_tag(codes[j]):
                    j += 1
                run = codes[i:j]
                flag = i > 0 and codes[i - 1] == BLACK_FLAG and run[-1] == CANCEL_TAG and len(run) >= 3
                if flag and all(0xE0030 <= c <= 0xE0039 or 0xE0061 <= c <= 0xE007A for c in run[:-1]):
                    out.append(text[i:j])  # a subdivision flag such as England or Scotland
                else:
                    decoded = "".join(chr(c - 0xE0000) for c in run if 0xE0020 <= c <= 0xE007E)
                    removals.append(UnicodeRemoval("unicode_tags", decoded, len(run)))
                i = j
            elif code in ZERO_WIDTH:
                j = i
                while j < n and codes[j] in ZERO_WIDTH:
                    j += 1
                run = codes[i:j]
                before = codes[i - 1] if i > 0 else None
                after = codes[j] if j < n else None
                if len(run) == 1 and self._legitimate_joiner(code, before, after):
                    out.append(text[i])
                else:
                    removals.append(UnicodeRemoval("zero_width", _decode_bits(run), len(run)))
                i = j
            elif code in BIDI_OVERRIDES:
                # What follows an override is displayed reversed: a reader sees something else than a model.
                j = i + 1
                while j < n and codes[j] != POP_DIRECTIONAL and text[j] not in "\n\r\u2029":
                    j += 1
                end = j + 1 if j < n and codes[j] == POP_DIRECTIONAL else j
                removals.append(UnicodeRemoval("bidi_override", text[i + 1 : j], end - i))
                i = end
            elif _variation_value(code) is not None:
                j = i
                while j < n and _variation_value(codes[j]) is not None:
                    j += 1
                base = codes[i - 1] if i > 0 else None
                if j - i == 1 and base is not None and self._takes_selector(code, base):
                    out.append(text[i])
                else:
                    payload = bytes(v for c in codes[i:j] if (v := _variation_value(c)) is not None)
                    decoded = payload.decode("utf-8", errors="replace")
                    removals.append(UnicodeRemoval("variation_selectors", decoded, j - i))
                i = j
            else:
                out.append(text[i])
                i += 1
        if not removals:
            return UnicodeResult(text, ())
        return UnicodeResult("".join(out), tuple(removals))

    @staticmethod
    def _legitimate_joiner(code: int, before: int | None, after: int | None) -> bool:
        if before is None or after is None or code not in (ZWNJ, ZWJ):
            return False
        if code == ZWJ and _in(before, _EMOJI) and _in(after, _EMOJI):
            return True
        return _in(before, _JOINING_SCRIPTS) and _in(after, _JOINING_SCRIPTS)

    @staticmethod
    def _takes_selector(code: int, base: int) -> bool:
        if code >= 0xE0100:
            return _in(base, _IDEOGRAPHS)
        if code in (0xFE0E, 0xFE0F):
            return not (_is_tag(base) or base in ZERO_WIDTH or chr(base).isspace())
        # VS1-VS14 mark standardized variants of math symbols, CJK and Mongolian letters.
        return _in(base, _IDEOGRAPHS) or 0x1800 <= base <= 0x18AF or 0x2200 <= base <= 0x22FF
