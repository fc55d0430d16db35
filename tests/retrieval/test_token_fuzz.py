"""Malformed tokens of every shape, through the real app: 401, never 500 (CONTRACT.md, REST).

Observed attack: a payload nesting JSON 2,000 deep made the parser recurse into a RecursionError, and the
service answered 500. The fuzzers below build tokens from random segments, bad base64, JSON that is deep,
huge or not JSON at all, and claims of every wrong type, unsigned and signed with the issuer's real key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws

from tests.retrieval.conftest import api_client, api_settings
from tests.support.auth import bearer
from tests.support.oidc_issuer import AUDIENCE, OidcIssuer

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def client(tmp_path: Path, issuer: OidcIssuer) -> Iterator[TestClient]:
    # Rate limits out of the way: hundreds of requests from one subject are the point here.
    settings_ = api_settings(tmp_path, [issuer], rate_limit_per_minute=100_000, agent_rate_limit_per_minute=100_000)
    with api_client(settings_) as running:
        yield running


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(issuer: OidcIssuer, payload: bytes, header: dict[str, Any] | None = None) -> str:
    """`payload` bytes, whatever they hold, signed with the issuer's real key (a valid signature)."""
    protected = header or {"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}
    return jws.serialize_compact(protected, payload, issuer.keys["rsa-1"], algorithms=["RS256"])


def status(client: TestClient, token: str) -> int:
    response = client.post("/v1/search", json={"query": "anything"}, headers=bearer(token))
    if response.status_code == 401:
        assert response.headers["www-authenticate"].lower().startswith("bearer")
        assert response.headers["content-type"].startswith("application/problem+json")
    return int(response.status_code)


RS256_HEADER = b64(json.dumps({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}).encode())


def deep(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + "1" + closer * depth


def valid_claims(issuer: OidcIssuer) -> dict[str, Any]:
    return issuer.claims(aud=AUDIENCE)


@pytest.mark.parametrize("depth", [2_000, 10_000])
def test_a_payload_nesting_json_deep_is_401_not_500(client: TestClient, issuer: OidcIssuer, depth: int) -> None:
    claims = json.dumps(valid_claims(issuer))[:-1]
    for nested in (deep(depth), deep(depth, '{"a":', "}")):
        payload = f'{claims}, "groups": {nested}}}'.encode()
        assert status(client, signed(issuer, payload)) == 401
        assert status(client, f"{RS256_HEADER}.{b64(payload)}.{b64(b'sig')}") == 401
    header = '{"alg":"RS256","kid":"rsa-1","x":' + deep(depth) + "}"
    assert status(client, f"{b64(header.encode())}.{b64(json.dumps(valid_claims(issuer)).encode())}.c2ln") == 401


@pytest.mark.parametrize(
    "exp",
    ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1" * 5000, "9" * 100, "true", '"soon"', "[]", "null"],
)
def test_an_exp_that_never_comes_or_is_no_time_is_401(client: TestClient, issuer: OidcIssuer, exp: str) -> None:
    claims = {k: v for k, v in valid_claims(issuer).items() if k != "exp"}
    payload = json.dumps(claims)[:-1] + f', "exp": {exp}}}'
    assert status(client, signed(issuer, payload.encode())) == 401


def test_the_fixtures_own_token_is_accepted(client: TestClient, issuer: OidcIssuer) -> None:
    """The fuzzers below could pass by refusing everything: the same signing path yields a 200."""
    assert status(client, signed(issuer, json.dumps(valid_claims(issuer)).encode())) == 200


VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
raw_json_texts = st.one_of(
    json_values.map(lambda value: json.dumps(value)),
    st.integers(33, 3000).map(deep),
    st.integers(33, 3000).map(lambda depth: deep(depth, '{"a":', "}")),
    st.sampled_from(["NaN", "Infinity", "1e999", "1" * 5000, '{"exp": 1e999}', '{"a": "\\ud800"}', "", "{", '"x']),
    st.text(max_size=60),
)
payloads = st.one_of(raw_json_texts.map(str.encode), st.binary(max_size=80))


@FUZZ
@given(token=st.text(alphabet=VISIBLE, min_size=1, max_size=300))
def test_random_text_is_401(client: TestClient, token: str) -> None:
    assert status(client, token) == 401


@FUZZ
@given(
    segments=st.lists(st.one_of(st.binary(max_size=60).map(b64), st.text(alphabet=VISIBLE, max_size=40)), max_size=5)
)
def test_random_segments_and_bad_base64_are_401(client: TestClient, segments: list[str]) -> None:
    token = ".".join(segments)
    if token:
        assert status(client, token) == 401


@FUZZ
@given(header=payloads, payload=payloads, signature=st.binary(max_size=300))
def test_random_json_unsigned_or_badly_signed_is_401(
    client: TestClient, header: bytes, payload: bytes, signature: bytes
) -> None:
    assert status(client, f"{b64(header)}.{b64(payload)}.{b64(signature)}") == 401


@FUZZ
@given(payload=payloads)
def test_random_payloads_signed_by_the_real_key_are_401(client: TestClient, issuer: OidcIssuer, payload: bytes) -> None:
    """A valid signature over garbage (an IdP bug, or a stolen key's owner probing) is still only a 401."""
    assert status(client, signed(issuer, payload)) == 401


CLAIMS = [
    "iss", "aud", "sub", "exp", "nbf", "iat", "azp", "act", "preferred_username", "email", "email_verified",
    "groups", "realm_access", "resource_access", "tenant", "client_id",
]  # fmt: skip
ESSENTIAL = {"iss", "sub", "exp"}  # a wrong type here can only be refused


@FUZZ
@given(claim=st.sampled_from(CLAIMS), value=json_values, nested=st.sampled_from(["direct", "roles", "act"]))
def test_every_claim_of_every_wrong_type_is_401_or_harmless(
    client: TestClient, issuer: OidcIssuer, claim: str, value: object, nested: str
) -> None:
    claims = valid_claims(issuer)
    if nested == "roles" and claim in {"realm_access", "resource_access"}:
        value = {"roles": value} if claim == "realm_access" else {"crm": {"roles": value}}
    elif nested == "act" and claim == "act":
        value = {"sub": "helper", "act": value}
    claims[claim] = value
    answer = status(client, signed(issuer, json.dumps(claims).encode()))
    assert answer in {200, 401}
    well_typed = {
        "iss": value == issuer.url,
        "sub": isinstance(value, str) and bool(value),
        "exp": isinstance(value, int | float) and not isinstance(value, bool),
    }
    if claim in ESSENTIAL and not well_typed[claim]:
        assert answer == 401
