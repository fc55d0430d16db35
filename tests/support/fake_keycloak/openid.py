"""The realm's OpenID endpoints under /realms/{realm}/: discovery, the JWKS and the token endpoint."""

from __future__ import annotations

from tests.support.fake_keycloak.routing import Request, Response, Routes


def well_known(request: Request, rest: list[str]) -> Response | None:
    if rest != ["openid-configuration"]:
        return None
    server = request.server
    return 200, {
        "issuer": server.issuer,
        "jwks_uri": server.jwks_uri,
        "token_endpoint": f"{server.issuer}/protocol/openid-connect/token",
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def certs(request: Request, rest: list[str]) -> Response | None:
    if rest != ["openid-connect", "certs"]:
        return None
    return 200, request.server.tokens.jwks()


def token(request: Request, rest: list[str]) -> Response | None:
    if rest != ["openid-connect", "token"]:
        return None
    return request.server.tokens.token_response(request.form)


ROUTES: Routes = {
    ("GET", ".well-known"): well_known,
    ("GET", "protocol"): certs,
    ("POST", "protocol"): token,
}
