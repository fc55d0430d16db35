"""Authorization Services of one resource-server client: resources, policies and permissions, changed through
Python methods (each records the realm's `changed_at`) and shown as Keycloak 26's JSON representations.

Representations (Keycloak's ResourceRepresentation and the generic PolicyRepresentation of the list endpoints):
a resource's id is `_id`; a policy's `config` holds strings, JSON inside: user policies `users` (a list of
user ids), group policies `groups` (`[{"id", "extendChildren"}]`, and `groupsClaim`), role policies `roles`
(`[{"id", "required"}]`), client policies `clients` (client ids); a resource permission applied to a resource
type has `defaultResourceType`. Associated policies and a permission's resources are sub-resources
(`/policy/{id}/associatedPolicies`, `/policy/{id}/resources`), as in Keycloak.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

PERMISSION_TYPES = ("resource", "scope")
F = TypeVar("F", bound=Callable[..., Any])


def _locked(method: F) -> F:
    """Run a change under the realm's lock."""

    @functools.wraps(method)
    def run(self: ResourceServer, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return cast(F, run)


@dataclass
class AuthzResource:
    id: str
    name: str
    uris: list[str]
    type: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    owner_managed: bool = False


@dataclass
class AuthzPolicy:
    id: str
    name: str
    type: str
    logic: str = "POSITIVE"
    decision_strategy: str = "UNANIMOUS"
    config: dict[str, str] = field(default_factory=dict)
    associated: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)


class ResourceServer:
    """The Authorization Services settings of one client (by its internal id)."""

    def __init__(self, client_uuid: str, client_id: str, changed: Callable[[], None], lock: threading.RLock) -> None:
        self.client_uuid = client_uuid
        self.client_id = client_id
        self.decision_strategy = "UNANIMOUS"
        self.enforcement_mode = "ENFORCING"
        self.resources: dict[str, AuthzResource] = {}
        self.policies: dict[str, AuthzPolicy] = {}
        self._changed_callback = changed
        self._lock = lock  # the realm's: routes read under it while tests change the model

    def _changed(self) -> None:
        self._changed_callback()

    # --- changes ----------------------------------------------------------------------------------------

    @_locked
    def add_resource(
        self,
        name: str,
        uris: Iterable[str],
        type: str | None = None,
        attributes: dict[str, list[str]] | None = None,
        owner_managed: bool = False,
    ) -> str:
        resource = AuthzResource(str(uuid.uuid4()), name, list(uris), type, dict(attributes or {}), owner_managed)
        self.resources[resource.id] = resource
        self._changed()
        return resource.id

    @_locked
    def set_uris(self, resource_id: str, uris: Iterable[str]) -> None:
        self.resources[resource_id].uris = list(uris)
        self._changed()

    @_locked
    def delete_resource(self, resource_id: str) -> None:
        del self.resources[resource_id]
        for policy in self.policies.values():
            if resource_id in policy.resources:
                policy.resources.remove(resource_id)
        self._changed()

    @_locked
    def add_policy(
        self,
        name: str,
        type: str,
        config: dict[str, Any] | None = None,
        logic: str = "POSITIVE",
        decision_strategy: str = "UNANIMOUS",
        associated: Iterable[str] = (),
    ) -> str:
        """A policy; list values in `config` are stored as JSON text, as Keycloak stores them."""
        policy = AuthzPolicy(str(uuid.uuid4()), name, type, logic, decision_strategy, _config(config or {}))
        policy.associated = list(associated)
        self.policies[policy.id] = policy
        self._changed()
        return policy.id

    def user_policy(self, name: str, user_ids: Iterable[str], logic: str = "POSITIVE") -> str:
        return self.add_policy(name, "user", {"users": list(user_ids)}, logic)

    def group_policy(
        self, name: str, group_ids: Iterable[str], extend_children: bool = True, logic: str = "POSITIVE"
    ) -> str:
        groups = [{"id": group_id, "extendChildren": extend_children} for group_id in group_ids]
        return self.add_policy(name, "group", {"groups": groups}, logic)

    def role_policy(self, name: str, roles: Iterable[tuple[str, bool]], logic: str = "POSITIVE") -> str:
        return self.add_policy(name, "role", {"roles": [{"id": r, "required": req} for r, req in roles]}, logic)

    @_locked
    def add_permission(
        self,
        name: str,
        resources: Iterable[str],
        policies: Iterable[str],
        decision_strategy: str = "UNANIMOUS",
        resource_type: str | None = None,
        type: str = "resource",
    ) -> str:
        config = {"defaultResourceType": resource_type} if resource_type else {}
        permission_id = self.add_policy(name, type, config, "POSITIVE", decision_strategy, policies)
        self.policies[permission_id].resources = list(resources)
        self._changed()
        return permission_id

    @_locked
    def update_policy(self, policy_id: str, **changes: Any) -> None:
        """Change fields of a policy or permission (config values as in `add_policy`)."""
        policy = self.policies[policy_id]
        for key, value in changes.items():
            if key == "config":
                value = _config(value)
            elif key in ("associated", "resources"):
                value = list(value)
            setattr(policy, key, value)
        self._changed()

    @_locked
    def delete_policy(self, policy_id: str) -> None:
        del self.policies[policy_id]
        for policy in self.policies.values():
            if policy_id in policy.associated:
                policy.associated.remove(policy_id)
        self._changed()

    # --- representations --------------------------------------------------------------------------------

    def json(self) -> dict[str, Any]:
        return {
            "id": self.client_uuid,
            "clientId": self.client_id,
            "name": self.client_id,
            "allowRemoteResourceManagement": False,
            "policyEnforcementMode": self.enforcement_mode,
            "decisionStrategy": self.decision_strategy,
        }

    def resource_json(self, resource: AuthzResource, deep: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "_id": resource.id,
            "name": resource.name,
            "uris": list(resource.uris),
            "ownerManagedAccess": resource.owner_managed,
            "attributes": {key: list(values) for key, values in resource.attributes.items()},
        }
        if resource.type is not None:
            body["type"] = resource.type
        if deep:
            body["owner"] = {"id": self.client_uuid, "name": self.client_id}
            body["displayName"] = resource.name
            body["scopes"] = []
        return body

    def policy_json(self, policy: AuthzPolicy) -> dict[str, Any]:
        return {
            "id": policy.id,
            "name": policy.name,
            "description": "",
            "type": policy.type,
            "logic": policy.logic,
            "decisionStrategy": policy.decision_strategy,
            "config": dict(policy.config),
        }

    def permissions_of(self, resource: AuthzResource) -> list[AuthzPolicy]:
        """The permissions naming a resource, or applying to its type (`/resource/{id}/permissions`)."""
        return [
            p
            for p in self.sorted_policies(True)
            if resource.id in p.resources
            or (resource.type is not None and p.config.get("defaultResourceType") == resource.type)
        ]

    def sorted_resources(self) -> list[AuthzResource]:
        return sorted(self.resources.values(), key=lambda r: (r.name, r.id))

    def sorted_policies(self, permission: bool | None) -> list[AuthzPolicy]:
        found = sorted(self.policies.values(), key=lambda p: (p.name, p.id))
        if permission is None:
            return found
        return [p for p in found if (p.type in PERMISSION_TYPES) == permission]


def _config(config: dict[str, Any]) -> dict[str, str]:
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
