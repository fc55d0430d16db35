"""Differential test: random documents, ACLs and callers, through the whole API (real tokens, both engines),
in every search mode.

An independent oracle, written here from the contract's words and not from Clearance's code, decides what
each caller may read and how chunks rank; the service must return only readable chunks and, on these
small corpora (exact search), exactly the oracle's top_k, or refuse (403) exactly when the oracle does.

The callers come from three issuers: A (tenant t1), whose directory file is synced and authoritative for
A's tokens only; B (tenant t2) and C (tenant t1), whose tokens speak for themselves. They carry
look-alike usernames (Kelvin sign, fullwidth letters, case), e-mail-shaped usernames, verified and
unverified e-mails (some without '@'), realm roles whose names hold a '/', client roles, and agent
chains (`azp` plus nested `act` actors) under agent policies that narrow, block or allow.

Every caller asks in one search mode. In `semantic` the oracle scores by exact cosine, in `keyword` by textbook
BM25 with its IDF over the chunks the caller may read that deny nobody (the words here are neither stop words
nor changed by stemming): the service must return exactly the oracle's top_k with its scores. Hybrid results
must be readable, unique, and as many as the caller may read (up to top_k): every readable chunk is a semantic
candidate.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access_index.directory import FileSnapshotStore
from access_index.index import MODES, AnyOf, Chunk, ChunkIndex, Filter
from access_index.index.sparse import AVG_TOKENS, K1, B
from acl_sync.sync import SyncOptions, sync_once
from tests.conftest import settings_for
from tests.retrieval.conftest import add_chunks, api_client, make_chunk
from tests.support.auth import bearer
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.oidc_issuer import OidcIssuer, running_issuer

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
TENANTS = ["t1", "t2"]
ISSUER_TENANTS = ["t1", "t2", "t1"]  # A (the directory's), B, C
SOURCES = ["s1", "s2"]
GROUPS = ["/a", "/a/b", "/a/b/c", "/d", "/d/e"]
REALM_ROLES = ["r1", "r2", "crm/reader"]
CLIENT_ROLES = [("crm", "reader"), ("crm", "admin")]
# Token usernames: directory users, a stranger, and names that only look like kate or like an e-mail.
USERNAMES = ["alice", "bob", "carol", "kate", "KATE", "\u212aate", "\uff4bate", "alice@x.example", "Alice"]
EMAILS = [None, "alice@x.example", "kate@x.example", "carol@x.example", "bob@x.example", "kate", "KATE@X.example"]
AGENTS = ["narrow", "wiki", "blocked", "open", "stranger"]
PRINCIPALS = [
    "authenticated",
    "user:alice",
    "user:kate",
    "user:carol",
    "user:alice@x.example",  # the username "alice@x.example" (a chunk token: a manifest reads it as the e-mail)
    "email:alice@x.example",
    "email:kate@x.example",
    "email:carol@x.example",
    *(f"group:{group}" for group in GROUPS),
    "group:/nobody",
    "role:r1",
    "role:r2",
    "role:crm%2Freader",  # the realm role "crm/reader"
    "client-role:crm/reader",
    "client-role:crm/admin",
    "client:some-agent",
]
SCORE_TOLERANCE = 1e-4

# Issuer A's directory: the oracle reads the same facts from DIRECTORY_USERS below.
DIRECTORY = """\
version: 1
issuer: {issuer}
groups:
  - {{id: g-a, path: /a}}
  - {{id: g-ab, path: /a/b}}
  - {{id: g-d, path: /d}}
  - {{id: g-de, path: /d/e}}
roles:
  - {{name: r1, composites: [r2]}}
  - {{name: r2}}
  - {{name: "role:crm%2Freader"}}
users:
  - {{id: u-alice, username: alice, email: alice@x.example, groups: [g-ab], roles: [r1]}}
  - {{id: u-kate, username: kate, email: kate@x.example, groups: [g-d], roles: ["role:crm%2Freader"]}}
  - {{id: u-bob, username: bob, email: bob@x.example, enabled: false, groups: [g-de]}}
"""


@dataclass(frozen=True)
class DirectoryUser:
    username: str
    email: str
    enabled: bool
    tokens: frozenset[str]  # groups with their ancestors, roles with their composites


DIRECTORY_USERS = [
    DirectoryUser("alice", "alice@x.example", True, frozenset({"group:/a/b", "group:/a", "role:r1", "role:r2"})),
    DirectoryUser("kate", "kate@x.example", True, frozenset({"group:/d", "role:crm%2Freader"})),
    DirectoryUser("bob", "bob@x.example", False, frozenset({"group:/d/e", "group:/d"})),
]
AGENT_POLICIES = """\
version: 1
agents:
  narrow: {labels: ["classification != confidential"]}
  wiki: {sources: [s1]}
  blocked: {access: none}
  open: {}
