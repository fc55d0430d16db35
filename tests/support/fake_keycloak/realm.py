"""The realm's state, its changes (each records `changed_at`), look-ups and Keycloak JSON representations."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.support.fake_keycloak.authz import ResourceServer
from tests.support.fake_keycloak.model import Client, Group, Role, User

DEFAULT_PASSWORD = "secret"


class FakeRealm:
    """The realm's state and its Keycloak JSON representations. Thread-safe."""

    def __init__(self, name: str = "acme") -> None:
        self.name = name
        self.id = str(uuid.uuid4())
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.members: dict[str, set[str]] = {}
        self.roles: dict[str, Role] = {}
        self.clients: dict[str, Client] = {}
        self.user_roles: dict[str, set[str]] = {}
        self.group_roles: dict[str, set[str]] = {}
        self.resource_servers: dict[str, ResourceServer] = {}  # client internal id → its Authorization Services
        self.changed_at = time.time()
        # Derived look-ups (children, paths, sorted lists, role members), rebuilt after any change: a
        # database answers these from indexes, and the benchmark should time the sync, not this fake.
        self._memo: dict[tuple[str, str | None], Any] = {}
        self.add_realm_role(f"default-roles-{name}")

    # --- changes (each records changed_at) -------------------------------------------------------------

    def _changed(self) -> None:
        self.changed_at = time.time()
        self._memo.clear()

    def memo(self, kind: str, key: str | None, compute: Callable[[], Any]) -> Any:
        """A derived value, computed once per realm state."""
        slot = (kind, key)
        if slot not in self._memo:
            self._memo[slot] = compute()
        return self._memo[slot]

    def add_user(
        self,
        username: str,
        email: str | None = None,
        enabled: bool = True,
        password: str = DEFAULT_PASSWORD,
        email_verified: bool = True,
    ) -> str:
        with self.lock:
            user = User(
                str(uuid.uuid4()), username.lower(), email, enabled, password, int(time.time() * 1000), email_verified
            )
            self.users[user.id] = user
            self.user_roles[user.id] = {self.role_id(f"default-roles-{self.name}")}
            self._changed()
            return user.id

    def set_enabled(self, user_id: str, enabled: bool) -> None:
        with self.lock:
            self.users[user_id].enabled = enabled
            self._changed()

    def delete_user(self, user_id: str) -> None:
        with self.lock:
            del self.users[user_id]
            self.user_roles.pop(user_id, None)
            for members in self.members.values():
                members.discard(user_id)
            self._changed()

    def add_group(self, name: str, parent_id: str | None = None) -> str:
        with self.lock:
            group = Group(str(uuid.uuid4()), name, parent_id)
            if any(g.name == name and g.parent_id == parent_id for g in self.groups.values()):
                raise ValueError(f"Top level group named '{name}' already exists.")
            self.groups[group.id] = group
            self.members[group.id] = set()
            self.group_roles[group.id] = set()
            self._changed()
            return group.id

    def rename_group(self, group_id: str, name: str) -> None:
        with self.lock:
            self.groups[group_id].name = name
            self._changed()

    def move_group(self, group_id: str, parent_id: str | None) -> None:
        with self.lock:
            self.groups[group_id].parent_id = parent_id
            self._changed()

    def delete_group(self, group_id: str) -> None:
        with self.lock:
            for child in [g.id for g in self.groups.values() if g.parent_id == group_id]:
                self.delete_group(child)
            del self.groups[group_id]
            del self.members[group_id]
            del self.group_roles[group_id]
            self._changed()

    def add_member(self, group_id: str, user_id: str) -> None:
        with self.lock:
            self.members[group_id].add(user_id)
            self._changed()

    def remove_member(self, group_id: str, user_id: str) -> None:
        with self.lock:
            self.members[group_id].discard(user_id)
            self._changed()

    def add_client(self, client_id: str, secret: str | None = None, service_account: bool = False) -> Client:
        with self.lock:
            client = Client(str(uuid.uuid4()), client_id, secret or secrets.token_urlsafe(16))
            if service_account:
                client.service_account_user = self.add_user(f"service-account-{client_id}")
                self.users[client.service_account_user].service_account = True
                self._changed()
            self.clients[client.id] = client
            self._changed()
            return client

    def authorization(self, client_id: str) -> ResourceServer:
        """The Authorization Services of a client (by clientId), enabled on first use. Its changes run under
        the realm's lock (tests change it while the server answers)."""
        with self.lock:
            client = self.client_by_client_id(client_id)
            if client.id not in self.resource_servers:
                self.resource_servers[client.id] = ResourceServer(client.id, client.client_id, self._changed, self.lock)
            return self.resource_servers[client.id]

    def add_realm_role(self, name: str) -> str:
        with self.lock:
            role = Role(str(uuid.uuid4()), name, self.id)
            self.roles[role.id] = role
            self._changed()
            return role.id

    def add_client_role(self, client_id: str, name: str) -> str:
        with self.lock:
            client = self.client_by_client_id(client_id)
            role = Role(str(uuid.uuid4()), name, client.id, client=client.id)
            self.roles[role.id] = role
            self._changed()
            return role.id

    def add_composite(self, role_id: str, child_id: str) -> None:
        with self.lock:
            self.roles[role_id].composites.add(child_id)
            self._changed()

    def map_user_role(self, user_id: str, role_id: str) -> None:
        with self.lock:
            self.user_roles[user_id].add(role_id)
            self._changed()

    def unmap_user_role(self, user_id: str, role_id: str) -> None:
        with self.lock:
            self.user_roles[user_id].discard(role_id)
            self._changed()

    def map_group_role(self, group_id: str, role_id: str) -> None:
        with self.lock:
            self.group_roles[group_id].add(role_id)
            self._changed()

    # --- look-ups ---------------------------------------------------------------------------------------

    def role_id(self, name: str, client_id: str | None = None) -> str:
        container = self.client_by_client_id(client_id).id if client_id else self.id
        for role in self.roles.values():
            if role.name == name and role.container_id == container:
                return role.id
        raise KeyError(name)

    def client_by_client_id(self, client_id: str) -> Client:
        for client in self.clients.values():
            if client.client_id == client_id:
                return client
        raise KeyError(client_id)

    def user_by_name(self, username: str) -> User:
        for user in self.users.values():
            if user.username == username.lower():
                return user
        raise KeyError(username)

    def path(self, group_id: str) -> str:
        return str(self.memo("path", group_id, lambda: self._path(group_id)))

    def _path(self, group_id: str) -> str:
        parts: list[str] = []
        current: str | None = group_id
        while current is not None:
            group = self.groups[current]
            parts.append(group.name)
            current = group.parent_id
        return "/" + "/".join(reversed(parts))

    def children(self, parent_id: str | None) -> list[Group]:
        index: dict[str | None, list[Group]] = self.memo("children", None, self._children_index)
        return index.get(parent_id, [])

    def _children_index(self) -> dict[str | None, list[Group]]:
        index: dict[str | None, list[Group]] = {}
        for group in sorted(self.groups.values(), key=lambda g: g.name):
            index.setdefault(group.parent_id, []).append(group)
        return index

    def role_users(self, role_id: str) -> list[User]:
        """Users a role is mapped to directly, by username."""

        def index() -> dict[str, list[User]]:
            found: dict[str, list[User]] = {}
            for user in sorted(self.users.values(), key=lambda u: u.username):
                for mapped in self.user_roles.get(user.id, ()):
                    found.setdefault(mapped, []).append(user)
            return found

        by_role: dict[str, list[User]] = self.memo("role_users", None, index)
        return by_role.get(role_id, [])

    def user_group_ids(self, user_id: str) -> list[str]:
        return [gid for gid, members in self.members.items() if user_id in members]

    def effective_roles(self, user_id: str) -> set[str]:
        """Role ids a token carries: direct, through groups and their ancestors, composites expanded."""
        found = set(self.user_roles.get(user_id, ()))
        for group_id in self.user_group_ids(user_id):
            current: str | None = group_id
            while current is not None:
                found |= self.group_roles[current]
                current = self.groups[current].parent_id
        pending = list(found)
        while pending:
            for child in self.roles[pending.pop()].composites:
                if child not in found:
                    found.add(child)
                    pending.append(child)
        return found

    # --- representations --------------------------------------------------------------------------------

    def user_json(self, user: User, brief: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": user.id,
            "username": user.username,
            "firstName": user.username.title(),
            "lastName": "Example",
            "emailVerified": user.email_verified,
            "createdTimestamp": user.created,
            "enabled": user.enabled,
            "totp": False,
            "disableableCredentialTypes": [],
            "requiredActions": [],
            "notBefore": 0,
        }
        if user.email:
            body["email"] = user.email
        if not brief:
            body["access"] = {"manage": True, "view": True, "impersonate": False}
        return body

    def group_json(self, group: Group, brief: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": group.id,
            "name": group.name,
            "path": self.path(group.id),
            "subGroupCount": len(self.children(group.id)),
            "subGroups": [],
        }
        if group.parent_id is not None:
            body["parentId"] = group.parent_id
        if not brief:
            body["attributes"] = {}
            body["realmRoles"] = [self.roles[r].name for r in self.group_roles[group.id] if not self.roles[r].client]
            client_roles: dict[str, list[str]] = {}
            for role_id in self.group_roles[group.id]:
                role = self.roles[role_id]
                if role.client:
                    client_roles.setdefault(self.clients[role.client].client_id, []).append(role.name)
            body["clientRoles"] = client_roles
            body["access"] = {"view": True, "manage": True, "manageMembership": True}
        return body

    def role_json(self, role: Role) -> dict[str, Any]:
        return {
            "id": role.id,
            "name": role.name,
            "description": "",
            "composite": bool(role.composites),
            "clientRole": role.client is not None,
            "containerId": role.container_id,
        }

    def client_json(self, client: Client) -> dict[str, Any]:
        return {
            "id": client.id,
            "clientId": client.client_id,
            "name": client.client_id,
            "enabled": True,
            "publicClient": False,
            "serviceAccountsEnabled": client.service_account_user is not None,
            "protocol": "openid-connect",
        }

    def client_mappings(self, role_ids: set[str], client_uuid: str) -> list[dict[str, Any]]:
        """Directly mapped roles of one client (by its internal id)."""
        return [self.role_json(self.roles[r]) for r in sorted(role_ids) if self.roles[r].client == client_uuid]

    def mappings_json(self, role_ids: set[str]) -> dict[str, Any]:
        """A MappingsRepresentation: realm roles, and client roles grouped by clientId."""
        realm = [self.role_json(self.roles[r]) for r in sorted(role_ids) if self.roles[r].client is None]
        clients: dict[str, Any] = {}
        for role_id in sorted(role_ids):
            role = self.roles[role_id]
            if role.client is not None:
                client = self.clients[role.client]
                entry = clients.setdefault(
                    client.client_id, {"id": client.id, "client": client.client_id, "mappings": []}
                )
                entry["mappings"].append(self.role_json(role))
        body: dict[str, Any] = {}
        if realm:
            body["realmMappings"] = realm
        if clients:
            body["clientMappings"] = clients
        return body
