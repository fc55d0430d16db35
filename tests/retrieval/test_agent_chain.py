"""The agent chain as an attacker would try it: every agent of a token (`azp` and each `act` actor,
nested) narrows the request, and no actor can stand in for the client the token was issued to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from access_index.errors import InvalidTokenError
from access_index.index import ChunkIndex
from retrieval.caller import MAX_ACTORS, agent_chain
from tests.retrieval.conftest import add_chunks, api_client, api_settings, audit_records, make_chunk
from tests.support.auth import bearer
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.oidc_issuer import OidcIssuer

POLICY = (
    "version: 1\nagents:\n"
    "  narrowed-bot:\n    labels: ['classification != confidential']\n"
    "  wiki-bot:\n    sources: [wiki]\n"
    "  helper: {}\n"
    "  retired-bot: {access: none}\n"
)
MANAGER = {"preferred_username": "hana", "groups": ["/hr"]}


def _corpus() -> list[Any]:
    return [
        make_chunk("hr/salaries.md", "salaries of the team", ["group:/hr"], labels={"classification": "confidential"}),
        make_chunk("hr/handbook.md", "salaries are paid monthly", ["group:/hr"], labels={"classification": "internal"}),
        make_chunk("wiki/pay.md", "salaries and pay days", ["authenticated"]),
    ]


@pytest.fixture
def client(
    index: ChunkIndex, embedder: HashingEmbedder, issuer: OidcIssuer, engine: str, data_dir: Path, tmp_path: Path
):
    add_chunks(index, embedder, _corpus())
    policy = tmp_path / "agents.yaml"
    policy.write_text(POLICY)
    settings = api_settings(data_dir, [issuer], engine=engine, agent_policy_file=policy)
    with api_client(settings, index=index, embedder=embedder) as running:
        yield running


def _documents(client: Any, token: str) -> set[str] | int:
    response = client.post("/v1/search", json={"query": "salaries", "top_k": 50}, headers=bearer(token))
    if response.status_code != 200:
        return int(response.status_code)
    return {result["document_id"] for result in response.json()["results"]}


def test_an_unlisted_actor_does_not_lift_the_clients_narrowing(client: Any, issuer: OidcIssuer) -> None:
    # Observed attack: act.sub replaced azp, and an unlisted actor counted as an unknown agent (default allow).
    token = issuer.token(azp="narrowed-bot", act={"sub": "unlisted-actor"}, **MANAGER)
    assert _documents(client, token) == {"hr/handbook.md", "wiki/pay.md"}


def test_a_blocked_client_stays_blocked_whoever_acts(client: Any, issuer: OidcIssuer) -> None:
    token = issuer.token(azp="retired-bot", act={"sub": "helper"}, **MANAGER)
    assert _documents(client, token) == 403


def test_a_blocked_actor_anywhere_in_the_chain_refuses(client: Any, issuer: OidcIssuer) -> None:
    nested = {"sub": "helper", "act": {"sub": "retired-bot"}}
    assert _documents(client, issuer.token(azp="helper", act=nested, **MANAGER)) == 403


def test_every_agent_narrows(client: Any, issuer: OidcIssuer) -> None:
    # narrowed-bot removes the confidential label, wiki-bot everything outside the wiki: the intersection.
    token = issuer.token(azp="narrowed-bot", act={"sub": "wiki-bot"}, **MANAGER)
    assert _documents(client, token) == {"wiki/pay.md"}
    assert _documents(client, issuer.token(azp="helper", **MANAGER)) == {
        "hr/salaries.md",
        "hr/handbook.md",
        "wiki/pay.md",
    }


def test_the_audit_records_the_whole_chain(client: Any, issuer: OidcIssuer, data_dir: Path) -> None:
    token = issuer.token(azp="helper", act={"sub": "narrowed-bot", "act": {"sub": "wiki-bot"}}, **MANAGER)
    assert _documents(client, token) == {"wiki/pay.md"}
    record = audit_records(data_dir)[-1]
    assert record["agents"] == ["helper", "narrowed-bot", "wiki-bot"]


@pytest.mark.parametrize("act", ["wiki-bot", {"client_id": "x"}, {"sub": ""}, {"sub": 7}, ["wiki-bot"]])
def test_a_malformed_act_claim_is_refused_not_ignored(client: Any, issuer: OidcIssuer, act: object) -> None:
    assert _documents(client, issuer.token(azp="helper", act=act, **MANAGER)) == 401


def test_chain_order_and_depth() -> None:
    assert agent_chain({"azp": "gw", "act": {"sub": "a", "act": {"sub": "b"}}}) == ("gw", "a", "b")
    assert agent_chain({"azp": "gw", "act": {"sub": "gw"}}) == ("gw",)
    assert agent_chain({}) == ()
    deep: dict[str, Any] = {"sub": "x0"}
    for depth in range(1, MAX_ACTORS + 1):
        deep = {"sub": f"x{depth}", "act": deep}
    with pytest.raises(InvalidTokenError):
        agent_chain({"azp": "gw", "act": deep})
