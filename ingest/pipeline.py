"""Orchestration of one ingest run: discover → decide per document → parse → sanitize → chunk →
embed → write, with the index kept consistent at every instant.

Per document the decision is made from the index itself (ingest/state.py):
  unchanged (same content, ACL and pipeline)    → skipped without parsing
  ACL changed only                              → payload rewrite, no parsing, no embedding
  new / changed / incomplete (crashed run)      → new chunks upserted (same ids overwrite in place),
                                                  then the stale ids removed
  no matching rule / quarantined                → not indexed, and any indexed copy removed
Parsing, sanitizing and chunking run on a reader thread while the main thread embeds and writes, and
chunks of several documents share one embedding batch.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from access_index.embedder import Embedder
from access_index.index import Chunk, ChunkIndex, document_filter, point_id
from ingest.chunking import ChunkDraft, ChunkingPolicy, chunk_elements, document_title, from_unstructured
from ingest.discovery import FoundFile, discover
from ingest.document_acl import DocumentAcl
from ingest.manifest import Manifest
from ingest.parsing import ParseError, is_supported, parse_file
from ingest.report import IngestReport, NoProgress, Outcome, Progress, StageTimes, Status
from ingest.sanitize import Finding, sanitize
from ingest.state import IndexedDocument, load_state

# Bump when parsing, sanitizing or chunking changes what a document turns into: every document is redone.
PIPELINE_VERSION = "1"
Policy = Literal["quarantine", "strip"]
_READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class IngestJob:
    """Everything one run needs besides the index and the model."""

    paths: tuple[Path, ...]
    manifest: Manifest
    source: str
    tenant: str
    policy: Policy
    max_file_bytes: int
    quarantine_dir: Path
    delete_missing: bool = False
    dry_run: bool = False
    batch_chunks: int = 256

    @property
    def pipeline_version(self) -> str:
        return f"{PIPELINE_VERSION}/{self.policy}"


@dataclass(frozen=True)
class Planned:
    """A document that has to be (re)built, with what the index holds for it now."""

    found: FoundFile
    document_id: str
    content_hash: str
    acl: DocumentAcl
    existing: IndexedDocument | None


@dataclass(frozen=True)
class Prepared:
    """The reader thread's result for one planned document: its chunks, or why there are none."""

    planned: Planned
    drafts: tuple[ChunkDraft, ...] = ()
    title: str = ""
    findings: tuple[Finding, ...] = ()
    quarantined: bool = False
    error: str | None = None


@dataclass
class _Run:
    job: IngestJob
    index: ChunkIndex | None
    embedder: Embedder | None
    progress: Progress
    times: StageTimes = field(default_factory=StageTimes)
    outcomes: list[Outcome] = field(default_factory=list)
    chunks_written: int = 0

    def record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.progress.advance(1, outcome.chunks if outcome.status in ("new", "updated") else 0)


def run_job(
    job: IngestJob,
    index: ChunkIndex | None,
    embedder: Embedder | None,
    progress: Progress | None = None,
    state: Mapping[str, IndexedDocument] | None = None,
) -> IngestReport:
    """Run one ingest. Dry runs need neither an embedder nor a writable index (`index` may be None)."""
    if not job.dry_run and (index is None or embedder is None):
        raise ValueError("a real run needs an index and an embedder")
    started = time.perf_counter()
    run = _Run(job, index, embedder, progress or NoProgress())
    discovery = discover(job.paths)
    if state is None:
        state = load_state(index, job.tenant, job.source) if index is not None else {}
    run.progress.start(len(discovery.files))
    for skipped in discovery.skipped:
        run.outcomes.append(Outcome(_document_id(job, skipped.relpath), "skipped", skipped.reason))

    planned = _plan(run, discovery.files, state)
    _build(run, planned)
    if job.delete_missing:
        present = {_document_id(job, found.relpath) for found in discovery.files}
        for document_id in sorted(set(state) - present):
            if not job.dry_run:
                _remove(run, document_id)
            run.record(Outcome(document_id, "deleted", "file no longer in the source"))
    if index is not None and not job.dry_run:
        index.flush()
    run.progress.finish()
    return IngestReport(
        source=job.source,
        tenant=job.tenant,
        dry_run=job.dry_run,
        outcomes=tuple(run.outcomes),
        seconds=time.perf_counter() - started,
        chunks_written=run.chunks_written,
        stage_seconds=dict(run.times.seconds),
    )


