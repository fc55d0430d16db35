"""Request and response bodies of the REST API (CONTRACT.md, REST); nothing untyped crosses the boundary."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from access_index.index import Chunk, Mode

MAX_FILTER_VALUES = 100


class SearchFilters(BaseModel):
    """The caller's own filters: they can only narrow what the caller may read. An empty list matches nothing."""

    model_config = ConfigDict(extra="forbid")

    sources: list[str] | None = Field(default=None, max_length=MAX_FILTER_VALUES)
    document_ids: list[str] | None = Field(default=None, max_length=MAX_FILTER_VALUES)
    labels: dict[str, str] | None = Field(default=None, max_length=20)


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": "parental leave policy", "top_k": 5, "mode": "hybrid", "filters": {"sources": ["handbook"]}}
            ]
        },
    )

    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=8, ge=1, le=50)
    mode: Mode = Field(
        default="hybrid",
        description="`semantic`: the dense embedding (score: cosine similarity); `keyword`: BM25 over the chunk "
        "text (score: BM25, IDF over the chunks the caller may read); `hybrid`: both, fused inside one index "
        "query (score: the fusion's, comparable within one response only). The access filter applies to every "
        "branch.",
    )
    filters: SearchFilters = Field(default_factory=SearchFilters)


class SourceRef(BaseModel):
    """Where a chunk comes from."""

    uri: str
    title: str | None = None
    page: int | None = None

    @staticmethod
    def of(chunk: Chunk) -> SourceRef:
        return SourceRef(uri=chunk.uri, title=chunk.title, page=chunk.page)


class SearchResultItem(BaseModel):
    chunk_id: str
    document_id: str
    score: float
    text: str
    source: SourceRef
    labels: dict[str, str]
    findings: list[dict[str, Any]]

    @staticmethod
    def of(chunk: Chunk, score: float | None) -> SearchResultItem:
        return SearchResultItem(
            chunk_id=chunk.point_id,
            document_id=chunk.document_id,
            score=score or 0.0,
            text=chunk.text,
            source=SourceRef.of(chunk),
            labels=dict(chunk.labels),
            findings=[dict(finding) for finding in chunk.findings],
        )


class SearchResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "5f0c2a9e8d7b4c1a",
                    "results": [
                        {
                            "chunk_id": "0b8e4f3a-1c2d-5e6f-8a9b-0c1d2e3f4a5b",
                            "document_id": "handbook/leave.md",
                            "score": 0.71,
                            "text": "Parental leave is 16 weeks ...",
                            "source": {"uri": "file:///srv/handbook/leave.md", "title": "Leave", "page": None},
                            "labels": {"classification": "internal"},
                            "findings": [],
                        }
                    ],
                }
            ]
        }
    )

    request_id: str
    results: list[SearchResultItem]


class DocumentChunk(BaseModel):
    chunk_id: str
    chunk_index: int
    text: str
    source: SourceRef
    labels: dict[str, str]
    findings: list[dict[str, Any]]

    @staticmethod
    def of(chunk: Chunk) -> DocumentChunk:
        return DocumentChunk(
            chunk_id=chunk.point_id,
            chunk_index=chunk.chunk_index,
            text=chunk.text,
            source=SourceRef.of(chunk),
            labels=dict(chunk.labels),
            findings=[dict(finding) for finding in chunk.findings],
        )


class DocumentResponse(BaseModel):
    request_id: str
    document_id: str
    chunks: list[DocumentChunk]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str | None = None


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
