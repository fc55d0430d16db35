"""Token checks (CONTRACT.md, Identity; REST errors): only a valid token of a listed issuer gets through."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from tests.contract.conftest import World
from tests.contract.harness import search
from tests.support.oidc_issuer import AUDIENCE, running_issuer

pytestmark = [pytest.mark.model, pytest.mark.slow]  # `clearance` processes end to end, with the real model

QUERY = {"query": "meeting rooms"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], key: bytes = b"") -> str:
    """A token built by hand: HMAC-signed with `key` when alg is HS256, else with an empty signature."""
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(key, head.encode(), hashlib.sha256).digest() if header["alg"] == "HS256" else b""
    return head + "." + b64(signature)


def assert_401(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "results" not in response.json()


def test_valid_token_is_accepted(world: World) -> None:
    assert search(world.server("lib"), world.issuer.token(), QUERY).status_code == 200


def test_ec_signed_token_is_accepted(world: World) -> None:
    assert search(world.server("lib"), world.issuer.token(kid="ec-1"), QUERY).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": -120}, id="expired beyond leeway"),
        pytest.param({"nbf": 300}, id="not yet valid beyond leeway"),
        pytest.param({"aud": "another-api", "azp": "another-client"}, id="wrong audience"),
        pytest.param({"iss": "http://127.0.0.1:1/realms/unlisted"}, id="unlisted issuer"),
        pytest.param({"exp": None}, id="no expiry"),
        pytest.param({"iss": "{issuer}/"}, id="issuer with a trailing slash"),
    ],
)
def test_invalid_claims_are_401(world: World, claims: dict[str, Any]) -> None:
    now = int(time.time())
    timed = {
        name: now + value if name in {"exp", "nbf"} and value is not None else value for name, value in claims.items()
    }
    if timed.get("iss") == "{issuer}/":
        timed["iss"] = world.issuer.url + "/"
    assert_401(search(world.server("lib"), world.issuer.token(**timed), QUERY))


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": -30}, id="expired within 60 s leeway"),
        pytest.param({"nbf": 30}, id="nbf within 60 s leeway"),
        pytest.param({"aud": "another-api", "azp": AUDIENCE}, id="azp matches audience"),
        pytest.param({"aud": ["another-api", AUDIENCE]}, id="audience in a list"),
    ],
)
def test_tolerated_claims_are_accepted(world: World, claims: dict[str, Any]) -> None:
    now = int(time.time())
    timed = {name: now + value if name in {"exp", "nbf"} else value for name, value in claims.items()}
    response = search(world.server("lib"), world.issuer.token(**timed), QUERY)
    assert response.status_code == 200, response.text


def test_missing_and_malformed_tokens_are_401(world: World) -> None:
    server = world.server("lib")
    assert_401(search(server, None, QUERY))
    assert_401(search(server, "not-a-jwt", QUERY))
    assert_401(search(server, "a.b.c", QUERY))
    with server.client() as client:
        assert_401(client.post("/v1/search", json=QUERY, headers={"Authorization": "Basic dXNlcjpwYXNz"}))


def test_token_signed_by_an_impostor_is_401(world: World) -> None:
    with running_issuer() as impostor:  # its own keys under the same kids
        forged = impostor.token(iss=world.issuer.url, preferred_username="alice")
        assert_401(search(world.server("lib"), forged, QUERY))
        # A token pointing at the impostor's own key set (jku) or embedding its key (jwk) is no better.
        jwks = f"{impostor.url}/protocol/openid-connect/certs"
        public = impostor.jwks()["keys"][0]
        for header in ({"jku": jwks, "kid": "evil-1"}, {"jwk": public, "kid": "evil-2"}):
            token = impostor.token(header=header, iss=world.issuer.url)
            assert_401(search(world.server("lib"), token, QUERY))


def test_unsigned_and_symmetric_tokens_are_401(world: World) -> None:
    claims = world.issuer.claims(groups=["/eng/backend"])
    public_jwk = json.dumps(world.issuer.jwks()["keys"][0]).encode()
    for header, key in [
        ({"alg": "none", "typ": "JWT"}, b""),
        ({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, public_jwk),  # key confusion: the public key as HMAC secret
        ({"alg": "HS256", "typ": "JWT"}, b"secret"),
    ]:
        assert_401(search(world.server("lib"), unsigned(header, claims, key), QUERY))


def test_tampered_claims_are_401(world: World) -> None:
    token = world.issuer.token(preferred_username="tom")
    head, _, rest = token.partition(".")
    _, _, signature = rest.partition(".")
    claims = world.issuer.claims(preferred_username="tom", groups=["/eng"])
    tampered = f"{head}.{b64(json.dumps(claims).encode())}.{signature}"
    assert_401(search(world.server("lib"), tampered, QUERY))
