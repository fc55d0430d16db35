"""Compile a pulled Keycloak Authorization Services model into one ACL per resource, or none and why.

Clearance stores an ACL as "any of these, none of those" (allow and deny principal lists, deny wins). Every
policy is compiled to a `Grant` of that shape, and combined the way Keycloak evaluates it; a shape that
does not fit is never approximated: the resource gets no ACL (its documents are read by nobody) and the
reason names the permission and the policy. The table, policy type by policy type, is in
docs/acl-semantics.md ("Keycloak Authorization Services"); in short:

    user / group / role policy     their principals (a group policy without extendChildren only when the
                                   group has no subgroups; a role policy with at most one required role)
    client policy                  `client:<clientId>` — narrower than Keycloak (which grants any token
                                   issued to that client), so it may never be negated
    aggregate policy, permission   UNANIMOUS: one granting policy, the negative ones deny;
                                   AFFIRMATIVE: the union, when all deny the same; CONSENSUS: unsupported
    NEGATIVE logic                 "everyone but X" → deny X; only as part of a UNANIMOUS combination that
                                   also names who may read
    time, js, regex, anything else unsupported
    one resource, several permissions   combined by the resource server's decisionStrategy, as above

A resource URI that is not a glob of the contract's grammar refuses the whole model (a permanent `PullError`): which
documents it covers cannot be known, so no ACL of the model can be trusted to be the right one for them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from access_index.authz_model import AuthzModel, CompiledResource, uri_glob
from access_index.document_acl import DocumentAcl
from access_index.errors import PrincipalError, PullError
from access_index.manifest import label_problem
from access_index.principals import Principal
from acl_sync.authz_data import AuthzData, PulledPolicy, PulledResource

MAX_DEPTH = 16  # aggregate policies nested deeper than this (or in a cycle) are refused
T = TypeVar("T")


class _Unsupported(Exception):
    """A shape that is not "any of these, none of those"; the message says which and why."""


@dataclass(frozen=True)
class Grant:
    """Callers in `allow` (None: everyone) and in none of `deny`. `narrowed`: `allow` may name fewer callers
    than Keycloak grants (a client policy), which is safe as a grant and unsafe once negated."""

    allow: frozenset[str] | None
    deny: frozenset[str] = frozenset()
    narrowed: bool = False


def compile_model(data: AuthzData) -> AuthzModel:
    """The compiled model; PullError (not retried) when a resource URI is not a glob: the last good model stays."""
    for resource in data.resources:
        for uri in resource.uris:
            try:
                uri_glob(uri)
            except ValueError as error:
                raise PullError(
                    f"resource {resource.name!r} of client {data.client!r}: URI {uri!r} is not a glob over "
                    f"<source>/<path> ({error}): fix it in Keycloak; the last good ACLs stay until then",
                    retryable=False,
                ) from None
    compiler = _Compiler(data)
    return AuthzModel(data.client, data.pulled_at, tuple(compiler.resource(r) for r in data.resources))


class _Compiler:
    def __init__(self, data: AuthzData) -> None:
        self.data = data
        self.by_resource: dict[str, list[PulledPolicy]] = {}
        for permission in data.permissions:
            covered = permission.resources
            if permission.resource_type is not None:
                covered = tuple(r.id for r in data.resources if r.type == permission.resource_type)
            for resource_id in covered:
                self.by_resource.setdefault(resource_id, []).append(permission)

    def resource(self, resource: PulledResource) -> CompiledResource:
        permissions = sorted(self.by_resource.get(resource.id, ()), key=lambda p: (p.name, p.id))
        names = tuple(p.name for p in permissions)

        def unsupported(reason: str) -> CompiledResource:
            return CompiledResource(resource.id, resource.name, resource.uris, names, None, reason)

        if resource.owner_managed:
            return unsupported("owner-managed access: its owner can share it with UMA tickets, which are not synced")
        labels: dict[str, str] = {}
        for key, values in sorted(resource.attributes.items()):
            if len(values) != 1:
                return unsupported(f"attribute {key!r} has {len(values)} values; a label holds exactly one")
            problem = label_problem(key, values[0])
            if problem is not None:
                return unsupported(f"attribute {key!r} is not a label: {problem}")
            labels[key] = values[0]
        if not permissions:
            return unsupported("no permission covers it (Keycloak denies it too)")
        try:
            terms = [self.permission(p) for p in permissions]
            grant = _combine(terms, self.data.decision_strategy, f"the resource server's {len(terms)} permissions")
        except _Unsupported as error:
            return unsupported(str(error))
        if grant.allow is None:
            return unsupported(
                "it grants everyone outside a set (only negative policies apply): add a positive policy that names "
                "who may read"
            )
        if not grant.allow:
            return unsupported("it grants nobody")
        acl = DocumentAcl(tuple(sorted(grant.allow)), tuple(sorted(grant.deny)), labels)
        shown = f"allow {', '.join(acl.allow)}" + (f"; deny {', '.join(acl.deny)}" if acl.deny else "")
        listed = ", ".join(repr(name) for name in names)
        return CompiledResource(resource.id, resource.name, resource.uris, names, acl, f"permission {listed}: {shown}")

    def permission(self, permission: PulledPolicy) -> Grant:
        where = f"permission {permission.name!r}"
        if permission.type != "resource":
            raise _Unsupported(f"{where} is a {permission.type}-based permission; only resource permissions are read")
        try:
            return self.combined(permission, ())
        except _Unsupported as error:
            raise _Unsupported(f"{where}: {error}") from None

    def policy(self, policy_id: str, stack: tuple[str, ...]) -> Grant:
        policy = self.data.policies.get(policy_id)
        if policy is None:
            raise _Unsupported(f"associated policy {policy_id} was not listed by Keycloak")
        if policy_id in stack or len(stack) >= MAX_DEPTH:
            raise _Unsupported(f"policy {policy.name!r} is nested in itself or deeper than {MAX_DEPTH} levels")
        try:
            grant = self.combined(policy, stack) if policy.type == "aggregate" else self.simple(policy)
        except _Unsupported as error:
            raise _Unsupported(f"policy {policy.name!r} ({policy.type}): {error}") from None
        return grant

    def combined(self, policy: PulledPolicy, stack: tuple[str, ...]) -> Grant:
        """An aggregate policy or a permission: its associated policies under its strategy, then its logic."""
        terms = [self.policy(associated, (*stack, policy.id)) for associated in policy.associated]
        grant = _combine(terms, policy.decision_strategy, f"{len(terms)} policies")
        return _logic(grant, policy.logic)

    def simple(self, policy: PulledPolicy) -> Grant:
        reader = _SIMPLE.get(policy.type)
        if reader is None:
            raise _Unsupported(
                f"a {policy.type} policy decides from something other than who the caller is (time, code, claims), "
                "which an ACL cannot hold"
            )
        return _logic(reader(self, policy), policy.logic)

    def users(self, policy: PulledPolicy) -> Grant:
        users = self.data.names.users
        ids = _json_list(policy, "users")
        return Grant(frozenset(self.principal(partial(_named, Principal.user, users, i), i) for i in ids))

    def groups(self, policy: PulledPolicy) -> Grant:
        if policy.config.get("groupsClaim"):
            raise _Unsupported("it reads groups from a token claim (groupsClaim), not from membership")
        found = set()
        for entry, group in _id_entries(policy, "groups", self.data.names.groups):
            if entry.get("extendChildren") is not True and group.subgroups:
                raise _Unsupported(
                    f"group {group.path!r} has subgroups and the policy does not extend to children, while "
                    "group: includes subgroup members: tick 'extend to children' or name the members otherwise"
                )
            found.add(self.principal(partial(Principal.group, group.path), entry["id"]))
        return Grant(frozenset(found))

    def roles(self, policy: PulledPolicy) -> Grant:
        required: set[str] = set()
        optional: set[str] = set()
        for entry, token in _id_entries(policy, "roles", self.data.names.roles):
            (required if entry.get("required") is True else optional).add(token)
        if len(required) > 1:
            raise _Unsupported(f"it requires all of {sorted(required)}: an intersection, not 'any of'")
        return Grant(frozenset(required or optional))

    def clients(self, policy: PulledPolicy) -> Grant:
        clients = self.data.names.clients
        ids = _json_list(policy, "clients")
        found = frozenset(self.principal(partial(_named, Principal.client, clients, i), i) for i in ids)
        return Grant(found, narrowed=True)

    @staticmethod
    def principal(build: Callable[[], Principal], written: object) -> str:
        try:
            return str(build())
        except KeyError:
            raise _Unsupported(f"id {written} does not resolve to a name") from None
        except PrincipalError as error:
            raise _Unsupported(f"{written} names no valid principal: {error}") from None


_SIMPLE = {
    "user": _Compiler.users,
    "group": _Compiler.groups,
    "role": _Compiler.roles,
    "client": _Compiler.clients,
}


def _named(build: Callable[[str], Principal], names: Mapping[str, str], entity_id: object) -> Principal:
    """The principal of an id through `names`; KeyError when it does not resolve."""
    return build(names[entity_id if isinstance(entity_id, str) else repr(entity_id)])


def _json_list(policy: PulledPolicy, key: str) -> list[object]:
    raw = policy.config.get(key, "[]")
    try:
        value = json.loads(raw)
    except ValueError:
        raise _Unsupported(f"config {key!r} is not JSON") from None
    if not isinstance(value, list):
        raise _Unsupported(f"config {key!r} is not a list")
    return value


def _id_entries(policy: PulledPolicy, key: str, names: Mapping[str, T]) -> Iterator[tuple[dict[str, object], T]]:
    """Each entry of the policy's `key` list (`{"id": ..., ...}`, as Keycloak stores group and role policies)
    with what its id names in `names`; _Unsupported for an entry without an id or with one that names nothing."""
    kind = key.removesuffix("s")
    for entry in _json_list(policy, key):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise _Unsupported(f"{kind} entry {entry!r} has no id")
        named = names.get(entry["id"])
        if named is None:
            raise _Unsupported(f"{kind} id {entry['id']} does not resolve to a {kind}")
        yield entry, named


def _logic(grant: Grant, logic: str) -> Grant:
    if logic == "POSITIVE":
        return grant
    if logic != "NEGATIVE":
        raise _Unsupported(f"logic {logic!r} is unknown")
    if grant.narrowed:
        raise _Unsupported("negating a client policy would deny fewer callers than Keycloak does")
    if grant.deny:
        raise _Unsupported("negative logic over a policy that itself denies someone grants by exception")
    if grant.allow is None:
        return Grant(frozenset())  # not everyone: nobody
    return Grant(None, grant.allow)  # everyone but them: only meaningful beside a granting policy


def _combine(terms: Iterable[Grant], strategy: str, what: str) -> Grant:
    grants = list(terms)
    if strategy == "CONSENSUS":
        raise _Unsupported(f"CONSENSUS over {what} counts votes, which an ACL cannot")
    if len(grants) == 1:
        return grants[0]
    if not grants:
        return Grant(frozenset())  # Keycloak denies a permission without policies
    narrowed = any(grant.narrowed for grant in grants)
    if strategy == "UNANIMOUS":
        granting = [grant.allow for grant in grants if grant.allow is not None]
        if len(granting) > 1:
            raise _Unsupported(f"UNANIMOUS over {what}, {len(granting)} of which grant: an intersection, not 'any of'")
        deny = frozenset().union(*(grant.deny for grant in grants))
        return Grant(granting[0] if granting else None, deny, narrowed)
    if strategy == "AFFIRMATIVE":
        if len({grant.deny for grant in grants}) > 1:
            raise _Unsupported(
                f"AFFIRMATIVE over {what} that deny different callers: one may grant what another denies"
            )
        if any(grant.allow is None for grant in grants):
            return Grant(None, grants[0].deny, narrowed)
        return Grant(frozenset().union(*(grant.allow or () for grant in grants)), grants[0].deny, narrowed)
    raise _Unsupported(f"decision strategy {strategy!r} is unknown")
