"""The directory snapshot: the last good pull plus what must survive across pulls, and caller resolution.

Two facts outlive a single pull and are carried from snapshot to snapshot:
- bindings (group path → group id): the first group id ever seen at a path owns that path forever, so a
  renamed or moved group keeps the paths its documents name, and a new group that takes an old path gains
  nothing from it; a deleted group's paths stay bound to an id nobody belongs to (they match nobody);
- tombstones: usernames and e-mails of users a previous snapshot knew and the current pull lacks, so a
  deleted user's still-valid token gets 403 instead of being treated as an unknown caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal

from access_index.directory.model import DirectoryData, DirectoryGroup, DirectoryRole, DirectoryUser
from access_index.errors import PrincipalError
from access_index.principals import parse_principal

Status = Literal["active", "disabled", "deleted", "unknown"]


@dataclass(frozen=True)
class Resolution:
    """What the directory says about a caller; `tokens` is empty unless `status` is "active"."""

    status: Status
    tokens: frozenset[str] = frozenset()
    user_id: str | None = None


@dataclass(frozen=True)
class DirectorySnapshot:
    """A versioned, immutable view of the directory at `synced_at` (UTC)."""

    version: int
    synced_at: datetime
    source: str
    users: Mapping[str, DirectoryUser]
    groups: Mapping[str, DirectoryGroup]
    roles: Mapping[str, DirectoryRole]
    bindings: Mapping[str, str]
    tombstones: frozenset[str] = frozenset()

    def age_seconds(self, now: datetime | None = None) -> float:
        """Seconds since this snapshot was synced (never negative)."""
        current = now or datetime.now(UTC)
        return max(0.0, (current - self.synced_at).total_seconds())

    def resolve(self, username: str | None, email: str | None) -> Resolution:
        """The caller's status and the principal tokens the directory grants them.

        The username decides when it names a current user; the e-mail only when it does not. If the e-mail
        names a different, disabled user, the caller is treated as disabled (fail closed).
        """
        name = username.lower() if username else None
        mail = email.lower() if email else None
        by_name = self._by_username.get(name) if name else None
        by_mail = self._by_email.get(mail) if mail else None
        user = by_name or by_mail
        if user is None:
            gone = (name is not None and name in self.tombstones) or (mail is not None and mail in self.tombstones)
            return Resolution("deleted" if gone else "unknown")
        if not user.enabled or (by_mail is not None and not by_mail.enabled):
            return Resolution("disabled", user_id=user.id)
        return Resolution("active", self._user_tokens(user), user.id)

    def group_tokens(self, group_id: str) -> frozenset[str]:
        """`group:` tokens a member of this group holds: every path bound to it or to an ancestor."""
        return self._group_tokens.get(group_id, frozenset())

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

    def _user_tokens(self, user: DirectoryUser) -> frozenset[str]:
        tokens: set[str] = set()
        role_keys: set[str] = set(user.roles)
        for identifier in (user.username, user.email):
            if identifier:
                tokens.update(_valid(f"user:{identifier}"))
        for group_id in user.group_ids:
            if group_id not in self.groups:
                continue  # a membership of a group the pull does not know grants nothing
            tokens.update(self.group_tokens(group_id))
            for ancestor in self._lineage(group_id):
                role_keys.update(self.groups[ancestor].roles)
        for key in self.expand_roles(role_keys):
            tokens.update(_valid(f"role:{key}"))
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
    def _by_username(self) -> dict[str, DirectoryUser]:
        return {user.username.lower(): user for user in _sorted_users(self.users)}

    @cached_property
    def _by_email(self) -> dict[str, DirectoryUser]:
        # A duplicated e-mail (Keycloak allows it when "duplicate emails" is on) resolves to nobody.
        found: dict[str, DirectoryUser] = {}
        duplicated: set[str] = set()
        for user in _sorted_users(self.users):
            if user.email:
                mail = user.email.lower()
                if mail in found:
                    duplicated.add(mail)
                found[mail] = user
        return {mail: user for mail, user in found.items() if mail not in duplicated}

    @cached_property
    def _paths_by_group(self) -> dict[str, frozenset[str]]:
        paths: dict[str, set[str]] = {}
        for path, group_id in self.bindings.items():
            paths.setdefault(group_id, set()).add(path)
        return {group_id: frozenset(found) for group_id, found in paths.items()}

    @cached_property
    def _group_tokens(self) -> dict[str, frozenset[str]]:
        result: dict[str, frozenset[str]] = {}
        for group_id in self.groups:
            tokens: set[str] = set()
            for member_of in self._lineage(group_id):
                for path in self._paths_by_group.get(member_of, ()):
                    tokens.update(_valid(f"group:{path}"))
            result[group_id] = frozenset(tokens)
        return result


def build_snapshot(
    data: DirectoryData, previous: DirectorySnapshot | None, now: datetime | None = None
) -> DirectorySnapshot:
    """The next snapshot from a complete pull, carrying bindings and tombstones forward."""
    bindings = dict(previous.bindings) if previous else {}
    # Sorted by id so that two groups claiming one new path in the same pull bind deterministically.
    for group in sorted(data.groups, key=lambda g: g.id):
        bindings.setdefault(group.path, group.id)
    users = {user.id: user for user in data.users}
    tombstones = set(previous.tombstones) if previous else set()
    if previous:
        for old in previous.users.values():
            if old.id not in users:
                tombstones.update(identifier.lower() for identifier in (old.username, old.email) if identifier)
    synced_at = (now or datetime.now(UTC)).astimezone(UTC)
    return DirectorySnapshot(
        version=(previous.version + 1) if previous else 1,
        synced_at=synced_at,
        source=data.source,
        users=users,
        groups={group.id: group for group in data.groups},
        roles={role.key: role for role in data.roles},
        bindings=bindings,
        tombstones=frozenset(tombstones),
    )


def _sorted_users(users: Mapping[str, DirectoryUser]) -> list[DirectoryUser]:
    return [users[key] for key in sorted(users)]


def _valid(token: str) -> list[str]:
    """The canonical token, or nothing: a name that is not a valid principal grants nothing."""
    try:
        return [str(parse_principal(token))]
    except PrincipalError:
        return []
