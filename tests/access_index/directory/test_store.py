"""Snapshot storage: round trip, atomic replace, cheap re-reads, damaged files fail closed; both engines."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from access_index.directory import (
    DirectoryData,
    DirectoryGroup,
    DirectoryRole,
    DirectoryUser,
    build_snapshot,
    decode_snapshot,
    encode_snapshot,
    open_snapshot_store,
)
from access_index.errors import DirectoryError
from access_index.index.server import connect
from tests.conftest import settings_for

DATA = DirectoryData(
    "test",
    (DirectoryUser("u1", "alice", "a@x.example", True, frozenset({"g2"}), frozenset({"role:r"})),),
    (DirectoryGroup("g1", "/eng"), DirectoryGroup("g2", "/eng/be", "g1", frozenset({"client-role:crm/x"}))),
    (DirectoryRole("role:r", frozenset({"role:s"})),),
    issuer="https://idp.example/realms/acme",
    unreadable_roles=frozenset({"role:a#b"}),
)


def test_codec_round_trip() -> None:
    snapshot = build_snapshot(DATA, build_snapshot(DATA, None))
    gone = build_snapshot(replace(DATA, users=()), snapshot)  # tombstones and name bindings
    for each in (snapshot, gone):
        decoded = decode_snapshot(encode_snapshot(each), "test")
        assert decoded == each
        assert decoded.resolve("alice", None) == each.resolve("alice", None)
    assert decode_snapshot(encode_snapshot(gone), "test").resolve("alice", None).status == "deleted"


FORMAT_1 = {
    "format": 1,
    "version": 7,
    "synced_at": "2026-01-01T00:00:00+00:00",
    "source": "keycloak:https://idp.example/realms/acme",
    "users": [
        {"id": "u1", "username": "alice", "email": None, "enabled": True, "groups": ["g1"], "roles": ["crm/x", "r"]}
    ],
    "groups": [{"id": "g1", "path": "/eng", "parent_id": None, "roles": []}],
    "roles": [{"key": "r", "composites": ["crm/x"]}],
    "bindings": {"/eng": "g1"},
    "tombstones": ["bob", "bob@acme.example"],
}


def test_a_format_1_snapshot_is_still_read() -> None:
    old = decode_snapshot(json.dumps(FORMAT_1).encode(), "test")
    assert old.issuer is None
    assert old.resolve("alice", None).tokens == {"user:alice", "group:/eng", "role:r", "client-role:crm/x"}
    # Its deleted users stay deleted, and their names stay out of reach of new accounts.
    assert old.resolve("bob", None).status == "deleted"
    assert old.resolve(None, "bob@acme.example").status == "deleted"
    new_bob = DirectoryUser("u9", "bob", "bob@acme.example", True)
    after = build_snapshot(replace(DATA, users=(*DATA.users, new_bob)), old)
    assert after.issuer == DATA.issuer and after.bindings == {"/eng": "g1", "/eng/be": "g2"}
    assert after.resolve("bob", None).user_id == "u9"
    assert not {"user:bob", "email:bob@acme.example"} & after.resolve("bob", None).tokens


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b'{"format": 3}',
        b'{"format": 2}',
        encode_snapshot(build_snapshot(DATA, None)).replace(b'"u1"', b"1"),
    ],
    # Fixed ids: the last snapshot holds the time it was built, and every xdist worker must collect the same ids.
    ids=["empty", "truncated", "a-list", "format-3", "format-2-empty", "user-id-not-a-string"],
)
def test_damaged_snapshot_is_an_error(raw: bytes) -> None:
    with pytest.raises(DirectoryError, match="unreadable"):
        decode_snapshot(raw, "test")


def test_store_on_each_engine(engine: str, data_dir: Path) -> None:
    settings = settings_for(engine, data_dir)
    # One qdrant-client stands for one server: `:memory:` keeps its data per client.
    client = connect(settings) if settings.qdrant_url else None
    store = open_snapshot_store(settings, client)
    assert store.load() is None
    first = build_snapshot(DATA, None)
    store.save(first)
    assert store.load() == first
    assert store.load() is store.load()  # cached until the stored version changes
    second = build_snapshot(DATA, first)
    store.save(second)
    # Another reader (another serve process) sees the new version.
    assert open_snapshot_store(settings, client).load() == second
    assert store.load() == second
    third = build_snapshot(DATA, second)
    store.save(third)
    assert store.load() == third


def test_file_store_damaged_file_fails_closed(data_dir: Path) -> None:
    settings = settings_for("edge", data_dir)
    store = open_snapshot_store(settings)
    store.save(build_snapshot(DATA, None))
    settings.paths.directory_snapshot.write_text("{not json")
    with pytest.raises(DirectoryError):
        store.load()
    assert [p.name for p in settings.paths.directory_snapshot.parent.iterdir()] == ["snapshot.json"]


def test_qdrant_store_reader_sees_a_swap_within_its_pointer_ttl() -> None:
    import time

    from qdrant_client import QdrantClient

    from access_index.directory import QdrantSnapshotStore

    client = QdrantClient(location=":memory:")
    writer = QdrantSnapshotStore(client, "snapshots")
    reader = QdrantSnapshotStore(client, "snapshots", pointer_ttl=0.2)
    first = build_snapshot(DATA, None)
    writer.save(first)
    assert reader.load() == first
    second = build_snapshot(DATA, first)
    writer.save(second)
    assert writer.load() == second  # the writer sees its own swap at once
    time.sleep(0.3)
    assert reader.load() == second
