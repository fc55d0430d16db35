"""The index contract: every test here runs on the embedded Qdrant Edge shard, on qdrant-client (`:memory:`
standing in for a server) and on the shard reached through `serve`'s index socket, so behaviour cannot
drift between the engines, nor between holding the shard and handing operations to its holder."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from access_index.acl import Caller, Narrowing, build_access_filter
from access_index.errors import AccessDeniedError, ModelMismatchError
from access_index.index import Chunk, ChunkIndex, ModelInfo, document_filter, open_index
from access_index.index.chunk import acl_payload
from access_index.principals import Principal, expand_groups
from tests.conftest import WITH_SOCKET, settings_for
from tests.support.hashing_embedder import HashingEmbedder


@pytest.fixture(params=WITH_SOCKET)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def chunk(
    doc: str,
    index: int = 0,
    *,
    text: str = "",
    tenant: str = "acme",
    allow: Sequence[str] = ("authenticated",),
    deny: Sequence[str] = (),
    source: str = "wiki",
    labels: dict[str, str] | None = None,
) -> Chunk:
    return Chunk(
        tenant=tenant,
        document_id=doc,
        source=source,
        chunk_index=index,
        chunk_count=1,
        text=text or f"{doc} chunk {index}",
        uri=f"file:///{doc}",
        allow=tuple(allow),
        deny=tuple(deny),
        labels=labels or {},
    )


def put(index: ChunkIndex, embedder: HashingEmbedder, chunks: Sequence[Chunk]) -> None:
    index.upsert(chunks, embedder.embed([c.text for c in chunks]))


def caller(*tokens: str, tenant: str = "acme") -> Caller:
    return Caller(tenant, frozenset(tokens))


def found(index: ChunkIndex, embedder: HashingEmbedder, who: Caller, *narrowings: Narrowing, q: str = "x") -> set[str]:
    hits = index.search(embedder.embed([q])[0], build_access_filter(who, narrowings), limit=50)
    return {hit.chunk.document_id for hit in hits}


def test_upsert_is_idempotent_by_point_id(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    put(index, embedder, [chunk("a", 0), chunk("a", 1), chunk("b", 0)])
    put(index, embedder, [chunk("a", 0, text="rewritten"), chunk("a", 1)])
    assert index.count() == 3
    texts = {c.text for c in index.scroll(document_filter("acme", "a"))}
    assert "rewritten" in texts


def test_allow_deny_and_deny_wins(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    put(
        index,
        embedder,
        [
            chunk("public", allow=["authenticated"]),
            chunk("hr", allow=["group:/hr", "role:hr-admin"], deny=["user:mallory"]),
            chunk("eng", allow=["group:/eng"]),
            chunk("nobody", allow=[]),
        ],
    )
    assert found(index, embedder, caller("authenticated", "user:alice", "group:/eng")) == {"public", "eng"}
    assert found(index, embedder, caller("authenticated", "role:hr-admin")) == {"public", "hr"}
    # mallory is in /hr, but deny wins over allow
    assert found(index, embedder, caller("authenticated", "user:mallory", "group:/hr")) == {"public"}
    # a document with an empty allow list matches nobody, whatever the caller holds
    everything = caller("authenticated", "group:/hr", "group:/eng", "role:hr-admin", "user:root")
    assert "nobody" not in found(index, embedder, everything)


def test_subgroup_members_match_ancestor_grants(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    put(index, embedder, [chunk("eng-wide", allow=["group:/eng"]), chunk("api", allow=["group:/eng/backend/api"])])
    tokens = {str(p) for p in expand_groups([Principal.group("/eng/backend")])}
    assert found(index, embedder, caller(*tokens)) == {"eng-wide"}
    # a sibling whose name shares a prefix is not an ancestor
    assert found(index, embedder, caller("group:/engineering")) == set()


def test_tenants_are_isolated(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    put(index, embedder, [chunk("a", tenant="acme"), chunk("b", tenant="globex")])
    assert found(index, embedder, caller("authenticated", tenant="acme")) == {"a"}
    assert found(index, embedder, caller("authenticated", tenant="globex")) == {"b"}
    assert found(index, embedder, caller("authenticated", tenant="initech")) == set()


def test_narrowings_only_narrow(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    put(
        index,
        embedder,
        [
            chunk("w1", source="wiki", labels={"classification": "public"}),
            chunk("w2", source="wiki", labels={"classification": "confidential"}),
            chunk("d1", source="drive"),
            chunk("secret", source="wiki", allow=["group:/board"]),
        ],
    )
    who = caller("authenticated")
    assert found(index, embedder, who, Narrowing(sources=frozenset({"wiki"}))) == {"w1", "w2"}
    assert found(index, embedder, who, Narrowing(labels_equal={"classification": "public"})) == {"w1"}
    not_confidential = Narrowing(labels_not_equal={"classification": frozenset({"confidential"})})
    assert found(index, embedder, who, not_confidential) == {"w1", "d1"}
    assert found(index, embedder, who, Narrowing(document_ids=frozenset({"w1", "secret"}))) == {"w1"}
    # an explicit empty list is "nothing", not "no restriction"
    assert found(index, embedder, who, Narrowing(sources=frozenset())) == set()
    # two narrowings intersect (agent policy ∩ request filters)
    both = [Narrowing(sources=frozenset({"wiki"})), not_confidential]
    assert found(index, embedder, who, *both) == {"w1"}


def test_caller_without_principals_is_refused_before_the_engine() -> None:
    with pytest.raises(AccessDeniedError):
        build_access_filter(Caller("acme", frozenset()))


def test_acl_rewrite_keeps_vectors(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    put(index, embedder, [chunk("doc", 0, allow=["group:/eng"]), chunk("doc", 1, allow=["group:/eng"]), chunk("other")])
    query = embedder.embed(["doc chunk 1"])[0]
    eng = build_access_filter(caller("group:/eng"))
    before = {h.chunk.point_id: h.score for h in index.search(query, eng, 10)}

    index.set_payload_where(document_filter("acme", "doc"), acl_payload(["group:/hr"], [], {"k": "v"}, "h2"))

    assert index.search(query, eng, 10) == []
    after = {h.chunk.point_id: h.score for h in index.search(query, build_access_filter(caller("group:/hr")), 10)}
    assert after.keys() == before.keys()
    for point, score in before.items():
        assert after[point] == pytest.approx(score, abs=1e-5)
    stored = list(index.scroll(document_filter("acme", "doc")))
    assert {c.acl_hash for c in stored} == {"h2"}
    assert {tuple(c.allow) for c in stored} == {("group:/hr",)}
    assert all(c.labels == {"k": "v"} for c in stored)
    assert {c.text for c in stored} == {"doc chunk 0", "doc chunk 1"}


def test_delete_document_and_points(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    put(index, embedder, [chunk("a", 0), chunk("a", 1), chunk("a", 2), chunk("b", 0)])
    index.delete_points([chunk("a", 2).point_id])
    assert sorted(c.chunk_index for c in index.scroll(document_filter("acme", "a"))) == [0, 1]
    index.delete_where(document_filter("acme", "a"))
    assert index.count() == 1
    assert index.count(document_filter("acme", "b")) == 1


def test_scroll_returns_every_chunk_across_pages(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    put(index, embedder, [chunk("big", i) for i in range(23)])
    seen = [c.chunk_index for c in index.scroll(document_filter("acme", "big"), fields=["acl_hash"], batch=5)]
    assert sorted(seen) == list(range(23))


def test_opening_with_another_model_is_refused(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    with pytest.raises(ModelMismatchError, match="test-hashing-embedder"):
        index.ensure_collection(ModelInfo("another-model", embedder.info.dimension))
    with pytest.raises(ModelMismatchError, match="dimensions"):
        index.ensure_collection(ModelInfo(embedder.info.name, 384))
    index.ensure_collection(embedder.info)


def test_embedded_index_persists_across_reopen(data_dir: Path, embedder: HashingEmbedder) -> None:
    settings = settings_for("edge", data_dir)
    first = open_index(settings, role="test")
    first.ensure_collection(embedder.info)
    put(first, embedder, [chunk("kept", 0), chunk("kept", 1)])
    first.close()
    second = open_index(settings, role="test")
    second.ensure_collection(embedder.info)
    assert second.count() == 2
    second.close()


def test_engines_agree_on_random_filters(data_dir: Path, tmp_path: Path) -> None:
    """Congruence: the same corpus and the same callers give the same hits, in the same order, on both engines."""
    embedder = HashingEmbedder(dimension=32)
    rng = random.Random(7)
    groups = ["/eng", "/eng/backend", "/hr", "/finance", "/board"]
    principals = ["authenticated", "user:alice", "user:bob", "role:auditor"] + [f"group:{g}" for g in groups]
    words = ["salary", "roadmap", "audit", "incident", "budget", "hiring", "policy", "release"]
    chunks = [
        chunk(
            f"d{i}",
            text=" ".join(rng.choices(words, k=6)) + f" unique{i}",
            tenant=rng.choice(["acme", "acme", "globex"]),
            allow=rng.sample(principals, rng.randint(0, 2)),
            deny=rng.sample(principals, rng.randint(0, 1)),
            source=rng.choice(["wiki", "drive"]),
            labels={"classification": rng.choice(["public", "internal", "confidential"])},
        )
        for i in range(120)
    ]
    engines = []
    for name, directory in (("edge", data_dir), ("memory", tmp_path / "mem")):
        opened = open_index(settings_for(name, directory), role="test")
        opened.ensure_collection(embedder.info)
        put(opened, embedder, chunks)
        engines.append(opened)
    try:
        for _ in range(40):
            who = caller(*rng.sample(principals, rng.randint(1, 4)), tenant=rng.choice(["acme", "globex"]))
            narrowing = rng.choice(
                [
                    Narrowing(),
                    Narrowing(sources=frozenset({"wiki"})),
                    Narrowing(labels_equal={"classification": "public"}),
                ]
            )
            query = embedder.embed([" ".join(rng.choices(words, k=3))])[0]
            where = build_access_filter(who, [narrowing])
            results = [[(h.chunk.document_id, round(h.score, 4)) for h in e.search(query, where, 10)] for e in engines]
            # the same scores; ids may differ only among chunks tied at the cut-off score
            assert [score for _, score in results[0]] == [score for _, score in results[1]]
            cutoff = min((score for _, score in results[0]), default=0.0)
            above = [{doc for doc, score in r if score > cutoff} for r in results]
            assert above[0] == above[1]
            assert engines[0].count(where) == engines[1].count(where)
            # the oracle: every hit is readable, and the count is exactly the readable set
            readable = {
                c.document_id
                for c in chunks
                if c.tenant == who.tenant
                and set(c.allow) & who.tokens
                and not set(c.deny) & who.tokens
                and narrowing_admits(narrowing, c)
            }
            assert {doc for doc, _ in results[0]} <= readable
            assert engines[0].count(where) == len(readable)
    finally:
        for opened in engines:
            opened.close()


def narrowing_admits(narrowing: Narrowing, c: Chunk) -> bool:
    if narrowing.sources is not None and c.source not in narrowing.sources:
        return False
    return all(c.labels.get(k) == v for k, v in narrowing.labels_equal.items())


def test_search_returns_nearest_first(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    texts = ["quarterly budget review", "holiday policy for staff", "incident postmortem database outage"]
    put(index, embedder, [chunk(f"d{i}", text=t) for i, t in enumerate(texts)])
    hits = index.search(
        embedder.embed(["database outage postmortem"])[0], build_access_filter(caller("authenticated")), 3
    )
    assert hits[0].chunk.document_id == "d2"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert np.isclose(scores[0], float(np.dot(*embedder.embed([texts[2], "database outage postmortem"]))), atol=1e-4)
