"""An engine-neutral filter: each engine translates it mechanically, so the access logic lives in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnyOf:
    """The payload field (a keyword or a list of keywords) holds at least one of `values`."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Filter:
    """All of `must` hold and none of `must_not` does. An `AnyOf` with no values matches nothing."""

    must: tuple[AnyOf, ...] = ()
    must_not: tuple[AnyOf, ...] = ()

    @property
    def matches_nothing(self) -> bool:
        # Engines differ on an empty match list; we answer for them, without a query.
        return any(not condition.values for condition in self.must)

    def and_(self, other: Filter) -> Filter:
        return Filter(self.must + other.must, self.must_not + other.must_not)


def label_token(key: str, value: str) -> str:
    """Labels are also stored flattened as 'key=value' keywords, so one keyword index serves every label."""
    return f"{key}={value}"


def document_filter(tenant: str, document_id: str) -> Filter:
    return Filter(must=(AnyOf("tenant", (tenant,)), AnyOf("document_id", (document_id,))))


def source_filter(tenant: str, source: str) -> Filter:
    """Every chunk of one source: a source is (tenant, name)."""
    return Filter(must=(AnyOf("tenant", (tenant,)), AnyOf("source", (source,))))
