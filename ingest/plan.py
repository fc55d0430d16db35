"""Step 1 of a run: decide per discovered file what has to happen, from the index's own state.

    unchanged (same content, ACL and pipeline)   → settled: nothing to do
    ACL changed only                             → an ACL rewrite (payload only, no parsing, no embedding)
    new / changed / incomplete (crashed run)     → to build (parse → sanitize → chunk → embed → write)
    no matching rule                             → settled as no_acl, any indexed copy removed
    unreadable                                   → settled as failed; an indexed copy keeps its text, not its ACL
    same bytes quarantined before                → settled as quarantined, without parsing again

Planning reads files (to hash them) but writes nothing: the pipeline applies the plan's writes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from access_index.acl_provider import AclProvider
from access_index.document_acl import DocumentAcl
from ingest.discovery import FoundFile, Scope
from ingest.formats import is_supported
from ingest.quarantine import QuarantineRecords
from ingest.report import Outcome, StageTimes
from ingest.state import IndexedDocument

# Bump when parsing, sanitizing or chunking changes what a document turns into: every document is redone.
PIPELINE_VERSION = "1"
Policy = Literal["quarantine", "strip"]
_READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class IngestJob:
    """Everything one run needs besides the index and the model."""

    scopes: tuple[Scope, ...]  # the PATHs given, each with the source root it lies in (ingest/binding.py)
    acls: AclProvider  # the source's manifest rules or Keycloak resources (access_index/acl_provider.py)
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

    def document_id(self, relpath: str) -> str:
        return f"{self.source}/{relpath}"

    def covers(self, uri: str) -> bool:
        """Whether an indexed file lies under one of this run's PATHs: only those can be missing from it."""
        return any(scope.covers(uri) for scope in self.scopes)

    @property
    def quarantine(self) -> QuarantineRecords:
        return QuarantineRecords(self.quarantine_dir / self.tenant / self.source, self.pipeline_version)


@dataclass(frozen=True)
class Planned:
    """A document that has to be (re)built, with what the index holds for it now."""

    found: FoundFile
    document_id: str
    content_hash: str
    acl: DocumentAcl
    existing: IndexedDocument | None


@dataclass
class Plan:
    """What a run will do: documents to build, ACL rewrites and removals to apply, outcomes already known."""

    build: list[Planned] = field(default_factory=list)
    acl_rewrites: list[tuple[str, DocumentAcl]] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)
    settled: list[Outcome] = field(default_factory=list)


def plan(job: IngestJob, files: Sequence[FoundFile], state: Mapping[str, IndexedDocument], times: StageTimes) -> Plan:
    """Decide per file; everything that needs no parsing is settled here."""
    result = Plan()
    would = "would be" if job.dry_run else "was"
    for found in files:
        document_id = job.document_id(found.relpath)
        existing = state.get(document_id)
        if not is_supported(found.path):
            # Reported by name (not silently dropped), but not a failure: folders hold images and archives.
            reason = f"unsupported file type {found.path.suffix or '(none)'!r}"
            result.settled.append(Outcome(document_id, "skipped", reason))
            continue
        verdict = job.acls.acl_for(found.relpath)
        if verdict.acl is None:
            reason = verdict.reason or "no ACL"
            if existing is not None:
                reason += f"; its indexed copy {would} removed"
                result.removals.append(document_id)
            result.settled.append(Outcome(document_id, "no_acl", reason))
            continue
        acl = verdict.acl
        started = time.perf_counter()
        try:
            content_hash = _hash_file(found.path, job.max_file_bytes)
        except OSError as error:
            if existing is not None and existing.acl_hash != acl.acl_hash:
                result.acl_rewrites.append((document_id, acl))  # an unreadable file keeps its text, never its ACL
            result.settled.append(Outcome(document_id, "failed", f"cannot read: {error.strerror or error}"))
            continue
        finally:
            times.add("hash", started)
        same_content = (
            existing is not None
            and existing.complete
            and existing.content_hash == content_hash
            and existing.pipeline_version == job.pipeline_version
        )
        if existing is not None and same_content:
            if existing.acl_hash == acl.acl_hash:
                result.settled.append(Outcome(document_id, "unchanged"))
            else:
                result.acl_rewrites.append((document_id, acl))
                reason = "ACL changed (payload rewritten, not re-embedded)"
                result.settled.append(Outcome(document_id, "updated", reason))
            continue
        held = job.quarantine.held(document_id, found.path.name, content_hash) if existing is None else None
        if held is not None:
            result.settled.append(held)
            continue
        result.build.append(Planned(found, document_id, content_hash, acl, existing))
    return result


def _hash_file(path: Path, max_bytes: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        read = 0
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
            read += len(block)
            if read > max_bytes:  # parsing reports it as too large; no need to hash the rest
                break
    return digest.hexdigest()
