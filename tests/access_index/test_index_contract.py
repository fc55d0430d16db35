"""The index contract: every test here runs on the embedded Qdrant Edge shard, on qdrant-client (`:memory:`
standing in for a server) and on the shard reached through `serve`'s index socket, so behaviour cannot
drift between the engines, nor between holding the shard and handing operations to its holder..

The access cases (allow/deny, groups, tenants, narrowings) run in every search mode, with a query whose
words every chunk holds, so both branches of a hybrid search see every chunk: a branch (dense or BM25)
that ran without the access filter would return what the caller may not read, and fail them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from access_index.acl import Caller, Narrowing, build_access_filter
from access_index.document_acl import DocumentAcl
from access_index.errors import AccessDeniedError, ModelMismatchError
from access_index.index import MODES, Chunk, ChunkIndex, Mode, ModelInfo, SearchQuery, document_filter, open_index
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


def query(embedder: HashingEmbedder, text: str, mode: Mode = "semantic") -> SearchQuery:
    vector = None if mode == "keyword" else tuple(float(x) for x in embedder.embed([text])[0])
    return SearchQuery(text, mode, vector)


def found(
    index: ChunkIndex, embedder: HashingEmbedder, who: Caller, *narrowings: Narrowing, mode: Mode, q: str = "chunk"
) -> set[str]:
    """What `who` finds; every chunk's text holds "chunk", so every branch of every mode sees every chunk."""
    hits = index.search(query(embedder, q, mode), build_access_filter(who, narrowings), limit=50)
    return {hit.chunk.document_id for hit in hits}


