"""Every bad-token class is refused with 401 and `WWW-Authenticate: Bearer error="invalid_token"`;
good RSA and EC tokens from a real issuer are accepted; key refresh is rate-limited."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt

from tests.retrieval.conftest import api_client, api_settings
from tests.support.auth import bearer
from tests.support.oidc_issuer import OidcIssuer, running_issuer

SEARCH = {"query": "anything"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _hs256_with_public_key(issuer: OidcIssuer) -> str:
    # The classic confusion attack: the RSA public key (PEM) used as an HMAC secret.
    # joserfc refuses to build such a key, so the attacker's token is signed by hand.
    public_pem = issuer.keys["rsa-1"].as_pem(private=False)
    signing_input = (
        f"{_b64(json.dumps({'alg': 'HS256', 'kid': 'rsa-1'}).encode())}.{_b64(json.dumps(issuer.claims()).encode())}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _other_issuer_token(issuer: OidcIssuer) -> str:
    return issuer.token(iss="http://127.0.0.1:1/realms/evil")


def _forged_signature(issuer: OidcIssuer) -> str:
    header, payload, signature = issuer.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["preferred_username"] = "admin"
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


BAD_TOKENS: dict[str, Callable[[OidcIssuer], str]] = {
    "expired": lambda i: i.token(exp=int(time.time()) - 120, iat=int(time.time()) - 600),
    "not yet valid": lambda i: i.token(nbf=int(time.time()) + 120),
    "issued in the future": lambda i: i.token(iat=int(time.time()) + 600, exp=int(time.time()) + 900),
    "no exp": lambda i: i.token(exp=None),
    "wrong audience": lambda i: i.token(aud="another-api", azp="another-client"),
    "wrong issuer": _other_issuer_token,
    "unknown key": lambda i: i.token(kid="never-published"),
    "alg none": lambda i: _unsigned({"alg": "none", "kid": "rsa-1"}, i.claims()),
    "HS256 with the public key": _hs256_with_public_key,
    "malformed": lambda i: "not-a-jwt",
    "malformed base64": lambda i: "eyJ!!!.eyJ###.abc",
    "missing kid": lambda i: i.token(header={"kid": None}),
    "forged claims": _forged_signature,
    "RSA signature under the EC key's kid": lambda i: jwt.encode(
        {"alg": "RS256", "kid": "ec-1"}, i.claims(), i.keys["rsa-1"], algorithms=["RS256"]
    ),
    "oversized": lambda i: i.token(padding="x" * 40_000),
}


@pytest.fixture(scope="module")
def keyed_issuer() -> OidcIssuer:
    with running_issuer() as issuer:
        # An extra key that the IdP never publishes: tokens signed with it must be refused.
        issuer.rotate("never-published", publish=False)
        yield issuer


@pytest.fixture(scope="module")
def client(keyed_issuer: OidcIssuer, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    settings = api_settings(tmp_path_factory.mktemp("identity"), [keyed_issuer], rate_limit_per_minute=10_000)
    with api_client(settings) as client:
        yield client


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_token_is_refused_with_401(case: str, client: TestClient, keyed_issuer: OidcIssuer) -> None:
    token = BAD_TOKENS[case](keyed_issuer)
    response = client.post("/v1/search", json=SEARCH, headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert response.json()["status"] == 401
    assert token[:40] not in response.text  # the token is never echoed back


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_good_rsa_and_ec_tokens_are_accepted(kid: str, client: TestClient, keyed_issuer: OidcIssuer) -> None:
    response = client.post("/v1/search", json=SEARCH, headers=bearer(keyed_issuer.token(kid=kid)))
    assert response.status_code == 200, response.text
    assert response.json()["results"] == []


def test_leeway_accepts_a_token_that_expired_seconds_ago(client: TestClient, keyed_issuer: OidcIssuer) -> None:
    token = keyed_issuer.token(exp=int(time.time()) - 30)
    assert client.post("/v1/search", json=SEARCH, headers=bearer(token)).status_code == 200


def test_azp_may_carry_the_audience(client: TestClient, keyed_issuer: OidcIssuer) -> None:
    token = keyed_issuer.token(aud="account", azp="clearance-api")
    assert client.post("/v1/search", json=SEARCH, headers=bearer(token)).status_code == 200


def test_missing_token_gets_a_bearer_challenge(client: TestClient) -> None:
    response = client.post("/v1/search", json=SEARCH)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    response = client.post("/v1/search", json=SEARCH, headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert response.status_code == 401


def test_auth_failures_are_counted_by_reason(client: TestClient) -> None:
    client.post("/v1/search", json=SEARCH, headers=bearer("garbage"))
    metrics = client.get("/metrics").text
    assert 'clearance_auth_failures_total{reason="malformed"}' in metrics


def test_rotated_key_is_fetched_once_and_forged_kids_do_not_hammer_the_idp(tmp_path: Path) -> None:
    with running_issuer() as issuer:
        settings = api_settings(tmp_path, [issuer], jwks_refresh_interval=3600)
        with api_client(settings) as client:
            assert client.post("/v1/search", json=SEARCH, headers=bearer(issuer.token())).status_code == 200
            fetched = issuer.jwks_fetches
            for attempt in range(20):
                forged = issuer.token(header={"kid": f"forged-{attempt}"})
                assert client.post("/v1/search", json=SEARCH, headers=bearer(forged)).status_code == 401
            assert issuer.jwks_fetches <= fetched + 1


def test_new_kid_triggers_a_refresh(tmp_path: Path) -> None:
    with running_issuer() as issuer:
        settings = api_settings(tmp_path, [issuer], jwks_refresh_interval=0)
        with api_client(settings) as client:
            issuer.rotate("rsa-2")
            response = client.post("/v1/search", json=SEARCH, headers=bearer(issuer.token(kid="rsa-2")))
            assert response.status_code == 200, response.text


def test_unreachable_idp_fails_closed_with_503(tmp_path: Path) -> None:
    with running_issuer() as issuer:
        issuer.available = False
        settings = api_settings(tmp_path, [issuer], jwks_refresh_interval=0)
        with api_client(settings) as client:
            response = client.post("/v1/search", json=SEARCH, headers=bearer(issuer.token()))
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            issuer.available = True
            assert client.post("/v1/search", json=SEARCH, headers=bearer(issuer.token())).status_code == 200


def test_an_idp_outage_is_not_amplified(tmp_path: Path) -> None:
    with running_issuer() as issuer:
        issuer.available = False
        with api_client(api_settings(tmp_path, [issuer])) as client:
            before = issuer.requests
            codes = {
                client.post("/v1/search", json=SEARCH, headers=bearer(issuer.token())).status_code for _ in range(10)
            }
            assert codes == {503}
            assert issuer.requests - before <= 1


def test_a_cached_token_still_expires_on_time(keyed_issuer: OidcIssuer) -> None:
    from joserfc.jwk import KeySet

    from access_index.errors import InvalidTokenError
    from retrieval.tokens import StaticKeys, TokenVerifier, TrustedIssuer

    keys = KeySet.import_key_set({"keys": [keyed_issuer.keys["rsa-1"].as_dict(private=False)]})
    verifier = TokenVerifier([(TrustedIssuer(keyed_issuer.url, "clearance-api"), StaticKeys(keys))], 32768)
    now = int(time.time())
    token = keyed_issuer.token(exp=now - 50, iat=now - 400)  # expired, but within the 60 s leeway
    assert asyncio.run(verifier.verify(token, now=now)).claims["exp"] == now - 50
    assert asyncio.run(verifier.verify(token, now=now + 5))  # served from the cache
    with pytest.raises(InvalidTokenError):
        asyncio.run(verifier.verify(token, now=now + 20))  # still cached, but past exp + leeway
