"""Principals: who an ACL names and who a caller is, as prefixed strings (see docs/acl-semantics.md).

user:<username>                      one person by username
email:<address>                      one person by e-mail address (a separate namespace from user:)
group:/<path>                        an IAM group by path; membership implies every ancestor
role:<name>                          a realm role
client-role:<client_id>/<name>       a client role
client:<client_id>                   a service account or agent acting for itself
authenticated                        any authenticated caller of the same tenant

Names are what the IAM calls things, written into the string with `/` and `%` percent-encoded (`%2F`,
`%25`), so the one `/` of a client role separates client from role and `role:a/b` can only be the old
spelling of a client role. User names and e-mail addresses are compared after NFKC normalisation and
case folding; a name that NFKC changes (U+212A KELVIN SIGN for `K`, fullwidth letters, `ſ`...) is a
look-alike of another name and grants nothing: it is refused here (PrincipalError), so an ACL that names
it does not load and a caller who carries it does not hold it.

This module is the one parser: ACL manifests, token claims, directory records and agent chains all build
their principals here, either from principal text (`parse_principal`) or from raw IAM names
(`Principal.user`, `Principal.role`, ...). `old_spelling` maps the spellings manifests used before
(`user:<address>`, `role:<client>/<name>`) to today's; `role_key` does the same for the bare role names
(`name`, `client/name`) directory data and `clearance token --role` used.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from access_index.errors import PrincipalError

Kind = Literal["user", "email", "group", "role", "client-role", "client", "authenticated"]
KINDS: tuple[str, ...] = ("user", "email", "group", "role", "client-role", "client", "authenticated")
AUTHENTICATED = "authenticated"
ROLE_PREFIXES = ("role:", "client-role:")
MAX_PRINCIPAL_LENGTH = 512

# Printable, no whitespace, separators or invisible characters an attacker could use to smuggle a second
# principal or to make two different principals look alike.
_INVISIBLE = "\u00ad\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff"
_NAME = re.compile(rf"[^\s\x00-\x1f\x7f,;{_INVISIBLE}]+")
_GROUP_SEGMENT = re.compile(rf"[^/\s\x00-\x1f\x7f,;{_INVISIBLE}]+")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# local@domain: one '@', a non-empty local part, a domain of non-empty dot-separated labels.
_ADDRESS = re.compile(r"[^@]+@[^@.]+(?:\.[^@.]+)*")
_SPELLINGS = "user:, email:, group:, role:, client-role:, client: or 'authenticated'"


@dataclass(frozen=True, order=True)
class Principal:
    """A validated principal; `name` is its canonical text after the prefix and `str()` the whole token
    stored in ACL payloads. Build one from principal text with `parse_principal`, or from raw IAM names
    with the constructors below (they encode `/` and `%`)."""

    kind: Kind
    name: str = ""

    def __str__(self) -> str:
        return AUTHENTICATED if self.kind == "authenticated" else f"{self.kind}:{self.name}"

    @staticmethod
    def user(username: str) -> Principal:
        """`user:<username>`; PrincipalError for a name that is invalid or that NFKC changes."""
        return parse_principal(f"user:{encode_name(username)}")

    @staticmethod
    def email(address: str) -> Principal:
        """`email:<address>`; PrincipalError unless it is an address (local@domain)."""
        return parse_principal(f"email:{encode_name(address)}")

    @staticmethod
    def group(path: str) -> Principal:
        return parse_principal(f"group:{path}")

    @staticmethod
    def role(name: str) -> Principal:
        """A realm role by its raw name."""
        return parse_principal(role_token(name))

    @staticmethod
    def client_role(client_id: str, name: str) -> Principal:
        """A client role by the raw clientId and role name."""
        return parse_principal(role_token(name, client_id))

    @staticmethod
    def client(client_id: str) -> Principal:
        return parse_principal(f"client:{encode_name(client_id)}")


def role_token(name: str, client_id: str | None = None) -> str:
    """The token a realm role (or, with `client_id`, a client role) is written as, not yet validated: the
    directory keys every role by it, including roles whose names are no principal (they grant nothing,
    but their composites still apply)."""
    if client_id is None:
        return f"role:{encode_name(name)}"
    return f"client-role:{encode_name(client_id)}/{encode_name(name)}"


def role_key(key: str) -> str:
    """A role written as a principal (`role:...`, `client-role:...`) as it is; a bare `name` (a realm role)
    or `client/name` (a client role), the way directory data and `clearance token --role` wrote roles
    before, as that role's token (not yet validated)."""
    if key.startswith(ROLE_PREFIXES):
        return key
    client, slash, name = key.partition("/")
    return role_token(name, client) if slash else role_token(key)