def test_upsert_is_idempotent_by_point_id(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    put(index, embedder, [chunk("a", 0), chunk("a", 1), chunk("b", 0)])
    put(index, embedder, [chunk("a", 0, text="rewritten"), chunk("a", 1)])
    assert index.count() == 3
    texts = {c.text for c in index.scroll(document_filter("acme", "a"))}
    assert "rewritten" in texts


@pytest.mark.parametrize("mode", MODES)
def test_allow_deny_and_deny_wins(index: ChunkIndex, embedder: HashingEmbedder, mode: Mode) -> None:
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
    assert found(index, embedder, caller("authenticated", "user:alice", "group:/eng"), mode=mode) == {"public", "eng"}
    assert found(index, embedder, caller("authenticated", "role:hr-admin"), mode=mode) == {"public", "hr"}
    # mallory is in /hr, but deny wins over allow
    assert found(index, embedder, caller("authenticated", "user:mallory", "group:/hr"), mode=mode) == {"public"}
    # a document with an empty allow list matches nobody, whatever the caller holds
    everything = caller("authenticated", "group:/hr", "group:/eng", "role:hr-admin", "user:root")
    assert "nobody" not in found(index, embedder, everything, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_subgroup_members_match_ancestor_grants(index: ChunkIndex, embedder: HashingEmbedder, mode: Mode) -> None:
    put(index, embedder, [chunk("eng-wide", allow=["group:/eng"]), chunk("api", allow=["group:/eng/backend/api"])])
    tokens = {str(p) for p in expand_groups([Principal.group("/eng/backend")])}
    assert found(index, embedder, caller(*tokens), mode=mode) == {"eng-wide"}
    # a sibling whose name shares a prefix is not an ancestor
    assert found(index, embedder, caller("group:/engineering"), mode=mode) == set()


@pytest.mark.parametrize("mode", MODES)
def test_tenants_are_isolated(index: ChunkIndex, embedder: HashingEmbedder, mode: Mode) -> None:
    put(index, embedder, [chunk("a", tenant="acme"), chunk("b", tenant="globex")])
    assert found(index, embedder, caller("authenticated", tenant="acme"), mode=mode) == {"a"}
    assert found(index, embedder, caller("authenticated", tenant="globex"), mode=mode) == {"b"}
    assert found(index, embedder, caller("authenticated", tenant="initech"), mode=mode) == set()


@pytest.mark.parametrize("mode", MODES)
def test_narrowings_only_narrow(index: ChunkIndex, embedder: HashingEmbedder, mode: Mode) -> None:
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
    assert found(index, embedder, who, Narrowing(sources=frozenset({"wiki"})), mode=mode) == {"w1", "w2"}
    assert found(index, embedder, who, Narrowing(labels_equal={"classification": "public"}), mode=mode) == {"w1"}
    not_confidential = Narrowing(labels_not_equal={"classification": frozenset({"confidential"})})
    assert found(index, embedder, who, not_confidential, mode=mode) == {"w1", "d1"}
    assert found(index, embedder, who, Narrowing(document_ids=frozenset({"w1", "secret"})), mode=mode) == {"w1"}
    # an explicit empty list is "nothing", not "no restriction"
    assert found(index, embedder, who, Narrowing(sources=frozenset()), mode=mode) == set()
    # two narrowings intersect (agent policy ∩ request filters)
    both = [Narrowing(sources=frozenset({"wiki"})), not_confidential]
    assert found(index, embedder, who, *both, mode=mode) == {"w1"}


def test_caller_without_principals_is_refused_before_the_engine() -> None:
    with pytest.raises(AccessDeniedError):
        build_access_filter(Caller("acme", frozenset()))


@pytest.mark.parametrize("mode", MODES)
def test_acl_rewrite_keeps_vectors(index: ChunkIndex, embedder: HashingEmbedder, mode: Mode) -> None:
    """Dense and BM25 vectors survive an ACL rewrite untouched: the same scores under the new grant."""
    put(index, embedder, [chunk("doc", 0, allow=["group:/eng"]), chunk("doc", 1, allow=["group:/eng"]), chunk("other")])
    q = query(embedder, "doc chunk 1", mode)
    eng = build_access_filter(caller("group:/eng"))
    before = {h.chunk.point_id: h.score for h in index.search(q, eng, 10)}
    assert len(before) == 2

    index.set_payload_where(document_filter("acme", "doc"), acl_payload("acme", ["group:/hr"], [], {"k": "v"}, "h2"))

    assert index.search(q, eng, 10) == []
    after = {h.chunk.point_id: h.score for h in index.search(q, build_access_filter(caller("group:/hr")), 10)}
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
            q = query(embedder, " ".join(rng.choices(words, k=3)), rng.choice(MODES))
            where = build_access_filter(who, [narrowing])
            results = [[(h.chunk.document_id, round(h.score, 4)) for h in e.search(q, where, 10)] for e in engines]
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
    hits = index.search(query(embedder, "database outage postmortem"), build_access_filter(caller("authenticated")), 3)
    assert hits[0].chunk.document_id == "d2"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert np.isclose(scores[0], float(np.dot(*embedder.embed([texts[2], "database outage postmortem"]))), atol=1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_chunks_the_caller_may_not_read_never_change_its_results(
    index: ChunkIndex, embedder: HashingEmbedder, mode: Mode
) -> None:
    """Non-interference: BM25's IDF is computed over the caller's readable chunks, so adding chunks it may not
    read (another tenant's, a denied one, another group's), full of the query's words, changes nothing it sees:
    not the order, not a score (a collection-wide IDF would leak how often the words occur elsewhere)."""
    texts = ["merger globex pricing", "globex lunch menu", "pricing review of the canteen", "holiday calendar"]
    put(index, embedder, [chunk(f"mine{i}", text=text) for i, text in enumerate(texts)])
    who = caller("authenticated", "user:alice")
    where = build_access_filter(who)
    q = query(embedder, "globex merger pricing", mode)
    before = [(h.chunk.document_id, h.score) for h in index.search(q, where, 10)]
    assert before

    secret = "globex merger pricing " * 3
    put(
        index,
        embedder,
        [
            chunk("other-tenant", text=secret, tenant="globex"),
            chunk("denied", text=secret, deny=["user:alice"]),
            chunk("board", text=secret, allow=["group:/board"]),
            *(chunk(f"board-{i}", text=f"globex {i}", allow=["group:/board"]) for i in range(20)),
        ],
    )
    after = [(h.chunk.document_id, h.score) for h in index.search(q, where, 10)]
    assert [doc for doc, _ in after] == [doc for doc, _ in before]
    assert [score for _, score in after] == pytest.approx([score for _, score in before], abs=1e-6)


def keyword_ranking(index: ChunkIndex, who: Caller, text: str) -> list[tuple[str, float]]:
    return [
        (h.chunk.document_id, h.score) for h in index.search(SearchQuery(text, "keyword"), build_access_filter(who), 10)
    ]


def assert_same_ranking(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert [doc for doc, _ in got] == [doc for doc, _ in expected]
    assert [score for _, score in got] == pytest.approx([score for _, score in expected], abs=1e-6)


def test_the_keyword_statistics_follow_an_acl_change(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    """A revoked chunk leaves the caller's IDF statistics with the ACL change that revokes it (the same payload
    write), and a granted one joins them: the caller's scores are those of an index where it never was, then
    those of one where it always was readable."""
    texts = ["merger globex pricing", "globex lunch menu", "pricing review of the canteen", "holiday calendar"]
    put(index, embedder, [chunk(f"mine{i}", text=text) for i, text in enumerate(texts)])
    alice = caller("authenticated", "user:alice")
    alone = keyword_ranking(index, alice, "globex pricing")
    put(index, embedder, [chunk("board", text="globex globex pricing board notes")])
    shared = keyword_ranking(index, alice, "globex pricing")
    assert "board" in dict(shared)
    assert dict(shared)["mine0"] != pytest.approx(dict(alone)["mine0"], abs=1e-6)  # it counts while readable

    board = DocumentAcl(allow=("group:/board",), deny=())
    index.set_payload_where(document_filter("acme", "board"), board.payload("acme"))
    assert_same_ranking(keyword_ranking(index, alice, "globex pricing"), alone)

    everyone = DocumentAcl(allow=("authenticated",), deny=())
    index.set_payload_where(document_filter("acme", "board"), everyone.payload("acme"))
    assert_same_ranking(keyword_ranking(index, alice, "globex pricing"), shared)


def test_chunks_that_deny_someone_are_left_out_of_everyones_keyword_statistics(
    index: ChunkIndex, embedder: HashingEmbedder
) -> None:
    """The IDF corpus is the readable chunks that deny nobody (docs/acl-semantics.md): a chunk with a deny list
    is found by those it admits, but the other chunks' scores do not move."""
    texts = ["merger globex pricing", "globex lunch menu", "pricing review of the canteen", "holiday calendar"]
    put(index, embedder, [chunk(f"mine{i}", text=text) for i, text in enumerate(texts)])
    alice = caller("authenticated", "user:alice")
    before = keyword_ranking(index, alice, "globex pricing")
    put(index, embedder, [chunk("memo", text="globex pricing memo", deny=["user:mallory"])])
    after = keyword_ranking(index, alice, "globex pricing")
    assert "memo" in dict(after)
    assert_same_ranking([hit for hit in after if hit[0] != "memo"], before)


SERVICES = ["billing", "search", "auth", "storage"]
FAULTS = ["database failover", "network partition", "certificate expired", "storage outage", "payment errors"]
# Forty other incident tickets: each says "INC" and "incident" (more often than the target, in fewer words).
INCIDENTS = [
    f"INC-{number} incident: {FAULTS[number % 5]} on the {SERVICES[number % 4]} service; incident review by on-call"
    for number in range(20400, 20441)
    if number != 20431
] + [f"Meeting notes {i}: roadmap, hiring and budget for the quarter" for i in range(20)]
TARGET = (
    "Post-incident review. The payment service returned errors for forty minutes after a configuration "
    "change; customers saw failed checkouts. Root cause, timeline and actions are tracked under INC-20431 "
    "and reviewed by the reliability team. " + "Further notes on monitoring and alert thresholds follow. " * 8
)


@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_an_exact_identifier_is_first_for_its_readers_and_found_by_nobody_else(
    index: ChunkIndex, embedder: HashingEmbedder, mode: Mode
) -> None:
    """A dense model blurs "INC-20431" with every other incident ticket; BM25 does not. The one chunk that
    names it is first for a caller who may read it (though it is long, and forty short tickets say "INC" and
    "incident" more often), and nobody else gets it. (Rank fusion fails this in hybrid mode: the ticket that is
    second by BM25 and first by the dense vector outranks it; score fusion keeps BM25's margin.)"""
    put(index, embedder, [chunk(f"inc{i}", text=text) for i, text in enumerate(INCIDENTS)])
    put(index, embedder, [chunk("sre/postmortem", text=TARGET, allow=["group:/sre"], deny=["user:mallory"])])
    q = query(embedder, "INC-20431", mode)
    for reader in (caller("authenticated", "group:/sre"), caller("group:/sre", "user:bob")):
        hits = index.search(q, build_access_filter(reader), 5)
        assert hits[0].chunk.document_id == "sre/postmortem"
    for outsider in (
        caller("authenticated", "user:eve"),
        caller("authenticated", "group:/sre", "user:mallory"),  # denied
        caller("authenticated", "group:/sre", tenant="globex"),  # another tenant
        caller("group:/sre-oncall"),  # a name sharing a prefix is not the group
    ):
        hits = index.search(q, build_access_filter(outsider), 50)
        assert "sre/postmortem" not in {hit.chunk.document_id for hit in hits}
        assert all(TARGET not in hit.chunk.text for hit in hits)


def test_keyword_search_needs_no_embedding_and_matches_words_only(index: ChunkIndex, embedder: HashingEmbedder) -> None:
    put(index, embedder, [chunk("a", text="quarterly budget review"), chunk("b", text="holiday policy")])
    who = build_access_filter(caller("authenticated"))
    assert [h.chunk.document_id for h in index.search(SearchQuery("budgets", "keyword"), who, 10)] == ["a"]
    assert index.search(SearchQuery("kubernetes", "keyword"), who, 10) == []
    assert index.search(SearchQuery("the of and", "keyword"), who, 10) == []  # stop words only: no terms
    with pytest.raises(ValueError, match="embedding"):
        SearchQuery("budget", "hybrid")
