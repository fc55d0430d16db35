"""Step 2: one file → what the model will see. The one read → parse → sanitize → chunk, used by `ingest` for
every candidate file and by `inspect` for every file it shows, so the two can never differ.

    read once (ingest/reading.py)      open without following links, hash, private copy
    → extract (ingest/extraction.py)   preflight → parse → sanitize, in a worker process (ingest/isolation/)
    → chunk (ingest/chunking.py)       here, with the embedding model's tokenizer

A document whose hidden text reads like an instruction stops after sanitizing (quarantined under the
`quarantine` policy); without a tokenizer (a dry run) it stops there too, since chunks need one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from access_index.errors import DocumentError
from ingest.chunking import ChunkDraft, ChunkingPolicy, chunk_elements, document_title
from ingest.extraction import Extractor
from ingest.plan import Candidate, IngestJob, Planned, Policy, Settled, decide, unreadable
from ingest.reading import PrivateCopy, PrivateFolder, open_found
from ingest.report import StageTimes
from ingest.sanitize import Finding


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
    copy: PrivateCopy,
    shown: Path,
    policy: Policy,
    max_file_bytes: int,
    extractor: Extractor,
    tokenizer: Tokenizer | None,
    *,
    redact: bool,
    times: StageTimes | None = None,
) -> PreparedFile:
    """Extract and chunk one private copy of the file at `shown`; a DocumentError (LimitExceededError,
    ParseError, SanitizeError...) says why it cannot be indexed, naming `shown`, never the copy.

    With `redact` (what goes into the index and out to agents) a removed finding keeps its technique, place
    and size but not its text; `inspect` shows the text."""
    clock = times or StageTimes()
    started = time.perf_counter()
    try:
        extracted = extractor.extract(copy.path, policy, max_file_bytes)
    except DocumentError as error:
        raise type(error)(str(error).replace(str(copy.path), str(shown))) from error
    finally:
        clock.record("parse", time.perf_counter() - started)
    # The parse stage is the extraction's wall time (isolation included) less the sanitizer's own time.
    clock.record("parse", -extracted.sanitize_seconds)
    clock.record("sanitize", extracted.sanitize_seconds)
    findings = extracted.findings
    if extracted.quarantined or tokenizer is None:
        return PreparedFile((), shown.stem, findings, extracted.quarantined)
    started = time.perf_counter()
    chunking = ChunkingPolicy.for_model(tokenizer.max_tokens)
    drafts = chunk_elements(extracted.elements, tokenizer.count_tokens, chunking, _by_element(findings, redact))
    title = document_title(extracted.elements, shown.stem)
    clock.add("chunk", started)
    return PreparedFile(tuple(drafts), title, findings, False)


@dataclass(frozen=True)
class Prepared:
    """The reader thread's result for one document to build: its chunks, or why there are none."""

    planned: Planned
    drafts: tuple[ChunkDraft, ...] = ()
    title: str = ""
    findings: tuple[Finding, ...] = ()
    quarantined: bool = False
    error: str | None = None


def prepare(
    job: IngestJob,
    candidate: Candidate,
    extractor: Extractor,
    folder: PrivateFolder,
    tokenizer: Tokenizer | None,
    times: StageTimes,
) -> Prepared | Settled:
    """Read a candidate once: hash it from its descriptor and let the plan decide (ingest/plan.py); when it
    has to be built, prepare it from a private copy of that descriptor, so the hash is of what is parsed."""
    started = time.perf_counter()
    try:
        with open_found(candidate.found, job.max_file_bytes) as opened:
            settled = decide(job, candidate, opened.hash(job.max_file_bytes))
            if settled is not None:
                return settled
            copy = opened.copy_into(folder, job.max_file_bytes)
    except DocumentError as error:
        return unreadable(candidate, str(error))
    except OSError as error:
        return unreadable(candidate, f"cannot read: {error.strerror or error}")
    finally:
        times.add("hash", started)
    planned = Planned(candidate.found, candidate.document_id, copy.content_hash, candidate.acl, candidate.existing)
    try:
        prepared = prepare_file(
            copy, candidate.found.path, job.policy, job.max_file_bytes, extractor, tokenizer, redact=True, times=times
        )
    except DocumentError as error:
        return Prepared(planned, error=str(error))
    finally:
        copy.remove()
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
