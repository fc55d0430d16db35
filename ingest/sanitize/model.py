"""What the sanitizer reports: frozen values, JSON-ready through `to_dict()`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = Literal["removed", "flagged"]


@dataclass(frozen=True)
class Finding:
    """One thing a scanner found: which technique, where, the text, and what was done with it."""

    technique: str  # e.g. "unicode_tags", "zero_width", "html_display_none", "pdf_white_text"
    location: str  # page and box, XML path or CSS selector, element index: enough for a human to find it
    text: str  # the hidden (or instruction-like) text, decoded where it was smuggled
    action: Action  # hidden text is "removed"; visible instruction-like text is "flagged" and kept
    chars: int = 0  # how many characters were removed
    instruction_like: bool = False
    element_index: int | None = None  # the parsed element it belongs to, when it maps onto one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SanitizedDocument:
    """Cleaned elements (same objects, text rewritten; emptied ones dropped) and every finding.

    `quarantined` is set when hidden text reads like an instruction and the policy is "quarantine":
    the document is then not indexed at all."""

    elements: Sequence[Any]
    findings: Sequence[Finding] = field(default_factory=tuple)
    quarantined: bool = False