def encode_name(raw: str) -> str:
    """A raw IAM name as it is written inside a principal: `%` → `%25`, `/` → `%2F`."""
    return raw.replace("%", "%25").replace("/", "%2F")


def decode_name(value: str, written: str) -> str:
    """The raw name inside principal text; PrincipalError for a `%` that starts no escape or escapes that
    are not UTF-8. Any escape is decoded (`%41` is `A`), so every name has one canonical spelling."""
    if _BAD_ESCAPE.search(written):
        raise PrincipalError(value, "a '%' inside a name must start an escape such as %25 (for '%') or %2F ('/')")
    try:
        return unquote(written, errors="strict")
    except UnicodeDecodeError:
        raise PrincipalError(value, "a percent-encoded name must decode to UTF-8") from None


def parse_principal(value: object) -> Principal:
    """Parse and validate one principal string; PrincipalError names the offending value and the reason."""
    if not isinstance(value, str):
        raise PrincipalError(value, "a principal is a string such as 'user:alice' or 'group:/eng'")
    if len(value) > MAX_PRINCIPAL_LENGTH:
        raise PrincipalError(value[:64] + "…", f"longer than {MAX_PRINCIPAL_LENGTH} characters")
    if value == AUTHENTICATED:
        return Principal("authenticated")
    kind, sep, written = value.partition(":")
    if not sep:
        raise PrincipalError(value, f"missing type prefix (use {_SPELLINGS})")
    if not written:
        raise PrincipalError(value, "empty name after the prefix")
    if kind == "group":
        return Principal("group", _normalize_group_path(value, written))
    if kind == "user":
        return Principal("user", encode_name(_folded(value, _raw(value, written))))
    if kind == "email":
        address = _folded(value, _raw(value, written))
        if not _ADDRESS.fullmatch(address):
            raise PrincipalError(value, "an e-mail principal is an address, local@domain")
        return Principal("email", encode_name(address))
    if kind == "role":
        if "/" in written:
            raise PrincipalError(
                value, "a '/' in a realm role name is written %2F; a client role is client-role:<client_id>/<name>"
            )
        return Principal("role", encode_name(_raw(value, written)))
    if kind == "client-role":
        client, slash, role = written.partition("/")
        if not slash or not client or not role or "/" in role:
            raise PrincipalError(value, "a client role is client-role:<client_id>/<name> ('/' inside a name is %2F)")
        return Principal("client-role", f"{encode_name(_raw(value, client))}/{encode_name(_raw(value, role))}")
    if kind == "client":
        if "/" in written:
            raise PrincipalError(value, "a '/' in a client id is written %2F")
        return Principal("client", encode_name(_raw(value, written)))
    raise PrincipalError(value, f"unknown type {kind!r} (use {_SPELLINGS})")


def old_spelling(value: str) -> str | None:
    """Today's spelling of a principal written the way manifests used to, or None if `value` is not one.

    Names were written raw: `user:<address>` was a person's e-mail (`email:<address>`),
    `role:<client>/<name>` a client role (`client-role:<client>/<name>`, the rest after the first '/'
    being the role's name), and a `/` in a client id was written as is (`client:<id>`, now `%2F`).
    """
    kind, _, written = value.partition(":")
    if kind == "user" and _ADDRESS.fullmatch(written):
        return f"email:{encode_name(written)}"
    if kind == "role":
        client, slash, role = written.partition("/")
        if slash and client and role:
            return f"client-role:{encode_name(client)}/{encode_name(role)}"
    if kind == "client" and "/" in written:
        return f"client:{encode_name(written)}"
    return None


def _raw(value: str, written: str) -> str:
    raw = decode_name(value, written)
    if not _NAME.fullmatch(raw):
        raise PrincipalError(
            value, "names may not contain whitespace, control or invisible characters, ',' or ';' (encoded or not)"
        )
    return raw


def _folded(value: str, raw: str) -> str:
    """The name compared case-insensitively; a name NFKC changes is a look-alike and is refused."""
    if unicodedata.normalize("NFKC", raw) != raw:
        raise PrincipalError(
            value,
            "the name changes under Unicode NFKC normalisation (a look-alike character such as U+212A KELVIN "
            "SIGN or a fullwidth letter): it grants nothing",
        )
    return unicodedata.normalize("NFKC", raw.casefold())


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
