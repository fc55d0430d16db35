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

from access_index.errors import IndexUnavailableError, NoCollectionError
from access_index.index import hnsw, hybrid
from access_index.index.base import ModelInfo, SearchQuery, check_model
from access_index.index.chunk import (
    INDEXED_KEYWORDS,
    SCOPE_FIELDS,
    Chunk,
    Hit,
    payload_selector,
    prepare_points,
    scope_fills,
)
from access_index.index.filter import AnyOf, Filter
from access_index.index.sparse import (
    IDF_SCOPE,
    SPARSE_VECTOR,
    SparseVector,
    idf_corpus,
    query_vector,
    stored_chunk_vector,
)
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
        self._scope_cursor: Any = None  # where the IDF scope fill goes on (see _fill_scopes)

    def ensure_collection(self, model: ModelInfo) -> None:
        def action() -> None:
            if self.client.collection_exists(self.collection):
                info = self.client.get_collection(self.collection)
                check_model(info.config.metadata or {}, model, f"collection {self.collection!r}")
                if SPARSE_VECTOR not in (info.config.params.sparse_vectors or {}):
                    # Built before BM25 vectors: declare the vector in place; fill_sparse fills it while
                    # searches go on (Qdrant adds a named vector to a live collection without a rebuild).
                    self.client.create_vector_name(
                        self.collection,
                        SPARSE_VECTOR,
                        qm.SparseVectorNameConfig(sparse=qm.SparseVectorConfig(modifier=qm.Modifier.IDF)),
                        wait=True,
                    )
                # Likewise a keyword index added since the collection was built (idf_scope); fill_sparse fills it.
                for key in INDEXED_KEYWORDS:
                    if key not in (info.payload_schema or {}):
                        self.client.create_payload_index(
                            self.collection, key, field_schema=_index_schema(key), wait=True
                        )
                return
            s = self.settings
            self.client.create_collection(
                self.collection,
                vectors_config=qm.VectorParams(size=model.dimension, distance=qm.Distance.COSINE),
                sparse_vectors_config={SPARSE_VECTOR: _SPARSE_CONFIG},
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
                self.client.create_payload_index(self.collection, key, field_schema=_index_schema(key), wait=True)

        self._call(action)

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        points = [
            qm.PointStruct(
                id=point.id, vector={"": point.dense, SPARSE_VECTOR: _sparse(point.sparse)}, payload=point.payload
            )
            for point in prepare_points(chunks, vectors)
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

    def search(self, query: SearchQuery, where: Filter, limit: int) -> list[Hit]:
        if where.matches_nothing:
            return []
        flt = _to_qdrant(where)
        dense = qm.SearchParams(hnsw_ef=hnsw.search_ef(limit))
        # One Qdrant query per search; the access filter restricts every branch and the fused result, and
        # BM25's IDF corpus lies within it.
        arguments: dict[str, Any]
        if query.mode == "semantic":
            arguments = {"query": _dense(query), "search_params": dense}
        else:
            keyword = qm.SearchParams(idf=qm.IdfCorpusParams(corpus=_to_qdrant(idf_corpus(where))))
            sparse = _sparse(query_vector(query.text))
            if query.mode == "keyword":
                arguments = {"query": sparse, "using": SPARSE_VECTOR, "search_params": keyword}
            else:
                depth = hybrid.branch_limit(limit)
                arguments = {
                    "prefetch": [
                        qm.Prefetch(query=sparse, using=SPARSE_VECTOR, filter=flt, params=keyword, limit=depth),
                        qm.Prefetch(query=_dense(query), filter=flt, params=dense, limit=depth),
                    ],
                    "query": (
                        qm.RrfQuery(rrf=qm.Rrf(k=hybrid.RRF_K))
                        if hybrid.FUSION == "rrf"
                        else qm.FusionQuery(fusion=qm.Fusion.DBSF)
                    ),
                }
        response = self._call(
            lambda: self.client.query_points(
                self.collection, query_filter=flt, limit=limit, with_payload=True, **arguments
            )
        )
        return [Hit(Chunk.from_payload(point.payload or {}), float(point.score)) for point in response.points]

    def fill_sparse(self, limit: int) -> int:
        return self._fill_vectors(limit) or self._fill_scopes(limit)

    def _fill_vectors(self, limit: int) -> int:
        missing = qm.Filter(must_not=[qm.HasVectorCondition(has_vector=SPARSE_VECTOR)])
        records, _ = self._call(
            lambda: self.client.scroll(
                self.collection, scroll_filter=missing, limit=limit, with_payload=["text"], with_vectors=False
            )
        )
        if not records:
            return 0
        vectors = [
            qm.PointVectors(id=record.id, vector={SPARSE_VECTOR: _sparse(stored_chunk_vector(record.payload))})
            for record in records
        ]
        # The filter skips a chunk that an upsert rewrote (with its own BM25 vector) since the scroll.
        try:
            self._call(lambda: self.client.update_vectors(self.collection, vectors, update_filter=missing, wait=True))
        except IndexUnavailableError:
            # A chunk deleted since the scroll fails the whole batch: write the rest one by one.
            for vector in vectors:
                if self._call(partial(self.client.retrieve, self.collection, [vector.id])):
                    self._call(
                        partial(self.client.update_vectors, self.collection, [vector], update_filter=missing, wait=True)
                    )
        return len(records)

    def _fill_scopes(self, limit: int) -> int:
        """IDF scopes for chunks written before them (the ones that deny nobody; the others have none)."""
        unscoped: list[Any] = [_is_empty(IDF_SCOPE), _is_empty("deny")]
        missing = qm.Filter(must=unscoped, must_not=[_is_empty("allow")])
        # From where the last call stopped: rescanning the filled chunks every time would make a fill quadratic.
        start = self._scope_cursor
        records, self._scope_cursor = self._call(
            partial(
                self.client.scroll,
                self.collection,
                scroll_filter=missing,
                limit=limit,
                offset=start,
                with_payload=list(SCOPE_FIELDS),
                with_vectors=False,
            )
        )
        if not records and start is not None:
            return self._fill_scopes(limit)  # at the end: one more pass from the start finds any left
        for fill in scope_fills((record.id, record.payload) for record in records):
            # Only where the chunk still has the ACL that was read: an ACL change since then wrote its own scope.
            where: list[Any] = [qm.HasIdCondition(has_id=list(fill.point_ids)), *unscoped]
            if fill.acl_hash:
                where.append(qm.FieldCondition(key="acl_hash", match=qm.MatchValue(value=fill.acl_hash)))
            self._call(
                partial(
                    self.client.set_payload,
                    self.collection,
                    payload=fill.payload,
                    points=qm.Filter(must=where),
                    wait=True,
                )
            )
        return len(records)

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
            if self._collection_missing():
                raise NoCollectionError(
                    f"Qdrant ({self.settings.qdrant_url}) has no collection {self.collection!r} yet: "
                    "ingest documents first"
                ) from error
            raise IndexUnavailableError(f"Qdrant server error ({self.settings.qdrant_url}): {error}") from error

    def _collection_missing(self) -> bool:
        """Asked only after a call failed: a missing collection means "nothing indexed", not a broken server."""
        try:
            return not self.client.collection_exists(self.collection)
        except Exception:
            return False


_SPARSE_CONFIG = qm.SparseVectorParams(modifier=qm.Modifier.IDF)


def _dense(query: SearchQuery) -> list[float]:
    return [float(x) for x in query.vector or ()]


def _sparse(vector: SparseVector) -> qm.SparseVector:
    return qm.SparseVector(indices=vector.indices, values=vector.values)


def _index_schema(key: str) -> Any:
    if key == "tenant":
        return qm.KeywordIndexParams(type=qm.KeywordIndexType.KEYWORD, is_tenant=True)
    return qm.PayloadSchemaType.KEYWORD


def _is_empty(key: str) -> qm.IsEmptyCondition:
    return qm.IsEmptyCondition(is_empty=qm.PayloadField(key=key))


def _to_qdrant(where: Filter) -> qm.Filter:
    return qm.Filter(must=[_condition(c) for c in where.must], must_not=[_condition(c) for c in where.must_not])


def _condition(condition: AnyOf) -> qm.FieldCondition:
    return qm.FieldCondition(key=condition.key, match=qm.MatchAny(any=list(condition.values)))
