"""What the index already holds for a source, per document, read back from the chunk payloads.

A document counts as complete only if every one of its `chunk_count` chunks is present and all carry
the same content hash, ACL hash and pipeline version. Anything else (a run killed between writing
the new chunks and removing the stale ones, or half-way through an upsert) is incomplete and gets
rewritten by the next run: that is what makes ingest crash-safe without a separate journal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from access_index.index import Chunk, ChunkIndex, source_filter

STATE_FIELDS = ("content_hash", "acl_hash", "pipeline_version", "chunk_count", "uri")


@dataclass(frozen=True)
class IndexedDocument:
    """One document as found in the index."""

    document_id: str
    content_hash: str
    acl_hash: str
    pipeline_version: str
    chunk_count: int
    chunk_indexes: frozenset[int]
    complete: bool
    uri: str = ""  # the file it was read from (`file:` URI); decides which PATHs of a run cover it


def load_state(index: ChunkIndex, tenant: str, source: str) -> dict[str, IndexedDocument]:
    """Every document of `source` in `tenant`, from payloads only (no vectors, no text)."""
    return summarize(index.scroll(source_filter(tenant, source), fields=STATE_FIELDS, batch=1024))


def summarize(chunks: Iterable[Chunk]) -> dict[str, IndexedDocument]:
    by_document: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_document.setdefault(chunk.document_id, []).append(chunk)
    return {document_id: _document(document_id, chunks) for document_id, chunks in by_document.items()}


def _document(document_id: str, chunks: list[Chunk]) -> IndexedDocument:
    first = chunks[0]
    indexes = frozenset(chunk.chunk_index for chunk in chunks)
    uniform = all(
        (chunk.content_hash, chunk.acl_hash, chunk.pipeline_version, chunk.chunk_count)
        == (first.content_hash, first.acl_hash, first.pipeline_version, first.chunk_count)
        for chunk in chunks
    )
    complete = uniform and first.chunk_count > 0 and indexes == frozenset(range(first.chunk_count))
    return IndexedDocument(
        document_id=document_id,
        content_hash=first.content_hash if uniform else "",
        acl_hash=first.acl_hash if uniform else "",
        pipeline_version=first.pipeline_version if uniform else "",
        chunk_count=max(chunk.chunk_count for chunk in chunks),
        chunk_indexes=indexes,
        complete=complete,
        uri=first.uri,
    )
