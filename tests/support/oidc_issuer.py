"""A real OIDC issuer on 127.0.0.1 for tests: RSA and EC signing keys, discovery and a JWKS endpoint.

Tokens are signed with real keys by joserfc; the service under test fetches the keys over HTTP exactly
as it would from Keycloak. `rotate()` publishes a new key, `jwks_fetches` counts JWKS requests.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.support.json_server import JsonHandler

AUDIENCE = "clearance-api"


class OidcIssuer:
    def __init__(self) -> None:
        self.keys: dict[str, RSAKey | ECKey] = {
            "rsa-1": RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True),
            "ec-1": ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True),
        }
        self.published: set[str] = set(self.keys)
        self.jwks_fetches = 0
        self.requests = 0
        self.available = True
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/realms/test"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> OidcIssuer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def config(self) -> dict[str, str]:
        """An entry of CLEARANCE_OIDC_ISSUERS."""
        return {"issuer": self.url, "audience": AUDIENCE}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.keys[kid].as_dict(private=False) | {"use": "sig"} for kid in sorted(self.published)]}

    def rotate(self, kid: str, publish: bool = True) -> None:
        """A new RSA key; published in the JWKS unless `publish` is False (a key the IdP never announced)."""
        self.keys[kid] = RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)
        if publish:
            self.published.add(kid)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": str(uuid.uuid4()),
            "azp": "test-agent",
            "preferred_username": "alice",
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {key: value for key, value in claims.items() if value is not None}

    def token(self, kid: str = "rsa-1", header: Mapping[str, Any] | None = None, **claims: Any) -> str:
        """A token signed with key `kid` (RS256 for RSA, ES256 for EC) and the given claim overrides."""
        key = self.keys[kid]
        algorithm = "ES256" if isinstance(key, ECKey) else "RS256"
        full_header: dict[str, Any] = {"alg": algorithm, "kid": kid, "typ": "JWT"}
        full_header.update(header or {})
        full_header = {name: value for name, value in full_header.items() if value is not None}
        return jwt.encode(full_header, self.claims(**claims), key, algorithms=[full_header["alg"]])

    def _handler(self) -> type[JsonHandler]:
        issuer = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                issuer.requests += 1
                if not issuer.available:
                    self.send_json(503, {"error": "down"})
                elif self.path == "/realms/test/.well-known/openid-configuration":
                    self.send_json(
                        200, {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/protocol/openid-connect/certs"}
                    )
                elif self.path == "/realms/test/protocol/openid-connect/certs":
                    issuer.jwks_fetches += 1
                    self.send_json(200, issuer.jwks())
                else:
                    self.send_json(404, {"error": "not found"})

        return Handler


@contextmanager
def running_issuer() -> Iterator[OidcIssuer]:
    issuer = OidcIssuer().start()
    try:
        yield issuer
    finally:
        issuer.stop()
