"""Caller resolution against a snapshot: memberships, ancestors, roles, statuses, renames, deletions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from access_index.directory import (
    DirectoryData,
    DirectoryGroup,
    DirectoryRole,
    DirectorySnapshot,
    DirectoryUser,
    build_snapshot,
)

ENG = DirectoryGroup("g-eng", "/eng", roles=frozenset({"viewer"}))
BACKEND = DirectoryGroup("g-backend", "/eng/backend", parent_id="g-eng")
HR = DirectoryGroup("g-hr", "/hr")
ALICE = DirectoryUser("u1", "alice", "Alice@Acme.example", True, frozenset({"g-backend"}), frozenset({"auditor"}))
BOB = DirectoryUser("u2", "bob", "bob@acme.example", False, frozenset({"g-hr"}))
ROLES = (
    DirectoryRole("auditor", frozenset({"reader"})),
    DirectoryRole("reader", frozenset({"crm/read", "auditor"})),  # a cycle must not hang
)


def data(users: tuple[DirectoryUser, ...], groups: tuple[DirectoryGroup, ...]) -> DirectoryData:
    return DirectoryData("test", users, groups, ROLES)


def first() -> DirectorySnapshot:
    return build_snapshot(data((ALICE, BOB), (ENG, BACKEND, HR)), None)


def test_active_user_holds_groups_ancestors_and_expanded_roles() -> None:
    resolution = first().resolve("alice", None)
    assert resolution.status == "active"
    assert resolution.tokens == {
        "user:alice",
        "user:alice@acme.example",
        "group:/eng/backend",
        "group:/eng",
        "role:viewer",  # from the parent group
        "role:auditor",
        "role:reader",
        "role:crm/read",
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
    assert second.resolve("carol", None).status == "unknown"
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


def test_invalid_names_grant_nothing() -> None:
    odd = DirectoryUser("u6", "eve", "eve, admin@x", True, frozenset(), frozenset({"bad role"}))
    snapshot = build_snapshot(data((odd,), ()), None)
    assert snapshot.resolve("eve", None).tokens == {"user:eve"}


def test_duplicate_email_resolves_to_nobody_by_email() -> None:
    twin = DirectoryUser("u7", "alice2", "alice@acme.example", True)
    snapshot = build_snapshot(data((ALICE, twin), (ENG, BACKEND)), None)
    assert snapshot.resolve(None, "alice@acme.example").status == "unknown"


def test_age() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    snapshot = build_snapshot(data((), ()), None, now=now)
    assert snapshot.age_seconds(now + timedelta(seconds=90)) == 90
