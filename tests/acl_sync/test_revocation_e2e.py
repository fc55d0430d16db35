"""End to end: Keycloak (the fake server, driven by the real python-keycloak) → acl-sync → the REST app.

Tokens are real RS256 Keycloak-style tokens from the fake server's token endpoint, verified by the app
against its JWKS. Every token used after an IAM change was issued BEFORE the change and is still valid:
the sync, not the token's expiry, must take the access away.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from keycloak import KeycloakOpenID

from access_index.directory import DirectoryData, DirectorySnapshot, build_snapshot, open_snapshot_store
from access_index.index import Chunk, ChunkIndex, open_index
from access_index.settings import IssuerConfig, Settings
from access_index.sources import SourceRecord, save_source
from acl_sync.retry import Backoff
from acl_sync.sync import SyncOptions, sync_once
from retrieval.app import create_app
from tests.acl_sync.conftest import Realm, keycloak_settings
from tests.conftest import settings_for
from tests.support.auth import bearer
from tests.support.fake_keycloak import FakeKeycloak, Fault
from tests.support.hashing_embedder import HashingEmbedder

DOCUMENTS = {
    "wiki/backend.md": ("group:/eng/backend", "backend budget plan"),
    "wiki/hr.md": ("group:/hr", "hr budget plan"),
    "wiki/all.md": ("authenticated", "company budget plan"),
}
FAST = SyncOptions(backoff=Backoff(attempts=2, base_seconds=0.01))


@pytest.fixture
def opened(data_dir: Path, tmp_path: Path, embedder: HashingEmbedder) -> Iterator[ChunkIndex]:
    settings = settings_for("edge", data_dir)
    index = open_index(settings, role="test")
    index.ensure_collection(embedder.info)
    chunks = [
        Chunk("default", doc, "wiki", 0, 1, text, f"file:///srv/{doc}", allow=(allow,))
        for doc, (allow, text) in DOCUMENTS.items()
    ]
    index.upsert(chunks, embedder.embed([c.text for c in chunks]).tolist())
    # The source's record, as ingest writes it: acl-sync refuses indexed sources without one.
    manifest = tmp_path / "wiki-acl.yaml"
    rules = "".join(f'  - paths: ["{doc[5:]}"]\n    allow: ["{allow}"]\n' for doc, (allow, _) in DOCUMENTS.items())
    manifest.write_text(f"version: 1\nrules:\n{rules}", encoding="utf-8")
    save_source(settings, SourceRecord("wiki", "default", ("/srv/wiki",), str(manifest)))
    yield index
    index.close()


def app_settings(keycloak: FakeKeycloak, data_dir: Path, **overrides: object) -> Settings:
    issuer = IssuerConfig(issuer=keycloak.issuer, audience="clearance", jwks_uri=keycloak.jwks_uri)
    return keycloak_settings(keycloak, data_dir, oidc_issuers=[issuer], **overrides)


def login(keycloak: FakeKeycloak, username: str) -> str:
    """A user token from the token endpoint (password grant), through python-keycloak's OIDC client."""
    try:
        client = keycloak.realm.client_by_client_id("clearance")
    except KeyError:
        client = keycloak.realm.add_client("clearance")
    oidc = KeycloakOpenID(keycloak.url, keycloak.realm.name, client.client_id, client.secret)
    return str(oidc.token(username, "secret")["access_token"])


def found(client: TestClient, token: str) -> set[str] | int:
    response = client.post("/v1/search", json={"query": "budget plan", "top_k": 10}, headers=bearer(token))
    if response.status_code != 200:
        return response.status_code
    return {result["document_id"] for result in response.json()["results"]}


@pytest.fixture
def app(keycloak: FakeKeycloak, realm: Realm, data_dir: Path, opened: ChunkIndex) -> Iterator[TestClient]:
    settings = app_settings(keycloak, data_dir)
    assert sync_once(settings, opened, FAST).outcome == "ok"
    application = create_app(settings, index=opened, embedder=HashingEmbedder())
    with TestClient(application, raise_server_exceptions=False) as client:
        yield client


def resync(keycloak: FakeKeycloak, data_dir: Path, opened: ChunkIndex) -> str:
    return sync_once(app_settings(keycloak, data_dir), opened, FAST).outcome


