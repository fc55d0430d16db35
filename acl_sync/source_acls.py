"""Re-evaluate each ingested source's ACL manifest and rewrite the payloads of documents whose ACL changed.

A source is (tenant, name) (access_index/sources.py): each record's manifest applies to the documents of its
own tenant and name only, and only to those ingested from its roots. Only the ACL keys (allow, deny, labels,
label_kv, acl_hash) are rewritten, in place: vectors and text are never touched, so nothing is re-embedded.

- A document that no rule matches any more gets an empty allow list (it matches nobody: fail closed) and is
  reported; re-ingesting with --delete-missing or a rule for it decides its fate.
- A document whose file is not `<root>/<path>` for one of its record's roots (indexed under another root or
  id by an ingest before sources were keyed by tenant and root) gets an empty allow list too, and fails the
  sync by name: the record's manifest was not written for it, and re-tagging it could widen its ACL.
- A source whose manifest no longer loads is left as it is and fails the sync.
- A `source: keycloak` source takes its ACLs from the compiled Keycloak model the sync saved just before
  (access_index/acl_provider.py): a document no resource covers, or whose resource has no ACL Clearance can
  express, gets an empty allow list like an unmatched one; without a saved model the source is left as it is
  and fails the sync.
- An indexed (tenant, source) without a record is left as it is and fails the sync by name: no manifest
  change can reach its documents until it is ingested again. Found by probing for one chunk outside the
  known pairs at a time, so the cost is one small query per pair found (plus one per source name).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from access_index.acl_provider import NO_MODEL, KeycloakAcls, acl_provider
from access_index.document_acl import DocumentAcl
from access_index.errors import ClearanceError, NoCollectionError
from access_index.index import AnyOf, Chunk, ChunkIndex, Filter, source_filter
from access_index.manifest import load_manifest
from access_index.paths import DataPaths
from access_index.settings import Settings
from access_index.sources import SourceKey, SourceRecord, scan_sources

UPDATE_BATCH = 512  # document ids per payload update (one filtered set_payload call)
SCROLL_BATCH = 2048
NO_ACL = DocumentAcl(allow=(), deny=(), labels={})
REGISTRY = "*"  # the `source` of a refresh entry about the registry itself (an unreadable record)
SHOWN = 5  # document ids named in an error message


@dataclass(frozen=True)
class SourceRefresh:
    """What one source's refresh found and changed."""

    source: str
    tenant: str
    documents: int = 0
    documents_changed: int = 0
    chunks_updated: int = 0
    unmatched: tuple[str, ...] = ()
    outside_roots: tuple[str, ...] = ()  # documents not ingested from the record's roots: given no ACL
    error: str | None = None
    warnings: tuple[str, ...] = ()  # the manifest's (old principal spellings, with the line and the fix)

    @property
    def label(self) -> str:
        return "the source registry" if self.source == REGISTRY else f"source {self.source!r} of tenant {self.tenant!r}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "tenant": self.tenant,
            "documents": self.documents,
            "documents_changed": self.documents_changed,
            "chunks_updated": self.chunks_updated,
            "unmatched": list(self.unmatched),
            "outside_roots": list(self.outside_roots),
            "error": self.error,
            "warnings": list(self.warnings),
        }


@dataclass
class _Document:
    hashes: set[str] = field(default_factory=set)
    uris: set[str] = field(default_factory=set)
    chunks: int = 0


def refresh_all_sources(settings: Settings, index: ChunkIndex) -> list[SourceRefresh]:
    """Refresh every recorded source, then name the indexed sources that have no record; one source's failure
    does not stop the others."""
    try:
        scan = scan_sources(settings)
    except OSError as error:
        return [SourceRefresh(REGISTRY, REGISTRY, error=f"cannot read the source registry: {error}")]
    refreshes = [SourceRefresh(REGISTRY, REGISTRY, error=problem) for problem in scan.problems]
    refreshes.extend(refresh_source(record, index, settings.paths) for record in scan.records)
    try:
        unrecorded = unrecorded_sources(index, [record.key for record in scan.records])
        counted = [(key, index.count(source_filter(*key))) for key in unrecorded]
    except NoCollectionError:
        counted = []  # nothing was ever indexed
    except ClearanceError as error:
        refreshes.append(SourceRefresh(REGISTRY, REGISTRY, error=f"cannot look for sources without a record: {error}"))
        return refreshes
    for (tenant, name), chunks in counted:
        message = (
            f"indexed ({chunks} chunks) but no source record: its documents keep their ACLs and no manifest change "
            f"reaches them. Ingest it again to record its root and manifest: clearance ingest ROOT --acl MANIFEST "
            f"--source {name} --tenant {tenant}"
        )
        refreshes.append(SourceRefresh(name, tenant, error=message))
    return refreshes


