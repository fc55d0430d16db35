"""The REST API end to end on both engines: only readable chunks, narrowing filters, 404 for not-yours,
problem+json errors, rate limits, audit records, federation, operations endpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from access_index.directory import DirectoryData, DirectoryGroup, DirectoryUser, build_snapshot
from access_index.index import ChunkIndex, Filter, Hit
from access_index.paths import DataPaths
from access_index.settings import load_settings
from retrieval.audit import verify_log, verifying_keyring
from tests.conftest import settings_for
from tests.retrieval.conftest import add_chunks, api_client, api_settings, audit_records, make_chunk
from tests.support.auth import bearer
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.oidc_issuer import OidcIssuer, running_issuer

FINDING = {"technique": "instruction_like", "location": "p1", "text": "ignore previous", "action": "flagged"}


def corpus() -> list:
    return [
        make_chunk("wiki/holidays.md", "company holidays calendar for everyone", ["authenticated"]),
        make_chunk("eng/deploy.md", "deploy the backend service with the pipeline", ["group:/eng"], chunk_index=0),
        make_chunk("eng/deploy.md", "rollback the backend deploy when alarms fire", ["group:/eng"], chunk_index=1),
        make_chunk("eng/secrets.md", "backend deploy keys rotation", ["group:/eng"], ["user:alice"]),
        make_chunk(
            "hr/salaries.md", "salaries of the backend team", ["group:/hr"], labels={"classification": "confidential"}
        ),
        make_chunk("other/tenant.md", "backend deploy for another tenant", ["authenticated"], tenant="globex"),
        make_chunk("wiki/faq.md", "deploy questions answered", ["authenticated"], findings=[FINDING]),
    ]


@pytest.fixture
def client_on(index: ChunkIndex, embedder: HashingEmbedder, issuer: OidcIssuer, engine: str, data_dir: Path):
    add_chunks(index, embedder, corpus())
    settings = api_settings(data_dir, [issuer], engine=engine)
    with api_client(settings, index=index, embedder=embedder) as client:
        yield client


def search(client, token: str, query: str, **body) -> list[dict]:
    response = client.post("/v1/search", json={"query": query, **body}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_results_are_only_what_the_caller_may_read(client_on, issuer: OidcIssuer) -> None:
    alice = issuer.token(preferred_username="alice", groups=["/eng/backend"])
    bob = issuer.token(preferred_username="bob", groups=["/eng"])
    outsider = issuer.token(preferred_username="eve")
    alice_docs = {r["document_id"] for r in search(client_on, alice, "backend deploy", top_k=50)}
    bob_docs = {r["document_id"] for r in search(client_on, bob, "backend deploy", top_k=50)}
    eve_docs = {r["document_id"] for r in search(client_on, outsider, "backend deploy", top_k=50)}
    assert alice_docs == {"wiki/holidays.md", "eng/deploy.md", "wiki/faq.md"}  # deny wins over /eng
    assert bob_docs == {"wiki/holidays.md", "eng/deploy.md", "eng/secrets.md", "wiki/faq.md"}
    assert eve_docs == {"wiki/holidays.md", "wiki/faq.md"}  # never another tenant's, never HR


def test_result_shape_carries_provenance_and_findings(client_on, issuer: OidcIssuer) -> None:
    results = search(client_on, issuer.token(), "deploy questions answered", top_k=1, mode="semantic")
    assert len(results) == 1
    result = results[0]
    assert set(result) == {"chunk_id", "document_id", "score", "text", "source", "labels", "findings"}
    assert result["document_id"] == "wiki/faq.md"
    assert result["source"] == {"uri": "file:///docs/wiki/faq.md", "title": "faq.md", "page": None}
    assert result["findings"] == [FINDING]
    assert result["score"] == pytest.approx(1.0, abs=1e-4)  # semantic: the cosine similarity


def test_caller_filters_only_narrow(client_on, issuer: OidcIssuer) -> None:
    bob = issuer.token(preferred_username="bob", groups=["/eng"])
    only_wiki = search(client_on, bob, "deploy", top_k=50, filters={"sources": ["wiki"]})
    assert {r["document_id"] for r in only_wiki} == {"wiki/holidays.md", "wiki/faq.md"}
    one_doc = search(client_on, bob, "deploy", top_k=50, filters={"document_ids": ["eng/deploy.md"]})
    assert {r["document_id"] for r in one_doc} == {"eng/deploy.md"}
    # Asking for HR by filter does not grant HR.
    assert search(client_on, bob, "salaries", filters={"sources": ["hr"]}) == []
    assert search(client_on, bob, "salaries", filters={"labels": {"classification": "confidential"}}) == []
    assert search(client_on, bob, "deploy", filters={"sources": []}) == []


def test_document_read_and_404_for_absent_and_not_yours(client_on, issuer: OidcIssuer) -> None:
    bob = issuer.token(preferred_username="bob", groups=["/eng"])
    response = client_on.get("/v1/documents/eng/deploy.md", headers=bearer(bob))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["document_id"] == "eng/deploy.md"
    assert [chunk["chunk_index"] for chunk in body["chunks"]] == [0, 1]
    not_yours = client_on.get("/v1/documents/hr/salaries.md", headers=bearer(bob))
    absent = client_on.get("/v1/documents/hr/nothing-here.md", headers=bearer(bob))
    other_tenant = client_on.get("/v1/documents/other/tenant.md", headers=bearer(bob))
    for response in (not_yours, absent, other_tenant):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    strip = lambda body: {k: v for k, v in body.items() if k != "request_id"}  # noqa: E731
    assert strip(not_yours.json()) == strip(absent.json())


def test_audit_records_every_search_and_read_with_granting_principal(
    client_on, issuer: OidcIssuer, data_dir: Path
) -> None:
    bob = issuer.token(preferred_username="bob", groups=["/eng"])
    response = client_on.post("/v1/search", json={"query": "rollback alarms", "top_k": 2}, headers=bearer(bob))
    results = response.json()["results"]
    read = client_on.get("/v1/documents/hr/salaries.md", headers=bearer(bob))
    assert read.status_code == 404
    records = audit_records(data_dir)
    assert len(records) == 2
    record, reading = records
    assert record["event"] == "search" and record["tenant"] == "default" and record["agents"] == ["test-agent"]
    assert record["issuer"] == issuer.url and record["subject"]
    assert record["request_id"] == response.json()["request_id"] == response.headers["x-request-id"]
    assert (
        record["client_request_id"] is None and record["transport"] == "rest" and record["mode"] == "hybrid"
    )  # the default mode
    assert "query" not in record and len(record["query_sha256"]) == 64 and record["top_k"] == 2
    assert [r["chunk_id"] for r in record["results"]] == [r["chunk_id"] for r in results]
    granted = {r["document_id"]: r["granted_by"] for r in record["results"]}
    assert granted.get("eng/deploy.md") == "group:/eng"
    assert reading["event"] == "document" and reading["document_id"] == "hr/salaries.md"
    assert reading["results"] == [] and reading["request_id"] == read.json()["request_id"]
    assert (record["seq"], reading["seq"]) == (1, 2) and reading["prev"] == record["sig"]
    assert record["key_id"] and record["time"] <= reading["time"]
    assert verify_log(DataPaths(data_dir), verifying_keyring(load_settings(data_dir=data_dir))).ok


def test_request_ids_are_the_servers_even_when_two_callers_send_the_same_one(
    client_on, issuer: OidcIssuer, data_dir: Path
) -> None:
    # Attack: mallory reuses the X-Request-Id she saw in alice's logs, so an investigator joining on the
    # id would mix her records with alice's. The server's id is never the caller's.
    shared = {"X-Request-Id": "incident-4711"}
    alice = issuer.token(preferred_username="alice", sub="sub-alice", groups=["/eng/backend"])
    mallory = issuer.token(preferred_username="mallory", sub="sub-mallory")
    first = client_on.post("/v1/search", json={"query": "deploy"}, headers={**bearer(alice), **shared})
    second = client_on.post("/v1/search", json={"query": "deploy"}, headers={**bearer(mallory), **shared})
    refused = client_on.post("/v1/search", json={"query": "deploy"}, headers={**shared, "Authorization": "Bearer x"})
    assert (first.status_code, second.status_code, refused.status_code) == (200, 200, 401)
    records = audit_records(data_dir)
    assert [r["subject"] for r in records] == ["sub-alice", "sub-mallory"]
    ids = [r["request_id"] for r in records]
    assert len(set(ids)) == 2 and "incident-4711" not in ids
    assert ids == [first.json()["request_id"], second.json()["request_id"]]
    assert [r["client_request_id"] for r in records] == ["incident-4711", "incident-4711"]
    for response in (first, second, refused):
        assert response.headers["x-request-id"] != "incident-4711"
    assert refused.json()["request_id"] == refused.headers["x-request-id"] not in ids
    malformed = client_on.post("/v1/search", json={"query": "x"}, headers={**bearer(alice), "X-Request-Id": "a b"})
    assert malformed.status_code == 200 and audit_records(data_dir)[-1]["client_request_id"] is None


def test_hr_manager_through_analytics_agent_gets_no_hr_documents(
    index: ChunkIndex, embedder: HashingEmbedder, issuer: OidcIssuer, engine: str, data_dir: Path, tmp_path: Path
) -> None:
    add_chunks(index, embedder, corpus())
    policy = tmp_path / "agents.yaml"
    policy.write_text(
        "version: 1\nagents:\n  analytics-bot:\n    labels: ['classification != confidential']\n"
        "  hr-assistant: {}\n  retired-bot: {access: none}\n"
    )
    settings = api_settings(data_dir, [issuer], engine=engine, agent_policy_file=policy)
    manager = {"preferred_username": "hana", "groups": ["/hr"]}
    with api_client(settings, index=index, embedder=embedder) as client:
        direct = search(client, issuer.token(azp="hr-assistant", **manager), "salaries backend team", top_k=50)
        assert "hr/salaries.md" in {r["document_id"] for r in direct}
        # Token exchange: the analytics agent acts for the HR manager.
        delegated = issuer.token(azp="gateway", act={"sub": "analytics-bot"}, **manager)
        through_agent = search(client, delegated, "salaries backend team", top_k=50)
        assert through_agent and "hr/salaries.md" not in {r["document_id"] for r in through_agent}
        read = client.get("/v1/documents/hr/salaries.md", headers=bearer(delegated))
        assert read.status_code == 404
        blocked = client.post(
            "/v1/search", json={"query": "x"}, headers=bearer(issuer.token(azp="retired-bot", **manager))
        )
        assert blocked.status_code == 403


def test_unknown_agents_follow_the_configured_default(tmp_path: Path, issuer: OidcIssuer) -> None:
    settings = api_settings(tmp_path, [issuer], unknown_agent_policy="deny")
    with api_client(settings) as client:
        response = client.post("/v1/search", json={"query": "x"}, headers=bearer(issuer.token(azp="stranger")))
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"query": ""},
        {"query": "x" * 2001},
        {"query": "x", "top_k": 0},
        {"query": "x", "top_k": 51},
        {"query": "x", "filters": {"tenant": "globex"}},
        {"query": "x", "everything": True},
        {"top_k": 3},
    ],
)
def test_bad_bodies_get_422_problems(tmp_path: Path, issuer: OidcIssuer, body: dict) -> None:
    with api_client(api_settings(tmp_path, [issuer])) as client:
        response = client.post("/v1/search", json=body, headers=bearer(issuer.token()))
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"


def test_oversized_body_gets_413(tmp_path: Path, issuer: OidcIssuer) -> None:
    with api_client(api_settings(tmp_path, [issuer])) as client:
        body = json.dumps({"query": "x", "filters": {"sources": ["s" * 100_000]}})
        response = client.post(
            "/v1/search", content=body, headers=bearer(issuer.token()) | {"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"

        def chunked():  # no Content-Length: the limit must hold while streaming
            yield b'{"query": "x", "filters": {"sources": ["'
            for _ in range(100):
                yield b"s" * 1000
            yield b'"]}}'

        headers = bearer(issuer.token()) | {"content-type": "application/json"}
        streamed = client.post("/v1/search", content=chunked(), headers=headers)
        assert streamed.status_code == 413


def test_rate_limits_per_subject_and_per_agent(tmp_path: Path, issuer: OidcIssuer) -> None:
    settings = api_settings(tmp_path, [issuer], rate_limit_per_minute=3, agent_rate_limit_per_minute=5)
    with api_client(settings) as client:
        token = issuer.token(sub="same-user", azp="agent-a")
        codes = [client.post("/v1/search", json={"query": "x"}, headers=bearer(token)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.post("/v1/search", json={"query": "x"}, headers=bearer(token))
        assert int(limited.headers["retry-after"]) >= 1
        # Other users of agent-a share the agent's budget (5): two more pass, then 429.
        others = [
            client.post(
                "/v1/search", json={"query": "x"}, headers=bearer(issuer.token(sub=f"u{i}", azp="agent-a"))
            ).status_code
            for i in range(3)
        ]
        assert others == [200, 200, 429]
        assert "clearance_rate_limited_total" in client.get("/metrics").text


def test_federation_binds_each_issuer_to_its_tenant(
    index: ChunkIndex, embedder: HashingEmbedder, issuer: OidcIssuer, engine: str, data_dir: Path
) -> None:
    add_chunks(index, embedder, corpus())
    with running_issuer() as second:
        issuers = [issuer.config | {"tenant": "default"}, second.config | {"tenant": "globex"}]
        settings = settings_for(engine, data_dir, oidc_issuers=issuers)
        with api_client(settings, index=index, embedder=embedder) as client:
            first_docs = {r["document_id"] for r in search(client, issuer.token(), "backend deploy", top_k=50)}
            second_docs = {r["document_id"] for r in search(client, second.token(), "backend deploy", top_k=50)}
    assert "other/tenant.md" not in first_docs
    assert second_docs == {"other/tenant.md"}


def test_a_caller_in_a_thousand_groups_still_works(
    tmp_path: Path, issuer: OidcIssuer, embedder: HashingEmbedder
) -> None:
    settings = api_settings(tmp_path, [issuer])
    groups = [f"/org/u{i // 50}/t{i}" for i in range(1000)]
    with api_client(settings, embedder=embedder) as client:
        index = client.app.state.services.search.index
        add_chunks(index, embedder, [make_chunk("org/team.md", "team 999 notes", ["group:/org/u19/t999"])])
        token = issuer.token(groups=groups)
        assert len(token) < settings.max_token_bytes
        search(client, token, "warm up")
        started = time.perf_counter()
        for _ in range(10):
            results = search(client, token, "team 999 notes")
        per_search_ms = (time.perf_counter() - started) * 100
    assert [r["document_id"] for r in results] == ["org/team.md"]
    print(f"1000-group caller: {per_search_ms:.1f} ms per search (token {len(token)} bytes)")
    assert per_search_ms < 500


def test_directory_disabled_user_403_and_stale_directory_503(tmp_path: Path, issuer: OidcIssuer) -> None:
    data = DirectoryData(
        source="test",
        users=(DirectoryUser("u1", "alice", None, True, frozenset({"g1"})), DirectoryUser("u2", "bob", None, False)),
        groups=(DirectoryGroup("g1", "/eng"),),
        roles=(),
        issuer=issuer.url,
    )

    class Store:
        snapshot = build_snapshot(data, None)

        def load(self):
            return self.snapshot

    store = Store()
    settings = api_settings(tmp_path, [issuer], directory_file=tmp_path / "directory.yaml", directory_max_age=60)
    with api_client(settings, directory_store=store) as client:
        index = client.app.state.services.search.index
        add_chunks(index, HashingEmbedder(), [make_chunk("eng/a.md", "engineering notes", ["group:/eng"])])
        alice = issuer.token(preferred_username="alice")  # no groups in the token: the directory grants /eng
        assert [r["document_id"] for r in search(client, alice, "engineering notes")] == ["eng/a.md"]
        assert (
            client.post(
                "/v1/search", json={"query": "x"}, headers=bearer(issuer.token(preferred_username="bob"))
            ).status_code
            == 403
        )
        assert client.get("/readyz").status_code == 200
        store.snapshot = build_snapshot(data, None, now=datetime.now(UTC) - timedelta(minutes=5))
        stale = client.post("/v1/search", json={"query": "x"}, headers=bearer(alice))
        assert stale.status_code == 503 and stale.headers["content-type"] == "application/problem+json"
        assert client.get("/readyz").status_code == 503


def test_operations_endpoints(tmp_path: Path, issuer: OidcIssuer) -> None:
    with api_client(api_settings(tmp_path, [issuer])) as client:
        assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["index"] == "ok"
        client.post("/v1/search", json={"query": "x"}, headers=bearer(issuer.token()))
        metrics = client.get("/metrics").text
        for name in (
            "clearance_request_seconds_bucket",
            "clearance_results_per_search",
            "clearance_audit_write_errors",
        ):
            assert name in metrics
        openapi = client.get("/openapi.json").json()
        assert openapi["paths"]["/v1/search"]["post"]["security"]
        assert openapi["components"]["schemas"]["SearchRequest"]["examples"]
        assert client.get("/healthz").headers["x-request-id"]


class SlowEmbedder(HashingEmbedder):
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(0.5)
        return super().embed(texts)


def test_search_timeout_fails_closed(tmp_path: Path, issuer: OidcIssuer) -> None:
    settings = api_settings(tmp_path, [issuer], search_timeout_seconds=0.1)
    with api_client(settings, embedder=SlowEmbedder()) as client:
        response = client.post("/v1/search", json={"query": "x"}, headers=bearer(issuer.token()))
        assert response.status_code == 503
        assert response.json()["code"] == "search_timeout"


class LeakyIndex:
    """An engine bug: returns a chunk the filter excludes. The service must refuse, not pass it on."""

    engine = "leaky"

    def __init__(self, inner: ChunkIndex) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def search(self, query, where: Filter, limit: int) -> list[Hit]:
        leaked = make_chunk("hr/salaries.md", "salaries", ["group:/hr"])
        return [Hit(leaked, 0.9)]


def test_a_leaking_engine_fails_closed(tmp_path: Path, issuer: OidcIssuer) -> None:
    settings = api_settings(tmp_path, [issuer])
    from access_index.index import open_index

    inner = open_index(settings, role="test")
    try:
        with api_client(settings, index=LeakyIndex(inner)) as client:
            response = client.post("/v1/search", json={"query": "x"}, headers=bearer(issuer.token()))
            assert response.status_code == 503
            assert "salaries" not in response.text
    finally:
        inner.close()


def test_audit_write_failure_withholds_results(tmp_path: Path, issuer: OidcIssuer) -> None:
    settings = api_settings(tmp_path, [issuer])
    with api_client(settings) as client:
        settings.paths.audit_dir.mkdir(parents=True, exist_ok=True)
        settings.paths.audit_segment(1).mkdir()  # a directory where the log should be
        response = client.post("/v1/search", json={"query": "x"}, headers=bearer(issuer.token()))
        assert response.status_code == 503
        assert "clearance_audit_write_errors_total 1.0" in client.get("/metrics").text


def test_a_chain_that_cannot_be_continued_safely_answers_503(tmp_path: Path, issuer: OidcIssuer) -> None:
    settings = api_settings(tmp_path, [issuer])
    token = issuer.token()
    with api_client(settings) as client:
        assert client.post("/v1/search", json={"query": "x"}, headers=bearer(token)).status_code == 200
        assert client.get("/readyz").json()["checks"]["audit"] == "ok"
        # A line appended by someone without the key: the service will not chain onto it.
        _, segment = settings.paths.audit_segments()[-1]
        with segment.open("a") as handle:
            handle.write('{"seq": 2, "prev": "x", "event": "search", "key_id": "k", "sig": "forged"}\n')
        response = client.post("/v1/search", json={"query": "x"}, headers=bearer(token))
        assert response.status_code == 503 and response.json()["code"] == "audit_unavailable"
        assert "results" not in response.json()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["audit"] == "unavailable"
    assert len(audit_records(settings.data_dir)) == 2  # nothing was chained onto the forged line
    # A service started on that log refuses as well, from its first request.
    with api_client(settings) as client:
        assert client.post("/v1/search", json={"query": "x"}, headers=bearer(token)).status_code == 503


def test_query_text_is_audited_only_when_configured(tmp_path: Path, issuer: OidcIssuer) -> None:
    settings = api_settings(tmp_path, [issuer], audit_store_query_text=True)
    with api_client(settings) as client:
        client.post("/v1/search", json={"query": "where is the payroll"}, headers=bearer(issuer.token()))
    record = audit_records(settings.data_dir)[-1]
    assert record["query"] == "where is the payroll"
