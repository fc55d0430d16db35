"""Step 1 of a run: decide per discovered file what has to happen, from the index's own state.

    unsupported type                             → settled as skipped
    no matching rule                             → settled as no_acl, any indexed copy removed
    otherwise                                    → a candidate, decided once it is read (`decide`):
      unchanged (same content, ACL and pipeline)   → settled: nothing to do
      ACL changed only                             → an ACL rewrite (payload only, no parsing, no embedding)
      same bytes quarantined before                → settled as quarantined, without parsing again
      new / changed / incomplete (crashed run)     → to build (parse → sanitize → chunk → embed → write)
      unreadable, unsafe or too large              → failed (`unreadable`); an indexed copy keeps its text,
                                                     not its ACL

Planning reads no file: the reader thread (ingest/prepare.py) opens each candidate once, hashes it from that
descriptor and asks `decide`, so the content a decision is made on is the content that is then parsed.
Nothing here writes: the pipeline applies the removals and ACL rewrites.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from access_index.acl_provider import AclProvider
from access_index.document_acl import DocumentAcl
from ingest.discovery import FoundFile, Scope
from ingest.formats import is_supported
from ingest.limits import ParseLimits
from ingest.quarantine import QuarantineRecords
from ingest.report import Outcome
from ingest.state import IndexedDocument

# Bump when parsing, sanitizing or chunking changes what a document turns into: every document is redone.
PIPELINE_VERSION = "1"
Policy = Literal["quarantine", "strip"]


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
    limits: ParseLimits = field(default_factory=ParseLimits.defaults)

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
class Candidate:
    """A supported file with an ACL rule: whether it must be built depends on its content."""

    found: FoundFile
    document_id: str
    acl: DocumentAcl
    existing: IndexedDocument | None


@dataclass(frozen=True)
class Planned:
    """A document that has to be (re)built, with what the index holds for it now. `content_hash` is the hash
    of the bytes that are parsed (ingest/reading.py)."""

    found: FoundFile
    document_id: str
    content_hash: str
    acl: DocumentAcl
    existing: IndexedDocument | None


@dataclass(frozen=True)
class Settled:
    """A candidate that needs no parsing: its outcome, and the ACL its indexed copy must be given, if any."""

    outcome: Outcome
    acl_rewrite: DocumentAcl | None = None


@dataclass
class Plan:
    """What a run will do before reading: candidates to read, removals to apply, outcomes already known."""

    candidates: list[Candidate] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)
    settled: list[Outcome] = field(default_factory=list)


def plan(job: IngestJob, files: Sequence[FoundFile], state: Mapping[str, IndexedDocument]) -> Plan:
    """Decide per file what needs no reading; the rest are candidates for `decide`."""
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
        result.candidates.append(Candidate(found, document_id, verdict.acl, existing))
    return result


def decide(job: IngestJob, candidate: Candidate, content_hash: str) -> Settled | None:
    """The candidate's outcome when its content needs no parsing, None when it has to be built."""
    existing = candidate.existing
    same_content = (
        existing is not None
        and existing.complete
        and existing.content_hash == content_hash
        and existing.pipeline_version == job.pipeline_version
    )
    if existing is not None and same_content:
        if existing.acl_hash == candidate.acl.acl_hash:
            return Settled(Outcome(candidate.document_id, "unchanged"))
        reason = "ACL changed (payload rewritten, not re-embedded)"
        return Settled(Outcome(candidate.document_id, "updated", reason), candidate.acl)
    if existing is None:
        held = job.quarantine.held(candidate.document_id, candidate.found.path.name, content_hash)
        if held is not None:
            return Settled(held)
    return None


def unreadable(candidate: Candidate, reason: str) -> Settled:
    """A candidate that cannot be read: failed, and an indexed copy keeps its text but never its old ACL."""
    existing = candidate.existing
    rewrite = candidate.acl if existing is not None and existing.acl_hash != candidate.acl.acl_hash else None
    return Settled(Outcome(candidate.document_id, "failed", reason), rewrite)
