"""The Keycloak pull through the real python-keycloak client against the fake server: every list paged,
nested groups, roles through groups and composites, and incomplete or failing pulls refused."""

from __future__ import annotations

from typing import Any

import pytest

from access_index.directory import build_snapshot
from access_index.errors import PullError
from acl_sync.keycloak_source import KeycloakSource
from tests.acl_sync.conftest import Realm, source_for
from tests.support.fake_keycloak import FakeKeycloak, Fault


def test_pull_reads_users_groups_and_memberships(keycloak: FakeKeycloak, realm: Realm) -> None:
    data = source_for(keycloak).pull()
    assert data.issuer == keycloak.issuer  # <URL>/realms/<REALM>, as the realm's tokens carry it
    users = {user.username: user for user in data.users}
    assert users.keys() == {"alice", "bob", "carol"}  # service accounts are not listed, as in Keycloak
    assert users["alice"].group_ids == {realm.backend}
    assert users["alice"].email == "alice@acme.example"
    groups = {group.id: group for group in data.groups}
    assert groups[realm.backend].path == "/eng/backend"
    assert groups[realm.backend].parent_id == realm.eng
    assert groups[realm.eng].parent_id is None
    assert build_snapshot(data, None).resolve("alice", None).tokens >= {"group:/eng/backend", "group:/eng"}


def test_every_list_is_paged_past_100(keycloak: FakeKeycloak) -> None:
    r = keycloak.realm
    big = r.add_group("big")
    parent = r.add_group("parent")
    children = [r.add_group(f"child{i:03d}", parent) for i in range(130)]
    deep = r.add_group("deep", children[-1])
    for i in range(260):
        user = r.add_user(f"user{i:03d}")
        r.add_member(big, user)
    data = source_for(keycloak).pull()
    assert len(data.users) == 260
    members = [user for user in data.users if big in user.group_ids]
    assert len(members) == 260
    groups = {group.id: group for group in data.groups}
    assert len(groups) == 133
    assert groups[deep].path == "/parent/child129/deep"
    first_pages = [path for path in keycloak.requests if "/users?" in path]
    assert any("first=200" in path for path in first_pages)


def test_roles_direct_through_groups_composite_and_client(keycloak: FakeKeycloak, realm: Realm) -> None:
    r = keycloak.realm
    r.add_client("crm")
    reader = r.add_client_role("crm", "reader")
    viewer = r.add_realm_role("viewer")
    auditor = r.add_realm_role("auditor")
    r.add_composite(auditor, viewer)
    r.add_composite(viewer, reader)
    r.map_group_role(realm.eng, auditor)
    slash = r.add_realm_role("crm/reader")  # a realm role named like client crm's role: another principal
    r.map_user_role(realm.bob, slash)
    data = source_for(keycloak).pull()
    snapshot = build_snapshot(data, None)
    alice = snapshot.resolve("alice", None).tokens
    assert {"role:auditor", "role:viewer", "client-role:crm/reader", "role:default-roles-acme"} <= alice
    assert "role:crm%2Freader" not in alice
    bob = snapshot.resolve("bob", None).tokens
    assert "role:crm%2Freader" in bob and "client-role:crm/reader" not in bob
    assert data.warnings == ()


def test_a_5xx_mid_pagination_fails_the_pull(keycloak: FakeKeycloak, realm: Realm) -> None:
    for i in range(150):
        keycloak.realm.add_user(f"extra{i:03d}")
    with keycloak.fault(Fault("/users", from_first=100)), pytest.raises(PullError) as caught:
        source_for(keycloak).pull()
    assert caught.value.retryable
    assert "500" in str(caught.value)


@pytest.mark.parametrize("kind", ["empty_page", "drop_last"])
def test_a_silently_missing_page_is_detected(keycloak: FakeKeycloak, realm: Realm, kind: str) -> None:
    for i in range(150):
        keycloak.realm.add_user(f"extra{i:03d}")
    with keycloak.fault(Fault("/users", kind=kind, from_first=100)), pytest.raises(PullError, match="incomplete"):
        source_for(keycloak).pull()


def test_missing_children_are_detected(keycloak: FakeKeycloak, realm: Realm) -> None:
    with keycloak.fault(Fault("/children", kind="drop_last")), pytest.raises(PullError, match="subgroups"):
        source_for(keycloak).pull()


