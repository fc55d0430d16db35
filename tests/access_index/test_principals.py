"""Principal strings: what is accepted, how it is normalized, and what is rejected (with the value named)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from access_index.errors import PrincipalError
from access_index.principals import (
    Principal,
    decode_name,
    encode_name,
    expand_groups,
    group_ancestors,
    old_spelling,
    parse_principal,
    role_token,
)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("user:alice", "user:alice"),
        ("user:Alice", "user:alice"),
        ("user:STRASSE", "user:strasse"),
        ("user:straße", "user:strasse"),  # case folding, not lower(): ß folds to ss
        ("user:alice@acme.example", "user:alice@acme.example"),  # a username shaped like an address stays user:
        ("email:Alice@Acme.Example", "email:alice@acme.example"),
        ("email:root@localhost", "email:root@localhost"),
        ("group:/eng", "group:/eng"),
        ("group:/eng/Backend", "group:/eng/Backend"),  # paths are not folded (Keycloak's are case-sensitive)
        ("role:hr-admin", "role:hr-admin"),
        ("role:Hr-Admin", "role:Hr-Admin"),  # neither are role names
        ("role:crm%2Freader", "role:crm%2Freader"),  # the realm role named "crm/reader"
        ("role:crm%2freader", "role:crm%2Freader"),  # one canonical spelling of each escape
        ("role:%41dmin", "role:Admin"),  # an escape of an ordinary character is that character
        ("role:50%25", "role:50%25"),
        ("role:a#b?c", "role:a#b?c"),
        ("client-role:payroll-app/approver", "client-role:payroll-app/approver"),
        ("client-role:crm/a%2Fb", "client-role:crm/a%2Fb"),
        ("client-role:https:%2F%2Fsp.example%2Fsaml/reader", "client-role:https:%2F%2Fsp.example%2Fsaml/reader"),
        ("client:analytics-agent", "client:analytics-agent"),
        ("client:a%2Fb", "client:a%2Fb"),
        ("authenticated", "authenticated"),
    ],
)
def test_valid_principals_round_trip(raw: str, canonical: str) -> None:
    assert str(parse_principal(raw)) == canonical
    assert str(parse_principal(canonical)) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "alice",
        "user:",
        "user:al ice",
        "user:alice,group:/hr",  # a second principal smuggled into one string
        "user:alice;role:admin",
        "user:alice%2Cgroup:/hr",  # ... or smuggled in encoded
        "user:alice\n",
        "user:alice%0A",
        "user:ali\u200bce",  # zero-width space: looks like alice, is not
        "user:ali%E2%80%8Bce",  # the same, encoded
        "group:/h\u202er",
        "group:eng",
        "group:/",
        "group:/eng/",
        "group://eng",
        "group:/eng/../hr",
        "role:crm/reader",  # the old spelling of a client role: only a manifest reads it (with a warning)
        "role:/approver",
        "role:50%",  # a '%' that starts no escape
        "role:%zz",
        "role:%FF",  # not UTF-8
        "client-role:crm",
        "client-role:/reader",
        "client-role:crm/",
        "client-role:crm/a/b",  # a second '/' is a '/' inside the role's name: %2F
        "client:a/b",
        "email:kate",  # not an address
        "email:@acme.example",
        "email:kate@",
        "email:kate@acme..example",
        "email:a@b@c",
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


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u212aate",  # KELVIN SIGN: lower-cases to "kate"
        "\u212bngstrom",  # ANGSTROM SIGN
        "\uff41lice",  # fullwidth a
        "\u017fam",  # long s: folds to "sam"
        "cafe\u0301",  # a decomposed é (NFKC composes it)
        "bo\u1d47",  # modifier letter small b
        "\u2460",  # circled digit one
    ],
)
def test_a_name_that_nfkc_changes_grants_nothing(look_alike: str) -> None:
    assert unicodedata.normalize("NFKC", look_alike) != look_alike
    for kind in ("user", "email"):
        name = look_alike if kind == "user" else f"{look_alike}@acme.example"
        with pytest.raises(PrincipalError, match="NFKC"):
            parse_principal(f"{kind}:{name}")
    with pytest.raises(PrincipalError, match="NFKC"):
        Principal.user(look_alike)


def test_a_look_alike_never_equals_the_name_it_imitates() -> None:
    """The attack the rule is for: Python's lower() turns the Kelvin sign into 'k'."""
    assert "\u212aate".lower() == "kate"
    with pytest.raises(PrincipalError):
        Principal.user("\u212aATE")
    assert str(Principal.user("KATE")) == "user:kate"


def test_user_and_email_are_separate_namespaces() -> None:
    assert str(Principal.user("alice@acme.example")) == "user:alice@acme.example"
    assert str(Principal.email("alice@acme.example")) == "email:alice@acme.example"
    assert Principal.user("alice@acme.example") != Principal.email("alice@acme.example")
    with pytest.raises(PrincipalError):
        Principal.email("kate")  # a "verified e-mail" without '@' is nobody's e-mail (and never user:kate)


def test_realm_role_with_a_slash_and_client_role_are_different_principals() -> None:
    realm = Principal.role("crm/reader")
    client = Principal.client_role("crm", "reader")
    assert str(realm) == "role:crm%2Freader"
    assert str(client) == "client-role:crm/reader"
    assert realm != client
    assert str(Principal.client_role("a/b", "c")) != str(Principal.client_role("a", "b/c"))


def test_constructors_encode_raw_iam_names() -> None:
    assert str(Principal.role("50%")) == "role:50%25"
    assert str(Principal.role("a%2Fb")) == "role:a%252Fb"  # a name that merely looks encoded stays itself
    assert str(Principal.client("https://sp.example/saml")) == "client:https:%2F%2Fsp.example%2Fsaml"
    assert role_token("reader", "crm") == "client-role:crm/reader"
    assert role_token("has space") == "role:has space"  # a key, not yet a principal
    with pytest.raises(PrincipalError):
        parse_principal(role_token("has space"))


@given(st.text(min_size=1, max_size=30))
def test_encoding_round_trips_any_name(name: str) -> None:
    assert decode_name(name, encode_name(name)) == name
    assert "/" not in encode_name(name)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("user:alice@acme.example", "email:alice@acme.example"),
        ("user:Alice@Acme.Example", "email:Alice@Acme.Example"),
        ("role:crm/reader", "client-role:crm/reader"),
        ("role:crm/a/b", "client-role:crm/a%2Fb"),
        ("role:crm/50%", "client-role:crm/50%25"),
        ("client:https://sp.example/saml", "client:https:%2F%2Fsp.example%2Fsaml"),
        ("user:alice", None),
        ("user:bob@", None),  # not an address: a username with an '@'
        ("email:alice@acme.example", None),
        ("role:crm%2Freader", None),
        ("client-role:crm/reader", None),
        ("group:/eng/backend", None),
    ],
)
def test_old_spellings_map_to_todays(old: str, new: str | None) -> None:
    assert old_spelling(old) == new
    if new is not None:
        parse_principal(new)


def test_non_string_is_rejected() -> None:
    with pytest.raises(PrincipalError):
        parse_principal(["user:alice"])


def test_group_ancestors_follow_path_segments_not_prefixes() -> None:
    assert group_ancestors("/eng/backend/api") == ["/eng/backend/api", "/eng/backend", "/eng"]
    expanded = {str(p) for p in expand_groups([Principal.group("/eng/backend"), Principal.user("bob")])}
    assert expanded == {"group:/eng/backend", "group:/eng", "user:bob"}
    assert "group:/en" not in expanded
