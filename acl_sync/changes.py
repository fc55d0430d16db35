"""What changed between two directory snapshots, for the sync report and the change counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from access_index.directory import DirectorySnapshot


@dataclass(frozen=True)
class GroupMove:
    """A group whose path changed while its id stayed (rename or move)."""

    group_id: str
    old_path: str
    new_path: str


@dataclass(frozen=True)
class DirectoryChanges:
    """Differences from the previous snapshot (everything counts as added on the first sync)."""

    users_added: tuple[str, ...] = ()
    users_removed: tuple[str, ...] = ()
    users_disabled: tuple[str, ...] = ()
    users_enabled: tuple[str, ...] = ()
    memberships_added: int = 0
    memberships_removed: int = 0
    role_mappings_changed: int = 0
    groups_added: tuple[str, ...] = ()
    groups_removed: tuple[str, ...] = ()
    groups_moved: tuple[GroupMove, ...] = ()
    roles_changed: int = 0

    @property
    def total(self) -> int:
        return (
            len(self.users_added)
            + len(self.users_removed)
            + len(self.users_disabled)
            + len(self.users_enabled)
            + self.memberships_added
            + self.memberships_removed
            + self.role_mappings_changed
            + len(self.groups_added)
            + len(self.groups_removed)
            + len(self.groups_moved)
            + self.roles_changed
        )

    def counts(self) -> dict[str, int]:
        """Per-kind counts (the labels of the changes counter)."""
        return {
            "users_added": len(self.users_added),
            "users_removed": len(self.users_removed),
            "users_disabled": len(self.users_disabled),
            "users_enabled": len(self.users_enabled),
            "memberships_added": self.memberships_added,
            "memberships_removed": self.memberships_removed,
            "role_mappings_changed": self.role_mappings_changed,
            "groups_added": len(self.groups_added),
            "groups_removed": len(self.groups_removed),
            "groups_moved": len(self.groups_moved),
            "roles_changed": self.roles_changed,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "users_removed_names": list(self.users_removed),
            "users_disabled_names": list(self.users_disabled),
            "groups_moved_paths": [
                {"id": move.group_id, "from": move.old_path, "to": move.new_path} for move in self.groups_moved
            ],
        }


def diff_snapshots(old: DirectorySnapshot | None, new: DirectorySnapshot) -> DirectoryChanges:
    """Users, memberships, role mappings, groups and roles that differ between `old` and `new`."""
    old_users = dict(old.users) if old else {}
    old_groups = dict(old.groups) if old else {}
    old_roles = dict(old.roles) if old else {}
    added = sorted(new.users[i].username for i in new.users.keys() - old_users.keys())
    removed = sorted(old_users[i].username for i in old_users.keys() - new.users.keys())
    disabled, enabled = [], []
    memberships_added = memberships_removed = role_changes = 0
    for user_id, user in new.users.items():
        before = old_users.get(user_id)
        if before is None:
            memberships_added += len(user.group_ids)
            role_changes += len(user.roles)
            continue
        if before.enabled and not user.enabled:
            disabled.append(user.username)
        elif not before.enabled and user.enabled:
            enabled.append(user.username)
        memberships_added += len(user.group_ids - before.group_ids)
        memberships_removed += len(before.group_ids - user.group_ids)
        role_changes += len(user.roles ^ before.roles)
    for group_id, group in new.groups.items():
        previous = old_groups.get(group_id)
        if previous is not None:
            role_changes += len(group.roles ^ previous.roles)
    moves = tuple(
        GroupMove(group_id, old_groups[group_id].path, group.path)
        for group_id, group in sorted(new.groups.items())
        if group_id in old_groups and old_groups[group_id].path != group.path
    )
    roles_changed = sum(1 for key, role in new.roles.items() if old_roles.get(key) != role) + len(
        old_roles.keys() - new.roles.keys()
    )
    return DirectoryChanges(
        users_added=tuple(added),
        users_removed=tuple(removed),
        users_disabled=tuple(sorted(disabled)),
        users_enabled=tuple(sorted(enabled)),
        memberships_added=memberships_added,
        memberships_removed=memberships_removed,
        role_mappings_changed=role_changes,
        groups_added=tuple(sorted(new.groups[i].path for i in new.groups.keys() - old_groups.keys())),
        groups_removed=tuple(sorted(old_groups[i].path for i in old_groups.keys() - new.groups.keys())),
        groups_moved=moves,
        roles_changed=roles_changed,
    )