def test_a_hang_times_out(keycloak: FakeKeycloak, realm: Realm) -> None:
    with keycloak.fault(Fault("/members", kind="hang", hang_seconds=3)), pytest.raises(PullError) as caught:
        source_for(keycloak, timeout=1).pull()
    assert caught.value.retryable


def test_wrong_credentials_are_not_retried(keycloak: FakeKeycloak, realm: Realm) -> None:
    source = source_for(keycloak)
    source.client_secret = "wrong"
    with pytest.raises(PullError) as caught:
        source.pull()
    assert not caught.value.retryable
    assert "CLEARANCE_KEYCLOAK_CLIENT_SECRET" in str(caught.value)


def test_unreachable_server(keycloak: FakeKeycloak) -> None:
    url = keycloak.url
    keycloak.stop()
    with pytest.raises(PullError) as caught:
        KeycloakSource(url, "acme", "clearance-sync", "x", timeout=1).pull()
    assert caught.value.retryable


def test_names_that_are_not_valid_principals_grant_nothing(keycloak: FakeKeycloak, realm: Realm) -> None:
    """IAM names are attacker-influenced in some setups (self-registration, delegated group admins)."""
    r = keycloak.realm
    smuggler = r.add_group("x,group:/hr", realm.eng)  # would read as two principals if split on ','
    spaced = r.add_group("hr team")
    mallory = r.add_user("mallory", "mallory@acme.example;user:alice")
    r.add_member(smuggler, mallory)
    r.add_member(spaced, mallory)
    snapshot = build_snapshot(source_for(keycloak).pull(), None)
    tokens = snapshot.resolve("mallory", None).tokens
    assert tokens == {"user:mallory", "group:/eng", "role:default-roles-acme"}
    # An e-mail that is no principal names nobody, and smuggles nothing.
    assert snapshot.resolve(None, "mallory@acme.example;user:alice").tokens == frozenset()
    assert "user:alice" not in tokens


def test_role_members_agree_with_per_user_and_per_group_role_mappings(keycloak: FakeKeycloak, realm: Realm) -> None:
    """The pull reads mappings per role; Keycloak's per-user and per-group role-mapping endpoints must agree."""
    from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

    r = keycloak.realm
    r.add_client("crm")
    reader = r.add_client_role("crm", "reader")
    viewer = r.add_realm_role("viewer")
    r.map_user_role(realm.alice, reader)
    r.map_user_role(realm.bob, viewer)
    r.map_group_role(realm.hr, reader)
    r.map_group_role(realm.eng, viewer)
    data = source_for(keycloak).pull()
    admin = KeycloakAdmin(
        connection=KeycloakOpenIDConnection(
            server_url=keycloak.url,
            realm_name="acme",
            client_id=keycloak.sync_client.client_id,
            client_secret_key=keycloak.sync_client.secret,
        )
    )

    def keys(mappings: dict[str, Any]) -> set[str]:
        found = {f"role:{role['name']}" for role in mappings.get("realmMappings", [])}
        for client_id, entry in mappings.get("clientMappings", {}).items():
            found |= {f"client-role:{client_id}/{role['name']}" for role in entry["mappings"]}
        return found

    crm = r.client_by_client_id("crm").id
    for user in data.users:
        assert keys(admin.get_all_roles_of_user(user.id)) == set(user.roles)
    for group in data.groups:
        direct = {f"role:{role['name']}" for role in admin.get_group_realm_roles(group.id)}
        direct |= {f"client-role:crm/{role['name']}" for role in admin.get_group_client_roles(group.id, crm)}
        assert direct == set(group.roles)


def test_an_unverified_email_names_nobody(keycloak: FakeKeycloak, realm: Realm) -> None:
    """A user who sets their own e-mail to alice's must not become email:alice@acme.example."""
    keycloak.realm.add_user("eve", "alice@acme.example", email_verified=False)
    snapshot = build_snapshot(source_for(keycloak).pull(), None)
    assert snapshot.resolve("eve", None).tokens == {"user:eve", "role:default-roles-acme"}
    assert snapshot.resolve("alice", None).tokens >= {"user:alice", "email:alice@acme.example"}
    assert snapshot.resolve(None, "alice@acme.example").user_id == realm.alice
