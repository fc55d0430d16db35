"""The local development issuer behind `clearance token`: an EC key in the data dir, trusted in dev mode only.

It lets the README's main job run without an IdP. Its tokens carry an issuer no real IdP uses, and
`serve` trusts it only when CLEARANCE_DEV_MODE is on (which also restricts serving to loopback).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from access_index.errors import ConfigError, PrincipalError
from access_index.principals import ROLE_PREFIXES, Principal, decode_name, encode_name, parse_principal, role_key
from access_index.settings import DEV_ISSUER, Settings
from retrieval.tokens import StaticKeys, TrustedIssuer

DEV_AUDIENCE = "clearance"
DEV_AGENT = "clearance-cli"
ALGORITHM = "ES256"


def load_or_create_key(settings: Settings) -> ECKey:
    """The dev signing key, created (mode 0600) on first use."""
    path = settings.paths.dev_issuer_key
    if path.exists():
        return ECKey.import_key(json.loads(path.read_text(encoding="utf-8")))
    key = ECKey.generate_key("P-256", private=True, auto_kid=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(key.as_dict(private=True)))
    os.replace(temporary, path)
    return key


def dev_issuer(settings: Settings) -> tuple[TrustedIssuer, StaticKeys]:
    """The dev issuer and its public key, for `serve` in dev mode."""
    if not settings.dev_mode:
        raise ConfigError("the development issuer is trusted only with CLEARANCE_DEV_MODE=true")
    public = load_or_create_key(settings).as_dict(private=False)
    public.update({"alg": ALGORITHM, "use": "sig"})
    trusted = TrustedIssuer(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, tenant=None, tenant_claim=True)
    return trusted, StaticKeys(KeySet.import_key_set({"keys": [public]}))


def role_claim(value: str) -> tuple[str | None, str, str | None]:
    """A `--role` value → (client id or None for a realm role, raw role name, warning or None).

    `auditor` is a realm role as the IAM names it; `role:<name>` and `client-role:<client_id>/<name>` are
    principals (a '/' or '%' inside a name percent-encoded); `crm/reader`, the old spelling of a client
    role, is read as `client-role:crm/reader` with a warning."""
    principal = _parsed(role_key(value))
    warning = None
    if not value.startswith(ROLE_PREFIXES) and "/" in value:
        warning = f"--role {value!r} is the old spelling of {str(principal)!r}: write that"
    if principal.kind == "role":
        return None, decode_name(value, principal.name), warning
    client, _, name = principal.name.partition("/")
    return decode_name(value, client), decode_name(value, name), warning


def mint_token(
    settings: Settings,
    user: str,
    groups: Sequence[str] = (),
    roles: Sequence[str] = (),
    tenant: str | None = None,
    agent: str | None = None,
    ttl: int = 3600,
) -> str:
    """A signed dev token; refused (ConfigError) unless dev mode is on. `roles` as `role_claim` reads them."""
    if not settings.dev_mode:
        raise ConfigError(
            "clearance token mints development tokens and is refused unless CLEARANCE_DEV_MODE=true "
            "(use your IdP's tokens in production)"
        )
    if not 1 <= ttl <= 86400:
        raise ConfigError("--ttl must be between 1 and 86400 seconds")
    for group in groups:
        _parsed(f"group:{group}")
    _parsed(f"user:{encode_name(user)}")
    key = load_or_create_key(settings)
    now = int(time.time())
    realm_roles: list[str] = []
    client_roles: dict[str, dict[str, list[str]]] = {}
    for role in roles:
        client, name, _ = role_claim(role)
        if client is None:
            realm_roles.append(name)
        else:
            client_roles.setdefault(client, {"roles": []})["roles"].append(name)
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": f"dev:{user}",
        "azp": agent or DEV_AGENT,
        "preferred_username": user,
        "groups": list(groups),
        "realm_access": {"roles": realm_roles},
        "resource_access": client_roles,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    if "@" in user:
        claims.update({"email": user, "email_verified": True})
    if tenant:
        claims["tenant"] = tenant
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[ALGORITHM])


def _parsed(value: str) -> Principal:
    try:
        return parse_principal(value)
    except PrincipalError as error:
        raise ConfigError(f"clearance token: {error}") from None
