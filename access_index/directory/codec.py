"""The snapshot's stored form (JSON), read back strictly: a damaged snapshot is an error, never "empty".

Format 2 records the issuer the directory answers for, the name bindings (`user:`/`email:` → user id)
and contested names, and writes role keys as principal tokens. Format 1 (before these) is still read:
its role keys (`name`, `client/name`) become `role:`/`client-role:` tokens, its users' names are bound to
them, its tombstoned usernames and e-mails stay refused as deleted, and it names no issuer (`serve` reads
it as the directory of the issuer its settings give the directory, until the next sync rewrites it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from access_index.directory.model import DirectoryGroup, DirectoryRole, DirectoryUser
from access_index.directory.snapshot import DirectorySnapshot, bind_names, email_token, user_token
from access_index.errors import DirectoryError
from access_index.principals import role_key

FORMAT = 2
READABLE_FORMATS = (1, 2)
# Format 1 kept deleted users' names, not their ids: each such name is bound to this id, which no account
# has, so the name stays refused (deleted) and grants nobody.
FORMAT_1_DELETED = "format-1-deleted:"


def encode_snapshot(snapshot: DirectorySnapshot) -> bytes:
    """Canonical JSON bytes (sorted keys and lists, so equal snapshots encode equally)."""
    body = {
        "format": FORMAT,
        "version": snapshot.version,
        "synced_at": snapshot.synced_at.astimezone(UTC).isoformat(),
        "source": snapshot.source,
        "issuer": snapshot.issuer,
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
        "names": dict(sorted(snapshot.names.items())),
        "contested": sorted(snapshot.contested),
        "tombstones": sorted(snapshot.tombstones),
        "unreadable_roles": sorted(snapshot.unreadable_roles),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode_snapshot(raw: bytes, where: str) -> DirectorySnapshot:
    """Parse stored bytes; DirectoryError (naming `where`) on anything unexpected."""
    try:
        body = json.loads(raw)
        found = body.get("format")
        if found not in READABLE_FORMATS:
            raise ValueError(f"unsupported snapshot format {found!r} (expected one of {READABLE_FORMATS})")
        role_key: Callable[[object], str] = _text if found == 2 else _format_1_role
        synced_at = datetime.fromisoformat(_text(body["synced_at"]))
        if synced_at.tzinfo is None:
            raise ValueError("synced_at has no time zone")
        users = [_user(item, role_key) for item in body["users"]]
        groups = [_group(item, role_key) for item in body["groups"]]
        roles = [
            DirectoryRole(role_key(r["key"]), frozenset(role_key(c) for c in _list(r["composites"])))
            for r in body["roles"]
        ]
        bindings = {_text(path): _text(group_id) for path, group_id in dict(body["bindings"]).items()}
        version = body["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"bad version {version!r}")
        if found == 2:
            issuer = body["issuer"]
            names = {_text(name): _text(user_id) for name, user_id in dict(body["names"]).items()}
            contested, tombstones = _texts(body["contested"]), _texts(body["tombstones"])
            unreadable = _texts(body["unreadable_roles"])
        else:
            issuer, unreadable = None, frozenset()
            names, tombstones = _format_1_tombstones(_texts(body["tombstones"]))
            held: set[str] = set()
            bind_names(names, held, users)  # its users held their names first (after the deleted ones)
            contested = frozenset(held)
        return DirectorySnapshot(
            version=version,
            synced_at=synced_at.astimezone(UTC),
            source=_text(body["source"]),
            users={user.id: user for user in users},
            groups={group.id: group for group in groups},
            roles={role.key: role for role in roles},
            bindings=bindings,
            tombstones=tombstones,
            issuer=None if issuer is None else _text(issuer),
            names=names,
            contested=contested,
            unreadable_roles=unreadable,
        )
    except DirectoryError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DirectoryError(
            f"directory snapshot {where} is unreadable ({error}): run `clearance acl-sync --once` to rebuild it"
        ) from error


def _user(item: dict[str, Any], role_key: Callable[[object], str]) -> DirectoryUser:
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
        roles=frozenset(role_key(role) for role in _list(item["roles"])),
    )


def _group(item: dict[str, Any], role_key: Callable[[object], str]) -> DirectoryGroup:
    parent = item.get("parent_id")
    return DirectoryGroup(
        id=_text(item["id"]),
        path=_text(item["path"]),
        parent_id=None if parent is None else _text(parent),
        roles=frozenset(role_key(role) for role in _list(item["roles"])),
    )


def _format_1_role(value: object) -> str:
    """Format 1 keyed a realm role by its name and a client role by `client/name`."""
    return role_key(_text(value))


def _format_1_tombstones(identifiers: frozenset[str]) -> tuple[dict[str, str], frozenset[str]]:
    """Format 1's tombstones were lower-cased usernames and e-mails: bind each to an id nobody has."""
    names: dict[str, str] = {}
    for identifier in identifiers:
        # Either spelling may have been meant (a username can look like an address): both stay refused.
        for name in (user_token(identifier), email_token(identifier)):
            if name is not None:
                names[name] = FORMAT_1_DELETED + identifier
    return names, frozenset(names.values())


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _list(values: object) -> list[Any]:
    if not isinstance(values, list):
        raise ValueError(f"expected a list, got {values!r}")
    return values


def _texts(values: object) -> frozenset[str]:
    return frozenset(_text(value) for value in _list(values))
