"""The server engine: a Qdrant server or cluster through qdrant-client (`CLEARANCE_QDRANT_URL`).

`CLEARANCE_QDRANT_URL=":memory:"` selects qdrant-client's in-process engine; it exists to run the
contract suite on this code path without a server, not for production (it searches by brute force).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from qdrant_client import QdrantClient
from qdrant_client import models as qm

from access_index.errors import IndexUnavailableError
from access_index.index import hnsw
from access_index.index.base import ModelInfo, check_model
from access_index.index.chunk import INDEXED_KEYWORDS, Chunk, Hit, payload_selector, point_parts
from access_index.index.filter import AnyOf, Filter
from access_index.settings import Settings

T = TypeVar("T")


def connect(settings: Settings) -> QdrantClient:
    """The one place a qdrant-client is built from settings (`:memory:` is qdrant-client's local engine)."""
    url = settings.qdrant_url or ""
    if url == ":memory:":
        return QdrantClient(location=":memory:")
    return QdrantClient(url=url, api_key=settings.qdrant_api_key, timeout=settings.qdrant_timeout)


class ServerIndex:
    """ChunkIndex on a Qdrant collection reached through qdrant-client."""

    engine = "server"
    route = "Qdrant server"

    def __init__(self, settings: Settings, client: QdrantClient) -> None:
        self.settings = settings
        self.collection = settings.qdrant_collection
        self.client = client

    def ensure_collection(self, model: ModelInfo) -> None:
        def action() -> None:
            if self.client.collection_exists(self.collection):
                info = self.client.get_collection(self.collection)
                check_model(info.config.metadata or {}, model, f"collection {self.collection!r}")
                return
            s = self.settings
            self.client.create_collection(
                self.collection,
                vectors_config=qm.VectorParams(size=model.dimension, distance=qm.Distance.COSINE),
                hnsw_config=qm.HnswConfigDiff(
                    m=hnsw.M,
                    ef_construct=hnsw.EF_CONSTRUCT,
                    payload_m=hnsw.PAYLOAD_M,
                    full_scan_threshold=hnsw.FULL_SCAN_THRESHOLD,
                ),
                shard_number=s.qdrant_shard_number,
                replication_factor=s.qdrant_replication_factor,
                write_consistency_factor=s.qdrant_write_consistency_factor,
                metadata={"model": model.name, "dimension": model.dimension},
            )
            for key in INDEXED_KEYWORDS:
                schema: Any = (
                    qm.KeywordIndexParams(type=qm.KeywordIndexType.KEYWORD, is_tenant=True)
                    if key == "tenant"
                    else qm.PayloadSchemaType.KEYWORD
                )
                self.client.create_payload_index(self.collection, key, field_schema=schema, wait=True)

        self._call(action)

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        points = [
            qm.PointStruct(id=id_, vector=vector, payload=payload)
            for id_, vector, payload in point_parts(chunks, vectors)
        ]
        if not points:
            return
        self._call(lambda: self.client.upsert(self.collection, points=points, wait=True))

    def delete_points(self, point_ids: Sequence[str]) -> None:
        if point_ids:
            selector = qm.PointIdsList(points=list(point_ids))
            self._call(lambda: self.client.delete(self.collection, points_selector=selector, wait=True))

    def delete_where(self, where: Filter) -> None:
        if not where.matches_nothing:
            selector = qm.FilterSelector(filter=_to_qdrant(where))
            self._call(lambda: self.client.delete(self.collection, points_selector=selector, wait=True))

    def set_payload_where(self, where: Filter, payload: Mapping[str, Any]) -> None:
        if not where.matches_nothing:
            self._call(
                lambda: self.client.set_payload(
                    self.collection, payload=dict(payload), points=_to_qdrant(where), wait=True
                )
            )

    def search(self, vector: Sequence[float], where: Filter, limit: int) -> list[Hit]:
        if where.matches_nothing:
            return []
        response = self._call(
            lambda: self.client.query_points(
                self.collection,
                query=[float(x) for x in vector],
                query_filter=_to_qdrant(where),
                limit=limit,
                with_payload=True,
                search_params=qm.SearchParams(hnsw_ef=hnsw.search_ef(limit)),
            )
        )
        return [Hit(Chunk.from_payload(point.payload or {}), float(point.score)) for point in response.points]

    def scroll(self, where: Filter, fields: Sequence[str] | None = None, batch: int = 256) -> Iterator[Chunk]:
        if where.matches_nothing:
            return
        selector = payload_selector(fields)
        offset: Any = None
        while True:
            records, offset = self._call(
                partial(
                    self.client.scroll,
                    self.collection,
                    scroll_filter=_to_qdrant(where),
                    limit=batch,
                    offset=offset,
                    with_payload=selector,
                    with_vectors=False,
                )
            )
            for record in records:
                yield Chunk.from_payload(record.payload or {})
            if offset is None:
                return

    def count(self, where: Filter | None = None) -> int:
        if where is not None and where.matches_nothing:
            return 0
        query_filter = _to_qdrant(where) if where else None
        result = self._call(lambda: self.client.count(self.collection, count_filter=query_filter, exact=True))
        return int(result.count)

    def flush(self) -> None:
        """Writes use wait=True; nothing is buffered client-side."""

    def close(self) -> None:
        self.client.close()

    def _call(self, action: Callable[[], T]) -> T:
        """Run one client call; every client or transport error leaves as IndexUnavailableError (fail closed)."""
        try:
            return action()
        except IndexUnavailableError:
            raise
        except Exception as error:
            raise IndexUnavailableError(f"Qdrant server error ({self.settings.qdrant_url}): {error}") from error


def _to_qdrant(where: Filter) -> qm.Filter:
    return qm.Filter(must=[_condition(c) for c in where.must], must_not=[_condition(c) for c in where.must_not])


def _condition(condition: AnyOf) -> qm.FieldCondition:
    return qm.FieldCondition(key=condition.key, match=qm.MatchAny(any=list(condition.values)))
