"""Caller resolution against a snapshot: memberships, ancestors, roles, statuses, renames, deletions, and
names bound to the account that held them first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from access_index.directory import (
    DirectoryData,
    DirectoryGroup,
    DirectoryRole,
    DirectorySnapshot,
    DirectoryUser,
    Resolution,
    build_snapshot,
)

ENG = DirectoryGroup("g-eng", "/eng", roles=frozenset({"role:viewer"}))
BACKEND = DirectoryGroup("g-backend", "/eng/backend", parent_id="g-eng")
HR = DirectoryGroup("g-hr", "/hr")
ALICE = DirectoryUser("u1", "alice", "Alice@Acme.example", True, frozenset({"g-backend"}), frozenset({"role:auditor"}))
BOB = DirectoryUser("u2", "bob", "bob@acme.example", False, frozenset({"g-hr"}))
ROLES = (
    DirectoryRole("role:auditor", frozenset({"role:reader"})),
    DirectoryRole("role:reader", frozenset({"client-role:crm/read", "role:auditor"})),  # a cycle must not hang
)


def data(users: tuple[DirectoryUser, ...], groups: tuple[DirectoryGroup, ...]) -> DirectoryData:
    return DirectoryData("test", users, groups, ROLES, issuer="https://idp.example/realms/acme")


def first() -> DirectorySnapshot:
    return build_snapshot(data((ALICE, BOB), (ENG, BACKEND, HR)), None)


def test_active_user_holds_groups_ancestors_and_expanded_roles() -> None:
    resolution = first().resolve("alice", None)
    assert resolution.status == "active"
    assert resolution.tokens == {
        "user:alice",
        "email:alice@acme.example",
        "group:/eng/backend",
        "group:/eng",
        "role:viewer",  # from the parent group
        "role:auditor",
        "role:reader",
        "client-role:crm/read",
    }


def test_email_resolves_when_username_is_absent_and_case_is_ignored() -> None:
    assert first().resolve(None, "ALICE@acme.example").status == "active"
    assert first().resolve("ALICE", None).user_id == "u1"


def test_disabled_user_gets_no_tokens() -> None:
    assert first().resolve("bob", "bob@acme.example") == first().resolve("bob", None)
    resolution = first().resolve("bob", None)
    assert resolution.status == "disabled"
    assert resolution.tokens == frozenset()


def test_username_of_active_user_with_email_of_disabled_user_fails_closed() -> None:
    assert first().resolve("alice", "bob@acme.example").status == "disabled"


def test_unknown_and_deleted_users() -> None:
    second = build_snapshot(data((ALICE,), (ENG, BACKEND, HR)), first())
    assert second.version == 2
    assert second.resolve("bob", None).status == "deleted"
    assert second.resolve(None, "bob@acme.example").status == "deleted"
    assert second.resolve("carol", None) == Resolution("unknown", frozenset({"user:carol"}))
    assert second.resolve("bob", None).tokens == frozenset()
    # The tombstone survives further syncs.
    third = build_snapshot(data((ALICE,), (ENG, BACKEND, HR)), second)
    assert third.resolve("bob", None).status == "deleted"


def test_removed_membership_removes_the_group() -> None:
    moved = DirectoryUser("u1", "alice", None, True, frozenset({"g-hr"}))
    second = build_snapshot(data((moved,), (ENG, BACKEND, HR)), first())
    assert "group:/eng/backend" not in second.resolve("alice", None).tokens
    assert "group:/hr" in second.resolve("alice", None).tokens


def test_renamed_group_keeps_old_and_new_paths_and_new_group_at_old_path_gains_nothing() -> None:
    renamed = DirectoryGroup("g-backend", "/eng/server", parent_id="g-eng")
    impostor = DirectoryGroup("g-new", "/eng/backend", parent_id="g-eng")
    mallory = DirectoryUser("u3", "mallory", None, True, frozenset({"g-new"}))
    second = build_snapshot(data((ALICE, mallory), (ENG, renamed, impostor, HR)), first())
    alice = second.resolve("alice", None).tokens
    assert {"group:/eng/backend", "group:/eng/server", "group:/eng"} <= alice
    assert "group:/eng/backend" not in second.resolve("mallory", None).tokens
    assert "group:/eng" in second.resolve("mallory", None).tokens


def test_moved_group_follows_its_new_parent() -> None:
    moved = DirectoryGroup("g-backend", "/hr/backend", parent_id="g-hr")
    second = build_snapshot(data((ALICE,), (ENG, moved, HR)), first())
    tokens = second.resolve("alice", None).tokens
    assert {"group:/eng/backend", "group:/hr/backend", "group:/hr"} <= tokens
    assert "group:/eng" not in tokens
    assert "role:viewer" not in tokens


def test_deleted_group_paths_match_nobody_even_when_recreated() -> None:
    second = build_snapshot(data((ALICE, BOB), (ENG, BACKEND)), first())
    recreated = DirectoryGroup("g-hr-2", "/hr")
    carol = DirectoryUser("u4", "carol", None, True, frozenset({"g-hr-2"}))
    third = build_snapshot(data((ALICE, carol), (ENG, BACKEND, recreated)), second)
    assert third.bindings["/hr"] == "g-hr"
    assert "group:/hr" not in third.resolve("carol", None).tokens


def test_membership_of_unknown_group_id_grants_nothing() -> None:
    ghost = DirectoryUser("u5", "ghost", None, True, frozenset({"g-missing"}))
    snapshot = build_snapshot(data((ghost,), (ENG,)), None)
    assert snapshot.resolve("ghost", None).tokens == {"user:ghost"}


def test_invalid_names_grant_nothing_but_a_role_that_is_no_principal_still_expands() -> None:
    roles = (DirectoryRole("role:Sales Manager", frozenset({"role:viewer"})),)
    odd = DirectoryUser("u6", "eve", "eve, admin@x", True, frozenset(), frozenset({"role:Sales Manager"}))
    snapshot = build_snapshot(DirectoryData("test", (odd,), (), roles), None)
    assert snapshot.resolve("eve", None).tokens == {"user:eve", "role:viewer"}


def test_duplicate_email_resolves_to_nobody_by_email_and_grants_nobody() -> None:
    twin = DirectoryUser("u7", "alice2", "alice@acme.example", True)
    snapshot = build_snapshot(data((ALICE, twin), (ENG, BACKEND)), None)
    assert snapshot.resolve(None, "alice@acme.example") == Resolution("unknown")
    assert "email:alice@acme.example" in snapshot.contested
    assert "email:alice@acme.example" not in snapshot.resolve("alice", None).tokens
    assert "email:alice@acme.example" not in snapshot.resolve("alice2", None).tokens


# --- names are bound to the account that held them first (CONTRACT.md, Principals) --------------------------


def test_an_account_recreated_under_a_deleted_users_name_does_not_inherit_it() -> None:
    second = build_snapshot(data((BOB,), (HR,)), first())  # alice (u1) deleted
    assert second.resolve("alice", None).status == "deleted"
    new_alice = DirectoryUser("u9", "alice", "alice@acme.example", True, frozenset({"g-hr"}))
    third = build_snapshot(data((BOB, new_alice), (HR,)), second)
    resolution = third.resolve("alice", "alice@acme.example")
    assert resolution.status == "active" and resolution.user_id == "u9"
    assert "user:alice" not in resolution.tokens
    assert "email:alice@acme.example" not in resolution.tokens
    assert "group:/hr" in resolution.tokens  # memberships are the new account's own
    assert third.names["user:alice"] == "u1"
    # The old account's still-valid token (sub = its id) is refused, whatever name it carries.
    assert third.resolve("alice", None, subject="u1").status == "deleted"


def test_a_renamed_account_keeps_its_old_names_and_nobody_else_gets_them() -> None:
    renamed = DirectoryUser("u1", "alicia", "alicia@acme.example", True, frozenset({"g-backend"}))
    second = build_snapshot(data((renamed, BOB), (ENG, BACKEND, HR)), first())
    tokens = second.resolve("alicia", None).tokens
    assert {"user:alice", "user:alicia", "email:alice@acme.example", "email:alicia@acme.example"} <= tokens
    # A caller the directory does not know, named like the old name, keeps no name an account owns.
    assert second.resolve("alice", None) == Resolution("unknown")
    assert second.resolve("zoe", None) == Resolution("unknown", frozenset({"user:zoe"}))


def test_the_subject_names_the_account_when_it_is_an_id_of_this_directory() -> None:
    snapshot = first()
    # Keycloak's sub is the user id: a token of u1 is alice's even if its preferred_username lags a rename.
    assert snapshot.resolve("someone-else", None, subject="u1").user_id == "u1"
    assert snapshot.resolve("alice", None, subject="not-an-id").user_id == "u1"


def test_release_hands_a_name_to_the_account_that_holds_it_now() -> None:
    second = build_snapshot(data((BOB,), (HR,)), first())
    new_alice = DirectoryUser("u9", "alice", None, True)
    third = build_snapshot(data((BOB, new_alice), (HR,)), second, release=["user:alice", "group:/eng"])
    assert third.names["user:alice"] == "u9"
    assert "user:alice" in third.resolve("alice", None).tokens
    assert "/eng" not in third.bindings  # released; no group sits at /eng in this pull
    assert third.names["email:alice@acme.example"] == "u1"  # what was not released stays bound


def test_names_colliding_after_case_folding_are_contested() -> None:
    strasse = DirectoryUser("u10", "strasse", None, True)
    strasze = DirectoryUser("u11", "straße", None, True)
    snapshot = build_snapshot(data((strasse, strasze), ()), None)
    assert "user:strasse" in snapshot.contested
    assert snapshot.resolve("strasse", None).tokens == frozenset()
    assert snapshot.resolve("STRASSE", None) == Resolution("unknown")


def test_a_look_alike_username_grants_nothing() -> None:
    kate = DirectoryUser("u12", "kate", None, True, frozenset({"g-hr"}))
    kelvin = DirectoryUser("u13", "\u212aate", None, True, frozenset({"g-eng"}))
    snapshot = build_snapshot(data((kate, kelvin), (ENG, HR)), None)
    assert snapshot.names["user:kate"] == "u12"
    assert snapshot.resolve("\u212aate", None) == Resolution("unknown")
    assert snapshot.resolve("\u212aate", None, subject="u13").tokens == {"group:/eng", "role:viewer"}


def test_age() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    snapshot = build_snapshot(data((), ()), None, now=now)
    assert snapshot.age_seconds(now + timedelta(seconds=90)) == 90


def test_directory_data_with_bare_role_names_is_read_as_it_meant() -> None:
    """Role keys are principal tokens; `name` and `client/name`, how they were written before, still work."""
    user = DirectoryUser("u1", "alice", None, True, frozenset({"g"}), frozenset({"auditor", "crm/reader"}))
    group = DirectoryGroup("g", "/g", roles=frozenset({"app/deployer"}))
    snapshot = build_snapshot(
        DirectoryData("t", (user,), (group,), (DirectoryRole("auditor", frozenset({"viewer"})),)), None
    )
    assert snapshot.resolve("alice", None).tokens == {
        "user:alice",
        "group:/g",
        "role:auditor",
        "role:viewer",
        "client-role:crm/reader",
        "client-role:app/deployer",
    }
