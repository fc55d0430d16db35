"""Runs the sanitize step over one document: the format scanner on the original file, the hidden spans
cut out of the parsed elements, Unicode smuggling removed, instruction-like text flagged, the policy
applied. Deterministic: the same file and elements always give the same output."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from access_index.errors import SanitizeError
from ingest.formats import format_of
from ingest.sanitize.docx import DocxScanner
from ingest.sanitize.email import EmailScanner
from ingest.sanitize.html import HtmlScanner
from ingest.sanitize.instructions import InstructionDetector
from ingest.sanitize.mapping import ElementCutter
from ingest.sanitize.markdown import MarkdownScanner
from ingest.sanitize.model import Finding, SanitizedDocument
from ingest.sanitize.pdf import PdfScanner
from ingest.sanitize.policy import Policy, should_quarantine
from ingest.sanitize.pptx import PptxScanner
from ingest.sanitize.scanner import FileScanner
from ingest.sanitize.unicode import UnicodeScanner
from ingest.sanitize.xlsx import XlsxScanner

_DEFAULT_DETECTOR = InstructionDetector()
# Findings travel into reports and search results: enough text to recognise the payload, never a whole
# hidden sheet (and never more of an injection than needed).
MAX_FINDING_TEXT = 300


def _excerpt(text: str) -> str:
    return text if len(text) <= MAX_FINDING_TEXT else text[: MAX_FINDING_TEXT - 1] + "…"


def scanner_for(path: Path, detector: InstructionDetector) -> FileScanner | None:
    """The format scanner for a file (ingest/formats.py), or None for formats with no hidden layer."""
    kind = format_of(path)
    if kind == "html":
        return HtmlScanner(detector)
    if kind == "email":
        return EmailScanner(detector)
    if kind == "markdown":
        return MarkdownScanner(detector)
    if kind == "pdf":
        return PdfScanner()
    if kind == "docx":
        return DocxScanner(detector)
    if kind == "pptx":
        return PptxScanner()
    if kind == "xlsx":
        return XlsxScanner()
    return None  # text and csv: no hidden layer beyond the Unicode smuggling checked for every format


def _page(element: Any) -> int | None:
    value = getattr(getattr(element, "metadata", None), "page_number", None)
    return value if isinstance(value, int) else None


def sanitize(
    path: Path,
    elements: Sequence[Any],
    policy: Policy,
    *,
    detector: InstructionDetector | None = None,
) -> SanitizedDocument:
    """Clean the parsed elements of one file; see the module docstring. Raises SanitizeError (fail closed)."""
    detector = detector or _DEFAULT_DETECTOR
    scanner = scanner_for(path, detector)
    try:
        spans = scanner.scan(path) if scanner is not None else []
    except SanitizeError:
        raise
    except Exception as error:  # a parser library failing on a hostile file: never index it unchecked
        raise SanitizeError(f"{path}: the hidden-text check failed ({type(error).__name__}: {error})") from error

    findings: list[Finding] = []
    cutter = ElementCutter(elements)
    for span in spans:
        placed = cutter.cut_all(span)
        findings.append(
            Finding(
                technique=span.technique,
                location=span.location,
                text=_excerpt(span.text),
                action="removed",
                chars=placed.chars or len(span.text),
                instruction_like=detector.is_instruction_like(span.text),
                element_index=placed.element_index,
                page=span.page,
                principle=span.principle,
            )
        )

    unicode = UnicodeScanner()
    kept: list[Any] = []
    for index, (element, text) in enumerate(zip(elements, cutter.texts(), strict=True)):
        cleaned = unicode.clean(text)
        for removal in cleaned.removals:
            findings.append(
                Finding(
                    technique=removal.technique,
                    location=f"element {index}",
                    text=_excerpt(removal.text),
                    action="removed",
                    chars=removal.chars,
                    instruction_like=detector.is_instruction_like(removal.text),
                    element_index=index,
                    page=_page(element),
                    principle="formatting",  # code points that render nothing (or reorder what does)
                )
            )
        if cleaned.text != (getattr(element, "text", "") or ""):
            element.text = cleaned.text
            metadata: Any = getattr(element, "metadata", None)
            if metadata is not None and getattr(metadata, "text_as_html", None) is not None:
                metadata.text_as_html = None  # it still holds the hidden text; chunkers must not fall back to it
        if not cleaned.text.strip():
            continue
        kept.append(element)
        match = detector.match(cleaned.text)
        if match is not None:
            findings.append(
                Finding(
                    technique=f"visible_instruction_{match.category}",
                    location=f"element {index}",
                    text=match.phrase,
                    action="flagged",
                    instruction_like=True,
                    element_index=index,
                    page=_page(element),
                )
            )
    return SanitizedDocument(tuple(kept), tuple(findings), quarantined=should_quarantine(findings, policy))