"""


@dataclass(frozen=True)
class Doc:
    text: str
    tenant: str
    source: str
    allow: frozenset[str]
    deny: frozenset[str]
    confidential: bool


@dataclass(frozen=True)
class Asker:
    issuer: int
    username: str
    email: str | None
    email_verified: bool
    groups: tuple[str, ...]
    realm_roles: tuple[str, ...]
    client_roles: tuple[tuple[str, str], ...]
    azp: str | None
    actors: tuple[str, ...]
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
    confidential=st.booleans(),
)
askers = st.builds(
    Asker,
    issuer=st.integers(0, 2),
    username=st.sampled_from(USERNAMES),
    email=st.sampled_from(EMAILS),
    email_verified=st.booleans(),
    groups=st.lists(st.sampled_from(GROUPS), max_size=2, unique=True).map(tuple),
    realm_roles=st.lists(st.sampled_from(REALM_ROLES), max_size=2, unique=True).map(tuple),
    client_roles=st.lists(st.sampled_from(CLIENT_ROLES), max_size=1, unique=True).map(tuple),
    azp=st.none() | st.sampled_from(AGENTS),
    actors=st.lists(st.sampled_from(AGENTS), max_size=2).map(tuple),
    query=texts,
    top_k=st.integers(1, 8),
    sources=st.none() | st.lists(st.sampled_from(SOURCES), min_size=1, max_size=1, unique=True).map(tuple),
    mode=st.sampled_from(MODES),
)


# --- the oracle: the contract, restated ------------------------------------------------------------------------


def folded(name: str) -> str | None:
    """A user name or address as compared: case-folded; a name that NFKC changes grants nothing."""
    if unicodedata.normalize("NFKC", name) != name:
        return None
    return unicodedata.normalize("NFKC", name.casefold())


def is_address(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and domain and "@" not in domain and all(domain.split(".")))


def token_names(asker: Asker) -> set[str]:
    """user: from preferred_username, email: from a verified e-mail that is an address."""
    names = set()
    user = folded(asker.username)
    if user is not None:
        names.add(f"user:{user}")
    if asker.email is not None and asker.email_verified and is_address(asker.email):
        address = folded(asker.email)
        if address is not None:
            names.add(f"email:{address}")
    return names


def with_ancestors(groups: tuple[str, ...]) -> set[str]:
    tokens = set()
    for group in groups:
        parts = group.strip("/").split("/")
        tokens.update("group:/" + "/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    return tokens


def oracle_tokens(asker: Asker) -> set[str] | None:
    """The caller's principals, or None when the caller is refused (403)."""
    names = token_names(asker)
    if asker.issuer != 0:  # not the directory's issuer: the token speaks for itself
        tokens = {"authenticated"} | names | with_ancestors(asker.groups)
        tokens.update("role:" + role.replace("/", "%2F") for role in asker.realm_roles)
        tokens.update(f"client-role:{client}/{role}" for client, role in asker.client_roles)
        return tokens
    by_name = [u for u in DIRECTORY_USERS if f"user:{u.username}" in names]
    by_mail = [u for u in DIRECTORY_USERS if f"email:{u.email}" in names]
    if any(not user.enabled for user in by_name + by_mail):
        return None  # a disabled user (by username or by verified e-mail) is refused
    # A name an account of the directory owns is that account's alone; the caller's other names stay.
    owned = {f"user:{u.username}" for u in DIRECTORY_USERS} | {f"email:{u.email}" for u in DIRECTORY_USERS}
    found = (by_name or by_mail)[:1]
    if found:
        user = found[0]
        return {"authenticated", f"user:{user.username}", f"email:{user.email}"} | set(user.tokens) | (names - owned)
    return {"authenticated"} | (names - owned)  # unknown: no groups or roles


def agent_refuses(asker: Asker) -> bool:
    return "blocked" in (asker.azp, *asker.actors)


def oracle_readable(doc: Doc, asker: Asker, tokens: set[str]) -> bool:
    chain = {asker.azp, *asker.actors}
    return (
        doc.tenant == ISSUER_TENANTS[asker.issuer]
        and bool(doc.allow & tokens)
        and not (doc.deny & tokens)
        and (asker.sources is None or doc.source in asker.sources)
        and ("narrow" not in chain or not doc.confidential)
        and ("wiki" not in chain or doc.source == "s1")
    )


def bm25_scores(texts: dict[str, str], query: str, statistics: dict[str, str]) -> dict[str, float]:
    """Textbook BM25 (Robertson/Sparck Jones IDF, k1, b, fixed average length) of `texts`, with the IDF counted
    over `statistics` alone."""
    bags = {doc: Counter(text.split()) for doc, text in texts.items()}
    counted = [set(text.split()) for text in statistics.values()]
    terms = set(query.split())
    count = len(counted)
    scores: dict[str, float] = {}
    for doc, bag in bags.items():
        length = sum(bag.values())
        score = 0.0
        for term in terms & bag.keys():
            frequency = sum(1 for other in counted if term in other)
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
    claims: dict[str, object] = {
        "preferred_username": asker.username,
        "email_verified": asker.email_verified,
        "groups": list(asker.groups),
        "realm_access": {"roles": list(asker.realm_roles)},
        "resource_access": resource,
        "azp": asker.azp,  # None: the claim is left out
    }
    if asker.email is not None:
        claims["email"] = asker.email
    actor: dict[str, object] | None = None
    for agent in reversed(asker.actors):
        actor = {"sub": agent} | ({"act": actor} if actor else {})
    if actor is not None:
        claims["act"] = actor
    return claims


