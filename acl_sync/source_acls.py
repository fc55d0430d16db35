"""Re-evaluate each ingested source's ACL manifest and rewrite the payloads of documents whose ACL changed.

Only the ACL keys (allow, deny, labels, label_kv, acl_hash) are rewritten, in place: vectors and text
are never touched, so nothing is re-embedded. A document that no rule matches any more gets an empty
allow list (it matches nobody: fail closed) and is reported; re-ingesting with --delete-missing or a
rule for it decides its fate. A source whose manifest no longer loads is left as it is and reported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from access_index.document_acl import DocumentAcl
from access_index.errors import ClearanceError
from access_index.index import AnyOf, ChunkIndex, Filter
from access_index.manifest import load_manifest
from access_index.settings import Settings
from access_index.sources import SourceRecord, list_sources

UPDATE_BATCH = 512  # document ids per payload update (one filtered set_payload call)
SCROLL_BATCH = 2048
NO_ACL = DocumentAcl(allow=(), deny=(), labels={})


@dataclass(frozen=True)
class SourceRefresh:
    """What one source's refresh found and changed."""

    source: str
    tenant: str
    documents: int = 0
    documents_changed: int = 0
    chunks_updated: int = 0
    unmatched: tuple[str, ...] = ()
    error: str | None = None
    warnings: tuple[str, ...] = ()  # the manifest's (old principal spellings, with the line and the fix)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "tenant": self.tenant,
            "documents": self.documents,
            "documents_changed": self.documents_changed,
            "chunks_updated": self.chunks_updated,
            "unmatched": list(self.unmatched),
            "error": self.error,
            "warnings": list(self.warnings),
        }


@dataclass
class _Document:
    hashes: set[str] = field(default_factory=set)
    chunks: int = 0


def refresh_all_sources(settings: Settings, index: ChunkIndex) -> list[SourceRefresh]:
    """Refresh every recorded source; one source's failure does not stop the others."""
    try:
        records = list_sources(settings)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [SourceRefresh("*", "*", error=f"cannot read the source registry: {error}")]
    return [refresh_source(record, index) for record in records]


def refresh_source(record: SourceRecord, index: ChunkIndex) -> SourceRefresh:
    """Compare each document's stored acl_hash with its manifest rule now; rewrite the ones that differ."""
    try:
        manifest = load_manifest(Path(record.manifest))
    except ClearanceError as error:
        return SourceRefresh(record.name, record.tenant, error=f"manifest not applied, ACLs left as they were: {error}")
    scope = Filter(must=(AnyOf("tenant", (record.tenant,)), AnyOf("source", (record.name,))))
    try:
        documents: dict[str, _Document] = defaultdict(_Document)
        for chunk in index.scroll(scope, fields=["document_id", "acl_hash", "chunk_index"], batch=SCROLL_BATCH):
            document = documents[chunk.document_id]
            document.hashes.add(chunk.acl_hash)
            document.chunks += 1
        prefix = f"{record.name}/"
        # Keyed by acl_hash: documents that get the same ACL are updated together, in one filtered call.
        pending: dict[str, list[str]] = defaultdict(list)
        acls: dict[str, DocumentAcl] = {}
        unmatched: list[str] = []
        chunks_updated = 0
        for document_id, document in sorted(documents.items()):
            relpath = document_id[len(prefix) :] if document_id.startswith(prefix) else document_id
            rule = manifest.rule_for(relpath)
            acl = DocumentAcl.from_rule(rule) if rule is not None else NO_ACL
            if rule is None:
                unmatched.append(document_id)
            if document.hashes != {acl.acl_hash}:
                pending[acl.acl_hash].append(document_id)
                acls[acl.acl_hash] = acl
                chunks_updated += document.chunks
        for acl_hash, document_ids in pending.items():
            payload = acls[acl_hash].payload()
            for start in range(0, len(document_ids), UPDATE_BATCH):
                batch = tuple(document_ids[start : start + UPDATE_BATCH])
                index.set_payload_where(scope.and_(Filter(must=(AnyOf("document_id", batch),))), payload)
        if pending:
            index.flush()
    except ClearanceError as error:
        return SourceRefresh(record.name, record.tenant, error=f"refresh interrupted: {error}")
    return SourceRefresh(
        source=record.name,
        tenant=record.tenant,
        documents=len(documents),
        documents_changed=sum(len(ids) for ids in pending.values()),
        chunks_updated=chunks_updated,
        unmatched=tuple(unmatched),
        warnings=manifest.warnings,
    )
