"""Claims (+ directory) → principals, as the contract says; the directory is authoritative once synced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from access_index.directory import (
    DirectoryData,
    DirectoryGroup,
    DirectoryRole,
    DirectorySnapshot,
    DirectoryUser,
    build_snapshot,
)
from access_index.errors import AccessDeniedError, DirectoryError
from retrieval.caller import DirectoryPolicy, agent_chain, identify
from retrieval.tokens import TrustedIssuer, VerifiedToken

ISSUER = TrustedIssuer(issuer="https://idp.example/realms/acme", audience="clearance", tenant="acme")
NO_DIRECTORY = DirectoryPolicy(store=None, required=False, max_age_seconds=3600)


class FixedStore:
    def __init__(self, snapshot: DirectorySnapshot | None) -> None:
        self.snapshot = snapshot

    def load(self) -> DirectorySnapshot | None:
        return self.snapshot


def token(**claims: Any) -> VerifiedToken:
    base: dict[str, Any] = {"sub": "u-1", "preferred_username": "alice", "azp": "assistant"}
    base.update(claims)
    return VerifiedToken(issuer=ISSUER, algorithm="RS256", claims=base)


def directory(synced_at: datetime | None = None) -> DirectorySnapshot:
    data = DirectoryData(
        source="test",
        users=(
            DirectoryUser(
                "u-1", "alice", "alice@acme.example", True, frozenset({"g-backend"}), frozenset({"role:auditor"})
            ),
            DirectoryUser("u-2", "bob", "bob@acme.example", False, frozenset({"g-eng"})),
        ),
        groups=(
            DirectoryGroup("g-eng", "/eng"),
            DirectoryGroup(
                "g-backend", "/eng/backend", parent_id="g-eng", roles=frozenset({"client-role:app/deployer"})
            ),
        ),
        roles=(DirectoryRole("role:auditor", frozenset({"role:viewer"})),),
        issuer=ISSUER.issuer,
    )
    return build_snapshot(data, None, now=synced_at or datetime.now(UTC))


def test_token_claims_become_principals_with_group_ancestors_and_client_roles() -> None:
    identity = identify(
        token(
            groups=["/eng/backend/api", "backend"],  # a bare name cannot be placed in the tree: ignored
            realm_access={"roles": ["auditor"]},
            resource_access={"crm": {"roles": ["reader"]}},
            email="Alice@Acme.example",
            email_verified=True,
        ),
        NO_DIRECTORY,
        "default",
    )
    assert identity.caller.tenant == "acme"
    assert identity.caller.tokens == {
        "authenticated",
        "user:alice",
        "email:alice@acme.example",
        "group:/eng/backend/api",
        "group:/eng/backend",
        "group:/eng",
        "role:auditor",
        "client-role:crm/reader",
    }
    assert identity.agents == ("assistant",)


def test_unverified_email_grants_nothing() -> None:
    identity = identify(token(email="ceo@acme.example", email_verified=False), NO_DIRECTORY, "default")
    assert not {"user:ceo@acme.example", "email:ceo@acme.example"} & identity.caller.tokens


def test_malformed_principal_claims_are_dropped_not_fatal() -> None:
    identity = identify(token(groups=["/eng/../hr", "/ok", "/a b"], realm_access={"roles": ["x,y"]}), NO_DIRECTORY, "d")
    assert identity.caller.tokens == {"authenticated", "user:alice", "group:/ok"}


def test_service_account_acting_for_itself_gets_client_principal() -> None:
    claims = {"preferred_username": "service-account-indexer", "azp": "indexer", "client_id": "indexer"}
    assert "client:indexer" in identify(token(**claims), NO_DIRECTORY, "d").caller.tokens
    # A user's token issued to the same client is not the client acting for itself.
    assert "client:indexer" not in identify(token(azp="indexer"), NO_DIRECTORY, "d").caller.tokens


def test_exchanged_token_names_the_client_and_the_actor_as_agents() -> None:
    assert agent_chain({"azp": "gateway", "act": {"sub": "analytics-bot"}}) == ("gateway", "analytics-bot")
    assert agent_chain({"azp": "gateway"}) == ("gateway",)
    assert agent_chain({}) == ()


def test_directory_is_authoritative_for_memberships() -> None:
    policy = DirectoryPolicy(FixedStore(directory()), required=True, max_age_seconds=3600)
    # The token claims /hr and admin; the directory says otherwise and wins.
    identity = identify(token(groups=["/hr"], realm_access={"roles": ["admin"]}), policy, "d")
    assert "group:/hr" not in identity.caller.tokens and "role:admin" not in identity.caller.tokens
    assert {"group:/eng/backend", "group:/eng", "role:auditor", "role:viewer", "client-role:app/deployer"} <= (
        identity.caller.tokens
    )


def test_disabled_user_is_refused() -> None:
    policy = DirectoryPolicy(FixedStore(directory()), required=True, max_age_seconds=3600)
    with pytest.raises(AccessDeniedError):
        identify(token(preferred_username="bob", sub="u-2"), policy, "d")


def test_unknown_user_keeps_only_own_principals() -> None:
    policy = DirectoryPolicy(FixedStore(directory()), required=True, max_age_seconds=3600)
    identity = identify(
        token(sub="u-77", preferred_username="mallory", groups=["/eng"], realm_access={"roles": ["auditor"]}),
        policy,
        "d",
    )
    assert identity.caller.tokens == {"authenticated", "user:mallory"}


def test_stale_or_missing_directory_fails_closed() -> None:
    stale = DirectoryPolicy(FixedStore(directory(datetime.now(UTC) - timedelta(hours=2))), True, 3600)
    with pytest.raises(DirectoryError):
        identify(token(), stale, "d")
    with pytest.raises(DirectoryError):
        identify(token(), DirectoryPolicy(FixedStore(None), required=True, max_age_seconds=3600), "d")


def test_a_caller_in_a_thousand_groups_is_resolved_quickly() -> None:
    import time

    groups = [f"/org/unit-{i // 50}/team-{i}" for i in range(1000)]
    started = time.perf_counter()
    identity = identify(token(groups=groups), NO_DIRECTORY, "d")
    elapsed = time.perf_counter() - started
    assert len([t for t in identity.caller.tokens if t.startswith("group:")]) == 1000 + 20 + 1
    assert elapsed < 0.5


def test_a_role_the_directory_could_not_read_stands_as_the_token_claims_it() -> None:
    """Keycloak would not address the role by name: its holders are unknown to the sync, so the token's own
    claim of that role counts (a deny naming it must still apply); no other token role does."""
    base = directory()
    snapshot = build_snapshot(
        DirectoryData(
            "test",
            tuple(base.users.values()),
            tuple(base.groups.values()),
            (),
            issuer=ISSUER.issuer,
            unreadable_roles=frozenset({"role:a#b"}),
        ),
        None,
    )
    policy = DirectoryPolicy(FixedStore(snapshot), required=True, max_age_seconds=3600)
    identity = identify(token(realm_access={"roles": ["a#b", "admin"]}), policy, "d")
    assert "role:a#b" in identity.caller.tokens
    assert "role:admin" not in identity.caller.tokens


def test_another_issuers_directory_is_never_consulted() -> None:
    other = TrustedIssuer(issuer="https://other.example", audience="clearance", tenant="acme")
    policy = DirectoryPolicy(FixedStore(directory()), required=True, max_age_seconds=3600, issuer=ISSUER.issuer)
    bob = VerifiedToken(other, "RS256", {"sub": "x", "preferred_username": "bob", "groups": ["/hr"]})
    assert identify(bob, policy, "d").caller.tokens == {"authenticated", "user:bob", "group:/hr"}
    stale = DirectoryPolicy(FixedStore(directory(datetime.now(UTC) - timedelta(hours=2))), True, 3600, ISSUER.issuer)
    assert identify(bob, stale, "d").directory_status is None  # its staleness is not this issuer's problem
    with pytest.raises(DirectoryError):
        identify(token(), stale, "d")
    # Before the first sync, only the directory's own issuer waits.
    unsynced = DirectoryPolicy(FixedStore(None), required=True, max_age_seconds=3600, issuer=ISSUER.issuer)
    assert identify(bob, unsynced, "d").caller.tokens == {"authenticated", "user:bob", "group:/hr"}
    with pytest.raises(DirectoryError):
        identify(token(), unsynced, "d")
