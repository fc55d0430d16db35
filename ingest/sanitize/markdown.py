"""Markdown: comments, hidden inline HTML, link reference titles, image alt text.

The file is rendered the way a Markdown viewer would and the result checked as HTML; definitions a
viewer never shows (reference titles) and alt text are reported when they read like instructions."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import markdown as markdown_lib

from access_index.errors import SanitizeError
from ingest.sanitize.html import HtmlScanner
from ingest.sanitize.instructions import InstructionDetector
from ingest.sanitize.model import HiddenSpan

_REFERENCE = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*\S+\s+(?:\"([^\"]*)\"|'([^']*)'|\(([^)]*)\))\s*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\(")


class MarkdownScanner:
    """Hidden text in a Markdown file."""

    def __init__(self, detector: InstructionDetector) -> None:
        self._detector = detector
        self._html = HtmlScanner(detector)

    def scan(self, path: Path) -> list[HiddenSpan]:
        """Hidden spans of the Markdown file at `path`."""
        try:
            source = path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise SanitizeError(f"{path}: cannot read the file: {error}") from error
        return self.scan_text(source)

    def scan_text(self, source: str) -> list[HiddenSpan]:
        """Hidden spans of a Markdown string."""
        spans: list[HiddenSpan] = []
        for found in _REFERENCE.finditer(source):
            title = next(group for group in found.groups()[1:] if group is not None)
            if title.strip() and self._detector.is_instruction_like(title):
                spans.append(
                    HiddenSpan(
                        "markdown_link_title",
                        "formatting",
                        f"line {_line(source, found.start())}",
                        title.strip(),
                        body=False,
                    )
                )
        for found in _IMAGE.finditer(source):
            alt = found.group(1)
            if alt.strip() and self._detector.is_instruction_like(alt):
                spans.append(
                    HiddenSpan(
                        "markdown_image_alt",
                        "formatting",
                        f"line {_line(source, found.start())}",
                        alt.strip(),
                        body=False,
                    )
                )
        reported = {span.text for span in spans}
        for span in self._html.scan_markup(markdown_lib.markdown(source, extensions=["tables"])):
            if span.technique == "html_attribute_text" and span.text in reported:
                continue  # already reported from the source, with its line
            spans.append(replace(span, technique=span.technique.replace("html_", "markdown_")))
        return spans


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1
