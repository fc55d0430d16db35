"""Pull the directory from Keycloak's Admin REST API with python-keycloak (client-credentials grant).

What is read, and how many requests it costs (pages of 100, python-keycloak's own page loop):
- users (brief; an e-mail counts only when `emailVerified`), counted before and after: a count that
  moves or disagrees means a page went missing or the realm changed mid-pull, and the pull is refused
  (retried), never half-applied;
- the group tree: top-level groups, then `/children` of every group whose `subGroupCount` > 0; each
  group's child count and the realm's group count are checked the same way;
- direct members of every group (4 workers, each with its own connection);
- realm roles and every client's roles; composites of composite roles; and the users and groups each
  role is mapped to directly (one pair of paged calls per role instead of one call per user). Those two
  calls address the role by name: the name is percent-encoded into the URL, and a role Keycloak still will
  not address (400/404) is skipped with a warning in the sync report, never the whole pull.

The pull answers for the realm's issuer (CLEARANCE_KEYCLOAK_ISSUER, default <URL>/realms/<REALM>).
Any other Keycloak, HTTP or shape error becomes a `PullError` (a DirectoryError) at this boundary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakError

from access_index.directory import DirectoryData, DirectoryGroup, DirectoryRole, DirectoryUser
from access_index.errors import PrincipalError, PullError
from access_index.principals import parse_principal, role_token
from access_index.settings import Settings

T = TypeVar("T")
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_WORKERS = 4  # concurrent member reads; small enough to stay polite to the IAM server
_PERMANENT_STATUSES = {400, 401, 403, 404}
_UNADDRESSABLE_STATUSES = {400, 404}


class KeycloakSource:
    """A directory source backed by one Keycloak realm."""

    def __init__(
        self,
        server_url: str,
        realm: str,
        client_id: str,
        client_secret: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        workers: int = DEFAULT_WORKERS,
        issuer: str | None = None,
    ) -> None:
        self.server_url = server_url if server_url.endswith("/") else server_url + "/"
        self.realm = realm
        # The issuer of the realm's tokens (CLEARANCE_KEYCLOAK_ISSUER); derived from the URL by default.
        self.issuer = issuer or f"{self.server_url}realms/{realm}"
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout
        self.workers = workers

    @staticmethod
    def from_settings(settings: Settings) -> KeycloakSource:
        return KeycloakSource(
            settings.keycloak_url or "",
            settings.keycloak_realm or "",
            settings.keycloak_client_id or "",
            settings.keycloak_client_secret or "",
            issuer=settings.keycloak_realm_issuer,
        )

    @property
    def name(self) -> str:
        return f"keycloak:{self.server_url}realms/{self.realm}"

    def pull(self) -> DirectoryData:
        """One complete, self-consistent pull; PullError otherwise."""
        admin = self._call("connect", self._admin)
        return _Pull(self, admin).run()

    def _admin(self) -> KeycloakAdmin:
        # A fresh connection per pull: a new client-credentials token, no state carried between syncs.
        # max_retries=0: retries are ours (whole pull, with backoff), so one failed page aborts the pull.
        connection = KeycloakOpenIDConnection(
            server_url=self.server_url,
            realm_name=self.realm,
            client_id=self.client_id,
            client_secret_key=self.client_secret,
            timeout=int(self.timeout) if self.timeout >= 1 else 1,
            max_retries=0,
        )
        return KeycloakAdmin(connection=connection)

    def _call(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except PullError:
            raise
        except KeycloakAuthenticationError as error:
            raise PullError(
                f"Keycloak refused the sync's credentials while reading {what} ({self.name}): check "
                "CLEARANCE_KEYCLOAK_CLIENT_ID and CLEARANCE_KEYCLOAK_CLIENT_SECRET, and that the client's service "
                "account has the realm-management roles view-users, view-realm and view-clients",
                retryable=False,
            ) from error
        except KeycloakError as error:
            status = getattr(error, "response_code", None)
            raise PullError(
                f"Keycloak error while reading {what} ({self.name}): HTTP {status}: {error.error_message!s}"[:500],
                retryable=status not in _PERMANENT_STATUSES,
            ) from error
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            raise PullError(f"unexpected Keycloak response while reading {what} ({self.name}): {error!r}") from error
        except OSError as error:
            raise PullError(f"cannot reach Keycloak while reading {what} ({self.name}): {error}") from error


class _Pull:
    """The state of one pull (kept out of KeycloakSource so a source object holds no half-read data)."""

    def __init__(self, source: KeycloakSource, admin: KeycloakAdmin) -> None:
        self.source = source
        self.admin = admin
        self.warnings: list[str] = []
        self.unreadable: set[str] = set()

    def call(self, what: str, action: Callable[[], T]) -> T:
        return self.source._call(what, action)

    def run(self) -> DirectoryData:
        admin = self.admin
        count_before = self.call("the user count", admin.users_count)
        raw_users = self.call("users", lambda: admin.get_users({"briefRepresentation": True}))
        groups = self.groups()
        members = self.members(list(groups))
        clients = self.clients()
        roles, user_roles, group_roles = self.roles(clients)
        count_after = self.call("the user count", admin.users_count)
        users = self.users(raw_users, count_before, count_after, members, user_roles)
        final_groups = tuple(
            DirectoryGroup(group.id, group.path, group.parent_id, frozenset(group_roles.get(group.id, ())))
            for group in groups.values()
        )
        return DirectoryData(
            self.source.name,
            users,
            final_groups,
            roles,
            tuple(self.warnings),
            issuer=self.source.issuer,
            unreadable_roles=frozenset(self.unreadable),
        )

    def users(
        self,
        raw: list[dict[str, Any]],
        count_before: int,
        count_after: int,
        members: dict[str, set[str]],
        user_roles: dict[str, set[str]],
    ) -> tuple[DirectoryUser, ...]:
        ids = [_text(item, "id") for item in raw]
        if len(set(ids)) != len(ids) or not count_before == count_after == len(ids):
            raise PullError(
                f"incomplete user list from {self.source.name}: {len(set(ids))} distinct users read, "
                f"{count_before} counted before and {count_after} after (a page is missing or the realm "
                "changed during the pull)"
            )
        groups_of: dict[str, set[str]] = {}
        for group_id, user_ids in members.items():
            for user_id in user_ids:
                groups_of.setdefault(user_id, set()).add(group_id)
        users = []
        for item in raw:
            user_id = _text(item, "id")
            email = item.get("email")
            users.append(
                DirectoryUser(
                    id=user_id,
                    username=_text(item, "username"),
                    # An unverified address may be anyone's (users can often edit their own): it names nobody.
                    email=email if isinstance(email, str) and email and item.get("emailVerified") is True else None,
                    enabled=item.get("enabled") is True,  # absent or odd → disabled (fail closed)
                    group_ids=frozenset(groups_of.get(user_id, ())),
                    roles=frozenset(user_roles.get(user_id, ())),
                )
            )
        return tuple(users)

    def groups(self) -> dict[str, DirectoryGroup]:
        """The whole tree, walked breadth-first with each level's child count checked."""
        admin = self.admin
        expected_total = self.call("the group count", lambda: admin.groups_count())
        found: dict[str, DirectoryGroup] = {}
        # get_groups() without a query lists every top-level group (all pages) and fetches one level of
        # children itself; deeper levels come from get_group_children below.
        top = self.call("groups", lambda: admin.get_groups())
        level: list[tuple[dict[str, Any], str | None]] = [(item, None) for item in top]
        while level:
            next_level: list[tuple[dict[str, Any], str | None]] = []
            for item, parent_id in level:
                group_id = _text(item, "id")
                if group_id in found:
                    raise PullError(f"group {group_id} listed twice by {self.source.name}: the tree changed mid-pull")
                found[group_id] = DirectoryGroup(group_id, _text(item, "path"), parent_id)
                expected = int(item.get("subGroupCount") or 0)
                if not expected:
                    continue
                children = item.get("subGroups") or []
                if len(children) != expected:
                    children = self.call(f"children of group {group_id}", partial(admin.get_group_children, group_id))
                if len(children) != expected:
                    raise PullError(
                        f"group {item.get('path')!r} reports {expected} subgroups but {len(children)} were read "
                        f"from {self.source.name} (a page is missing or the tree changed mid-pull)"
                    )
                next_level.extend((child, group_id) for child in children)
            level = next_level
        total = int(expected_total.get("count", -1)) if isinstance(expected_total, dict) else -1
        if total != len(found):
            raise PullError(f"incomplete group tree from {self.source.name}: {len(found)} groups read, {total} counted")
        return found

    def members(self, group_ids: list[str]) -> dict[str, set[str]]:
        """Direct members of every group, read by a few workers, each with its own connection and token:
        one call per group, and against a remote Keycloak the round trip, not the work, dominates."""
        workers = min(self.source.workers, len(group_ids))
        if workers <= 1:
            return {group_id: self.member_ids(self.admin, group_id) for group_id in group_ids}
        local = threading.local()

        def fetch(group_id: str) -> tuple[str, set[str]]:
            admin = getattr(local, "admin", None)
            if admin is None:
                admin = local.admin = self.call("connect", self.source._admin)
            return group_id, self.member_ids(admin, group_id)

        pool = ThreadPoolExecutor(workers, thread_name_prefix="keycloak-members")
        try:
            return dict(pool.map(fetch, group_ids))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # the first error stops the rest

    def member_ids(self, admin: KeycloakAdmin, group_id: str) -> set[str]:
        members = self.call(
            f"members of group {group_id}",
            lambda: admin.get_group_members(group_id, {"briefRepresentation": True}),
        )
        return {_text(member, "id") for member in members}

    def clients(self) -> dict[str, str]:
        """Internal client id → clientId (a '/' or '%' in a clientId is encoded in its roles' tokens)."""
        listed = self.call("clients", self.admin.get_clients)
        return {_text(client, "id"): _text(client, "clientId") for client in listed}

    def roles(
        self, clients: dict[str, str]
    ) -> tuple[tuple[DirectoryRole, ...], dict[str, set[str]], dict[str, set[str]]]:
        """Roles with their composites, and the users and groups each one is mapped to directly."""
        admin = self.admin
        entries: list[tuple[dict[str, Any], str, str | None]] = []  # (representation, key, client uuid)
        for role in self.call("realm roles", lambda: admin.get_realm_roles(brief_representation=True)):
            entries.append((role, role_token(_text(role, "name")), None))
        for uuid, client_id in sorted(clients.items(), key=lambda item: item[1]):
            for role in self.call(f"roles of client {client_id}", partial(admin.get_client_roles, uuid)):
                entries.append((role, role_token(_text(role, "name"), client_id), uuid))
        roles: list[DirectoryRole] = []
        user_roles: dict[str, set[str]] = {}
        group_roles: dict[str, set[str]] = {}
        for role, key, client_uuid in entries:
            if not _is_principal(key):
                self.warnings.append(f"{key!r} is not a principal (see its name): it grants nothing itself")
            composites: set[str] = set()
            if role.get("composite"):
                role_id = _text(role, "id")
                children = self.call(f"composites of {key}", partial(admin.get_role_composites_by_id, role_id))
                composites = {k for k in (self.composite_key(child, clients) for child in children) if k}
            roles.append(DirectoryRole(key, frozenset(composites)))
            holders = self.holders(_text(role, "name"), key, client_uuid)
            if holders is None:
                self.unreadable.add(key)
                continue
            _add_all(user_roles, holders[0], key)
            _add_all(group_roles, holders[1], key)
        return tuple(roles), user_roles, group_roles

    def holders(self, name: str, key: str, client_uuid: str | None) -> tuple[list[str], list[str]] | None:
        """Ids of the users and groups a role is mapped to directly, or None (with a warning) when Keycloak
        cannot address the role by name. python-keycloak puts the name into the URL as it is, so it is
        percent-encoded here (a raw '#' or '?' would end the path, ';' start matrix parameters, '/' a new
        segment, '%XX' decode to another name); '.' and '..' are dot segments no HTTP client keeps."""
        if name in {".", ".."}:
            self.warnings.append(f"{key!r}: its holders cannot be read (Keycloak addresses roles by name in URLs)")
            return None
        admin, encoded = self.admin, quote(name, safe="")
        if client_uuid is None:
            users = partial(admin.get_realm_role_members, encoded, {})
            groups = partial(admin.get_realm_role_groups, encoded, {})
        else:
            users = partial(admin.get_client_role_members, client_uuid, encoded)
            groups = partial(admin.get_client_role_groups, client_uuid, encoded)
        try:
            user_list = self.call(f"users of {key}", partial(_addressed, users))
            group_list = self.call(f"groups of {key}", partial(_addressed, groups))
        except _Unaddressable as error:
            # A role Keycloak will not address by its name (or deleted mid-pull): skip it, not the pull.
            self.warnings.append(f"{key!r} skipped, its holders cannot be read: {error}")
            return None
        return [_text(user, "id") for user in user_list], [_text(group, "id") for group in group_list]

    def composite_key(self, role: dict[str, Any], clients: dict[str, str]) -> str | None:
        name = _text(role, "name")
        if not role.get("clientRole"):
            return role_token(name)
        client_id = clients.get(_text(role, "containerId"))
        return role_token(name, client_id) if client_id else None


def _add_all(mapping: dict[str, set[str]], ids: Iterable[str], key: str) -> None:
    for item in ids:
        mapping.setdefault(item, set()).add(key)


class _Unaddressable(Exception):
    """Keycloak answered 400 or 404 for a resource the pull has just listed: it cannot be read by name."""


def _addressed(read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    try:
        return read()
    except KeycloakError as error:
        status = getattr(error, "response_code", None)
        if status in _UNADDRESSABLE_STATUSES:
            raise _Unaddressable(f"HTTP {status}: {error.error_message!s}"[:300]) from error
        raise


def _is_principal(token: str) -> bool:
    try:
        parse_principal(token)
    except PrincipalError:
        return False
    return True


def _text(item: object, key: str) -> str:
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, str) or not value:
        raise PullError(f"Keycloak returned an entry without {key!r}: {str(item)[:200]}")
    return value
