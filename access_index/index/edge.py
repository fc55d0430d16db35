"""The embedded engine: a Qdrant Edge shard (the real Qdrant engine, in-process) under the data dir.

A shard can be open in one process at a time. We hold an exclusive `flock` on its LOCK file as long as the
shard is open and write our role and pid into it, so a second process is told who holds the shard and
what to do, instead of meeting Qdrant's WAL lock error (which it would also hit: the shard is never
opened twice, so it cannot be corrupted by two writers). A `serve` holding the shard lends it to other
commands through its index socket (access_index/index/socket_server.py); `open_index` decides.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from operator import methodcaller
from pathlib import Path
from typing import IO, Any, TypeVar

import qdrant_edge as qe

from access_index.errors import IndexLockedError, IndexUnavailableError, NoCollectionError
from access_index.index import hnsw, hybrid
from access_index.index.base import ModelInfo, Role, SearchQuery, check_model
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
from access_index.paths import DataPaths

T = TypeVar("T")
# How long opening waits for a held lock before naming its holder: a moment for anyone, longer for a holder
# that is about to let go (`clearance status`, or a process that has the lock but has not written its name).
LOCK_PATIENCE_SECONDS = 0.2
BRIEF_HOLDER_SECONDS = 10.0


class EdgeIndex:
    """ChunkIndex on the Qdrant Edge shard of a data dir."""

    engine = "edge"
    route = "direct"

    def __init__(self, paths: DataPaths, role: Role) -> None:
        self.paths = paths
        self.directory = paths.index_dir
        self.role = role
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock: IO[str] | None = _acquire_lock(paths.index_lock, role)
        self._shard: qe.EdgeShard | None = None
        self._scope_cursor: Any = None  # where the IDF scope fill goes on (see _fill_scopes)
        try:
            if (paths.index_shard / "edge_config.json").exists():
                self._shard = qe.EdgeShard.load(str(paths.index_shard))
        except Exception as error:
            self._release()
            raise IndexUnavailableError(f"cannot open the embedded index at {self.directory}: {error}") from error

    # -- collection ---------------------------------------------------------------------------------
    def ensure_collection(self, model: ModelInfo) -> None:
        meta_path = self.paths.index_meta
        if self._shard is not None:
            check_model(_read_meta(meta_path), model, str(self.directory))
            # A shard built before BM25 vectors gets the sparse vector declared in place (a no-op when it has
            # it); its chunks are filled by fill_sparse while searches go on.
            self._update(qe.UpdateOperation.create_sparse_vector(SPARSE_VECTOR, modifier=qe.Modifier.Idf))
            # Likewise a keyword index added since the shard was built (idf_scope); fill_sparse fills its values.
            indexed = self._call(lambda shard: shard.info()).payload_schema
            for key in INDEXED_KEYWORDS:
                if key not in indexed:
                    self._update(qe.UpdateOperation.create_field_index(key, _index_params(key)))
            return
        config = qe.EdgeConfig(
            vectors={"": qe.EdgeVectorParams(size=model.dimension, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            hnsw_config=qe.HnswIndexConfig(
                m=hnsw.M,
                ef_construct=hnsw.EF_CONSTRUCT,
                payload_m=hnsw.PAYLOAD_M,
                full_scan_threshold=hnsw.FULL_SCAN_THRESHOLD,
            ),
        )
        try:
            shard = qe.EdgeShard.create(str(self.paths.index_shard), config)
            for key in INDEXED_KEYWORDS:
                shard.update(qe.UpdateOperation.create_field_index(key, _index_params(key)))
            shard.flush()
        except Exception as error:
            raise IndexUnavailableError(f"cannot create the embedded index at {self.directory}: {error}") from error
        _write_meta(meta_path, model)
        self._shard = shard

    # -- writes -------------------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        points = [
            qe.Point(id=point.id, vector={"": point.dense, SPARSE_VECTOR: _sparse(point.sparse)}, payload=point.payload)
            for point in prepare_points(chunks, vectors)
        ]
        if not points:
            return
        self._update(qe.UpdateOperation.upsert_points(points))

    def delete_points(self, point_ids: Sequence[str]) -> None:
        if point_ids:
            self._update(qe.UpdateOperation.delete_points(list(point_ids)))

    def delete_where(self, where: Filter) -> None:
        if not where.matches_nothing:
            self._update(qe.UpdateOperation.delete_points_by_filter(_to_edge(where)))

    def set_payload_where(self, where: Filter, payload: Mapping[str, Any]) -> None:
        if not where.matches_nothing:
            self._update(qe.UpdateOperation.set_payload_by_filter(_to_edge(where), dict(payload)))

    # -- reads --------------------------------------------------------------------------------------
    def search(self, query: SearchQuery, where: Filter, limit: int) -> list[Hit]:
        if where.matches_nothing:
            return []
        request = _query_request(query, where, limit)
        points = self._call(lambda shard: shard.query(request))
        return [Hit(Chunk.from_payload(point.payload or {}), float(point.score)) for point in points]

    def fill_sparse(self, limit: int) -> int:
        return self._fill_vectors(limit) or self._fill_scopes(limit)

    def _fill_vectors(self, limit: int) -> int:
        missing = qe.Filter(must_not=[qe.HasVectorCondition(SPARSE_VECTOR)])
        request = qe.ScrollRequest(limit=limit, filter=missing, with_payload=["text"])
        records, _ = self._call(methodcaller("scroll", request))
        if not records:
            return 0
        vectors = [
            qe.PointVectors(id=record.id, vector={SPARSE_VECTOR: _sparse(stored_chunk_vector(record.payload))})
            for record in records
        ]
        # The condition skips a chunk that an upsert rewrote (with its own BM25 vector) since the scroll.
        try:
            self._update(qe.UpdateOperation.update_vectors(vectors, condition=missing))
        except IndexUnavailableError:
            # A chunk deleted since the scroll fails the whole batch: write the rest one by one.
            for vector in vectors:
                if self._call(partial(_exists, vector.id)):
                    self._update(qe.UpdateOperation.update_vectors([vector], condition=missing))
        return len(records)

    def _fill_scopes(self, limit: int) -> int:
        """IDF scopes for chunks written before them (the ones that deny nobody; the others have none)."""
        unscoped: list[Any] = [qe.IsEmptyCondition(IDF_SCOPE), qe.IsEmptyCondition("deny")]
        missing = qe.Filter(must=list(unscoped), must_not=[qe.IsEmptyCondition("allow")])
        # From where the last call stopped: rescanning the filled chunks every time would make a fill quadratic.
        start = self._scope_cursor
        request = qe.ScrollRequest(offset=start, limit=limit, filter=missing, with_payload=list(SCOPE_FIELDS))
        records, self._scope_cursor = self._call(methodcaller("scroll", request))
        if not records and start is not None:
            return self._fill_scopes(limit)  # at the end: one more pass from the start finds any left
        for fill in scope_fills((record.id, record.payload) for record in records):
            # Only where the chunk still has the ACL that was read: an ACL change since then wrote its own scope.
            where: list[Any] = [qe.HasIdCondition(set(fill.point_ids)), *unscoped]
            if fill.acl_hash:
                where.append(qe.FieldCondition(key="acl_hash", match=qe.MatchValue(fill.acl_hash)))
            self._update(qe.UpdateOperation.set_payload_by_filter(qe.Filter(must=where), fill.payload))
        return len(records)

    def scroll(self, where: Filter, fields: Sequence[str] | None = None, batch: int = 256) -> Iterator[Chunk]:
        if where.matches_nothing:
            return
        selector = payload_selector(fields)
        offset: Any = None
        while True:
            request = qe.ScrollRequest(offset=offset, limit=batch, filter=_to_edge(where), with_payload=selector)
            records, offset = self._call(methodcaller("scroll", request))
            for record in records:
                yield Chunk.from_payload(record.payload or {})
            if offset is None:
                return

    def count(self, where: Filter | None = None) -> int:
        if where is not None and where.matches_nothing:
            return 0
        request = qe.CountRequest(filter=_to_edge(where) if where else None, exact=True)
        return int(self._call(lambda shard: shard.count(request)))

    # -- lifecycle ----------------------------------------------------------------------------------
    def flush(self) -> None:
        if self._shard is not None:
            self._call(lambda shard: shard.flush())

    def optimize(self) -> None:
        """Build HNSW for freshly written segments now rather than at the first slow query."""
        if self._shard is not None:
            self._call(lambda shard: shard.optimize())

    def close(self) -> None:
        try:
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
        finally:
            self._shard = None
            self._release()

    def _update(self, operation: qe.UpdateOperation) -> None:
        self._call(lambda shard: shard.update(operation))

    def _call(self, action: Callable[[qe.EdgeShard], T]) -> T:
        """Run one shard operation; every engine error leaves as IndexUnavailableError (fail closed)."""
        if self._shard is None:
            raise NoCollectionError(
                f"the embedded index at {self.directory} has no collection yet: ingest documents first"
            )
        try:
            return action(self._shard)
        except Exception as error:
            raise IndexUnavailableError(f"embedded index error: {error}") from error

    def _release(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None


def _query_request(query: SearchQuery, access: Filter, limit: int) -> qe.QueryRequest:
    """One Qdrant query per search; the access filter restricts every branch and the fused result, and BM25's
    IDF corpus (`idf_corpus`) lies within it."""
    where = _to_edge(access)
    dense = qe.SearchParams(hnsw_ef=hnsw.search_ef(limit))
    if query.mode == "semantic":
        return qe.QueryRequest(limit=limit, query=_nearest(query), filter=where, params=dense, with_payload=True)
    keyword = qe.SearchParams(idf=qe.IdfParams(corpus=_to_edge(idf_corpus(access))))
    sparse = qe.Query.Nearest(_sparse(query_vector(query.text)), using=SPARSE_VECTOR)
    if query.mode == "keyword":
        return qe.QueryRequest(limit=limit, query=sparse, filter=where, params=keyword, with_payload=True)
    depth = hybrid.branch_limit(limit)
    branches = [
        qe.Prefetch(limit=depth, query=sparse, filter=where, params=keyword),
        qe.Prefetch(limit=depth, query=_nearest(query), filter=where, params=dense),
    ]
    # (the stub types Fusion's variants apart from Fusion)
    fusion: Any = qe.Fusion.Rrf(k=hybrid.RRF_K) if hybrid.FUSION == "rrf" else qe.Fusion.Dbsf()
    return qe.QueryRequest(limit=limit, prefetches=branches, query=fusion, filter=where, with_payload=True)


def _nearest(query: SearchQuery) -> qe.Query:
    return qe.Query.Nearest([float(x) for x in query.vector or ()])


def _sparse(vector: SparseVector) -> qe.SparseVector:
    return qe.SparseVector(indices=vector.indices, values=vector.values)


def _index_params(key: str) -> Any:
    return qe.KeywordIndexParams(is_tenant=True) if key == "tenant" else qe.PayloadSchemaType.Keyword


def _exists(point_id: Any, shard: qe.EdgeShard) -> bool:
    return bool(shard.retrieve([point_id], False, False))


def _to_edge(where: Filter) -> qe.Filter:
    return qe.Filter(must=[_condition(c) for c in where.must], must_not=[_condition(c) for c in where.must_not])


def _condition(condition: AnyOf) -> qe.FieldCondition:
    return qe.FieldCondition(key=condition.key, match=qe.MatchAny(list(condition.values)))


def _acquire_lock(path: Path, role: Role) -> IO[str]:
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the life of the index
    patient_until = time.monotonic() + LOCK_PATIENCE_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            handle.seek(0)
            holder = _parse_holder(handle.read())
        # `clearance status` holds the shard for a moment, and a holder that has not written its name yet is
        # about to: wait for those rather than fail a command that would have found the shard free.
        brief = holder.get("role") in (None, "status")
        if time.monotonic() >= patient_until + (BRIEF_HOLDER_SECONDS if brief else 0.0):
            handle.close()
            raise _locked(path.parent, holder)
        time.sleep(0.05)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"role": role, "pid": os.getpid()}))
    handle.flush()
    return handle


def _locked(directory: Path, holder: Mapping[str, Any]) -> IndexLockedError:
    role, pid = holder.get("role"), holder.get("pid")
    return IndexLockedError(
        f"the embedded index at {directory} is in use by another process "
        f"(clearance {role or '?'}, pid {pid or '?'}). An embedded index can be open in one process at a time, "
        "and only a running `clearance serve` takes other commands' index operations: wait for that process "
        "to finish or stop it, then try again; or run every process against a Qdrant server (set "
        "CLEARANCE_QDRANT_URL).",
        holder_role=str(role) if isinstance(role, str) else None,
        holder_pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
    )


def _parse_holder(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def recorded_model(paths: DataPaths) -> ModelInfo | None:
    """The model the embedded collection was built with, from its record (None before the first ingest)."""
    meta = _read_meta(paths.index_meta)
    return ModelInfo(str(meta["model"]), int(meta["dimension"])) if meta else None


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    value = json.loads(path.read_text(encoding="utf-8"))
    return value if isinstance(value, dict) else {}


def _write_meta(path: Path, model: ModelInfo) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"model": model.name, "dimension": model.dimension}), encoding="utf-8")
    os.replace(temporary, path)