def _document_id(job: IngestJob, relpath: str) -> str:
    return f"{job.source}/{relpath}"


def _plan(run: _Run, files: Sequence[FoundFile], state: Mapping[str, IndexedDocument]) -> list[Planned]:
    """Decide per file; settle everything that needs no parsing right here."""
    job = run.job
    planned: list[Planned] = []
    for found in files:
        document_id = _document_id(job, found.relpath)
        existing = state.get(document_id)
        if not is_supported(found.path):
            # Reported by name (not silently dropped), but not a failure: folders hold images and archives.
            run.record(Outcome(document_id, "skipped", f"unsupported file type {found.path.suffix or '(none)'!r}"))
            continue
        rule = job.manifest.rule_for(found.relpath)
        if rule is None:
            reason = "no ACL rule matches this path"
            if existing is not None:
                reason += "; its indexed copy was removed" if not job.dry_run else "; its indexed copy would be removed"
                if not job.dry_run:
                    _remove(run, document_id)
            run.record(Outcome(document_id, "no_acl", reason))
            continue
        acl = DocumentAcl.from_rule(rule)
        t0 = time.perf_counter()
        try:
            content_hash = _hash_file(found.path, job.max_file_bytes)
        except OSError as error:
            if existing is not None and existing.acl_hash != acl.acl_hash and not job.dry_run:
                _set_acl(run, document_id, acl)  # an unreadable file keeps its old text, never its old ACL
            run.record(Outcome(document_id, "failed", f"cannot read: {error.strerror or error}"))
            continue
        finally:
            run.times.add("hash", t0)
        same_content = (
            existing is not None
            and existing.complete
            and existing.content_hash == content_hash
            and existing.pipeline_version == job.pipeline_version
        )
        if existing is not None and same_content:
            if existing.acl_hash == acl.acl_hash:
                run.record(Outcome(document_id, "unchanged"))
            else:
                if not job.dry_run:
                    _set_acl(run, document_id, acl)
                run.record(Outcome(document_id, "updated", "ACL changed (payload rewritten, not re-embedded)"))
            continue
        held = _still_quarantined(job, found, document_id, content_hash) if existing is None else None
        if held is not None:
            run.record(held)
            continue
        planned.append(Planned(found, document_id, content_hash, acl, existing))
    return planned


