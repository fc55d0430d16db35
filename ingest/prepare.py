"""Step 2: one file → what the model will see. The one parse → sanitize → chunk, used by `ingest` for
every document it builds and by `inspect` for every file it shows, so the two can never differ.

    parse (ingest/parsing.py) → sanitize (ingest/sanitize/) → chunk (ingest/chunking.py)

A document whose hidden text reads like an instruction stops after sanitizing (quarantined under the
`quarantine` policy); without a tokenizer (a dry run) it stops there too, since chunks need one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from access_index.errors import DocumentError, SanitizeError
from ingest.chunking import ChunkDraft, ChunkingPolicy, chunk_elements, document_title, from_unstructured
from ingest.parsing import parse_file
from ingest.plan import Planned, Policy
from ingest.report import StageTimes
from ingest.sanitize import Finding, sanitize


class Tokenizer(Protocol):
    """What chunking needs from the embedding model: its length limit and its token count."""

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass(frozen=True)
class PreparedFile:
    """A file's chunks (none when quarantined or without a tokenizer), its title and every finding."""

    drafts: tuple[ChunkDraft, ...]
    title: str
    findings: tuple[Finding, ...]
    quarantined: bool


def prepare_file(
    path: Path,
    policy: Policy,
    max_file_bytes: int,
    tokenizer: Tokenizer | None,
    *,
    redact: bool,
    times: StageTimes | None = None,
) -> PreparedFile:
    """Parse, sanitize and chunk one file; a DocumentError (ParseError, SanitizeError) says why it cannot be.

    With `redact` (what goes into the index and out to agents) a removed finding keeps its technique, place
    and size but not its text; `inspect` shows the text."""
    clock = times or StageTimes()
    started = time.perf_counter()
    try:
        elements = parse_file(path, max_file_bytes)
    finally:
        clock.add("parse", started)
    original_index = {id(element): position for position, element in enumerate(elements)}
    started = time.perf_counter()
    try:
        cleaned = sanitize(path, elements, policy)
    except Exception as error:  # a document the sanitizer cannot vouch for is not indexed (fail closed)
        raise SanitizeError(f"sanitizer failed: {type(error).__name__}: {error}"[:300]) from error
    finally:
        clock.add("sanitize", started)
    findings = tuple(cleaned.findings)
    if cleaned.quarantined or tokenizer is None:
        return PreparedFile((), path.stem, findings, cleaned.quarantined)
    started = time.perf_counter()
    source_elements = from_unstructured(cleaned.elements, original_index)
    chunking = ChunkingPolicy.for_model(tokenizer.max_tokens)
    drafts = chunk_elements(source_elements, tokenizer.count_tokens, chunking, _by_element(findings, redact))
    title = document_title(source_elements, path.stem)
    clock.add("chunk", started)
    return PreparedFile(tuple(drafts), title, findings, False)


@dataclass(frozen=True)
class Prepared:
    """The reader thread's result for one planned document: its chunks, or why there are none."""

    planned: Planned
    drafts: tuple[ChunkDraft, ...] = ()
    title: str = ""
    findings: tuple[Finding, ...] = ()
    quarantined: bool = False
    error: str | None = None


def prepare(
    planned: Planned, policy: Policy, max_file_bytes: int, tokenizer: Tokenizer | None, times: StageTimes
) -> Prepared:
    """`prepare_file` for a planned document, with every failure turned into the reason the report shows."""
    path = planned.found.path
    try:
        prepared = prepare_file(path, policy, max_file_bytes, tokenizer, redact=True, times=times)
    except DocumentError as error:
        return Prepared(planned, error=str(error))
    except OSError as error:
        return Prepared(planned, error=f"cannot read: {error.strerror or error}")
    if prepared.quarantined or tokenizer is None:
        return Prepared(planned, findings=prepared.findings, quarantined=prepared.quarantined)
    if not prepared.drafts:
        return Prepared(planned, findings=prepared.findings, error="no text left after removing hidden text")
    return Prepared(planned, prepared.drafts, prepared.title, prepared.findings)


def _by_element(findings: Sequence[Finding], redact: bool) -> dict[int | None, list[Mapping[str, Any]]]:
    """Findings keyed by the element they belong to, so each travels with the chunk holding it.

    A removed finding loses its text when `redact`: the hidden payload must never reach an agent through
    the findings. Visible instruction-like text is in the chunk anyway, so a flagged finding keeps its text."""
    grouped: dict[int | None, list[Mapping[str, Any]]] = {}
    for finding in findings:
        shown = finding.to_dict()
        if redact and finding.action == "removed":
            shown["text"] = ""
        grouped.setdefault(finding.element_index, []).append(shown)
    return grouped
