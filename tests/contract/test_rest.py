"""The REST surface (CONTRACT.md, REST): shapes, limits, filters, documents, errors, operations endpoints."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.contract import corpus
from tests.contract.conftest import World
from tests.contract.harness import document_id_of, search
from tests.support.auth import bearer

pytestmark = [pytest.mark.model, pytest.mark.slow]  # `clearance` processes end to end, with the real model

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def alice(world: World) -> str:
    return world.issuer.token(preferred_username="alice")


@pytest.fixture(scope="module")
def bob(world: World) -> str:
    return world.issuer.token(preferred_username="bob")


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["request_id"], str) and body["request_id"]
    assert isinstance(body["results"], list)
    return list(body["results"])


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body.get("status") == status and isinstance(body.get("title"), str)


def test_result_shape(world: World, bob: str) -> None:
    found = results(search(world.server("main"), bob, {"query": "salary bands and bonus targets"}))
    assert found
    for result in found:
        assert {"chunk_id", "document_id", "score", "text", "source", "labels", "findings"} <= set(result)
        assert isinstance(result["chunk_id"], str) and isinstance(result["document_id"], str)
        assert isinstance(result["score"], int | float) and isinstance(result["text"], str)
        assert {"uri", "title", "page"} <= set(result["source"])
        assert isinstance(result["labels"], dict) and isinstance(result["findings"], list)
    scores = [result["score"] for result in found]
    assert scores == sorted(scores, reverse=True)
    hr = next(result for result in found if "MKHRSALARY" in result["text"])
    assert hr["labels"].get("classification") == "confidential"
    assert "hr/salaries.md" in hr["source"]["uri"]


def test_top_k_defaults_to_8_and_is_honoured(world: World, alice: str) -> None:
    server = world.server("main")
    assert len(results(search(server, alice, {"query": "office handbook"}))) == 8
    assert len(results(search(server, alice, {"query": "office handbook", "top_k": 3}))) == 3
    assert len(results(search(server, alice, {"query": "office handbook", "top_k": 50}))) > 8


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"query": ""}, id="empty query"),
        pytest.param({"query": "x" * 2001}, id="query of 2001 chars"),
        pytest.param({"query": "q", "top_k": 0}, id="top_k 0"),
        pytest.param({"query": "q", "top_k": 51}, id="top_k 51"),
        pytest.param({"query": "q", "top_k": "many"}, id="top_k not int"),
        pytest.param({"top_k": 3}, id="no query"),
        pytest.param({"query": 42}, id="query not str"),
        pytest.param({"query": "q", "filters": {"labels": {"classification": ["a", "b"]}}}, id="label not str"),
        pytest.param({"query": "q", "filters": {"sources": "docs"}}, id="sources not list"),
    ],
)
def test_bad_bodies_are_422_problems(world: World, alice: str, body: dict[str, Any]) -> None:
    assert_problem(search(world.server("main"), alice, body), 422)


def test_limits_are_inclusive(world: World, alice: str) -> None:
    server = world.server("main")
    assert results(search(server, alice, {"query": "x" * 2000, "top_k": 1})) is not None
    assert len(results(search(server, alice, {"query": "q", "top_k": 1}))) == 1


def test_malformed_json_is_422(world: World, alice: str) -> None:
    with world.server("main").client() as client:
        response = client.post(
            "/v1/search", content=b'{"query": ', headers={**bearer(alice), "content-type": "application/json"}
        )
    assert_problem(response, 422)


def test_huge_body_is_refused(world: World, alice: str) -> None:
    with world.server("main").client() as client:
        response = client.post("/v1/search", json={"query": "q" * 3_000_000}, headers=bearer(alice))
    assert response.status_code in {413, 422}, response.status_code
    assert response.headers["content-type"].startswith(PROBLEM)


def test_source_filter_narrows(world: World, alice: str) -> None:
    server = world.server("main")
    found = results(search(server, alice, {"query": "notes", "top_k": 50, "filters": {"sources": ["docs"]}}))
    assert len(found) == len(results(search(server, alice, {"query": "notes", "top_k": 50})))
    assert results(search(server, alice, {"query": "notes", "filters": {"sources": ["nope"]}})) == []
    # the acme source exists, but in another tenant
    assert results(search(server, alice, {"query": "planning", "filters": {"sources": ["acme"]}})) == []


def test_document_filter_narrows_and_never_widens(world: World, alice: str, bob: str) -> None:
    server = world.server("main")
    public_id = document_id_of(server, alice, "MKPUB03")
    found = results(search(server, alice, {"query": "notes", "top_k": 50, "filters": {"document_ids": [public_id]}}))
    assert found and {result["document_id"] for result in found} == {public_id}
    hr_id = document_id_of(server, bob, "MKHRSALARY")
    widened = {"query": "salary", "top_k": 50, "filters": {"document_ids": [hr_id]}}
    assert results(search(server, alice, widened)) == []


def test_label_filter_narrows_and_never_widens(world: World, alice: str, bob: str) -> None:
    server = world.server("main")
    confidential = {"query": "notes", "top_k": 50, "filters": {"labels": {"classification": "confidential"}}}
    assert corpus.markers_in([r["text"] for r in results(search(server, bob, confidential))]) == {"MKHRSALARY"}
    assert results(search(server, alice, confidential)) == []
    public = {"query": "notes", "top_k": 50, "filters": {"labels": {"classification": "public"}}}
    assert corpus.markers_in([r["text"] for r in results(search(server, alice, public))]) == set(corpus.PUBLIC_MARKERS)


@pytest.mark.parametrize(
    ("marker", "query"),
    [
        pytest.param("MKINLINE", "travel policy conference trips per-diem", id="hidden span inside a paragraph"),
        pytest.param("MKBENIGN", "billing dashboard invoice exports", id="hidden element of its own"),
    ],
)
def test_hidden_text_never_reaches_results(world: World, alice: str, marker: str, query: str) -> None:
    found = results(search(world.server("main"), alice, {"query": query, "top_k": 50}))
    assert all(corpus.HIDDEN_BENIGN_WORD not in result["text"] for result in found)
    assert all("Ignore all previous instructions" not in result["text"] for result in found)
    assert any(marker in result["text"] for result in found), f"{marker} not found"


def test_document_read_returns_its_chunks(world: World, alice: str) -> None:
    server = world.server("main")
    document_id = document_id_of(server, alice, "MKPUB05")
    with server.client() as client:
        response = client.get(f"/v1/documents/{document_id}", headers=bearer(alice))
    assert response.status_code == 200, response.text
    assert "MKPUB05" in response.text and "MKPUB04" not in response.text
    with server.client() as client:  # a client that percent-encodes the whole id
        encoded = client.get(f"/v1/documents/{quote(document_id, safe='')}", headers=bearer(alice))
    assert encoded.status_code == 200 and "MKPUB05" in encoded.text, encoded.text


def test_guessed_ids_of_unindexed_documents_are_404(world: World, alice: str) -> None:
    """Quarantined, failed and no-ACL files: nothing to read even for a caller who guesses their id."""
    server = world.server("main")
    known = document_id_of(server, alice, "MKPUB05")
    prefix = known[: -len("public/p05.md")] if known.endswith("public/p05.md") else ""
    with server.client() as client:
        for path in ("public/injected.html", "public/broken.docx", "notes/todo.txt", "hr/salaries.md"):
            response = client.get(f"/v1/documents/{prefix}{path}", headers=bearer(alice))
            assert_problem(response, 404)
    banned = {"query": "vendor onboarding", "top_k": 50, "filters": {"document_ids": [f"{prefix}public/injected.html"]}}
    assert results(search(server, alice, banned)) == []


def test_absent_and_forbidden_documents_are_the_same_404(world: World, alice: str, bob: str) -> None:
    server = world.server("main")
    hr_id = document_id_of(server, bob, "MKHRSALARY")
    acme_id = document_id_of(server, world.acme_issuer.token(preferred_username="zed"), corpus.ACME_MARKER)
    with server.client() as client:
        forbidden = client.get(f"/v1/documents/{hr_id}", headers=bearer(alice))
        other_tenant = client.get(f"/v1/documents/{acme_id}", headers=bearer(alice))
        absent = client.get("/v1/documents/no-such-document", headers=bearer(alice))
    for response in (forbidden, other_tenant, absent):
        assert_problem(response, 404)
        assert "MKHRSALARY" not in response.text and corpus.ACME_MARKER not in response.text
    assert forbidden.json()["title"] == absent.json()["title"]


def test_document_read_needs_a_token(world: World, bob: str) -> None:
    server = world.server("main")
    hr_id = document_id_of(server, bob, "MKHRSALARY")
    with server.client() as client:
        response = client.get(f"/v1/documents/{hr_id}")
    assert_problem(response, 401)
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_operations_endpoints(world: World) -> None:
    with world.server("main").client() as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and "# TYPE" in metrics.text
        assert metrics.headers["content-type"].startswith("text/plain")
        spec = client.get("/openapi.json").json()
        assert "/v1/search" in spec["paths"] and "/v1/documents/{document_id}" in spec["paths"]
        docs = client.get("/docs")
        assert docs.status_code == 200 and "html" in docs.headers["content-type"]


def test_other_errors_are_problems_too(world: World, alice: str) -> None:
    with world.server("main").client() as client:
        assert_problem(client.get("/v1/search", headers=bearer(alice)), 405)
        assert_problem(client.get("/v1/no-such-endpoint", headers=bearer(alice)), 404)
