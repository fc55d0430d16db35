"""Pull a client's Keycloak Authorization Services with python-keycloak, for `source: keycloak` manifests.

Read with the sync's own connection (acl_sync/keycloak_source.py) and read-only realm-management roles
(view-clients, view-authorization, view-users; never a manage-* role):
- the client's internal id (`get_client_id`), its resource server (`/authz/resource-server`: the decision
  strategy that combines a resource's permissions);
- resources, policies and permissions (`get_client_authz_resources`, `get_client_authz_policies`,
  `get_client_authz_permissions`: python-keycloak asks for all of them at once, `max=-1`);
- per permission, its associated policies and resources; per aggregate policy, its associated policies (these
  and the per-resource reads below by a few workers, each with its own connection, like the member reads);
- the users, groups, roles and clients the policies name by id (`get_user`, `get_group`, `get_role_by_id`,
  `get_client`); an id Keycloak answers 404 for is left unresolved, and the compiler fails that policy closed.
Keycloak has no counts for these lists, so they are checked against each other instead: the three lists are
read again at the end (something created or removed meanwhile), every association must name something listed,
no id may be listed twice, and each resource's own `/resource/{id}/permissions` must name exactly the permissions
that name it (a permission missing from the list could otherwise drop a UNANIMOUS restriction). Any mismatch
means the model changed mid-pull or a list came back short: the pull is refused (and retried), never
half-applied, like the directory pull's count checks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar, cast

from keycloak import KeycloakAdmin, urls_patterns
from keycloak.exceptions import KeycloakError, KeycloakGetError, raise_error_from_response

from access_index.errors import PullError
from access_index.principals import role_token
from acl_sync.authz_data import AuthzData, GroupName, Names, PulledPolicy, PulledResource
from acl_sync.keycloak_source import KeycloakSource

T = TypeVar("T")
U = TypeVar("U")
_MISSING = {404}


def pull_authz(source: KeycloakSource, client_id: str) -> AuthzData:
    """One complete, self-consistent pull of `client_id`'s Authorization Services; PullError otherwise."""
    admin = source._call("connect", source._admin)
    return _AuthzPull(source, admin, client_id).run()


