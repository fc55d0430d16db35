"""Principals: who an ACL names and who a caller is, as prefixed strings (see docs/acl-semantics.md).

user:<username> | user:<email>       one person (lower-cased: IdPs compare them case-insensitively)
group:/<path>                        an IAM group by path; membership implies every ancestor
role:<name> | role:<client>/<name>   a realm or client role
client:<client_id>                   a service account or agent acting for itself
authenticated                        any authenticated caller of the same tenant
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from access_index.errors import PrincipalError

Kind = Literal["user", "group", "role", "client", "authenticated"]
AUTHENTICATED = "authenticated"
MAX_PRINCIPAL_LENGTH = 512

# Printable, no whitespace, separators or invisible characters an attacker could use to smuggle a second
# principal or to make two different principals look alike.
_INVISIBLE = "\u00ad\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff"
_NAME = re.compile(rf"[^\s\x00-\x1f\x7f,;{_INVISIBLE}]+")
_GROUP_SEGMENT = re.compile(rf"[^/\s\x00-\x1f\x7f,;{_INVISIBLE}]+")


@dataclass(frozen=True, order=True)
class Principal:
    """A validated principal; `str()` gives the canonical token stored in ACL payloads."""

    kind: Kind
    name: str = ""

    def __str__(self) -> str:
        return AUTHENTICATED if self.kind == "authenticated" else f"{self.kind}:{self.name}"

    @staticmethod
    def user(name: str) -> Principal:
        return parse_principal(f"user:{name}")

    @staticmethod
    def group(path: str) -> Principal:
        return parse_principal(f"group:{path}")

    @staticmethod
    def role(name: str, client: str | None = None) -> Principal:
        return parse_principal(f"role:{client}/{name}" if client else f"role:{name}")


def parse_principal(value: object) -> Principal:
    """Parse and validate one principal string; PrincipalError names the offending value."""
    if not isinstance(value, str):
        raise PrincipalError(value, "a principal is a string such as 'user:alice' or 'group:/eng'")
    if len(value) > MAX_PRINCIPAL_LENGTH:
        raise PrincipalError(value[:64] + "…", f"longer than {MAX_PRINCIPAL_LENGTH} characters")
    if value == AUTHENTICATED:
        return Principal("authenticated")
    kind, sep, name = value.partition(":")
    if not sep:
        raise PrincipalError(value, "missing type prefix (user:, group:, role:, client: or 'authenticated')")
    if not name:
        raise PrincipalError(value, "empty name after the prefix")
    if kind == "user":
        _check_name(value, name)
        return Principal("user", name.lower())
    if kind == "group":
        return Principal("group", _normalize_group_path(value, name))
    if kind == "role":
        client, slash, role = name.partition("/")
        parts = [client, role] if slash else [name]
        for part in parts:
            if not part:
                raise PrincipalError(value, "a client role is written role:<client>/<name>")
            _check_name(value, part)
        return Principal("role", name)
    if kind == "client":
        _check_name(value, name)
        return Principal("client", name)
    raise PrincipalError(value, f"unknown type {kind!r} (use user:, group:, role:, client: or 'authenticated')")


def _check_name(value: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise PrincipalError(value, "names may not contain whitespace, control characters, ',' or ';'")


def _normalize_group_path(value: str, path: str) -> str:
    if not path.startswith("/"):
        raise PrincipalError(value, "a group is named by its path from the root, e.g. group:/eng/backend")
    segments = path[1:].split("/")
    if path == "/" or any(not segment for segment in segments):
        raise PrincipalError(value, "a group path has no empty segments (no '//' and no trailing '/')")
    for segment in segments:
        if not _GROUP_SEGMENT.fullmatch(segment) or segment in {".", ".."}:
            raise PrincipalError(value, f"invalid group path segment {segment!r}")
    return path


def parse_principals(values: Iterable[object]) -> frozenset[Principal]:
    return frozenset(parse_principal(value) for value in values)


def group_ancestors(path: str) -> list[str]:
    """'/eng/backend/api' → ['/eng/backend/api', '/eng/backend', '/eng']."""
    segments = path.strip("/").split("/")
    return ["/" + "/".join(segments[:depth]) for depth in range(len(segments), 0, -1)]


def expand_groups(principals: Iterable[Principal]) -> frozenset[Principal]:
    """Add every ancestor of each group: a member of a subgroup also matches its parents."""
    expanded: set[Principal] = set()
    for principal in principals:
        if principal.kind == "group":
            expanded.update(Principal("group", ancestor) for ancestor in group_ancestors(principal.name))
        else:
            expanded.add(principal)
    return frozenset(expanded)
