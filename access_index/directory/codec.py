"""The snapshot's stored form (JSON), read back strictly: a damaged snapshot is an error, never "empty"."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from access_index.directory.model import DirectoryGroup, DirectoryRole, DirectoryUser
from access_index.directory.snapshot import DirectorySnapshot
from access_index.errors import DirectoryError

FORMAT = 1


def encode_snapshot(snapshot: DirectorySnapshot) -> bytes:
    """Canonical JSON bytes (sorted keys and lists, so equal snapshots encode equally)."""
    body = {
        "format": FORMAT,
        "version": snapshot.version,
        "synced_at": snapshot.synced_at.astimezone(UTC).isoformat(),
        "source": snapshot.source,
        "users": [
            {
                "id": user.id,
                "username": user.username,
                "email": user.email,
                "enabled": user.enabled,
                "groups": sorted(user.group_ids),
                "roles": sorted(user.roles),
            }
            for _, user in sorted(snapshot.users.items())
        ],
        "groups": [
            {"id": group.id, "path": group.path, "parent_id": group.parent_id, "roles": sorted(group.roles)}
            for _, group in sorted(snapshot.groups.items())
        ],
        "roles": [
            {"key": role.key, "composites": sorted(role.composites)} for _, role in sorted(snapshot.roles.items())
        ],
        "bindings": dict(sorted(snapshot.bindings.items())),
        "tombstones": sorted(snapshot.tombstones),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode_snapshot(raw: bytes, where: str) -> DirectorySnapshot:
    """Parse stored bytes; DirectoryError (naming `where`) on anything unexpected."""
    try:
        body = json.loads(raw)
        if body.get("format") != FORMAT:
            raise ValueError(f"unsupported snapshot format {body.get('format')!r} (expected {FORMAT})")
        synced_at = datetime.fromisoformat(_text(body["synced_at"]))
        if synced_at.tzinfo is None:
            raise ValueError("synced_at has no time zone")
        users = [_user(item) for item in body["users"]]
        groups = [_group(item) for item in body["groups"]]
        roles = [DirectoryRole(_text(r["key"]), _texts(r["composites"])) for r in body["roles"]]
        bindings = {_text(path): _text(group_id) for path, group_id in dict(body["bindings"]).items()}
        version = body["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"bad version {version!r}")
        return DirectorySnapshot(
            version=version,
            synced_at=synced_at.astimezone(UTC),
            source=_text(body["source"]),
            users={user.id: user for user in users},
            groups={group.id: group for group in groups},
            roles={role.key: role for role in roles},
            bindings=bindings,
            tombstones=_texts(body["tombstones"]),
        )
    except DirectoryError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DirectoryError(
            f"directory snapshot {where} is unreadable ({error}): run `clearance acl-sync --once` to rebuild it"
        ) from error


def _user(item: dict[str, Any]) -> DirectoryUser:
    email = item.get("email")
    enabled = item["enabled"]
    if not isinstance(enabled, bool):
        raise ValueError(f"user {item.get('id')!r}: enabled must be true or false")
    return DirectoryUser(
        id=_text(item["id"]),
        username=_text(item["username"]),
        email=None if email is None else _text(email),
        enabled=enabled,
        group_ids=_texts(item["groups"]),
        roles=_texts(item["roles"]),
    )


def _group(item: dict[str, Any]) -> DirectoryGroup:
    parent = item.get("parent_id")
    return DirectoryGroup(
        id=_text(item["id"]),
        path=_text(item["path"]),
        parent_id=None if parent is None else _text(parent),
        roles=_texts(item["roles"]),
    )


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _texts(values: object) -> frozenset[str]:
    if not isinstance(values, list):
        raise ValueError(f"expected a list, got {values!r}")
    return frozenset(_text(value) for value in values)
