"""Runs every scanner over one document. Interim version: Unicode smuggling only (tag characters and
zero-width runs); the hidden-text issue adds the format scanners and instruction-likeness."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from ingest.sanitize.model import Finding, SanitizedDocument

_TAGS = re.compile("[\U000e0000-\U000e007f]+")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]+")


def sanitize(path: Path, elements: Sequence[Any], policy: Literal["quarantine", "strip"]) -> SanitizedDocument:
    kept: list[Any] = []
    findings: list[Finding] = []
    for index, element in enumerate(elements):
        text = element.text or ""
        for match in _TAGS.finditer(text):
            decoded = "".join(chr(ord(ch) - 0xE0000) for ch in match.group() if 0xE0020 <= ord(ch) <= 0xE007E)
            findings.append(
                Finding("unicode_tags", f"element {index}", decoded, "removed", len(match.group()), element_index=index)
            )
        text = _TAGS.sub("", text)
        for match in _ZERO_WIDTH.finditer(text):
            findings.append(
                Finding("zero_width", f"element {index}", "", "removed", len(match.group()), element_index=index)
            )
        text = _ZERO_WIDTH.sub("", text)
        if text.strip():
            element.text = text
            kept.append(element)
    return SanitizedDocument(kept, tuple(findings), quarantined=False)
