"""A private copy of a file → its clean elements and findings, as plain data: the part of preparing a file
that reads it, and so the part a hostile file can attack. The worker process (ingest/isolation/) runs it:

    preflight (ingest/preflight/) → parse (ingest/parsing.py) → sanitize (ingest/sanitize/)

The result holds only what chunking needs of each element (text, category, page, its index before
sanitizing) and the findings, so it crosses the process boundary as JSON of bounded size, never as objects
a parser built.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from access_index.errors import SanitizeError
from ingest.chunking import SourceElement, from_unstructured
from ingest.limits import ParseLimits
from ingest.parsing import parse_file
from ingest.preflight import preflight
from ingest.sanitize import Finding, sanitize
from ingest.sanitize.policy import Policy

_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Extracted:
    """A file's clean elements (in order, emptied ones dropped), every finding, and the time each step took."""

    elements: tuple[SourceElement, ...]
    findings: tuple[Finding, ...]
    quarantined: bool
    parse_seconds: float = 0.0
    sanitize_seconds: float = 0.0

    def to_wire(self) -> dict[str, Any]:
        """JSON-ready: elements as [text, category, page, index] lists, findings as their dicts."""
        return {
            "elements": [[e.text, e.category, e.page, e.index] for e in self.elements],
            "findings": [finding.to_dict() for finding in self.findings],
            "quarantined": self.quarantined,
            "parse_seconds": self.parse_seconds,
            "sanitize_seconds": self.sanitize_seconds,
        }

    @classmethod
    def from_wire(cls, data: Any) -> Extracted:
        """Rebuild from `to_wire()`'s shape, checking every type: ValueError on anything else."""
        if not isinstance(data, dict) or not isinstance(data.get("elements"), list):
            raise ValueError("not an extraction result")
        elements = tuple(_element(item) for item in data["elements"])
        findings = tuple(_finding(item) for item in _list(data.get("findings")))
        quarantined, parse, sanitized = data.get("quarantined"), data.get("parse_seconds"), data.get("sanitize_seconds")
        if not isinstance(quarantined, bool) or not _number(parse) or not _number(sanitized):
            raise ValueError("bad extraction flags or timings")
        return cls(elements, findings, quarantined, float(parse or 0), float(sanitized or 0))


class Extractor(Protocol):
    """Runs `extract` on a private copy: in a worker process under hard limits (ingest/isolation/pool.py),
    or in this process (`InProcessExtractor`, what the isolation is measured against)."""

    def extract(self, path: Path, policy: Policy, max_file_bytes: int) -> Extracted: ...


def extract(path: Path, policy: Policy, limits: ParseLimits, max_file_bytes: int) -> Extracted:
    """Check, parse and sanitize one file; a DocumentError (LimitExceededError, ParseError, SanitizeError)
    says why it cannot be indexed."""
    started = time.perf_counter()
    preflight(path, limits)
    elements = parse_file(path, max_file_bytes)
    parsed = time.perf_counter()
    original_index = {id(element): position for position, element in enumerate(elements)}
    try:
        cleaned = sanitize(path, elements, policy)
    except Exception as error:  # a document the sanitizer cannot vouch for is not indexed (fail closed)
        raise SanitizeError(f"sanitizer failed: {type(error).__name__}: {error}"[:300]) from error
    return Extracted(
        elements=tuple(from_unstructured(cleaned.elements, original_index)),
        findings=tuple(cleaned.findings),
        quarantined=cleaned.quarantined,
        parse_seconds=parsed - started,
        sanitize_seconds=time.perf_counter() - parsed,
    )


class InProcessExtractor:
    """`extract` in the calling process: no memory or time limit, only the cheap checks. The benchmark
    uses it to measure what the isolation costs; ingest and inspect always use the worker pool."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits

    def extract(self, path: Path, policy: Policy, max_file_bytes: int) -> Extracted:
        return extract(path, policy, self.limits, max_file_bytes)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _element(item: Any) -> SourceElement:
    if not isinstance(item, list) or len(item) != 4:
        raise ValueError("an element is [text, category, page, index]")
    text, category, page, index = item
    valid_page = page is None or (isinstance(page, int) and not isinstance(page, bool))
    if not isinstance(text, str) or not isinstance(category, str) or not valid_page or not isinstance(index, int):
        raise ValueError("bad element field types")
    return SourceElement(text, category, page, index)


def _finding(item: Any) -> Finding:
    names = {field.name for field in fields(Finding)}
    if not isinstance(item, dict) or set(item) != names:
        raise ValueError("a finding has exactly Finding's fields")
    if not all(isinstance(value, _SCALARS) for value in item.values()):
        raise ValueError("finding fields are plain values")
    return Finding(**item)
