"""The IAM facts a directory source pulls: users, groups and roles, as frozen values.

Role keys are the roles' principal tokens, `role:<name>` for a realm role and
`client-role:<client_id>/<name>` for a client role (access_index/principals.py builds them from the raw
IAM names), so a key is exactly the token a holder of the role gets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DirectoryUser:
    """One user; `group_ids` are direct memberships, `roles` direct role mappings (role keys)."""

    id: str
    username: str
    email: str | None
    enabled: bool
    group_ids: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DirectoryGroup:
    """One group, tracked by its IAM id; `path` may change (rename or move) while `id` stays."""

    id: str
    path: str
    parent_id: str | None = None
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DirectoryRole:
    """A realm or client role (by its principal token) and the role keys it directly contains."""

    key: str
    composites: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DirectoryData:
    """One complete pull from a directory source (Keycloak or the YAML file). Never partial.

    `issuer` is the OIDC issuer whose tokens these users carry: the directory answers for that issuer's
    tokens only (None: not named; `serve` then reads it as the issuer its settings give the directory)."""

    source: str
    users: tuple[DirectoryUser, ...]
    groups: tuple[DirectoryGroup, ...]
    roles: tuple[DirectoryRole, ...]
    # Entries the source skipped because they cannot be principals safely (reported, never guessed).
    warnings: tuple[str, ...] = ()
    issuer: str | None = None
    # Role keys whose holders the source could not read (a name its API cannot address): for these the
    # token's own claim of the role stands, so a deny naming the role still applies to its holders.
    unreadable_roles: frozenset[str] = frozenset()
