"""Principal strings: what is accepted, how it is normalized, and what is rejected (with the value named)."""

from __future__ import annotations

import pytest

from access_index.errors import PrincipalError
from access_index.principals import Principal, expand_groups, group_ancestors, parse_principal


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("user:alice", "user:alice"),
        ("user:Alice@Acme.Example", "user:alice@acme.example"),
        ("group:/eng", "group:/eng"),
        ("group:/eng/Backend", "group:/eng/Backend"),
        ("role:hr-admin", "role:hr-admin"),
        ("role:payroll-app/approver", "role:payroll-app/approver"),
        ("client:analytics-agent", "client:analytics-agent"),
        ("authenticated", "authenticated"),
    ],
)
def test_valid_principals_round_trip(raw: str, canonical: str) -> None:
    assert str(parse_principal(raw)) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "alice",
        "user:",
        "user:al ice",
        "user:alice,group:/hr",  # a second principal smuggled into one string
        "user:alice;role:admin",
        "user:alice\n",
        "user:ali\u200bce",  # zero-width space: looks like alice, is not
        "group:/h\u202er",
        "group:eng",
        "group:/",
        "group:/eng/",
        "group://eng",
        "group:/eng/../hr",
        "role:/approver",
        "role:app/",
        "team:/eng",
        "Authenticated",
        "authenticated:yes",
        "user:" + "a" * 600,
    ],
)
def test_malformed_principals_are_rejected_with_the_value(raw: str) -> None:
    with pytest.raises(PrincipalError) as error:
        parse_principal(raw)
    assert repr(raw[:20]).strip("'") in str(error.value) or len(raw) > 512


def test_non_string_is_rejected() -> None:
    with pytest.raises(PrincipalError):
        parse_principal(["user:alice"])


def test_group_ancestors_follow_path_segments_not_prefixes() -> None:
    assert group_ancestors("/eng/backend/api") == ["/eng/backend/api", "/eng/backend", "/eng"]
    expanded = {str(p) for p in expand_groups([Principal.group("/eng/backend"), Principal.user("bob")])}
    assert expanded == {"group:/eng/backend", "group:/eng", "user:bob"}
    assert "group:/en" not in expanded
