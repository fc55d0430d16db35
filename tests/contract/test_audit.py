"""The audit log (CONTRACT.md, Audit): one chained record per search and per document read."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.contract.conftest import World
from tests.contract.harness import (
    audit_records,
    bearer,
    clearance,
    document_id_of,
    environment,
    largest_file,
    search,
)

pytestmark = [pytest.mark.model, pytest.mark.slow]  # `clearance` processes end to end, with the real model


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def test_one_record_per_search_with_who_what_and_why(world: World) -> None:
    server = world.server("main")
    token = world.issuer.token(preferred_username="bob", sub="sub-bob-audit", azp="agent-audit")
    query = "salary bands MKHRSALARY"
    before = len(audit_records(server.data_dir))
    response = search(server, token, {"query": query, "top_k": 3})
    assert response.status_code == 200, response.text
    records = audit_records(server.data_dir)
    assert len(records) == before + 1
    record = records[-1]
    body = response.json()
    assert record["request_id"] == body["request_id"]
    assert record["time"]
    assert record["issuer"] == world.issuer.url
    assert record["subject"] == "sub-bob-audit"
    assert record["agents"] == ["agent-audit"]
    assert record["tenant"] == "default"
    digest = hashlib.sha256(query.encode()).hexdigest()
    assert digest in [value for value in walk(record) if isinstance(value, str)], "no query SHA-256"
    assert query not in json.dumps(record), "the audit log keeps the query text, not only its hash"
    entries = [value for value in walk(record) if isinstance(value, dict) and "request_id" not in value]
    for result in body["results"]:
        entry = next((e for e in entries if result["chunk_id"] in e.values()), None)
        assert entry is not None, f"chunk {result['chunk_id']} not audited"
        assert result["document_id"] in entry.values()
        expected = "group:/hr" if "MKHRSALARY" in result["text"] else "authenticated"
        assert expected in entry.values(), f"granting principal missing: {entry}"


def test_request_ids_are_generated_by_the_server_and_the_callers_kept_apart(world: World) -> None:
    server = world.server("main")
    shared = {"X-Request-Id": "ticket-5150"}
    ids = []
    for user in ("alice", "bob"):
        token = world.issuer.token(preferred_username=user, sub=f"sub-{user}-request-id")
        with server.client() as client:
            response = client.post("/v1/search", json={"query": "request ids"}, headers={**bearer(token), **shared})
        assert response.status_code == 200, response.text
        assert response.json()["request_id"] == response.headers["x-request-id"] != "ticket-5150"
        ids.append(response.json()["request_id"])
    records = [r for r in audit_records(server.data_dir) if r.get("request_id") in ids]
    assert [r["subject"] for r in records] == ["sub-alice-request-id", "sub-bob-request-id"]
    assert len({r["request_id"] for r in records}) == 2
    assert [r["client_request_id"] for r in records] == ["ticket-5150", "ticket-5150"]


def test_agents_of_an_exchanged_token_are_azp_and_act_sub(world: World) -> None:
    server = world.server("main")
    token = world.issuer.token(preferred_username="dave", azp="gateway", act={"sub": "agent-exchanged"})
    response = search(server, token, {"query": "exchanged token search"})
    assert response.status_code == 200, response.text
    record = next(r for r in audit_records(server.data_dir) if r.get("request_id") == response.json()["request_id"])
    assert record["agents"] == ["gateway", "agent-exchanged"]


def test_one_record_per_document_read(world: World) -> None:
    server = world.server("main")
    token = world.issuer.token(preferred_username="alice")
    document_id = document_id_of(server, token, "MKPUB01")
    before = len(audit_records(server.data_dir))
    with server.client() as client:
        response = client.get(f"/v1/documents/{document_id}", headers=bearer(token))
    assert response.status_code == 200, response.text
    records = audit_records(server.data_dir)
    assert len(records) == before + 1
    audited = [value for value in walk(records[-1]) if isinstance(value, str)]
    assert document_id in audited
    returned = [item["chunk_id"] for item in walk(response.json()) if isinstance(item, dict) and "chunk_id" in item]
    assert returned and all(chunk_id in audited for chunk_id in returned)
    assert "authenticated" in audited, "the granting principal of the read is not audited"


def test_every_record_carries_the_previous_hash(world: World) -> None:
    records = audit_records(world.server("main").data_dir)
    assert len(records) >= 2
    for record in records[1:]:
        chained = [key for key in record if "prev" in key.lower()]
        assert chained and all(isinstance(record[key], str) and record[key] for key in chained), record


def test_audit_verify_passes_then_fails_after_an_edit(world: World) -> None:
    server = world.server("main")
    token = world.issuer.token(preferred_username="dave")
    for query in ("first audited search", "second audited search", "third audited search"):
        assert search(server, token, {"query": query}).status_code == 200
    copy = world.root / "audit-copy"
    shutil.copytree(server.data_dir / "audit", copy / "audit")
    env = environment(copy)
    intact = clearance(["audit", "verify"], env)
    assert intact.returncode == 0, intact.explain()
    assert clearance(["audit", "verify"], environment(server.data_dir)).returncode == 0

    target = largest_file(copy / "audit")
    lines = target.read_text().splitlines()
    assert len(lines) >= 2
    edited = json.loads(lines[-2])
    edited["subject"] = "someone-else"
    lines[-2] = json.dumps(edited)
    target.write_text("\n".join(lines) + "\n")
    broken = clearance(["audit", "verify"], env)
    assert broken.returncode == 1, broken.explain()


def test_audit_verify_fails_when_a_record_is_removed(world: World) -> None:
    server = world.server("main")
    copy = world.root / "audit-gap"
    shutil.copytree(server.data_dir / "audit", copy / "audit")
    target = largest_file(copy / "audit")
    lines = target.read_text().splitlines()
    assert len(lines) >= 3
    del lines[-2]
    target.write_text("\n".join(lines) + "\n")
    broken = clearance(["audit", "verify"], environment(copy))
    assert broken.returncode == 1, broken.explain()
