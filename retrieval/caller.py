"""Verified claims (+ the synced directory) → the Caller whose principals the access filter matches.

Without a directory the token speaks for itself (CONTRACT.md, Identity): `user:` from
`preferred_username`, `email:` from a verified `email` that is an address, groups, realm roles
(`role:`) and client roles (`client-role:`); a name access_index/principals.py refuses (malformed, or a
look-alike that NFKC normalisation changes) is dropped and logged. A directory belongs to one issuer and is
consulted for that issuer's tokens only; tokens of other issuers keep their own principals. For its issuer,
once synced, it is authoritative: memberships and roles come from it only, and a user:/email: name is the
caller's only if it is bound to the caller's account or to none (access_index/directory/snapshot.py); a
user it marks disabled or deleted is refused (403); a user it does not know keeps only such names, client:
and `authenticated`. A snapshot older than CLEARANCE_DIRECTORY_MAX_AGE fails closed (503) for its issuer:
stale revocations must not leak.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from access_index.acl import Caller
from access_index.errors import AccessDeniedError, DirectoryError, InvalidTokenError, PrincipalError
from access_index.principals import AUTHENTICATED, Principal, encode_name, expand_groups, parse_principal, role_token
from retrieval.tokens import VerifiedToken

log = logging.getLogger("clearance.caller")
# RFC 8693 delegation chains are short (a gateway, an orchestrator, an agent); a deeper one is refused.
MAX_ACTORS = 16


class ResolutionView(Protocol):
    """What the directory says about one user (access_index.directory.Resolution)."""

    @property
    def status(self) -> str: ...

    @property
    def tokens(self) -> frozenset[str]: ...


class SnapshotView(Protocol):
    """The part of access_index.directory.DirectorySnapshot that retrieval uses."""

    @property
    def synced_at(self) -> datetime: ...

    @property
    def issuer(self) -> str | None: ...

    @property
    def unreadable_roles(self) -> frozenset[str]: ...

    def resolve(self, username: str | None, email: str | None, subject: str | None = None) -> Any: ...


class SnapshotSource(Protocol):
    """access_index.directory.SnapshotStore: the last good snapshot, or None before the first sync."""

    def load(self) -> Any: ...


@dataclass(frozen=True)
class Identity:
    """Who is asking, for the filter (caller), the agent policies, the rate limits and the audit log.

    `agents` is the whole chain that speaks for the request: the token's `azp` client, then every actor of
    its `act` claim, outermost first. Every one of them narrows what the request may read."""

    issuer: str
    subject: str
    agents: tuple[str, ...]
    caller: Caller
    directory_status: str | None


@dataclass(frozen=True)
class DirectoryPolicy:
    """Which directory (if any) is consulted; `required` when a directory source is configured. `issuer`
    is the issuer the configured directory answers for as known at start-up (None: not known): its tokens
    wait (503) until the first sync; after it, the snapshot's own issuer decides."""

    store: SnapshotSource | None
    required: bool
    max_age_seconds: int
    issuer: str | None = None


def identify(token: VerifiedToken, directory: DirectoryPolicy, default_tenant: str) -> Identity:
    """The caller's identity and principals; AccessDeniedError (403) or DirectoryError (503) when refused."""
    claims = token.claims
    tenant = _tenant(token, default_tenant)
    username, email = _user_names(claims)
    names = _names(username, email)
    memberships = _memberships(claims)
    snapshot = _snapshot(directory, token.issuer.issuer)
    status: str | None = None
    if snapshot is not None:
        resolution = snapshot.resolve(username, email, str(claims["sub"]))
        status = str(resolution.status)
        if status in {"disabled", "deleted"}:
            raise AccessDeniedError(f"the directory marks this user {status}")
        # Authoritative: the directory's names (and the token's that no other account owns), memberships and
        # roles replace the token's. Only for a role the directory could not read does the token's claim stand
        # (so a deny naming that role still applies).
        names = frozenset(resolution.tokens)
        memberships = memberships & snapshot.unreadable_roles if status == "active" else frozenset()
    return Identity(
        issuer=token.issuer.issuer,
        subject=str(claims["sub"]),
        agents=agent_chain(claims),
        caller=Caller(tenant=tenant, tokens=_own_principals(claims, username) | names | memberships),
        directory_status=status,
    )