def chunks_of(corpus: list[Doc]) -> list[Chunk]:
    return [
        make_chunk(
            f"{doc.source}/doc{i}",
            doc.text,
            sorted(doc.allow),
            sorted(doc.deny),
            tenant=doc.tenant,
            source=doc.source,
            labels={"classification": "confidential" if doc.confidential else "internal"},
        )
        for i, doc in enumerate(corpus)
    ]


# --- the service ----------------------------------------------------------------------------------------------


@pytest.fixture
def service(
    tmp_path: Path, index: ChunkIndex, embedder: HashingEmbedder, engine: str, data_dir: Path, issuer: OidcIssuer
) -> Iterator[tuple[TestClient, tuple[OidcIssuer, ...]]]:
    with running_issuer() as second, running_issuer() as third:
        issuers = (issuer, second, third)
        directory, policies = tmp_path / "directory.yaml", tmp_path / "agents.yaml"
        directory.write_text(DIRECTORY.format(issuer=issuer.url))
        policies.write_text(AGENT_POLICIES)
        app_settings = settings_for(
            engine,
            data_dir,
            oidc_issuers=[i.config | {"tenant": tenant} for i, tenant in zip(issuers, ISSUER_TENANTS, strict=True)],
            directory_file=directory,
            agent_policy_file=policies,
            rate_limit_per_minute=100_000,
            agent_rate_limit_per_minute=100_000,
        )
        store = FileSnapshotStore(tmp_path / "snapshot.json")
        assert sync_once(app_settings, None, SyncOptions(store=store)).outcome == "ok"
        with api_client(app_settings, index=index, embedder=embedder, directory_store=store) as client:
            yield client, issuers


def test_results_match_the_oracle(
    service: tuple[TestClient, tuple[OidcIssuer, ...]], index: ChunkIndex, embedder: HashingEmbedder
) -> None:
    client, issuers = service

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(corpus=st.lists(docs, min_size=1, max_size=14), callers=st.lists(askers, min_size=1, max_size=4))
    def check(corpus: list[Doc], callers: list[Asker]) -> None:
        index.delete_where(Filter(must=(AnyOf("tenant", tuple(TENANTS)),)))
        add_chunks(index, embedder, chunks_of(corpus))
        vectors = embedder.embed([doc.text for doc in corpus])
        for asker in callers:
            token = issuers[asker.issuer].token(**claims_for(asker))
            body: dict[str, object] = {"query": asker.query, "top_k": asker.top_k, "mode": asker.mode}
            if asker.sources is not None:
                body["filters"] = {"sources": list(asker.sources)}
            response = client.post("/v1/search", json=body, headers=bearer(token))
            tokens = oracle_tokens(asker)
            if tokens is None or agent_refuses(asker):
                assert response.status_code == 403, (asker, response.text)
                continue
            assert response.status_code == 200, (asker, response.text)
            results = response.json()["results"]
            readable = {
                f"{doc.source}/doc{i}": i for i, doc in enumerate(corpus) if oracle_readable(doc, asker, tokens)
            }
            returned = [result["document_id"] for result in results]
            # Safety, in every mode: nothing the oracle forbids, no duplicates.
            assert set(returned) <= set(readable), (asker, returned, readable)
            assert len(returned) == len(set(returned))
            if asker.mode == "hybrid":
                assert len(returned) == min(asker.top_k, len(readable))
                continue
            if asker.mode == "semantic":
                query = embedder.embed([asker.query])[0]
                scores = {doc_id: float(np.dot(vectors[i], query)) for doc_id, i in readable.items()}
            else:
                # IDF over the caller's readable chunks that deny nobody (docs/acl-semantics.md): what the
                # caller may not read never changes a score.
                texts = {doc_id: corpus[i].text for doc_id, i in readable.items()}
                counted = {doc_id: text for doc_id, text in texts.items() if not corpus[readable[doc_id]].deny}
                scores = bm25_scores(texts, asker.query, counted)
            # Exactness: the oracle's top_k (ties may be broken either way).
            expected = sorted(scores.values(), reverse=True)[: asker.top_k]
            assert len(returned) == len(expected), (asker, returned, scores)
            got = sorted((scores[doc_id] for doc_id in returned), reverse=True)
            assert np.allclose(got, expected, atol=SCORE_TOLERANCE)
            for result in results:
                assert abs(result["score"] - scores[result["document_id"]]) < SCORE_TOLERANCE
            if expected:
                must_include = {d for d, s in scores.items() if s > expected[-1] + SCORE_TOLERANCE}
                assert must_include <= set(returned)

    check()
