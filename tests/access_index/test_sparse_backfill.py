"""An index built before BM25 vectors existed (the previous layout: one unnamed dense vector per chunk, no IDF
scopes) is opened by the current code on both engines: the sparse vector and the scope index are declared in
place, `fill_sparse` gives every chunk its BM25 vector from the stored text and then its IDF scope from its
stored ACL, dense vectors and the rest of the payload stay untouched, searches answer throughout, and a chunk
rewritten (or re-permissioned) meanwhile keeps what was written for it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from access_index.acl import Caller, build_access_filter
from access_index.document_acl import DocumentAcl
from access_index.index import Chunk, ChunkIndex, SearchQuery, document_filter, open_index
from access_index.index import edge as edge_engine
from access_index.index import server as server_engine
from access_index.index.chunk import INDEXED_KEYWORDS, ScopeFill
from access_index.index.sparse import IDF_SCOPE
from access_index.settings import Settings
from tests.conftest import settings_for
from tests.support.hashing_embedder import HashingEmbedder

WORDS = ["invoice", "salary", "roadmap", "kubernetes", "audit", "vacation", "pipeline", "forecast"]
EVERYONE = build_access_filter(Caller("acme", frozenset({"authenticated"})))


def old_chunks(count: int) -> list[Chunk]:
    return [
        Chunk(
            tenant="acme",
            document_id=f"doc{i}",
            source="wiki",
            chunk_index=0,
            chunk_count=1,
            text=f"{WORDS[i % len(WORDS)]} {WORDS[(i * 3 + 1) % len(WORDS)]} note {i}",
            uri=f"file:///doc{i}",
            allow=("authenticated",),
            acl_hash="acl-authenticated",
        )
        for i in range(count)
    ]


def write_previous_layout(
    settings: Settings, embedder: HashingEmbedder, chunks: Sequence[Chunk]
) -> QdrantClient | None:
    """What the code before BM25 wrote: a dense-only collection, its keyword indexes and payloads (no scopes)."""
    previous_keywords = [key for key in INDEXED_KEYWORDS if key != IDF_SCOPE]
    vectors = embedder.embed([chunk.text for chunk in chunks]).tolist()
    if settings.qdrant_url is None:
        paths = settings.paths
        paths.index_dir.mkdir(parents=True, exist_ok=True)
        config = qe.EdgeConfig(
            vectors={"": qe.EdgeVectorParams(size=embedder.info.dimension, distance=qe.Distance.Cosine)}
        )
        shard = qe.EdgeShard.create(str(paths.index_shard), config)
        for key in previous_keywords:
            shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
        points = [
            qe.Point(id=c.point_id, vector=v, payload=previous_payload(c)) for c, v in zip(chunks, vectors, strict=True)
        ]
        shard.update(qe.UpdateOperation.upsert_points(points))
        shard.flush()
        shard.close()
        meta = {"model": embedder.info.name, "dimension": embedder.info.dimension}
        paths.index_meta.write_text(json.dumps(meta), encoding="utf-8")
        return None
    client = QdrantClient(location=":memory:")
    client.create_collection(
        settings.qdrant_collection,
        vectors_config=qm.VectorParams(size=embedder.info.dimension, distance=qm.Distance.COSINE),
        metadata={"model": embedder.info.name, "dimension": embedder.info.dimension},
    )
    for key in previous_keywords:
        client.create_payload_index(settings.qdrant_collection, key, field_schema=qm.PayloadSchemaType.KEYWORD)
    points = [
        qm.PointStruct(id=c.point_id, vector=v, payload=previous_payload(c))
        for c, v in zip(chunks, vectors, strict=True)
    ]
    client.upsert(settings.qdrant_collection, points)
    return client


def previous_payload(chunk: Chunk) -> dict[str, object]:
    return {key: value for key, value in chunk.to_payload().items() if key != IDF_SCOPE}


@pytest.fixture
def previous(engine: str, data_dir: Path, embedder: HashingEmbedder) -> Iterator[tuple[ChunkIndex, list[Chunk]]]:
    settings = settings_for(engine, data_dir)
    chunks = old_chunks(30)
    client = write_previous_layout(settings, embedder, chunks)
    index = open_index(settings, role="test", client=client)
    yield index, chunks
    index.close()


def semantic(embedder: HashingEmbedder, text: str) -> SearchQuery:
    return SearchQuery(text, "semantic", tuple(float(x) for x in embedder.embed([text])[0]))


def test_previous_layout_gets_bm25_vectors_from_stored_text(
    previous: tuple[ChunkIndex, list[Chunk]], embedder: HashingEmbedder
) -> None:
    index, chunks = previous
    probe = semantic(embedder, "salary roadmap")
    before = [(hit.chunk.point_id, hit.score) for hit in index.search(probe, EVERYONE, 10)]

    index.ensure_collection(embedder.info)  # declares the sparse vector in place
    assert index.search(SearchQuery("salary", "keyword"), EVERYONE, 50) == []  # nothing filled yet
    filled = [index.fill_sparse(7)]
    # Searches answer between batches: semantic fully, keyword among the chunks filled so far.
    assert [(h.chunk.point_id, h.score) for h in index.search(probe, EVERYONE, 10)] == before
    while filled[-1]:
        filled.append(index.fill_sparse(7))
    # BM25 vectors first, then IDF scopes, 7 chunks a call each.
    assert filled == [7, 7, 7, 7, 2, 7, 7, 7, 7, 2, 0]
    assert index.fill_sparse(7) == 0

    salary = {c.document_id for c in chunks if "salary" in c.text.split()}
    found = index.search(SearchQuery("salary", "keyword"), EVERYONE, 50)
    assert {hit.chunk.document_id for hit in found} == salary
    # Dense vectors untouched: the same scores as before, and as the model gives now.
    after = [(hit.chunk.point_id, hit.score) for hit in index.search(probe, EVERYONE, 10)]
    assert [p for p, _ in after] == [p for p, _ in before]
    assert [s for _, s in after] == pytest.approx([s for _, s in before], abs=1e-6)
    best = next(c for c in chunks if c.point_id == after[0][0])
    expected = float(np.dot(*embedder.embed([best.text, "salary roadmap"])))
    assert after[0][1] == pytest.approx(expected, abs=1e-4)
    hybrid = SearchQuery("salary roadmap", "hybrid", probe.vector)
    assert len(index.search(hybrid, EVERYONE, 10)) == 10
    assert index.count() == len(chunks)


def test_a_chunk_rewritten_during_the_fill_keeps_its_own_vector(
    previous: tuple[ChunkIndex, list[Chunk]], embedder: HashingEmbedder
) -> None:
    """The fill writes only where the vector is still missing: it never puts an old text's BM25 vector
    over the one an ingest just wrote with the new text."""
    index, chunks = previous
    index.ensure_collection(embedder.info)
    stale = chunks[0]
    rewritten = Chunk(**{**stale.__dict__, "text": "zeppelin maintenance schedule"})
    index.upsert([rewritten], embedder.embed([rewritten.text]).tolist())
    while index.fill_sparse(8):
        pass
    assert [h.chunk.document_id for h in index.search(SearchQuery("zeppelin", "keyword"), EVERYONE, 5)] == ["doc0"]
    old_word = stale.text.split()[0]
    assert "doc0" not in {h.chunk.document_id for h in index.search(SearchQuery(old_word, "keyword"), EVERYONE, 50)}


def test_a_new_collection_needs_no_fill(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    chunks = old_chunks(5)
    index.upsert(chunks, embedder.embed([c.text for c in chunks]).tolist())
    assert index.fill_sparse(100) == 0


def test_after_the_fill_keyword_scores_are_those_of_a_fresh_index(
    previous: tuple[ChunkIndex, list[Chunk]], engine: str, tmp_path: Path, embedder: HashingEmbedder
) -> None:
    """Until a chunk has its scope it is left out of the IDF statistics; after the fill every chunk counts,
    exactly as in an index written by the current code."""
    index, chunks = previous
    index.ensure_collection(embedder.info)
    while index.fill_sparse(8):
        pass
    fresh = open_index(settings_for(engine, tmp_path / "fresh"), role="test")
    try:
        fresh.ensure_collection(embedder.info)
        fresh.upsert(chunks, embedder.embed([c.text for c in chunks]).tolist())
        for text in ("salary", "salary roadmap note", "kubernetes audit"):
            got = {h.chunk.point_id: h.score for h in index.search(SearchQuery(text, "keyword"), EVERYONE, 50)}
            want = {h.chunk.point_id: h.score for h in fresh.search(SearchQuery(text, "keyword"), EVERYONE, 50)}
            assert got and got == pytest.approx(want, abs=1e-6)
    finally:
        fresh.close()


def test_an_acl_change_during_the_scope_fill_is_not_undone(
    previous: tuple[ChunkIndex, list[Chunk]], engine: str, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fill reads a chunk's ACL, then writes the scope made from it. If an ACL sync takes the chunk away
    from everyone in between (an empty allow list: no scope, no deny), the fill's write must not land: it
    would put the chunk back into `authenticated`'s keyword statistics."""
    index, chunks = previous
    index.ensure_collection(embedder.info)
    assert index.fill_sparse(100) == len(chunks)  # the BM25 vectors; the scopes come next
    module = edge_engine if engine == "edge" else server_engine
    original = module.scope_fills
    nobody = DocumentAcl(allow=(), deny=())

    def sync_in_between(records: object) -> list[ScopeFill]:
        fills = original(records)  # type: ignore[arg-type]
        if fills:
            index.set_payload_where(document_filter("acme", "doc0"), nobody.payload("acme"))
        return fills

    monkeypatch.setattr(module, "scope_fills", sync_in_between)
    while index.fill_sparse(100):
        pass
    monkeypatch.undo()
    # doc0 is in nobody's statistics: the scores are those of the index without it.
    probe = SearchQuery(chunks[0].text.split()[0], "keyword")
    got = {h.chunk.point_id: h.score for h in index.search(probe, EVERYONE, 50)}
    index.delete_where(document_filter("acme", "doc0"))
    want = {h.chunk.point_id: h.score for h in index.search(probe, EVERYONE, 50)}
    assert got and got == pytest.approx(want, abs=1e-6)