def _hash_file(path: Path, max_bytes: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        read = 0
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
            read += len(block)
            if read > max_bytes:  # parse_file reports it as too large; no need to hash the rest
                break
    return digest.hexdigest()


def _build(run: _Run, planned: Sequence[Planned]) -> None:
    """Reader thread prepares documents; this thread embeds and writes them in cross-document batches."""
    if not planned:
        return
    results: queue.Queue[Prepared | BaseException | None] = queue.Queue(maxsize=64)
    stop = threading.Event()
    reader = threading.Thread(target=_read_all, args=(run, planned, results, stop), name="ingest-reader", daemon=True)
    reader.start()
    batch: list[Prepared] = []
    batch_chunks = 0
    try:
        for prepared in _drain(results):
            if prepared.error is not None or prepared.quarantined or run.job.dry_run:
                _settle(run, prepared)
                continue
            batch.append(prepared)
            batch_chunks += len(prepared.drafts)
            if batch_chunks >= run.job.batch_chunks:
                _write_batch(run, batch)
                batch, batch_chunks = [], 0
        _write_batch(run, batch)
    finally:
        stop.set()
        reader.join(timeout=5)


def _drain(results: queue.Queue[Prepared | BaseException | None]) -> Iterator[Prepared]:
    while True:
        item = results.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _read_all(
    run: _Run, planned: Sequence[Planned], results: queue.Queue[Prepared | BaseException | None], stop: threading.Event
) -> None:
    try:
        for item in planned:
            if stop.is_set():
                return
            results.put(_prepare(run, item))
        results.put(None)
    except BaseException as error:  # surfaced on the main thread; a reader crash must not look like "done"
        results.put(error)


def _prepare(run: _Run, planned: Planned) -> Prepared:
    job = run.job
    path = planned.found.path
    t0 = time.perf_counter()
    try:
        elements = parse_file(path, job.max_file_bytes)
    except ParseError as error:
        return Prepared(planned, error=error.reason)
    except OSError as error:
        return Prepared(planned, error=f"cannot read: {error.strerror or error}")
    finally:
        run.times.add("parse", t0)
    original_index = {id(element): position for position, element in enumerate(elements)}
    t0 = time.perf_counter()
    try:
        cleaned = sanitize(path, elements, job.policy)
    except Exception as error:  # a document the sanitizer cannot vouch for is not indexed (fail closed)
        return Prepared(planned, error=f"sanitizer failed: {type(error).__name__}: {error}"[:300])
    finally:
        run.times.add("sanitize", t0)
    findings = tuple(cleaned.findings)
    if cleaned.quarantined:
        return Prepared(planned, findings=findings, quarantined=True)
    if job.dry_run or run.embedder is None:
        return Prepared(planned, findings=findings)
    t0 = time.perf_counter()
    source_elements = from_unstructured(cleaned.elements, original_index)
    policy = ChunkingPolicy.for_model(run.embedder.max_tokens)
    drafts = chunk_elements(source_elements, run.embedder.count_tokens, policy, _by_element(findings, redact=True))
    title = document_title(source_elements, path.stem)
    run.times.add("chunk", t0)
    if not drafts:
        return Prepared(planned, findings=findings, error="no text left after removing hidden text")
    return Prepared(planned, tuple(drafts), title, findings)


def _settle(run: _Run, prepared: Prepared) -> None:
    """Documents that produce no chunks in this run: failed, quarantined, or everything in a dry run."""
    planned = prepared.planned
    findings = tuple(finding.to_dict() for finding in prepared.findings)
    dry = run.job.dry_run
    if prepared.error is not None:
        existing = planned.existing
        if existing is not None and existing.acl_hash != planned.acl.acl_hash and not dry:
            # The old text stays searchable until the file parses again, but under today's ACL, never yesterday's.
            _set_acl(run, planned.document_id, planned.acl)
        run.record(Outcome(planned.document_id, "failed", prepared.error, findings=findings))
    elif prepared.quarantined:
        reason = "hidden text that reads like an instruction"
        if planned.existing is not None:
            reason += "; its indexed copy would be removed" if dry else "; its indexed copy was removed"
        if not dry:
            if planned.existing is not None:
                _remove(run, planned.document_id)
            _write_quarantine_report(run.job, planned, prepared.findings)
        run.record(Outcome(planned.document_id, "quarantined", reason, findings=findings))
    else:
        status: Status = "new" if planned.existing is None else "updated"
        repair = None if planned.existing is None or planned.existing.complete else "would repair an incomplete copy"
        run.record(Outcome(planned.document_id, status, repair, findings=findings))


def _write_batch(run: _Run, batch: Sequence[Prepared]) -> None:
    if not batch:
        return
    assert run.index is not None
    assert run.embedder is not None
    t0 = time.perf_counter()
    texts = [draft.text for prepared in batch for draft in prepared.drafts]
    vectors = run.embedder.embed(texts)
    run.times.add("embed", t0)
    t0 = time.perf_counter()
    chunks = [chunk for prepared in batch for chunk in _chunks(run.job, prepared)]
    # Upsert first (same ids overwrite in place), then drop ids beyond the new length: a search never sees a
    # document missing, and a crash in between leaves a mix the next run detects as incomplete and redoes.
    run.index.upsert(chunks, [row.tolist() for row in vectors])
    for prepared in batch:
        existing = prepared.planned.existing
        if existing is not None:
            stale = sorted(existing.chunk_indexes - set(range(len(prepared.drafts))))
            run.index.delete_points([point_id(run.job.tenant, prepared.planned.document_id, i) for i in stale])
    run.times.add("write", t0)
    run.chunks_written += len(chunks)
    for prepared in batch:
        planned = prepared.planned
        status: Status = "new" if planned.existing is None else "updated"
        reason = None
        if planned.existing is not None and not planned.existing.complete:
            reason = "repaired an incomplete copy (interrupted run)"
        findings = tuple(finding.to_dict() for finding in prepared.findings)
        run.record(Outcome(planned.document_id, status, reason, len(prepared.drafts), findings))


def _chunks(job: IngestJob, prepared: Prepared) -> list[Chunk]:
    planned = prepared.planned
    count = len(prepared.drafts)
    return [
        Chunk(
            tenant=job.tenant,
            document_id=planned.document_id,
            source=job.source,
            chunk_index=position,
            chunk_count=count,
            text=draft.text,
            uri=planned.found.path.as_uri(),
            allow=planned.acl.allow,
            deny=planned.acl.deny,
            title=prepared.title,
            page=draft.page,
            section=draft.section,
            labels=planned.acl.labels,
            findings=draft.findings,
            content_hash=planned.content_hash,
            acl_hash=planned.acl.acl_hash,
            pipeline_version=job.pipeline_version,
        )
        for position, draft in enumerate(prepared.drafts)
    ]


def _remove(run: _Run, document_id: str) -> None:
    assert run.index is not None
    t0 = time.perf_counter()
    run.index.delete_where(document_filter(run.job.tenant, document_id))
    run.times.add("write", t0)


def _set_acl(run: _Run, document_id: str, acl: DocumentAcl) -> None:
    assert run.index is not None
    t0 = time.perf_counter()
    run.index.set_payload_where(document_filter(run.job.tenant, document_id), acl.payload())
    run.times.add("write", t0)


def _quarantine_path(job: IngestJob, document_id: str, name: str) -> Path:
    digest = hashlib.sha256(document_id.encode("utf-8")).hexdigest()[:16]
    return job.quarantine_dir / job.tenant / job.source / f"{digest}-{name}.json"


def _write_quarantine_report(job: IngestJob, planned: Planned, findings: Sequence[Finding]) -> None:
    """One JSON file per held-back document, for a human to review (overwritten by later runs)."""
    target = _quarantine_path(job, planned.document_id, planned.found.path.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "document": planned.document_id,
        "path": str(planned.found.path),
        "content_hash": planned.content_hash,
        "pipeline_version": job.pipeline_version,
        "quarantined_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "findings": [finding.to_dict() for finding in findings],
    }
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    temporary.replace(target)


def _still_quarantined(job: IngestJob, found: FoundFile, document_id: str, content_hash: str) -> Outcome | None:
    """The same bytes under the same pipeline were quarantined before: say so again without re-parsing."""
    try:
        saved = json.loads(_quarantine_path(job, document_id, found.path.name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if saved.get("content_hash") != content_hash or saved.get("pipeline_version") != job.pipeline_version:
        return None
    findings = tuple(finding for finding in saved.get("findings", ()) if isinstance(finding, dict))
    return Outcome(document_id, "quarantined", "hidden text that reads like an instruction (unchanged)", 0, findings)


@dataclass(frozen=True)
class Inspection:
    """What `clearance inspect` shows for one file: its chunks, or that it is quarantined, and the findings."""

    drafts: tuple[ChunkDraft, ...]
    findings: tuple[Finding, ...]
    quarantined: bool


def inspect_file(path: Path, policy: Policy, max_file_bytes: int, embedder: Embedder) -> Inspection:
    """Parse, sanitize and chunk one file exactly as ingest would; ParseError when it cannot be read."""
    elements = parse_file(path, max_file_bytes)
    original_index = {id(element): position for position, element in enumerate(elements)}
    cleaned = sanitize(path, elements, policy)
    findings = tuple(cleaned.findings)
    if cleaned.quarantined:
        return Inspection((), findings, True)
    source_elements = from_unstructured(cleaned.elements, original_index)
    policy_ = ChunkingPolicy.for_model(embedder.max_tokens)
    # Inspect shows every finding next to the chunk it came from, removed ones included.
    drafts = chunk_elements(source_elements, embedder.count_tokens, policy_, _by_element(findings, redact=False))
    return Inspection(tuple(drafts), findings, False)


def _by_element(findings: Sequence[Finding], redact: bool) -> dict[int | None, list[Mapping[str, Any]]]:
    """Findings keyed by the element they belong to, so each travels with the chunk holding it.

    With `redact` (what goes into the index and out to agents) a removed finding keeps its technique, place
    and size but not its text: the hidden payload must never reach an agent through the findings. Visible
    instruction-like text is in the chunk anyway, so a flagged finding keeps its text."""
    grouped: dict[int | None, list[Mapping[str, Any]]] = {}
    for finding in findings:
        shown = finding.to_dict()
        if redact and finding.action == "removed":
            shown["text"] = ""
        grouped.setdefault(finding.element_index, []).append(shown)
    return grouped
