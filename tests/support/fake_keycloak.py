"""A Keycloak-compatible server for tests and benchmarks, on 127.0.0.1, driven by the real python-keycloak.

It implements the Admin REST endpoints Clearance's sync calls (users, groups with `subGroupCount` and
`/children`, group members, realm and client roles, composites, role members, role mappings of users and
groups), `first`/`max` pagination as Keycloak does it (results ordered, `first` is an offset, `max` a page
size), the OpenID token endpoint (client credentials for the sync, password grant for user tokens) and
the JWKS, with the JSON representations documented in Keycloak's Admin REST API reference.

The realm is changed through Python methods (tests run in-process); every change records `changed_at`
so the time from an IAM change to its effect can be measured. Faults can be injected: a status code,
a hang (timeout) or a silently missing page, on requests whose path contains a string, from an offset on.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.support.json_server import JsonHandler

DEFAULT_MAX = 100  # Keycloak's default page size where `max` is not given
DEFAULT_PASSWORD = "secret"


@dataclass
class Fault:
    """Fail requests whose path contains `path_contains` (and whose `first` ≥ `from_first`)."""

    path_contains: str
    kind: str = "status"  # "status" | "hang" | "empty_page" | "drop_last"
    status: int = 500
    from_first: int = 0
    times: int | None = None  # None = every matching request
    hang_seconds: float = 5.0
    hits: int = 0


@dataclass
class _User:
    id: str
    username: str
    email: str | None
    enabled: bool
    password: str
    created: int
    email_verified: bool = True
    service_account: bool = False


@dataclass
class _Group:
    id: str
    name: str
    parent_id: str | None


@dataclass
class _Role:
    id: str
    name: str
    container_id: str
    client: str | None = None  # the client's internal id for a client role
    composites: set[str] = field(default_factory=set)


@dataclass
class _Client:
    id: str
    client_id: str
    secret: str
    service_account_user: str | None = None


class FakeRealm:
    """The realm's state and its Keycloak JSON representations. Thread-safe."""

    def __init__(self, name: str = "acme") -> None:
        self.name = name
        self.id = str(uuid.uuid4())
        self.lock = threading.RLock()
        self.users: dict[str, _User] = {}
        self.groups: dict[str, _Group] = {}
        self.members: dict[str, set[str]] = {}
        self.roles: dict[str, _Role] = {}
        self.clients: dict[str, _Client] = {}
        self.user_roles: dict[str, set[str]] = {}
        self.group_roles: dict[str, set[str]] = {}
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
            user = _User(
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
            group = _Group(str(uuid.uuid4()), name, parent_id)
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

    def add_client(self, client_id: str, secret: str | None = None, service_account: bool = False) -> _Client:
        with self.lock:
            client = _Client(str(uuid.uuid4()), client_id, secret or secrets.token_urlsafe(16))
            if service_account:
                client.service_account_user = self.add_user(f"service-account-{client_id}")
                self.users[client.service_account_user].service_account = True
                self._changed()
            self.clients[client.id] = client
            self._changed()
            return client

    def add_realm_role(self, name: str) -> str:
        with self.lock:
            role = _Role(str(uuid.uuid4()), name, self.id)
            self.roles[role.id] = role
            self._changed()
            return role.id

    def add_client_role(self, client_id: str, name: str) -> str:
        with self.lock:
            client = self.client_by_client_id(client_id)
            role = _Role(str(uuid.uuid4()), name, client.id, client=client.id)
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

    def client_by_client_id(self, client_id: str) -> _Client:
        for client in self.clients.values():
            if client.client_id == client_id:
                return client
        raise KeyError(client_id)

    def user_by_name(self, username: str) -> _User:
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

    def children(self, parent_id: str | None) -> list[_Group]:
        index: dict[str | None, list[_Group]] = self.memo("children", None, self._children_index)
        return index.get(parent_id, [])

    def _children_index(self) -> dict[str | None, list[_Group]]:
        index: dict[str | None, list[_Group]] = {}
        for group in sorted(self.groups.values(), key=lambda g: g.name):
            index.setdefault(group.parent_id, []).append(group)
        return index

    def role_users(self, role_id: str) -> list[_User]:
        """Users a role is mapped to directly, by username."""

        def index() -> dict[str, list[_User]]:
            found: dict[str, list[_User]] = {}
            for user in sorted(self.users.values(), key=lambda u: u.username):
                for mapped in self.user_roles.get(user.id, ()):
                    found.setdefault(mapped, []).append(user)
            return found

        by_role: dict[str, list[_User]] = self.memo("role_users", None, index)
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

    def user_json(self, user: _User, brief: bool = False) -> dict[str, Any]:
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

    def group_json(self, group: _Group, brief: bool = True) -> dict[str, Any]:
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

    def role_json(self, role: _Role) -> dict[str, Any]:
        return {
            "id": role.id,
            "name": role.name,
            "description": "",
            "composite": bool(role.composites),
            "clientRole": role.client is not None,
            "containerId": role.container_id,
        }

    def client_json(self, client: _Client) -> dict[str, Any]:
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


class FakeKeycloak:
    """The server: start() binds 127.0.0.1 on a free port; `url` is the base URL python-keycloak takes."""

    def __init__(self, realm: FakeRealm | None = None, token_ttl: int = 300) -> None:
        self.realm = realm or FakeRealm()
        self.token_ttl = token_ttl
        self.key = RSAKey.generate_key(2048, parameters={"kid": "fake-kc-1", "use": "sig", "alg": "RS256"})
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self._admin_tokens: dict[str, float] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.sync_client = self.realm.add_client("clearance-sync", service_account=True)
        self.realm.map_user_role(self.sync_client.service_account_user or "", self._realm_management_role("view-users"))

    def _realm_management_role(self, name: str) -> str:
        try:
            management = self.realm.client_by_client_id("realm-management")
        except KeyError:
            management = self.realm.add_client("realm-management")
        try:
            return self.realm.role_id(name, management.client_id)
        except KeyError:
            return self.realm.add_client_role(management.client_id, name)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def issuer(self) -> str:
        return f"{self.url}realms/{self.realm.name}"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    def start(self) -> FakeKeycloak:
        handler = _handler_for(self)
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-keycloak", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @contextmanager
    def fault(self, fault: Fault) -> Iterator[Fault]:
        """Inject a fault for the duration of a `with` block."""
        self.faults.append(fault)
        try:
            yield fault
        finally:
            self.faults.remove(fault)

    # --- tokens -----------------------------------------------------------------------------------------

    def user_token(self, username: str, client_id: str = "clearance", ttl: int | None = None) -> str:
        """An access token as Keycloak issues it to `client_id` for this user (groups claim included)."""
        with self.realm.lock:
            user = self.realm.user_by_name(username)
            claims = self._claims(user, client_id, ttl)
        return self._sign(claims)

    def _claims(self, user: _User, client_id: str, ttl: int | None) -> dict[str, Any]:
        realm = self.realm
        now = int(time.time())
        roles = [realm.roles[r] for r in realm.effective_roles(user.id)]
        resource_access: dict[str, Any] = {}
        for role in roles:
            if role.client is not None:
                entry = resource_access.setdefault(realm.clients[role.client].client_id, {"roles": []})
                entry["roles"].append(role.name)
        claims: dict[str, Any] = {
            "exp": now + (ttl or self.token_ttl),
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
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

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": "fake-kc-1"}, claims, self.key)

    def token_response(self, form: dict[str, str]) -> tuple[int, Any]:
        realm = self.realm
        grant = form.get("grant_type")
        with realm.lock:
            client = next((c for c in realm.clients.values() if c.client_id == form.get("client_id")), None)
            if client is None or not secrets.compare_digest(client.secret, form.get("client_secret", "")):
                return 401, {"error": "unauthorized_client", "error_description": "Invalid client credentials"}
            if grant == "client_credentials":
                if client.service_account_user is None:
                    return 400, {"error": "unauthorized_client", "error_description": "no service account"}
                user = realm.users[client.service_account_user]
            elif grant == "password":
                try:
                    user = realm.user_by_name(form.get("username", ""))
                except KeyError:
                    return 401, {"error": "invalid_grant", "error_description": "Invalid user credentials"}
                if not secrets.compare_digest(user.password, form.get("password", "")):
                    return 401, {"error": "invalid_grant", "error_description": "Invalid user credentials"}
            else:
                return 400, {"error": "unsupported_grant_type"}
            if not user.enabled:
                return 400, {"error": "invalid_grant", "error_description": "Account disabled"}
            claims = self._claims(user, client.client_id, None)
        token = self._sign(claims)
        if grant == "client_credentials":
            self._admin_tokens[token] = claims["exp"]
        return 200, {
            "access_token": token,
            "expires_in": self.token_ttl,
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

    # --- routing ----------------------------------------------------------------------------------------

    def handle_get(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        realm_prefix = f"/realms/{self.realm.name}"
        if path == f"{realm_prefix}/protocol/openid-connect/certs":
            return 200, {"keys": [self.key.as_dict(private=False)]}
        if path == f"{realm_prefix}/.well-known/openid-configuration":
            return 200, {
                "issuer": self.issuer,
                "jwks_uri": self.jwks_uri,
                "token_endpoint": f"{self.issuer}/protocol/openid-connect/token",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        admin_prefix = f"/admin/realms/{self.realm.name}/"
        if not path.startswith(admin_prefix):
            return 404, {"error": "Realm not found."}
        parts = [unquote(p) for p in path[len(admin_prefix) :].split("/") if p]
        with self.realm.lock:
            return _AdminRoutes(self.realm, query).route(parts)


class _AdminRoutes:
    """GET /admin/realms/{realm}/... resolved against the realm (called under the realm lock)."""

    def __init__(self, realm: FakeRealm, query: dict[str, str]) -> None:
        self.realm = realm
        self.query = query

    def page(self, items: list[Any], default_max: int | None = DEFAULT_MAX) -> list[Any]:
        first = int(self.query.get("first", 0) or 0)
        raw_max = self.query.get("max")
        size = int(raw_max) if raw_max not in (None, "") else default_max
        if first < 0:
            first = 0
        if size is None or size < 0:
            return items[first:]
        return items[first : first + size]

    def brief(self, default: bool) -> bool:
        value = self.query.get("briefRepresentation")
        return default if value is None else value.lower() == "true"

    def route(self, parts: list[str]) -> tuple[int, Any]:
        realm = self.realm
        not_found: tuple[int, Any] = (404, {"error": "Could not find resource"})
        head, rest = (parts[0], parts[1:]) if parts else ("", [])
        if head == "users":
            return self.users(rest)
        if head == "groups":
            return self.groups(rest)
        if head == "roles":
            return self.roles(rest, realm.id)
        if head == "roles-by-id" and rest:
            role = realm.roles.get(rest[0])
            if role is None:
                return not_found
            if rest[1:] == ["composites"]:
                return 200, self.page([realm.role_json(realm.roles[r]) for r in sorted(role.composites)], None)
            return (200, realm.role_json(role)) if len(rest) == 1 else not_found
        if head == "clients":
            if not rest:
                clients = sorted(realm.clients.values(), key=lambda c: c.client_id)
                wanted = self.query.get("clientId")
                if wanted:
                    clients = [c for c in clients if c.client_id == wanted]
                return 200, [realm.client_json(c) for c in self.page(clients, None)]
            client = realm.clients.get(rest[0])
            if client is None:
                return not_found
            if len(rest) == 1:
                return 200, realm.client_json(client)
            if rest[1] == "roles":
                return self.roles(rest[2:], client.id)
        return not_found

    def users(self, rest: list[str]) -> tuple[int, Any]:
        realm = self.realm
        # Like Keycloak, the user search and count leave service-account users out.
        users: list[_User] = realm.memo(
            "users",
            None,
            lambda: sorted((u for u in realm.users.values() if not u.service_account), key=lambda u: u.username),
        )
        for key in ("username", "email"):
            wanted = self.query.get(key)
            if wanted:
                exact = self.query.get("exact", "false").lower() == "true"
                users = [
                    u
                    for u in users
                    if (getattr(u, key) or "") == wanted.lower()
                    or (not exact and wanted.lower() in (getattr(u, key) or ""))
                ]
        if not rest:
            return 200, [realm.user_json(u, self.brief(False)) for u in self.page(users)]
        if rest == ["count"]:
            return 200, len(users)
        user = realm.users.get(rest[0])
        if user is None:
            return 404, {"error": "User not found"}
        if len(rest) == 1:
            return 200, realm.user_json(user)
        if rest[1:] == ["groups"]:
            groups = sorted((realm.groups[g] for g in realm.user_group_ids(user.id)), key=lambda g: realm.path(g.id))
            return 200, [realm.group_json(g, self.brief(True)) for g in self.page(groups)]
        if rest[1:] == ["role-mappings"]:
            return 200, realm.mappings_json(realm.user_roles[user.id])
        if rest[1:] == ["role-mappings", "realm"]:
            return 200, realm.mappings_json(realm.user_roles[user.id]).get("realmMappings", [])
        if rest[1:3] == ["role-mappings", "clients"] and len(rest) == 4:
            return 200, realm.client_mappings(realm.user_roles[user.id], rest[3])
        return 404, {"error": "Could not find resource"}

    def groups(self, rest: list[str]) -> tuple[int, Any]:
        realm = self.realm
        if not rest:
            groups = realm.children(None)
            search = self.query.get("search")
            if search:
                groups = [g for g in groups if search.lower() in g.name.lower()]
            return 200, [realm.group_json(g, self.brief(True)) for g in self.page(groups)]
        if rest == ["count"]:
            top = self.query.get("top", "false").lower() == "true"
            count = len(realm.children(None)) if top else len(realm.groups)
            return 200, {"count": count}
        group = realm.groups.get(rest[0])
        if group is None:
            return 404, {"error": "Could not find group by id"}
        tail = rest[1:]
        if not tail:
            return 200, realm.group_json(group, brief=False)
        if tail == ["children"]:
            return 200, [realm.group_json(g, self.brief(False)) for g in self.page(realm.children(group.id))]
        if tail == ["members"]:
            users = realm.memo(
                "members",
                group.id,
                lambda: sorted((realm.users[u] for u in realm.members[group.id]), key=lambda u: u.username),
            )
            return 200, [realm.user_json(u, self.brief(False)) for u in self.page(users)]
        if tail == ["role-mappings"]:
            return 200, realm.mappings_json(realm.group_roles[group.id])
        if tail == ["role-mappings", "realm"]:
            return 200, realm.mappings_json(realm.group_roles[group.id]).get("realmMappings", [])
        if tail[:2] == ["role-mappings", "clients"] and len(tail) == 3:
            return 200, realm.client_mappings(realm.group_roles[group.id], tail[2])
        return 404, {"error": "Could not find resource"}

    def roles(self, rest: list[str], container: str) -> tuple[int, Any]:
        realm = self.realm
        roles = sorted((r for r in realm.roles.values() if r.container_id == container), key=lambda r: r.name)
        if not rest:
            return 200, [realm.role_json(r) for r in self.page(roles, None)]
        role = next((r for r in roles if r.name == rest[0]), None)
        if role is None:
            return 404, {"error": "Could not find role"}
        tail = rest[1:]
        if not tail:
            return 200, realm.role_json(role)
        if tail == ["users"]:
            users = realm.role_users(role.id)
            return 200, [realm.user_json(u, self.brief(False)) for u in self.page(users)]
        if tail == ["groups"]:
            groups = sorted(
                (realm.groups[g] for g, mapped in realm.group_roles.items() if role.id in mapped),
                key=lambda g: realm.path(g.id),
            )
            return 200, [realm.group_json(g, self.brief(True)) for g in self.page(groups)]
        if tail == ["composites"]:
            return 200, [realm.role_json(realm.roles[r]) for r in sorted(role.composites)]
        return 404, {"error": "Could not find resource"}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is expected; anything else is still reported."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(server: FakeKeycloak) -> type[JsonHandler]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as python-keycloak's session expects
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            server.requests.append(self.path)
            fault = _matching_fault(server.faults, url.path, query)
            if fault is not None and fault.kind == "hang":
                time.sleep(fault.hang_seconds)
            if fault is not None and fault.kind == "status":
                self.send_json(fault.status, {"error": "injected failure"})
                return
            if url.path.startswith("/admin/") and not server.admin_authorized(self.headers.get("Authorization")):
                self.send_json(401, {"error": "HTTP 401 Unauthorized"})
                return
            status, body = server.handle_get(url.path, query)
            if fault is not None and fault.kind == "empty_page" and isinstance(body, list):
                body = []
            if fault is not None and fault.kind == "drop_last" and isinstance(body, list):
                body = body[:-1]
            self.send_json(status, body)

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            server.requests.append(self.path)
            fault = _matching_fault(server.faults, url.path, {})
            if fault is not None and fault.kind == "status":
                self.send_json(fault.status, {"error": "injected failure"})
                return
            if url.path == f"/realms/{server.realm.name}/protocol/openid-connect/token":
                self.send_json(*server.token_response(form))
                return
            self.send_json(404, {"error": "not found"})

    return Handler


def _matching_fault(faults: list[Fault], path: str, query: dict[str, str]) -> Fault | None:
    for fault in list(faults):
        if fault.path_contains not in path or int(query.get("first", 0) or 0) < fault.from_first:
            continue
        if fault.times is not None and fault.hits >= fault.times:
            continue
        fault.hits += 1
        return fault
    return None