class _AuthzPull:
    def __init__(self, source: KeycloakSource, admin: KeycloakAdmin, client_id: str) -> None:
        self.source = source
        self.main_admin = admin
        self.owner = threading.get_ident()  # the thread running the pull (the CLI's, or serve's scheduler)
        self.local = threading.local()
        self.client_id = client_id
        self.what = f"the Authorization Services of client {client_id!r}"

    @property
    def admin(self) -> KeycloakAdmin:
        """This thread's connection: the pull's own, or a worker's (its own session and token)."""
        if threading.get_ident() == self.owner:
            return self.main_admin
        admin = getattr(self.local, "admin", None)
        if admin is None:
            admin = self.local.admin = self.source._call("connect", self.source._admin)
        return cast(KeycloakAdmin, admin)

    def each(self, action: Callable[[U], T], items: Sequence[U]) -> list[T]:
        """`action` over `items`, in order, by a few workers (one request each: the round trip dominates, as
        for the directory's member reads); the first error stops the rest."""
        workers = min(self.source.workers, len(items))
        if workers <= 1:
            return [action(item) for item in items]
        pool = ThreadPoolExecutor(workers, thread_name_prefix="keycloak-authz")
        try:
            return list(pool.map(action, items))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def call(self, what: str, action: partial[T]) -> T:
        return self.source._call(f"{what} of {self.what}", action)

    def run(self) -> AuthzData:
        admin = self.admin
        pulled_at = datetime.now(UTC).isoformat()
        uuid = self.source._call(f"the client {self.client_id!r}", partial(admin.get_client_id, self.client_id))
        if not uuid:
            raise PullError(
                f"no client {self.client_id!r} in realm {self.source.realm}: check CLEARANCE_KEYCLOAK_AUTHZ_CLIENT",
                retryable=False,
            )
        server = self.call("the resource server", partial(self.resource_server, uuid))
        raw_resources = self.call("resources", partial(admin.get_client_authz_resources, uuid))
        raw_policies = self.call("policies", partial(admin.get_client_authz_policies, uuid))
        raw_permissions = self.call("permissions", partial(admin.get_client_authz_permissions, uuid))
        resources = tuple(_resource(item) for item in raw_resources)
        policies = {policy.id: policy for policy in self.each(partial(self.policy, uuid), raw_policies)}
        permissions = tuple(self.each(partial(self.policy, uuid, permission=True), raw_permissions))
        self.check_resource_side(uuid, resources, permissions)
        names = self.names(policies.values())
        after = (
            self.call("resources", partial(admin.get_client_authz_resources, uuid)),
            self.call("policies", partial(admin.get_client_authz_policies, uuid)),
            self.call("permissions", partial(admin.get_client_authz_permissions, uuid)),
        )
        self.check(resources, policies, permissions, after)
        strategy = server.get("decisionStrategy") or "UNANIMOUS"  # Keycloak's default
        return AuthzData(self.client_id, str(strategy), resources, permissions, policies, names, pulled_at)

    def resource_server(self, uuid: str) -> dict[str, Any]:
        # python-keycloak reads the resource server only through the whole export (`/settings`); this is the
        # resource server alone, its decision strategy included.
        url = urls_patterns.URL_ADMIN_CLIENT_AUTHZ.format(**{"realm-name": self.source.realm, "id": uuid})
        answer = raise_error_from_response(self.admin.connection.raw_get(url), KeycloakGetError)
        if not isinstance(answer, dict):
            raise TypeError(f"the resource server is not an object: {str(answer)[:200]}")
        return answer

    def check_resource_side(
        self, uuid: str, resources: tuple[PulledResource, ...], permissions: tuple[PulledPolicy, ...]
    ) -> None:
        """Each resource's permissions as Keycloak lists them from the resource's side, against the list."""
        expected: dict[str, set[str]] = {resource.id: set() for resource in resources}
        for permission in permissions:
            covered = permission.resources
            if permission.resource_type is not None:
                covered = tuple(r.id for r in resources if r.type == permission.resource_type)
            for resource_id in covered:
                expected.setdefault(resource_id, set()).add(permission.id)

        def listed(resource: PulledResource) -> list[Any]:
            # python-keycloak has no getter for /resource/{id}/permissions.
            url = urls_patterns.URL_ADMIN_CLIENT_AUTHZ_RESOURCE.format(
                **{"realm-name": self.source.realm, "id": uuid, "resource-id": resource.id}
            )
            return self.call(
                f"the permissions of resource {resource.name!r}", partial(self.listed, f"{url}/permissions")
            )

        for resource, answer in zip(resources, self.each(listed, resources), strict=True):
            found = {_text(entry, "id") for entry in answer}
            if found != expected[resource.id]:
                raise PullError(
                    f"resource {resource.name!r} of {self.what} has {len(found)} permission(s) but the permission "
                    f"list names it in {len(expected[resource.id])}: a list came back incomplete or the model "
                    "changed during the pull"
                )

    def listed(self, url: str) -> list[Any]:
        answer = raise_error_from_response(self.admin.connection.raw_get(url), KeycloakGetError)
        if not isinstance(answer, list):
            raise TypeError(f"{url} is not a list: {str(answer)[:200]}")
        return answer

    def policy(self, uuid: str, item: Any, permission: bool = False) -> PulledPolicy:
        policy_id, name, kind = _text(item, "id"), _text(item, "name"), _text(item, "type")
        item = cast(dict[str, Any], item)  # _text checked it is an object
        config = item.get("config") or {}
        if not isinstance(config, dict) or not all(isinstance(v, str) for v in config.values()):
            raise PullError(f"policy {name!r} of {self.what} has a config that is not string values")
        associated: tuple[str, ...] = ()
        if permission or kind == "aggregate":
            listed = self.call(
                f"the policies of {name!r}",
                partial(self.admin.get_client_authz_permission_associated_policies, uuid, policy_id),
            )
            associated = tuple(_text(entry, "id") for entry in listed)
        resources: tuple[str, ...] = ()
        if permission:
            listed = self.call(
                f"the resources of {name!r}", partial(self.admin.get_client_authz_policy_resources, uuid, policy_id)
            )
            resources = tuple(_text(entry, "_id") for entry in listed)
        return PulledPolicy(
            id=policy_id,
            name=name,
            type=kind,
            logic=str(item.get("logic") or "POSITIVE"),
            decision_strategy=str(item.get("decisionStrategy") or "UNANIMOUS"),
            config=dict(config),
            associated=associated,
            resources=resources,
            resource_type=config.get("defaultResourceType") or None,
        )

    def names(self, policies: Iterable[PulledPolicy]) -> Names:
        """Resolve every id the policies name; ids Keycloak no longer knows stay unresolved (fail closed)."""
        users: dict[str, str] = {}
        groups: dict[str, GroupName] = {}
        roles: dict[str, str] = {}
        clients: dict[str, str] = {}
        admin = self.admin
        for policy in policies:
            for entry in _ids(policy):
                kind, entity_id = entry
                if kind == "user" and entity_id not in users:
                    user = self.lookup(f"user {entity_id}", partial(admin.get_user, entity_id))
                    if user is not None:
                        users[entity_id] = _text(user, "username")
                elif kind == "group" and entity_id not in groups:
                    group = self.lookup(f"group {entity_id}", partial(admin.get_group, entity_id))
                    if group is not None:
                        groups[entity_id] = GroupName(_text(group, "path"), int(group.get("subGroupCount") or 0))
                elif kind == "role" and entity_id not in roles:
                    role = self.lookup(f"role {entity_id}", partial(admin.get_role_by_id, entity_id))
                    token = self.role(role, clients) if role is not None else None
                    if token is not None:
                        roles[entity_id] = token
                elif kind == "client" and entity_id not in clients:
                    client = self.lookup(f"client {entity_id}", partial(admin.get_client, entity_id))
                    if client is not None:
                        clients[entity_id] = _text(client, "clientId")
        return Names(users, groups, roles, clients)

    def role(self, role: dict[str, Any], clients: dict[str, str]) -> str | None:
        name = _text(role, "name")
        if not role.get("clientRole"):
            return role_token(name)
        container = _text(role, "containerId")
        if container not in clients:
            client = self.lookup(f"client {container}", partial(self.admin.get_client, container))
            if client is None:
                return None
            clients[container] = _text(client, "clientId")
        return role_token(name, clients[container])

    def lookup(self, what: str, action: partial[Any]) -> dict[str, Any] | None:
        """One entity by id; None when Keycloak does not know it (deleted since the policy named it)."""

        def read() -> dict[str, Any] | None:
            try:
                answer = action()
            except KeycloakError as error:
                if getattr(error, "response_code", None) in _MISSING:
                    return None
                raise
            if not isinstance(answer, dict):
                raise TypeError(f"{what} is not an object")
            return answer

        return self.source._call(what, read)

    def check(
        self,
        resources: tuple[PulledResource, ...],
        policies: dict[str, PulledPolicy],
        permissions: tuple[PulledPolicy, ...],
        after: tuple[list[Any], list[Any], list[Any]],
    ) -> None:
        before = (
            [resource.id for resource in resources],
            list(policies),
            [permission.id for permission in permissions],
        )
        for kind, first, second in zip(("resources", "policies", "permissions"), before, after, strict=True):
            again = [_text(entry, "_id" if kind == "resources" else "id") for entry in second]
            if len(set(first)) != len(first) or sorted(first) != sorted(again):
                raise PullError(
                    f"the {kind} of {self.what} changed during the pull or a list came back incomplete "
                    f"({len(first)} read, then {len(again)}): the last good ACLs stay, the next sync tries again"
                )
        if len(policies) != len(after[1]):  # a policy listed twice collapses in the dict
            raise PullError(f"a policy of {self.what} was listed twice: the list changed during the pull")
        known_resources = {resource.id for resource in resources}
        for holder in (*permissions, *policies.values()):
            missing = [r for r in holder.resources if r not in known_resources]
            missing += [p for p in holder.associated if p not in policies]
            if missing:
                raise PullError(
                    f"{holder.name!r} of {self.what} names {', '.join(sorted(set(missing)))}, which the lists did "
                    "not hold: a list came back incomplete or the model changed during the pull"
                )