def test_removed_member_loses_the_group_at_the_next_sync(
    app: TestClient, keycloak: FakeKeycloak, realm: Realm, data_dir: Path, opened: ChunkIndex
) -> None:
    token = login(keycloak, "alice")
    assert found(app, token) == {"wiki/backend.md", "wiki/all.md"}
    keycloak.realm.remove_member(realm.backend, realm.alice)
    assert found(app, token) == {"wiki/backend.md", "wiki/all.md"}  # not synced yet
    assert resync(keycloak, data_dir, opened) == "ok"
    assert found(app, token) == {"wiki/all.md"}  # the same, still valid token


def test_renamed_group_keeps_access_and_its_old_name_gives_none(
    app: TestClient, keycloak: FakeKeycloak, realm: Realm, data_dir: Path, opened: ChunkIndex
) -> None:
    keycloak.realm.rename_group(realm.backend, "platform")
    impostor_group = keycloak.realm.add_group("backend", realm.eng)  # a new group takes the old path
    mallory = keycloak.realm.add_user("mallory", "mallory@acme.example")
    keycloak.realm.add_member(impostor_group, mallory)
    assert resync(keycloak, data_dir, opened) == "ok"
    assert found(app, login(keycloak, "alice")) == {"wiki/backend.md", "wiki/all.md"}
    assert found(app, login(keycloak, "mallory")) == {"wiki/all.md"}  # its token even says /eng/backend


def test_moved_group_keeps_access(
    app: TestClient, keycloak: FakeKeycloak, realm: Realm, data_dir: Path, opened: ChunkIndex
) -> None:
    keycloak.realm.move_group(realm.backend, realm.hr)
    assert resync(keycloak, data_dir, opened) == "ok"
    # /hr/backend is a child of /hr now: its members also inherit /hr's documents.
    assert found(app, login(keycloak, "alice")) == {"wiki/backend.md", "wiki/hr.md", "wiki/all.md"}


def test_deleted_group_grants_nothing(
    app: TestClient, keycloak: FakeKeycloak, realm: Realm, data_dir: Path, opened: ChunkIndex
) -> None:
    token = login(keycloak, "bob")
    keycloak.realm.delete_group(realm.hr)
    recreated = keycloak.realm.add_group("hr")
    keycloak.realm.add_member(recreated, realm.bob)
    assert resync(keycloak, data_dir, opened) == "ok"
    assert found(app, token) == {"wiki/all.md"}


def test_disabled_and_deleted_users_get_403(
    app: TestClient, keycloak: FakeKeycloak, realm: Realm, data_dir: Path, opened: ChunkIndex
) -> None:
    carol, bob = login(keycloak, "carol"), login(keycloak, "bob")
    assert found(app, carol) == {"wiki/backend.md", "wiki/all.md"}
    keycloak.realm.set_enabled(realm.carol, False)
    keycloak.realm.delete_user(realm.bob)
    assert resync(keycloak, data_dir, opened) == "ok"
    assert found(app, carol) == 403
    assert found(app, bob) == 403


def test_an_account_recreated_under_a_deleted_users_name_does_not_inherit_its_grants(
    app: TestClient,
    keycloak: FakeKeycloak,
    realm: Realm,
    data_dir: Path,
    opened: ChunkIndex,
    embedder: HashingEmbedder,
    tmp_path: Path,
) -> None:
    """Observed attack: delete alice, create a new account "alice" (a new id, same e-mail): it read the old
    account's `user:alice` documents. Grants on names are bound to the account that held them first."""
    personal = [
        Chunk(
            "default",
            "wiki/alice.md",
            "wiki",
            0,
            1,
            "alice budget plan",
            "file:///srv/wiki/alice.md",
            allow=("user:alice",),
        ),
        Chunk(
            "default",
            "wiki/mail.md",
            "wiki",
            0,
            1,
            "mail budget plan",
            "file:///srv/wiki/mail.md",
            allow=("email:alice@acme.example",),
        ),
    ]
    # The source's manifest says the same, so the sync keeps these ACLs and only rebinds their names.
    with (tmp_path / "wiki-acl.yaml").open("a", encoding="utf-8") as manifest:
        manifest.write('  - paths: ["alice.md"]\n    allow: ["user:alice"]\n')
        manifest.write('  - paths: ["mail.md"]\n    allow: ["email:alice@acme.example"]\n')
    opened.upsert(personal, embedder.embed([c.text for c in personal]).tolist())
    old_token = login(keycloak, "alice")
    assert found(app, old_token) == {"wiki/backend.md", "wiki/all.md", "wiki/alice.md", "wiki/mail.md"}
    keycloak.realm.delete_user(realm.alice)
    assert resync(keycloak, data_dir, opened) == "ok"
    new_alice = keycloak.realm.add_user("alice", "alice@acme.example")
    keycloak.realm.add_member(realm.hr, new_alice)
    report = sync_once(app_settings(keycloak, data_dir), opened, FAST)
    assert report.outcome == "ok"
    assert any("user:alice" in warning and "--release" in warning for warning in report.warnings)
    new_token = login(keycloak, "alice")
    assert found(app, new_token) == {"wiki/hr.md", "wiki/all.md"}  # her own groups, not the old account's names
    assert found(app, old_token) == 403  # the deleted account's still-valid token
    # The operator hands the username (only) to the new account, deliberately and on record.
    released = sync_once(app_settings(keycloak, data_dir), opened, replace(FAST, release=("user:alice",)))
    assert any(
        w.startswith(f"released user:alice: bound to {realm.alice} before, to {new_alice}") for w in released.warnings
    )
    assert found(app, new_token) == {"wiki/hr.md", "wiki/all.md", "wiki/alice.md"}
    assert found(app, old_token) == 403


