"""Verified claims (+ the synced directory) → the Caller whose principals the access filter matches.

Without a directory the token speaks for itself (CONTRACT.md, Identity). Once a directory has been
synced it is authoritative: memberships and roles come from it only; a user it marks disabled or
deleted is refused (403); a user it does not know keeps only user:, client: and `authenticated`.
A snapshot older than CLEARANCE_DIRECTORY_MAX_AGE fails closed (503): stale revocations must not leak.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from access_index.acl import Caller
from access_index.errors import AccessDeniedError, DirectoryError, InvalidTokenError, PrincipalError
from access_index.principals import AUTHENTICATED, Principal, expand_groups, parse_principal
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

    def resolve(self, username: str | None, email: str | None) -> Any: ...


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
    """Which directory (if any) is consulted; `required` when a directory source is configured."""

    store: SnapshotSource | None
    required: bool
    max_age_seconds: int


def identify(token: VerifiedToken, directory: DirectoryPolicy, default_tenant: str) -> Identity:
    """The caller's identity and principals; AccessDeniedError (403) or DirectoryError (503) when refused."""
    claims = token.claims
    tenant = _tenant(token, default_tenant)
    username, email = _user_names(claims)
    own = _own_principals(claims, username, email)
    memberships = _memberships(claims)
    snapshot = _snapshot(directory)
    status: str | None = None
    if snapshot is not None:
        resolution = snapshot.resolve(username, email)
        status = str(resolution.status)
        if status in {"disabled", "deleted"}:
            raise AccessDeniedError(f"the directory marks this user {status}")
        # Authoritative: token memberships are ignored; unknown users get none.
        memberships = frozenset(resolution.tokens) if status == "active" else frozenset()
    return Identity(
        issuer=token.issuer.issuer,
        subject=str(claims["sub"]),
        agents=agent_chain(claims),
        caller=Caller(tenant=tenant, tokens=own | memberships),
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


def _own_principals(claims: Mapping[str, Any], username: str | None, email: str | None) -> frozenset[str]:
    """user:, client: and authenticated: what the token alone proves about the caller."""
    tokens = {AUTHENTICATED}
    for name in (username, email):
        if name is not None:
            tokens.update(_valid([f"user:{name}"]))
    azp = claims.get("azp")
    if isinstance(azp, str) and azp and _acts_for_itself(claims, azp, username):
        tokens.update(_valid([f"client:{azp}"]))
    return frozenset(tokens)


def _acts_for_itself(claims: Mapping[str, Any], azp: str, username: str | None) -> bool:
    """A service account (client credentials grant), not a user's token and not a delegation."""
    if "act" in claims:
        return False
    service_account = f"service-account-{azp}".lower()
    return claims.get("client_id") == azp or (username is not None and username.lower() == service_account)


def _memberships(claims: Mapping[str, Any]) -> frozenset[str]:
    """group: (with ancestors) and role: principals from the token's claims."""
    values: list[str] = []
    groups = claims.get("groups")
    if isinstance(groups, list):
        # Only full paths: a bare group name ("backend") cannot be placed in the tree safely.
        values.extend(f"group:{group}" for group in groups if isinstance(group, str) and group.startswith("/"))
    realm = claims.get("realm_access")
    if isinstance(realm, dict):
        values.extend(f"role:{role}" for role in _strings(realm.get("roles")))
    resource = claims.get("resource_access")
    if isinstance(resource, dict):
        for client, access in resource.items():
            if isinstance(access, dict):
                values.extend(f"role:{client}/{role}" for role in _strings(access.get("roles")))
    principals = [parse_principal(token) for token in _valid(values)]
    return frozenset(str(principal) for principal in expand_groups(principals))


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _valid(values: Iterable[str]) -> set[str]:
    """Canonical tokens; a malformed principal is dropped (it could only grant, so dropping fails closed)."""
    valid: set[str] = set()
    for value in values:
        try:
            principal: Principal = parse_principal(value)
        except PrincipalError:
            log.info("ignoring a malformed principal claim")
            continue
        valid.add(str(principal))
    return valid


def _snapshot(directory: DirectoryPolicy) -> SnapshotView | None:
    if directory.store is None:
        if directory.required:
            raise DirectoryError("no directory snapshot is available")
        return None
    try:
        snapshot: SnapshotView | None = directory.store.load()
    except DirectoryError:
        raise
    except Exception as error:
        raise DirectoryError("the directory snapshot cannot be read") from error
    if snapshot is None:
        if directory.required:
            raise DirectoryError("the directory has not been synced yet; retry after the first ACL sync")
        return None
    synced_at = snapshot.synced_at
    if synced_at.tzinfo is None:
        synced_at = synced_at.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - synced_at).total_seconds()
    if age > directory.max_age_seconds:
        raise DirectoryError(
            f"the directory snapshot is {int(age)} s old (limit {directory.max_age_seconds} s); the ACL sync is failing"
        )
    return snapshot
