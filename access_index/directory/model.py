"""The IAM facts a directory source pulls: users, groups and roles, as frozen values.

Role keys are the principal names without the `role:` prefix: `name` for a realm role,
`client/name` for a client role (so a key maps to exactly one principal token).
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
    """A realm (`name`) or client (`client/name`) role and the role keys it directly contains."""

    key: str
    composites: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DirectoryData:
    """One complete pull from a directory source (Keycloak or the YAML file). Never partial."""

    source: str
    users: tuple[DirectoryUser, ...]
    groups: tuple[DirectoryGroup, ...]
    roles: tuple[DirectoryRole, ...]
    # Entries the source skipped because they cannot be principals safely (reported, never guessed).
    warnings: tuple[str, ...] = ()