def test_failure_mid_pagination_keeps_the_old_snapshot(
    app: TestClient, keycloak: FakeKeycloak, realm: Realm, data_dir: Path, opened: ChunkIndex
) -> None:
    for i in range(150):  # two pages of users
        keycloak.realm.add_user(f"filler{i:03d}")
    assert resync(keycloak, data_dir, opened) == "ok"
    store = open_snapshot_store(app_settings(keycloak, data_dir))
    version = store.load().version  # type: ignore[union-attr]
    token = login(keycloak, "alice")
    keycloak.realm.add_member(realm.hr, realm.alice)
    with keycloak.fault(Fault("/users", from_first=100)):
        assert resync(keycloak, data_dir, opened) == "failed"
    assert store.load().version == version  # type: ignore[union-attr]
    assert found(app, token) == {"wiki/backend.md", "wiki/all.md"}  # the last good view, not a partial one
    assert resync(keycloak, data_dir, opened) == "ok"
    assert found(app, token) == {"wiki/backend.md", "wiki/hr.md", "wiki/all.md"}


def test_a_stale_snapshot_fails_closed(
    app: TestClient, keycloak: FakeKeycloak, realm: Realm, data_dir: Path, opened: ChunkIndex
) -> None:
    settings = app_settings(keycloak, data_dir)
    store = open_snapshot_store(settings)
    current = store.load()
    assert current is not None
    old = datetime.now(UTC) - timedelta(seconds=settings.directory_max_age + 60)
    store.save(build_snapshot(_data_of(current), current, now=old))
    assert found(app, login(keycloak, "alice")) == 503
    assert app.get("/readyz").status_code == 503


def _data_of(snapshot: DirectorySnapshot) -> DirectoryData:
    return DirectoryData(
        snapshot.source,
        tuple(snapshot.users.values()),
        tuple(snapshot.groups.values()),
        tuple(snapshot.roles.values()),
        issuer=snapshot.issuer,
    )


def test_in_process_schedule_revokes_within_one_interval(
    keycloak: FakeKeycloak, realm: Realm, data_dir: Path, opened: ChunkIndex
) -> None:
    settings = app_settings(keycloak, data_dir, acl_sync_interval=1)
    application = create_app(settings, index=opened, embedder=HashingEmbedder(), run_sync=True)
    with TestClient(application, raise_server_exceptions=False) as client:
        token = login(keycloak, "alice")
        deadline = time.monotonic() + 15
        while found(client, token) != {"wiki/backend.md", "wiki/all.md"} and time.monotonic() < deadline:
            time.sleep(0.1)  # the first in-process sync
        assert found(client, token) == {"wiki/backend.md", "wiki/all.md"}
        keycloak.realm.remove_member(realm.backend, realm.alice)
        changed = keycloak.realm.changed_at
        while found(client, token) != {"wiki/all.md"} and time.monotonic() < deadline:
            time.sleep(0.05)
        latency = time.time() - changed
        assert found(client, token) == {"wiki/all.md"}
        assert latency < 1 + 3  # one interval plus the sync itself, with room for a loaded machine
