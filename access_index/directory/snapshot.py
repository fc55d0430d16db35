"""The directory snapshot: the last good pull plus what must survive across pulls, and caller resolution.

A snapshot belongs to one OIDC issuer (`issuer`): only that issuer's tokens are resolved against it
(retrieval/caller.py). Facts that outlive a single pull are carried from snapshot to snapshot:
- group bindings (group path → group id): the first group id ever seen at a path owns that path forever,
  so a renamed or moved group keeps the paths its documents name, and a new group that takes an old path
  gains nothing from it; a deleted group's paths stay bound to an id nobody belongs to (they match nobody);
- name bindings (`user:<username>` / `email:<address>` → user id), the same rule for people: the first
  account seen with a name owns it, keeps it when renamed, and an account created later under a deleted
  user's name does not inherit its grants. A name two accounts hold when it is first seen is contested:
  it grants nobody. `clearance acl-sync --once --release <principal>` hands a name (or a group path) to
  whoever holds it at that sync;
- tombstones: ids of users a previous snapshot knew and the current pull lacks, so a deleted user's
  still-valid token gets 403 instead of being treated as an unknown caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Literal, TypeVar

from access_index.directory.model import DirectoryData, DirectoryGroup, DirectoryRole, DirectoryUser
from access_index.errors import PrincipalError
from access_index.principals import ROLE_PREFIXES, Principal, parse_principal, role_key

Status = Literal["active", "disabled", "deleted", "unknown"]
_Holder = TypeVar("_Holder", DirectoryUser, DirectoryGroup)


@dataclass(frozen=True)
class Resolution:
    """What the directory says about a caller. `tokens`: for an active user the names bound to it, its
    groups and roles; for an active or unknown one, the token's names that no account of the directory
    owns; for a disabled or deleted one, nothing."""

    status: Status
    tokens: frozenset[str] = frozenset()
    user_id: str | None = None


@dataclass(frozen=True)
class DirectorySnapshot:
    """A versioned, immutable view of the directory at `synced_at` (UTC), for the tokens of `issuer`."""

    version: int
    synced_at: datetime
    source: str
    users: Mapping[str, DirectoryUser]
    groups: Mapping[str, DirectoryGroup]
    roles: Mapping[str, DirectoryRole]
    bindings: Mapping[str, str]
    tombstones: frozenset[str] = frozenset()
    issuer: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    contested: frozenset[str] = frozenset()
    unreadable_roles: frozenset[str] = frozenset()

    def age_seconds(self, now: datetime | None = None) -> float:
        """Seconds since this snapshot was synced (never negative)."""
        current = now or datetime.now(UTC)
        return max(0.0, (current - self.synced_at).total_seconds())

    def resolve(self, username: str | None, email: str | None, subject: str | None = None) -> Resolution:
        """The caller's status and the principal tokens the directory grants them.

        `subject` (the token's `sub`) decides when it is a user id this directory knows or knew: Keycloak's
        `sub` is the user's id. Otherwise the username decides when it names a current user, the (verified)
        e-mail only when it does not; if the e-mail names a different, disabled user, the caller is treated
        as disabled (fail closed). A caller whose name belongs to a deleted account is refused as deleted.
        """
        user_name, mail = user_token(username), email_token(email)
        claimed = [name for name in (user_name, mail) if name is not None]
        if subject is not None and subject in self.users:
            return self._of(self.users[subject], None, claimed)
        if subject is not None and subject in self.tombstones:
            return Resolution("deleted")
        by_name = self._by_name.get(user_name) if user_name else None
        by_mail = self._by_name.get(mail) if mail else None
        user = by_name or by_mail
        if user is not None:
            return self._of(user, by_mail, claimed)
        if any(self.names.get(name) in self.tombstones for name in claimed):
            return Resolution("deleted")
        return Resolution("unknown", frozenset(name for name in claimed if self.is_free(name)))

    def is_free(self, name: str) -> bool:
        """A `user:`/`email:` name no account of this directory owns (nor contests) yet."""
        return name not in self.names and name not in self.contested

    def group_tokens(self, group_id: str) -> frozenset[str]:
        """`group:` tokens a member of this group holds: every path bound to it or to an ancestor."""
        return self._group_tokens.get(group_id, frozenset())

    def name_tokens(self, user_id: str) -> frozenset[str]:
        """`user:`/`email:` tokens bound to this account: its names now, and those it held before."""
        return self._names_by_user.get(user_id, frozenset())

    def expand_roles(self, keys: Iterable[str]) -> frozenset[str]:
        """Role keys plus every composite they contain, transitively (cycles are harmless)."""
        seen: set[str] = set()
        pending = list(keys)
        while pending:
            key = pending.pop()
            if key in seen:
                continue
            seen.add(key)
            role = self.roles.get(key)
            if role is not None:
                pending.extend(role.composites - seen)
        return frozenset(seen)

    def _of(self, user: DirectoryUser, by_mail: DirectoryUser | None, claimed: list[str]) -> Resolution:
        if not user.enabled or (by_mail is not None and not by_mail.enabled):
            return Resolution("disabled", user_id=user.id)
        # The token's own names count too (a verified e-mail the directory does not list), unless another
        # account owns them.
        own = {name for name in claimed if self.is_free(name)}
        return Resolution("active", self._user_tokens(user) | own, user.id)

    def _user_tokens(self, user: DirectoryUser) -> frozenset[str]:
        tokens: set[str] = set(self.name_tokens(user.id))
        role_keys: set[str] = set(user.roles)
        for group_id in user.group_ids:
            if group_id not in self.groups:
                continue  # a membership of a group the pull does not know grants nothing
            tokens.update(self.group_tokens(group_id))
            for ancestor in self._lineage(group_id):
                role_keys.update(self.groups[ancestor].roles)
        tokens.update(token for key in self.expand_roles(role_keys) for token in _role_token(key))
        return frozenset(tokens)

    def _lineage(self, group_id: str) -> list[str]:
        """The group and its ancestors through parent ids (a cycle in bad data stops the walk)."""
        chain: list[str] = []
        current: str | None = group_id
        while current is not None and current in self.groups and current not in chain:
            chain.append(current)
            current = self.groups[current].parent_id
        return chain

    @cached_property
    def _by_name(self) -> dict[str, DirectoryUser]:
        """Current users by the `user:` and `email:` tokens of their names; a name two current users share
        (a duplicated e-mail, two usernames equal after case folding) resolves to nobody."""
        found: dict[str, DirectoryUser] = {}
        shared: set[str] = set()
        for user in _sorted_users(self.users):
            for name in names_of(user):
                if name in found:
                    shared.add(name)
                found[name] = user
        return {name: user for name, user in found.items() if name not in shared}

    @cached_property
    def _names_by_user(self) -> dict[str, frozenset[str]]:
        return _by_owner(self.names)

    @cached_property
    def _paths_by_group(self) -> dict[str, frozenset[str]]:
        return _by_owner(self.bindings)

    @cached_property
    def _group_tokens(self) -> dict[str, frozenset[str]]:
        result: dict[str, frozenset[str]] = {}
        for group_id in self.groups:
            tokens: set[str] = set()
            for member_of in self._lineage(group_id):
                for path in self._paths_by_group.get(member_of, ()):
                    tokens.update(_group_token(path))
            result[group_id] = frozenset(tokens)
        return result


def build_snapshot(
    data: DirectoryData,
    previous: DirectorySnapshot | None,
    now: datetime | None = None,
    release: Iterable[str] = (),
) -> DirectorySnapshot:
    """The next snapshot from a complete pull, carrying group and name bindings and tombstones forward.

    `release` lists principals (`user:`, `email:`, `group:`) whose binding is dropped first, so that
    whoever holds the name or path in this pull takes it: the operator's deliberate hand-over."""
    bindings = dict(previous.bindings) if previous else {}
    names = dict(previous.names) if previous else {}
    contested = set(previous.contested) if previous else set()
    for token in release:
        if token.startswith("group:"):
            bindings.pop(token.removeprefix("group:"), None)
        else:
            names.pop(token, None)
            contested.discard(token)
    # Sorted by id so that two groups claiming one new path in the same pull bind deterministically.
    for group in sorted(data.groups, key=lambda g: g.id):
        bindings.setdefault(group.path, group.id)
    # Role keys are principal tokens; directory data written with bare role names is read as it meant.
    users = {user.id: _with_role_keys(user) for user in data.users}
    roles = [DirectoryRole(role_key(role.key), _role_keys(role.composites)) for role in data.roles]
    if previous:
        # Accounts a previous pull knew come first: they held their names before this pull's accounts.
        bind_names(names, contested, previous.users.values())
    bind_names(names, contested, data.users)
    tombstones = set(previous.tombstones) if previous else set()
    if previous:
        tombstones.update(user_id for user_id in previous.users if user_id not in users)
    tombstones.difference_update(users)  # an id back in the directory is that same account again
    synced_at = (now or datetime.now(UTC)).astimezone(UTC)
    return DirectorySnapshot(
        version=(previous.version + 1) if previous else 1,
        synced_at=synced_at,
        source=data.source,
        users=users,
        groups={group.id: _with_role_keys(group) for group in data.groups},
        roles={role.key: role for role in roles},
        bindings=bindings,
        tombstones=frozenset(tombstones),
        issuer=data.issuer,
        names=names,
        contested=frozenset(contested),
        unreadable_roles=data.unreadable_roles,
    )


def bind_names(names: dict[str, str], contested: set[str], users: Iterable[DirectoryUser]) -> None:
    """Bind each name no account owns yet to the one account that holds it; several holders contest it."""
    holders: dict[str, set[str]] = {}
    for user in users:
        for name in names_of(user):
            holders.setdefault(name, set()).add(user.id)
    for name, ids in holders.items():
        if name in names or name in contested:
            continue
        if len(ids) == 1:
            names[name] = next(iter(ids))
        else:
            contested.add(name)


def names_of(user: DirectoryUser) -> list[str]:
    """The `user:` and `email:` tokens of an account's current names (a name that is no principal: none).

    Parsing is memoised per name: each sync's snapshot re-indexes every account by name, and the names
    rarely change between syncs."""
    return [name for name in (user_token(user.username), email_token(user.email)) if name is not None]


@lru_cache(maxsize=1 << 16)
def user_token(username: str | None) -> str | None:
    """`user:<username>`, or None when there is none or it grants nothing (invalid, or changed by NFKC)."""
    return _token(Principal.user, username)


@lru_cache(maxsize=1 << 16)
def email_token(address: str | None) -> str | None:
    """`email:<address>`, or None when there is none or it is not a usable address."""
    return _token(Principal.email, address)


def _token(build: Callable[[str], Principal], raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return str(build(raw))
    except PrincipalError:
        return None


def _by_owner(bindings: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """A binding table (name or path → owner id) turned around: owner id → everything bound to it."""
    owned: dict[str, set[str]] = {}
    for bound, owner in bindings.items():
        owned.setdefault(owner, set()).add(bound)
    return {owner: frozenset(found) for owner, found in owned.items()}


def _sorted_users(users: Mapping[str, DirectoryUser]) -> list[DirectoryUser]:
    return [users[key] for key in sorted(users)]


def _role_keys(keys: Iterable[str]) -> frozenset[str]:
    return frozenset(role_key(key) for key in keys)


def _with_role_keys(holder: _Holder) -> _Holder:
    """A user or group whose role keys are all principal tokens (copied only when one is not)."""
    if all(key.startswith(ROLE_PREFIXES) for key in holder.roles):
        return holder
    return replace(holder, roles=_role_keys(holder.roles))


def _role_token(key: str) -> list[str]:
    """A role key's token, or nothing for a role whose name is no principal (its composites still count)."""
    try:
        return [str(parse_principal(key))]
    except PrincipalError:
        return []


def _group_token(path: str) -> list[str]:
    """`group:<path>`, or nothing: a path that is not a valid principal grants nothing."""
    try:
        return [str(Principal.group(path))]
    except PrincipalError:
        return []
