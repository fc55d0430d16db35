"""What one pull of Keycloak Authorization Services read (acl_sync/authz_pull.py), as the compiler takes it
(acl_sync/authz_compile.py): resources, permissions and policies as Keycloak 26 represents them, and the names
the ids in policy configs resolve to. Plain facts, nothing decided yet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PulledResource:
    """A ResourceRepresentation: `_id`, name, `uris`, `type`, `attributes` (multi-valued), ownerManagedAccess."""

    id: str
    name: str
    uris: tuple[str, ...] = ()
    type: str | None = None
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    owner_managed: bool = False


@dataclass(frozen=True)
class PulledPolicy:
    """A policy or permission (PolicyRepresentation, generic form): `config` as Keycloak lists it (values are
    strings, JSON inside for user/group/role/client lists), the ids of its associated policies, and for a
    permission the ids of the resources it names (or the resource type it applies to)."""

    id: str
    name: str
    type: str  # user, group, role, client, aggregate, time, js, regex, ...; resource or scope for permissions
    logic: str = "POSITIVE"
    decision_strategy: str = "UNANIMOUS"
    config: Mapping[str, str] = field(default_factory=dict)
    associated: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_type: str | None = None


@dataclass(frozen=True)
class GroupName:
    """A group's current path and whether it has subgroups (a group policy without extendChildren then
    grants less than `group:<path>`, which includes subgroup members)."""

    path: str
    subgroups: int


@dataclass(frozen=True)
class Names:
    """What the ids in policy configs name now; an id missing here did not resolve (the policy fails closed)."""

    users: Mapping[str, str] = field(default_factory=dict)  # user id → username
    groups: Mapping[str, GroupName] = field(default_factory=dict)
    roles: Mapping[str, str] = field(default_factory=dict)  # role id → role:/client-role: token
    clients: Mapping[str, str] = field(default_factory=dict)  # client id → clientId


@dataclass(frozen=True)
class AuthzData:
    """One complete pull of a resource server."""

    client: str  # the resource server's clientId
    decision_strategy: str  # how the permissions of one resource combine (ResourceServerRepresentation)
    resources: tuple[PulledResource, ...]
    permissions: tuple[PulledPolicy, ...]
    policies: Mapping[str, PulledPolicy]  # every non-permission policy, by id
    names: Names
    pulled_at: str
