"""A document's ACL and the one function that turns a caller's access into an index filter.

The rules (docs/acl-semantics.md): a chunk is readable by a caller iff
    tenant matches  AND  allow ∩ caller ≠ ∅  AND  deny ∩ caller = ∅  AND  every narrowing holds.
Narrowings (agent policy, the caller's own filters) can only remove chunks, never add them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from access_index.errors import AccessDeniedError
from access_index.index.filter import AnyOf, Filter, label_token
from access_index.principals import Principal, parse_principals


@dataclass(frozen=True)
class Acl:
    """allow and deny lists of principals; deny wins; an empty allow list matches nobody."""

    allow: frozenset[Principal]
    deny: frozenset[Principal] = frozenset()

    @staticmethod
    def parse(allow: Iterable[object], deny: Iterable[object] = ()) -> Acl:
        return Acl(parse_principals(allow), parse_principals(deny))

    def allow_tokens(self) -> list[str]:
        return sorted(str(principal) for principal in self.allow)

    def deny_tokens(self) -> list[str]:
        return sorted(str(principal) for principal in self.deny)


@dataclass(frozen=True)
class Narrowing:
    """Restrictions that can only remove chunks. `None` means "no restriction on this field";
    an empty set means "nothing" (a terms filter on no values matches no document)."""

    sources: frozenset[str] | None = None
    document_ids: frozenset[str] | None = None
    labels_equal: Mapping[str, str] = field(default_factory=dict)
    labels_not_equal: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Caller:
    """Who is asking: the tenant they belong to and the principal tokens they hold (already expanded)."""

    tenant: str
    tokens: frozenset[str]


def build_access_filter(caller: Caller, narrowings: Iterable[Narrowing] = ()) -> Filter:
    """tenant AND any(allow ∩ caller) AND none(deny ∩ caller) AND every narrowing.

    Raises AccessDeniedError for a caller with no principals: there is nothing such a caller may read,
    and an empty match list must never reach an engine (fail closed, not "no filter").
    """
    if not caller.tokens:
        raise AccessDeniedError("the caller holds no principals")
    if not caller.tenant:
        raise AccessDeniedError("the caller has no tenant")
    tokens = tuple(sorted(caller.tokens))
    must = [AnyOf("tenant", (caller.tenant,)), AnyOf("allow", tokens)]
    must_not = [AnyOf("deny", tokens)]
    for narrowing in narrowings:
        if narrowing.sources is not None:
            must.append(AnyOf("source", tuple(sorted(narrowing.sources))))
        if narrowing.document_ids is not None:
            must.append(AnyOf("document_id", tuple(sorted(narrowing.document_ids))))
        for key, value in sorted(narrowing.labels_equal.items()):
            must.append(AnyOf("label_kv", (label_token(key, value),)))
        for key, values in sorted(narrowing.labels_not_equal.items()):
            if values:
                must_not.append(AnyOf("label_kv", tuple(sorted(label_token(key, v) for v in values))))
    return Filter(must=tuple(must), must_not=tuple(must_not))


def is_readable(caller: Caller, tenant: str, allow: Iterable[str], deny: Iterable[str]) -> bool:
    """The same rule in plain Python: the reference the benches' and tests' oracles are checked against."""
    allow_set, deny_set = set(allow), set(deny)
    return tenant == caller.tenant and bool(allow_set & caller.tokens) and not (deny_set & caller.tokens)


def granting_principal(caller: Caller, allow: Iterable[str]) -> str | None:
    """The first (sorted) caller principal that the allow list names: recorded in the audit log."""
    matches = sorted(set(allow) & caller.tokens)
    return matches[0] if matches else None