def unrecorded_sources(index: ChunkIndex, recorded: Sequence[SourceKey]) -> list[SourceKey]:
    """Every (tenant, source) that has chunks in the index and is not in `recorded`."""
    tenants_of: dict[str, set[str]] = defaultdict(set)
    for tenant, name in recorded:
        tenants_of[name].add(tenant)
    found: list[SourceKey] = []
    names = sorted(tenants_of)
    while True:  # one probe per source name that no record knows
        chunk = _first(index, Filter(must_not=(AnyOf("source", tuple(names)),)) if names else Filter())
        if chunk is None:
            break
        names.append(chunk.source)
    for name in names:  # one probe per tenant of that name without a record
        known = tenants_of[name]
        while True:
            excluded = (AnyOf("tenant", tuple(sorted(known))),) if known else ()
            chunk = _first(index, Filter(must=(AnyOf("source", (name,)),), must_not=excluded))
            if chunk is None:
                break
            known.add(chunk.tenant)
            found.append((chunk.tenant, name))
    return sorted(found)


def _first(index: ChunkIndex, where: Filter) -> Chunk | None:
    return next(iter(index.scroll(where, fields=["tenant", "source"], batch=1)), None)


def refresh_source(record: SourceRecord, index: ChunkIndex, paths: DataPaths) -> SourceRefresh:
    """Compare each document's stored acl_hash with its ACL now (manifest rule or Keycloak resource); rewrite
    the ones that differ."""
    try:
        provider = acl_provider(load_manifest(Path(record.manifest)), paths, record.name)
    except ClearanceError as error:
        return SourceRefresh(record.name, record.tenant, error=f"manifest not applied, ACLs left as they were: {error}")
    if isinstance(provider, KeycloakAcls) and provider.model is None:
        message = NO_MODEL.format(path=provider.model_path)
        return SourceRefresh(record.name, record.tenant, error=f"ACLs left as they were: {message}")
    scope = source_filter(record.tenant, record.name)
    fields = ["document_id", "acl_hash", "chunk_index", "uri"]
    try:
        documents: dict[str, _Document] = defaultdict(_Document)
        for chunk in index.scroll(scope, fields=fields, batch=SCROLL_BATCH):
            document = documents[chunk.document_id]
            document.hashes.add(chunk.acl_hash)
            document.uris.add(chunk.uri)
            document.chunks += 1
        prefix = f"{record.name}/"
        # Keyed by acl_hash: documents that get the same ACL are updated together, in one filtered call.
        pending: dict[str, list[str]] = defaultdict(list)
        acls: dict[str, DocumentAcl] = {}
        unmatched: list[str] = []
        outside: list[str] = []
        chunks_updated = 0
        for document_id, document in sorted(documents.items()):
            if not all(record.holds(document_id, uri) for uri in document.uris):
                outside.append(document_id)
                acl = NO_ACL
            else:
                acl = provider.acl_for(document_id[len(prefix) :]).acl or NO_ACL
                if acl is NO_ACL:
                    unmatched.append(document_id)
            if document.hashes != {acl.acl_hash}:
                pending[acl.acl_hash].append(document_id)
                acls[acl.acl_hash] = acl
                chunks_updated += document.chunks
        for acl_hash, document_ids in pending.items():
            payload = acls[acl_hash].payload(record.tenant)
            for start in range(0, len(document_ids), UPDATE_BATCH):
                batch = tuple(document_ids[start : start + UPDATE_BATCH])
                index.set_payload_where(scope.and_(Filter(must=(AnyOf("document_id", batch),))), payload)
        if pending:
            index.flush()
    except ClearanceError as error:
        return SourceRefresh(record.name, record.tenant, error=f"refresh interrupted: {error}")
    problem = None
    if outside:
        shown = ", ".join(outside[:SHOWN]) + (f" and {len(outside) - SHOWN} more" if len(outside) > SHOWN else "")
        problem = (
            f"{len(outside)} document(s) were not ingested from the recorded root(s) {', '.join(record.roots)} "
            f"({shown}): its manifest was not written for them, so they now match nobody. Ingest the source again "
            "from its root with --delete-missing (or ingest their folder with --attach-root)"
        )
    return SourceRefresh(
        source=record.name,
        tenant=record.tenant,
        documents=len(documents),
        documents_changed=sum(len(ids) for ids in pending.values()),
        chunks_updated=chunks_updated,
        unmatched=tuple(unmatched),
        outside_roots=tuple(outside),
        error=problem,
        warnings=provider.warnings,
    )
