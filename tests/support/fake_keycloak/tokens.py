"""Access tokens as Keycloak issues them: the signing key, the claims (groups, realm and client roles),
and the token endpoint's grants (client credentials for the sync, password for user tokens)."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.support.fake_keycloak.model import Client, User
from tests.support.fake_keycloak.realm import FakeRealm
from tests.support.fake_keycloak.routing import Response

KEY_ID = "fake-kc-1"

Grant = Callable[[FakeRealm, Client, dict[str, str]], "User | Response"]


def client_credentials(realm: FakeRealm, client: Client, form: dict[str, str]) -> User | Response:
    if client.service_account_user is None:
        return 400, {"error": "unauthorized_client", "error_description": "no service account"}
    return realm.users[client.service_account_user]


def password(realm: FakeRealm, client: Client, form: dict[str, str]) -> User | Response:
    try:
        user = realm.user_by_name(form.get("username", ""))
    except KeyError:
        return 401, {"error": "invalid_grant", "error_description": "Invalid user credentials"}
    if not secrets.compare_digest(user.password, form.get("password", "")):
        return 401, {"error": "invalid_grant", "error_description": "Invalid user credentials"}
    return user


GRANTS: dict[str, Grant] = {"client_credentials": client_credentials, "password": password}


class Tokens:
    """Signs tokens for one realm; remembers the sync's (client-credentials) tokens for the Admin API."""

    def __init__(self, realm: FakeRealm, ttl: int, issuer: Callable[[], str]) -> None:
        self.realm = realm
        self.ttl = ttl
        self.issuer = issuer  # the server's issuer URL, known once it listens
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"})
        self._admin_tokens: dict[str, float] = {}

    def user_token(self, username: str, client_id: str = "clearance", ttl: int | None = None) -> str:
        """An access token as Keycloak issues it to `client_id` for this user (groups claim included)."""
        with self.realm.lock:
            user = self.realm.user_by_name(username)
            claims = self.claims(user, client_id, ttl)
        return self.sign(claims)

    def claims(self, user: User, client_id: str, ttl: int | None) -> dict[str, Any]:
        realm = self.realm
        now = int(time.time())
        roles = [realm.roles[r] for r in realm.effective_roles(user.id)]
        resource_access: dict[str, Any] = {}
        for role in roles:
            if role.client is not None:
                entry = resource_access.setdefault(realm.clients[role.client].client_id, {"roles": []})
                entry["roles"].append(role.name)
        claims: dict[str, Any] = {
            "exp": now + (ttl or self.ttl),
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer(),
            "aud": ["clearance", "account"],
            "sub": user.id,
            "typ": "Bearer",
            "azp": client_id,
            "sid": str(uuid.uuid4()),
            "scope": "openid profile email",
            "email_verified": user.email_verified,
            "preferred_username": user.username,
            "groups": sorted(realm.path(g) for g in realm.user_group_ids(user.id)),
            "realm_access": {"roles": sorted(r.name for r in roles if r.client is None)},
            "resource_access": resource_access,
        }
        if user.email:
            claims["email"] = user.email
        return claims

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": KEY_ID}, claims, self.key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def token_response(self, form: dict[str, str]) -> Response:
        """The token endpoint: authenticate the client, apply the grant, sign."""
        realm = self.realm
        grant = form.get("grant_type")
        with realm.lock:
            client = next((c for c in realm.clients.values() if c.client_id == form.get("client_id")), None)
            if client is None or not secrets.compare_digest(client.secret, form.get("client_secret", "")):
                return 401, {"error": "unauthorized_client", "error_description": "Invalid client credentials"}
            resolve = GRANTS.get(grant or "")
            if resolve is None:
                return 400, {"error": "unsupported_grant_type"}
            user = resolve(realm, client, form)
            if not isinstance(user, User):
                return user
            if not user.enabled:
                return 400, {"error": "invalid_grant", "error_description": "Account disabled"}
            claims = self.claims(user, client.client_id, None)
        token = self.sign(claims)
        if grant == "client_credentials":
            self._admin_tokens[token] = claims["exp"]
        return 200, {
            "access_token": token,
            "expires_in": self.ttl,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": claims["scope"],
        }

    def admin_authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        expiry = self._admin_tokens.get(header.removeprefix("Bearer "))
        return expiry is not None and expiry > time.time()
