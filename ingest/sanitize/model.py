"""What the sanitizer reports: frozen values, JSON-ready through `to_dict()`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ingest.sanitize.perception import Principle

Action = Literal["removed", "flagged"]


@dataclass(frozen=True)
class Finding:
    """One thing a scanner found: which technique, where, the text, and what was done with it."""

    technique: str  # e.g. "unicode_tags", "zero_width", "html_display_none", "pdf_covered"
    location: str  # page and box, XML path or CSS selector, element index: enough for a human to find it
    text: str  # the hidden (or instruction-like) text, decoded where it was smuggled
    action: Action  # hidden text is "removed"; visible instruction-like text is "flagged" and kept
    chars: int = 0  # how many characters were removed
    instruction_like: bool = False
    element_index: int | None = None  # the parsed element it belongs to, when it maps onto one
    page: int | None = None  # 1-based page, slide or sheet number, when the format has pages
    principle: Principle | None = None  # why a reader cannot see it (perception.py); None for flagged text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what `clearance inspect`, ingest summaries and search results carry)."""
        return asdict(self)


@dataclass(frozen=True)
class SanitizedDocument:
    """Cleaned elements (same objects, text rewritten; emptied ones dropped) and every finding.

    `quarantined` is set when hidden text reads like an instruction and the policy is "quarantine":
    the document is then not indexed at all."""

    elements: Sequence[Any]
    findings: Sequence[Finding] = field(default_factory=tuple)
    quarantined: bool = False


@dataclass(frozen=True)
class HiddenSpan:
    """Text a format scanner found in the original file that a reader of the rendered file cannot see.

    `page` (1-based) or `sheet` narrow which parsed elements the text is looked for in. `body` is False
    for text outside the document body (comments, notes, properties, annotations, alt text): parsers
    rarely emit it, and when its words also occur in the body they are the body's, so it is only ever
    cut whole, never piece by piece."""

    technique: str
    principle: Principle  # size, contrast, position, occlusion or formatting (perception.py)
    location: str
    text: str
    page: int | None = None
    sheet: str | None = None
    body: bool = True
