"""The YAML directory (`CLEARANCE_DIRECTORY_FILE`): the same facts a Keycloak pull yields, for setups
without an IAM server. Every mistake is reported with the file, the line and the fix; nothing is guessed.

    version: 1
    issuer: https://idp.acme.example/realms/acme
    groups: [{id: g-eng, path: /eng, roles: [viewer]}, {id: g-backend, path: /eng/backend}]
    roles:  [{name: auditor, composites: [viewer, "client-role:crm/reader"]}, {name: "client-role:crm/reader"}]
    users:  [{username: alice, email: alice@acme.example, enabled: true, groups: [g-backend], roles: [auditor]}]

`issuer` is the OIDC issuer whose tokens these users carry (optional when exactly one issuer is trusted:
acl_sync/file_source.py then supplies it). A group's parent is the group whose path is its path's parent;
a user's id defaults to its username. A role is named as the IAM names it (`auditor`: a realm role) or by
its principal (`role:<name>`, `client-role:<client_id>/<name>`); `crm/reader`, the old spelling of a
client role, is still read as `client-role:crm/reader`, with a warning in the sync report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from access_index.directory.model import DirectoryData, DirectoryGroup, DirectoryRole, DirectoryUser
from access_index.errors import DirectoryError, PrincipalError
from access_index.principals import ROLE_PREFIXES, Principal, parse_principal, role_key

_TOP_KEYS = {"version", "issuer", "groups", "roles", "users"}
_GROUP_KEYS = {"id", "path", "roles"}
_ROLE_KEYS = {"name", "composites"}
_USER_KEYS = {"id", "username", "email", "enabled", "groups", "roles"}


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers the line it starts on."""

    line = 0


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Mapping:
    mapping = _Mapping({str(key): value for key, value in loader.construct_mapping(node, deep=True).items()})
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_directory_file(path: Path) -> DirectoryData:
    """Parse and validate a directory file; DirectoryError names the file, the line and the fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DirectoryError(
            f"{path}: cannot read the directory file ({error}): check CLEARANCE_DIRECTORY_FILE"
        ) from error
    try:
        body = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise DirectoryError(f"{path}{line}: not valid YAML ({error}): fix the syntax") from error
    return _Reader(path).read(body)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.warnings: list[str] = []

    def fail(self, line: int, problem: str, fix: str) -> DirectoryError:
        return DirectoryError(f"{self.path}:{line}: {problem}: {fix}")

    def read(self, body: object) -> DirectoryData:
        if not isinstance(body, _Mapping):
            raise self.fail(1, "the file is not a mapping", "start with `version: 1` and lists groups, roles, users")
        self.keys(body, _TOP_KEYS, "the top level")
        if body.get("version") != 1:
            raise self.fail(body.line, f"version is {body.get('version')!r}", "write `version: 1`")
        issuer = body.get("issuer")
        if issuer is not None and (not isinstance(issuer, str) or not issuer.strip() or issuer != issuer.strip()):
            raise self.fail(body.line, f"issuer {issuer!r} is not an issuer URL", "write `issuer: <the tokens' iss>`")
        groups = self.groups(self.items(body, "groups"))
        roles = [self.role(item) for item in self.items(body, "roles")]
        users = [self.user(item, groups) for item in self.items(body, "users")]
        seen_names: dict[str, int] = {}
        for item, user in zip(self.items(body, "users"), users, strict=True):
            for identifier in (str(Principal.user(user.username)), f"id {user.id}"):
                if identifier in seen_names and seen_names[identifier] != item.line:
                    raise self.fail(item.line, f"user {identifier!r} is listed twice", "merge the two entries")
                seen_names[identifier] = item.line
        return DirectoryData(
            source=f"file:{self.path}",
            users=tuple(users),
            groups=tuple(groups.values()),
            roles=tuple(roles),
            warnings=tuple(self.warnings),
            issuer=issuer,
        )

    def items(self, body: _Mapping, key: str) -> list[_Mapping]:
        value = body.get(key) or []
        if not isinstance(value, list):
            raise self.fail(body.line, f"`{key}` is not a list", f"write `{key}:` followed by `- ...` entries")
        for item in value:
            if not isinstance(item, _Mapping):
                raise self.fail(body.line, f"an entry of `{key}` is not a mapping", "write entries as {key: value}")
        return value

    def keys(self, item: _Mapping, allowed: set[str], what: str) -> None:
        unknown = sorted(set(item) - allowed)
        if unknown:
            raise self.fail(item.line, f"unknown key(s) {unknown} in {what}", f"use only {sorted(allowed)}")

    def text(self, item: _Mapping, key: str, what: str) -> str:
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(item.line, f"{what} has no `{key}`", f"add `{key}: <text>`")
        return value

    def texts(self, item: _Mapping, key: str) -> list[str]:
        value = item.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(item.line, f"`{key}` is not a list of names", f"write `{key}: [a, b]`")
        return value

    def role_keys(self, item: _Mapping, key: str) -> frozenset[str]:
        return frozenset(self.role_key(item, name) for name in self.texts(item, key))

    def role_key(self, item: _Mapping, name: str) -> str:
        """A role's principal token: `name` is a realm role's IAM name, or a `role:`/`client-role:` token."""
        fix = "name a realm role as the IAM does (`auditor`) or write `role:<name>` / `client-role:<client>/<name>`"
        key = self.check_principal(item, role_key(name), fix)
        if not name.startswith(ROLE_PREFIXES) and "/" in name:
            self.warnings.append(
                f"{self.path}:{item.line}: role {name!r} is the old spelling of the client role {key!r}: write that"
            )
        return key

    def check_principal(self, item: _Mapping, token: str, fix: str) -> str:
        try:
            return str(parse_principal(token))
        except PrincipalError as error:
            raise self.fail(item.line, error.reason + f" in {token!r}", fix) from error

    def check(self, item: _Mapping, build: Callable[[], Principal], what: str, fix: str) -> None:
        try:
            build()
        except PrincipalError as error:
            raise self.fail(item.line, f"{what}: {error.reason}", fix) from error

    def groups(self, items: list[_Mapping]) -> dict[str, DirectoryGroup]:
        by_path: dict[str, tuple[str, _Mapping]] = {}
        ids: set[str] = set()
        for item in items:
            self.keys(item, _GROUP_KEYS, "a group")
            group_id = self.text(item, "id", "a group")
            path = self.check_principal(item, f"group:{self.text(item, 'path', 'a group')}", "write /parent/child")
            path = path.removeprefix("group:")
            if group_id in ids:
                raise self.fail(item.line, f"group id {group_id!r} is listed twice", "give every group its own id")
            if path in by_path:
                raise self.fail(item.line, f"group path {path!r} is listed twice", "give every group its own path")
            ids.add(group_id)
            by_path[path] = (group_id, item)
        groups: dict[str, DirectoryGroup] = {}
        for path, (group_id, item) in by_path.items():
            parent_path = path.rsplit("/", 1)[0]
            parent_id = None
            if parent_path:
                if parent_path not in by_path:
                    raise self.fail(
                        item.line, f"group {path!r} has no parent group {parent_path!r}", "list the parent group too"
                    )
                parent_id = by_path[parent_path][0]
            groups[group_id] = DirectoryGroup(group_id, path, parent_id, self.role_keys(item, "roles"))
        return groups

    def role(self, item: _Mapping) -> DirectoryRole:
        self.keys(item, _ROLE_KEYS, "a role")
        return DirectoryRole(self.role_key(item, self.text(item, "name", "a role")), self.role_keys(item, "composites"))

    def user(self, item: _Mapping, groups: dict[str, DirectoryGroup]) -> DirectoryUser:
        self.keys(item, _USER_KEYS, "a user")
        username = self.text(item, "username", "a user")
        fix = "use a username of plain characters, without spaces, ',' or ';'"
        self.check(item, lambda: Principal.user(username), f"username {username!r}", fix)
        email = item.get("email")
        if email is not None:
            if not isinstance(email, str):
                raise self.fail(item.line, f"email {email!r} is not an address", "write `email: name@example.org`")
            self.check(item, lambda: Principal.email(email), f"email {email!r}", "write `email: name@example.org`")
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            raise self.fail(item.line, f"enabled is {enabled!r}", "write `enabled: true` or `enabled: false`")
        member_of = self.texts(item, "groups")
        for group_id in member_of:
            if group_id not in groups:
                raise self.fail(
                    item.line, f"user {username!r} names unknown group id {group_id!r}", "use an id from `groups`"
                )
        user_id = item.get("id", username)
        if not isinstance(user_id, str) or not user_id:
            raise self.fail(item.line, f"user id {user_id!r} is not text", "write `id: <text>` or leave it out")
        return DirectoryUser(
            id=user_id,
            username=username,
            email=email,
            enabled=enabled,
            group_ids=frozenset(member_of),
            roles=self.role_keys(item, "roles"),
        )
