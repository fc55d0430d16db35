"""A chunk as stored in the index: its payload schema is defined here and nowhere else.

Payload keys (keyword-indexed ones marked *):
    tenant*  document_id*  source*  allow*  deny*  label_kv*   (filterable)
    idf_scope*                                                (keyword search's IDF corpus, from tenant/allow/deny)
    chunk_index  chunk_count  text  uri  title  page  section  labels  findings
    content_hash  acl_hash  pipeline_version                  (ingest bookkeeping)
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from access_index.index.filter import label_token
from access_index.index.sparse import IDF_SCOPE, SparseVector, document_vector, idf_scope

# Fixed namespace: point ids must be the same on every machine and every run (idempotent upserts).
POINT_NAMESPACE = uuid.UUID("5b0f7d1e-9a7c-4c52-9a55-2f1f3c1a6c0e")

INDEXED_KEYWORDS = ("tenant", "document_id", "source", "allow", "deny", "label_kv", IDF_SCOPE)


def point_id(tenant: str, document_id: str, chunk_index: int) -> str:
    """Deterministic id: re-ingesting a document overwrites its chunks in place instead of adding copies."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{tenant}\x1f{document_id}\x1f{chunk_index}"))


@dataclass(frozen=True)
class Chunk:
    """One chunk of one document, with its provenance, access rules and findings."""

    tenant: str
    document_id: str
    source: str
    chunk_index: int
    chunk_count: int
    text: str
    uri: str
    allow: Sequence[str]
    deny: Sequence[str] = ()
    title: str | None = None
    page: int | None = None
    section: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    findings: Sequence[Mapping[str, Any]] = ()
    content_hash: str = ""
    acl_hash: str = ""
    pipeline_version: str = ""

    @property
    def point_id(self) -> str:
        return point_id(self.tenant, self.document_id, self.chunk_index)

    def to_payload(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "document_id": self.document_id,
            "source": self.source,
            "chunk_index": self.chunk_index,
            "chunk_count": self.chunk_count,
            "text": self.text,
            "uri": self.uri,
            "title": self.title,
            "page": self.page,
            "section": self.section,
            "allow": sorted(self.allow),
            "deny": sorted(self.deny),
            IDF_SCOPE: idf_scope(self.tenant, self.allow, self.deny),
            "labels": dict(self.labels),
            "label_kv": label_tokens(self.labels),
            "findings": [dict(finding) for finding in self.findings],
            "content_hash": self.content_hash,
            "acl_hash": self.acl_hash,
            "pipeline_version": self.pipeline_version,
        }

    @staticmethod
    def from_payload(payload: Mapping[str, Any]) -> Chunk:
        return Chunk(
            tenant=payload["tenant"],
            document_id=payload["document_id"],
            source=payload["source"],
            chunk_index=int(payload["chunk_index"]),
            chunk_count=int(payload.get("chunk_count", 0)),
            text=payload.get("text", ""),
            uri=payload.get("uri", ""),
            allow=tuple(payload.get("allow", ())),
            deny=tuple(payload.get("deny", ())),
            title=payload.get("title"),
            page=payload.get("page"),
            section=payload.get("section"),
            labels=dict(payload.get("labels") or {}),
            findings=tuple(payload.get("findings") or ()),
            content_hash=payload.get("content_hash", ""),
            acl_hash=payload.get("acl_hash", ""),
            pipeline_version=payload.get("pipeline_version", ""),
        )


# Always read by a partial scroll: `Chunk.from_payload` needs them.
REQUIRED_FIELDS = ("tenant", "document_id", "source", "chunk_index")


def payload_selector(fields: Sequence[str] | None) -> bool | list[str]:
    """What a scroll reads: the whole payload, or `fields` plus the ones every Chunk needs."""
    return True if fields is None else sorted({*fields, *REQUIRED_FIELDS})


@dataclass(frozen=True)
class PreparedPoint:
    """What an engine writes for one chunk: its id, dense vector, BM25 vector and payload."""

    id: str
    dense: list[float]
    sparse: SparseVector
    payload: dict[str, Any]


def prepare_points(chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> list[PreparedPoint]:
    """The points of `chunks`, the same for every engine; one dense vector per chunk or ValueError."""
    if len(chunks) != len(vectors):
        raise ValueError("one vector per chunk")
    return [
        PreparedPoint(chunk.point_id, [float(x) for x in vector], document_vector(chunk.text), chunk.to_payload())
        for chunk, vector in zip(chunks, vectors, strict=True)
    ]


def label_tokens(labels: Mapping[str, str]) -> list[str]:
    return sorted(label_token(key, value) for key, value in labels.items())


def acl_payload(
    tenant: str, allow: Sequence[str], deny: Sequence[str], labels: Mapping[str, str], acl_hash: str
) -> dict[str, Any]:
    """The part of the payload an ACL change rewrites (vectors and text stay untouched), for chunks of `tenant`."""
    return {
        "allow": sorted(allow),
        "deny": sorted(deny),
        IDF_SCOPE: idf_scope(tenant, allow, deny),
        "labels": dict(labels),
        "label_kv": label_tokens(labels),
        "acl_hash": acl_hash,
    }


# What filling the IDF scope of a chunk written before scopes existed reads (ChunkIndex.fill_sparse).
SCOPE_FIELDS = ("tenant", "allow", "deny", "acl_hash")


@dataclass(frozen=True)
class ScopeFill:
    """One write of the IDF scope to stored chunks that share a tenant and an ACL."""

    point_ids: tuple[Any, ...]
    acl_hash: str  # the engine writes only where the chunk still holds this ACL
    payload: dict[str, Any]


def scope_fills(records: Iterable[tuple[Any, Mapping[str, Any] | None]]) -> list[ScopeFill]:
    """The writes that give (point id, stored SCOPE_FIELDS) records their IDF scopes, one per tenant and ACL."""
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...], str], list[Any]] = defaultdict(list)
    for point, payload in records:
        data = payload or {}
        allow, deny = tuple(sorted(data.get("allow") or ())), tuple(sorted(data.get("deny") or ()))
        groups[(str(data.get("tenant", "")), allow, deny, str(data.get("acl_hash") or ""))].append(point)
    return [
        ScopeFill(tuple(points), acl_hash, {IDF_SCOPE: idf_scope(tenant, allow, deny)})
        for (tenant, allow, deny, acl_hash), points in groups.items()
    ]


@dataclass(frozen=True)
class Hit:
    """A search result: the stored chunk and its similarity score."""

    chunk: Chunk
    score: float