def _ids(policy: PulledPolicy) -> list[tuple[str, str]]:
    """(kind, id) of every user, group, role and client a policy's config names; malformed entries are left
    to the compiler, which refuses the policy."""
    found: list[tuple[str, str]] = []
    for kind, key in (("user", "users"), ("group", "groups"), ("role", "roles"), ("client", "clients")):
        if policy.type != kind or key not in policy.config:
            continue
        try:
            entries = json.loads(policy.config[key])
        except ValueError:
            continue
        for entry in entries if isinstance(entries, list) else ():
            entity_id = entry.get("id") if isinstance(entry, dict) else entry
            if isinstance(entity_id, str) and entity_id:
                found.append((kind, entity_id))
    return found


def _resource(item: object) -> PulledResource:
    resource_id, name = _text(item, "_id"), _text(item, "name")
    item = cast(dict[str, Any], item)  # _text checked it is an object
    uris = item.get("uris") or []
    attributes = item.get("attributes") or {}
    if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
        raise PullError(f"resource {name!r}: 'uris' is not a list of strings")
    if not isinstance(attributes, dict) or not all(
        isinstance(values, list) and all(isinstance(v, str) for v in values) for values in attributes.values()
    ):
        raise PullError(f"resource {name!r}: 'attributes' is not a map of string lists")
    kind = item.get("type")
    return PulledResource(
        id=resource_id,
        name=name,
        uris=tuple(uris),
        type=kind if isinstance(kind, str) and kind else None,
        attributes={str(key): tuple(values) for key, values in attributes.items()},
        owner_managed=item.get("ownerManagedAccess") is True,
    )


def _text(item: object, key: str) -> str:
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, str) or not value:
        raise PullError(f"Keycloak returned an authorization entry without {key!r}: {str(item)[:200]}")
    return value