def agent_chain(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """Every agent of the request: `azp`, then `act.sub`, `act.act.sub`, ... (RFC 8693), each once.

    An actor never replaces the client the token was issued to: both narrow. A malformed or overlong
    `act` claim is refused (401) rather than read as "no actor"."""
    chain: list[str] = []
    azp = claims.get("azp")
    if isinstance(azp, str) and azp:
        chain.append(azp)
    actor = claims.get("act")
    depth = 0
    while actor is not None:
        subject = actor.get("sub") if isinstance(actor, dict) else None
        if not isinstance(subject, str) or not subject:
            raise InvalidTokenError("claims", "token act claim is not an actor with a sub (RFC 8693)")
        depth += 1
        if depth > MAX_ACTORS:
            raise InvalidTokenError("claims", f"token act claim nests more than {MAX_ACTORS} actors")
        chain.append(subject)
        actor = actor.get("act")
    return tuple(dict.fromkeys(chain))


def _tenant(token: VerifiedToken, default_tenant: str) -> str:
    if token.issuer.tenant:
        return token.issuer.tenant
    claimed = token.claims.get("tenant")
    if token.issuer.tenant_claim and isinstance(claimed, str) and claimed:
        return claimed
    return default_tenant


def _user_names(claims: Mapping[str, Any]) -> tuple[str | None, str | None]:
    username = claims.get("preferred_username")
    email = claims.get("email")
    verified = claims.get("email_verified") is True
    return (
        username if isinstance(username, str) and username else None,
        email if isinstance(email, str) and email and verified else None,
    )


def _own_principals(claims: Mapping[str, Any], username: str | None) -> frozenset[str]:
    """client: and authenticated: what the token alone proves about the caller besides its names."""
    tokens = {AUTHENTICATED}
    azp = claims.get("azp")
    if isinstance(azp, str) and azp and _acts_for_itself(claims, azp, username):
        tokens.update(_valid([f"client:{encode_name(azp)}"]))
    return frozenset(tokens)


def _acts_for_itself(claims: Mapping[str, Any], azp: str, username: str | None) -> bool:
    """A service account (client credentials grant), not a user's token and not a delegation."""
    if "act" in claims:
        return False
    # Keycloak names a client's service account service-account-<clientId, lower-cased>; the username is
    # compared as it is (a look-alike such as a KELVIN SIGN would lower-case into a match).
    return claims.get("client_id") == azp or username == f"service-account-{azp}".lower()


def _memberships(claims: Mapping[str, Any]) -> frozenset[str]:
    """group: (with ancestors), role: and client-role: principals from the token's claims."""
    values: list[str] = []
    groups = claims.get("groups")
    if isinstance(groups, list):
        # Only full paths: a bare group name ("backend") cannot be placed in the tree safely.
        values.extend(f"group:{group}" for group in groups if isinstance(group, str) and group.startswith("/"))
    realm = claims.get("realm_access")
    if isinstance(realm, dict):
        values.extend(role_token(role) for role in _strings(realm.get("roles")))
    resource = claims.get("resource_access")
    if isinstance(resource, dict):
        for client, access in resource.items():
            if isinstance(access, dict):
                values.extend(role_token(role, client) for role in _strings(access.get("roles")))
    principals = [parse_principal(token) for token in _valid(values)]
    return frozenset(str(principal) for principal in expand_groups(principals))


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _names(username: str | None, email: str | None) -> frozenset[str]:
    """user: and email: from the token; a look-alike or malformed name is dropped and logged."""
    found: set[str] = set()
    for build, raw in ((Principal.user, username), (Principal.email, email)):
        if raw is None:
            continue
        try:
            found.add(str(build(raw)))
        except PrincipalError as error:
            claim = "preferred_username" if build is Principal.user else "email"
            log.warning("the %s claim grants nothing: %s", claim, error.reason)
    return frozenset(found)


def _valid(values: Iterable[str]) -> frozenset[str]:
    """Canonical tokens; a malformed or look-alike principal is dropped and logged (it could only grant)."""
    valid: set[str] = set()
    for value in values:
        try:
            principal: Principal = parse_principal(value)
        except PrincipalError as error:
            log.warning("a %s claim grants nothing: %s", value.partition(":")[0], error.reason)
            continue
        valid.add(str(principal))
    return frozenset(valid)


def _snapshot(directory: DirectoryPolicy, issuer: str) -> SnapshotView | None:
    """The synced directory of this token's issuer, or None when it has none (the token speaks for itself)."""
    # Until a snapshot names its issuer, the directory is the one the settings expect (directory.issuer); a
    # snapshot that names none (written before issuers were recorded, or by a sync that trusted no issuer)
    # is read as that one's. When even that is unknown, every issuer's tokens wait.
    waits = directory.required and (directory.issuer is None or directory.issuer == issuer)
    if directory.store is None:
        if waits:
            raise DirectoryError("no directory snapshot is available")
        return None
    try:
        snapshot: SnapshotView | None = directory.store.load()
    except DirectoryError:
        raise
    except Exception as error:
        raise DirectoryError("the directory snapshot cannot be read") from error
    owner = (snapshot.issuer or directory.issuer) if snapshot is not None else None
    if snapshot is None or owner is None:
        if waits:
            raise DirectoryError("the directory has not been synced yet; retry after the first ACL sync")
        return None
    if owner != issuer:
        return None  # another issuer's directory: never consulted, whatever the names in the token
    synced_at = snapshot.synced_at
    if synced_at.tzinfo is None:
        synced_at = synced_at.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - synced_at).total_seconds()
    if age > directory.max_age_seconds:
        raise DirectoryError(
            f"the directory snapshot is {int(age)} s old (limit {directory.max_age_seconds} s); the ACL sync is failing"
        )
    return snapshot
