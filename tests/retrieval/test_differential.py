"""Differential test: random documents, ACLs and callers, through the whole API (real tokens, both engines),
in every search mode.

An independent oracle, written here from the contract's words and not from Clearance's code, decides what
each caller may read and scores chunks: by exact cosine (semantic) and by textbook BM25 over the chunks the
caller may read (keyword; the words here are neither stop words nor changed by stemming). The service must
return only readable chunks and, on these small corpora (exact search), exactly the oracle's top_k with its
scores. Hybrid results must be readable, unique, and as many as the caller may read (up to top_k): every
readable chunk is a semantic candidate.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access_index.index import MODES, AnyOf, Chunk, ChunkIndex, Filter
from access_index.index.sparse import AVG_TOKENS, K1, B
from tests.conftest import settings_for
from tests.retrieval.conftest import add_chunks, api_client, bearer, make_chunk
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.oidc_issuer import OidcIssuer, running_issuer

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
USERS = ["alice", "bob", "carol"]
GROUPS = ["/a", "/a/b", "/a/b/c", "/d", "/d/e"]
REALM_ROLES = ["r1", "r2"]
CLIENT_ROLES = [("crm", "reader"), ("crm", "admin")]
TENANTS = ["t1", "t2"]
SOURCES = ["s1", "s2"]
PRINCIPALS = (
    ["authenticated"]
    + [f"user:{u}" for u in USERS]
    + [f"group:{g}" for g in GROUPS]
    + [f"role:{r}" for r in REALM_ROLES]
    + [f"role:{c}/{r}" for c, r in CLIENT_ROLES]
    + ["group:/nobody", "client:some-agent"]
)
SCORE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Doc:
    text: str
    tenant: str
    source: str
    allow: frozenset[str]
    deny: frozenset[str]


@dataclass(frozen=True)
class Asker:
    tenant_index: int
    username: str
    groups: tuple[str, ...]
    realm_roles: tuple[str, ...]
    client_roles: tuple[tuple[str, str], ...]
    query: str
    top_k: int
    sources: tuple[str, ...] | None
    mode: str


texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
docs = st.builds(
    Doc,
    text=texts,
    tenant=st.sampled_from(TENANTS),
    source=st.sampled_from(SOURCES),
    allow=st.frozensets(st.sampled_from(PRINCIPALS), max_size=3),
    deny=st.frozensets(st.sampled_from(PRINCIPALS), max_size=2),
)
askers = st.builds(
    Asker,
    tenant_index=st.integers(0, 1),
    username=st.sampled_from(USERS),
    groups=st.lists(st.sampled_from(GROUPS), max_size=2, unique=True).map(tuple),
    realm_roles=st.lists(st.sampled_from(REALM_ROLES), max_size=2, unique=True).map(tuple),
    client_roles=st.lists(st.sampled_from(CLIENT_ROLES), max_size=1, unique=True).map(tuple),
    query=texts,
    top_k=st.integers(1, 8),
    sources=st.none() | st.lists(st.sampled_from(SOURCES), min_size=1, max_size=1, unique=True).map(tuple),
    mode=st.sampled_from(MODES),
)


def oracle_tokens(asker: Asker) -> set[str]:
    """The contract, restated: user, every group and each of its ancestors, roles, authenticated."""
    tokens = {"authenticated", f"user:{asker.username}"}
    for group in asker.groups:
        parts = group.strip("/").split("/")
        tokens.update("group:/" + "/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    tokens.update(f"role:{role}" for role in asker.realm_roles)
    tokens.update(f"role:{client}/{role}" for client, role in asker.client_roles)
    return tokens


def oracle_readable(doc: Doc, asker: Asker) -> bool:
    tokens = oracle_tokens(asker)
    return (
        doc.tenant == TENANTS[asker.tenant_index]
        and bool(doc.allow & tokens)
        and not (doc.deny & tokens)
        and (asker.sources is None or doc.source in asker.sources)
    )


def bm25_scores(texts: dict[str, str], query: str) -> dict[str, float]:
    """Textbook BM25 (Robertson/Sparck Jones IDF, k1, b, fixed average length) over `texts` alone."""
    bags = {doc: Counter(text.split()) for doc, text in texts.items()}
    terms = set(query.split())
    count = len(bags)
    scores: dict[str, float] = {}
    for doc, bag in bags.items():
        length = sum(bag.values())
        score = 0.0
        for term in terms & bag.keys():
            frequency = sum(1 for other in bags.values() if term in other)
            idf = math.log(1 + (count - frequency + 0.5) / (frequency + 0.5))
            tf = bag[term]
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / AVG_TOKENS))
        if score > 0:
            scores[doc] = score
    return scores


def claims_for(asker: Asker) -> dict[str, object]:
    resource: dict[str, dict[str, list[str]]] = {}
    for client, role in asker.client_roles:
        resource.setdefault(client, {"roles": []})["roles"].append(role)
    return {
        "preferred_username": asker.username,
        "groups": list(asker.groups),
        "realm_access": {"roles": list(asker.realm_roles)},
        "resource_access": resource,
    }


def chunks_of(corpus: list[Doc]) -> list[Chunk]:
    return [
        make_chunk(
            f"{doc.source}/doc{i}", doc.text, sorted(doc.allow), sorted(doc.deny), tenant=doc.tenant, source=doc.source
        )
        for i, doc in enumerate(corpus)
    ]


def test_results_match_the_oracle(
    index: ChunkIndex, embedder: HashingEmbedder, issuer: OidcIssuer, engine: str, data_dir: Path
) -> None:
    with running_issuer() as second:
        issuers = [issuer.config | {"tenant": "t1"}, second.config | {"tenant": "t2"}]
        app_settings = settings_for(
            engine, data_dir, oidc_issuers=issuers, rate_limit_per_minute=100_000, agent_rate_limit_per_minute=100_000
        )
        with api_client(app_settings, index=index, embedder=embedder) as client:

            @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
            @given(corpus=st.lists(docs, min_size=1, max_size=14), callers=st.lists(askers, min_size=1, max_size=4))
            def check(corpus: list[Doc], callers: list[Asker]) -> None:
                index.delete_where(Filter(must=(AnyOf("tenant", tuple(TENANTS)),)))
                add_chunks(index, embedder, chunks_of(corpus))
                vectors = embedder.embed([doc.text for doc in corpus])
                for asker in callers:
                    token = (issuer, second)[asker.tenant_index].token(**claims_for(asker))
                    body: dict[str, object] = {"query": asker.query, "top_k": asker.top_k, "mode": asker.mode}
                    if asker.sources is not None:
                        body["filters"] = {"sources": list(asker.sources)}
                    response = client.post("/v1/search", json=body, headers=bearer(token))
                    assert response.status_code == 200, response.text
                    results = response.json()["results"]
                    readable = {
                        f"{doc.source}/doc{i}": i for i, doc in enumerate(corpus) if oracle_readable(doc, asker)
                    }
                    returned = [result["document_id"] for result in results]
                    # Safety, in every mode: nothing the oracle forbids, no duplicates.
                    assert set(returned) <= set(readable), (returned, readable)
                    assert len(returned) == len(set(returned))
                    if asker.mode == "hybrid":
                        assert len(returned) == min(asker.top_k, len(readable))
                        continue
                    if asker.mode == "semantic":
                        query = embedder.embed([asker.query])[0]
                        scores = {doc_id: float(np.dot(vectors[i], query)) for doc_id, i in readable.items()}
                    else:
                        # IDF over the caller's readable chunks only: what others hold never changes a score.
                        scores = bm25_scores({doc_id: corpus[i].text for doc_id, i in readable.items()}, asker.query)
                    # Exactness: the oracle's top_k (ties may be broken either way).
                    expected = sorted(scores.values(), reverse=True)[: asker.top_k]
                    assert len(returned) == len(expected)
                    got = sorted((scores[doc_id] for doc_id in returned), reverse=True)
                    assert np.allclose(got, expected, atol=SCORE_TOLERANCE)
                    for result in results:
                        assert abs(result["score"] - scores[result["document_id"]]) < SCORE_TOLERANCE
                    if expected:
                        must_include = {d for d, s in scores.items() if s > expected[-1] + SCORE_TOLERANCE}
                        assert must_include <= set(returned)

            check()
