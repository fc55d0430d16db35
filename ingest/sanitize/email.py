"""Email (.eml): the HTML bodies go through the HTML scanner, keeping the inbox preheader."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

from access_index.errors import SanitizeError
from ingest.sanitize.html import HtmlScanner
from ingest.sanitize.instructions import InstructionDetector
from ingest.sanitize.model import HiddenSpan


class EmailScanner:
    """Hidden text in the HTML parts of a MIME message."""

    def __init__(self, detector: InstructionDetector) -> None:
        self._html = HtmlScanner(detector, email=True)

    def scan(self, path: Path) -> list[HiddenSpan]:
        """Hidden spans of every text/html part, located by part number."""
        try:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        except OSError as error:
            raise SanitizeError(f"{path}: cannot read the file: {error}") from error
        spans: list[HiddenSpan] = []
        if not isinstance(message, EmailMessage):
            return spans
        for number, part in enumerate(message.walk(), start=1):
            if part.get_content_type() != "text/html" or part.get_content_disposition() == "attachment":
                continue
            if not isinstance(part, EmailMessage):
                continue
            content = part.get_content()
            markup = content if isinstance(content, str) else bytes(content).decode("utf-8", errors="replace")
            for span in self._html.scan_markup(markup):
                spans.append(replace(span, location=f"part {number} (text/html): {span.location}"))
        return spans
