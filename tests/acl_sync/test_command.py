"""`clearance acl-sync --once`: exit status, the JSON report on stdout, the metrics textfile."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from access_index.cli import main
from access_index.index import open_index
from access_index.settings import get_settings
from tests.acl_sync.conftest import Realm
from tests.acl_sync.test_source_acls import MANIFEST_V1, MANIFEST_V2, ingest_fake, readable
from tests.support.fake_keycloak import FakeKeycloak, Fault
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.served_index import serving


def configure(monkeypatch: pytest.MonkeyPatch, keycloak: FakeKeycloak, data_dir: Path) -> None:
    monkeypatch.setenv("CLEARANCE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CLEARANCE_KEYCLOAK_URL", keycloak.url)
    monkeypatch.setenv("CLEARANCE_KEYCLOAK_REALM", keycloak.realm.name)
    monkeypatch.setenv("CLEARANCE_KEYCLOAK_CLIENT_ID", keycloak.sync_client.client_id)
    monkeypatch.setenv("CLEARANCE_KEYCLOAK_CLIENT_SECRET", keycloak.sync_client.secret)


def test_once_syncs_and_reports(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keycloak: FakeKeycloak,
    realm: Realm,
    data_dir: Path,
) -> None:
    configure(monkeypatch, keycloak, data_dir)
    assert main(["acl-sync", "--once"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["outcome"] == "ok"
    assert report["directory"]["snapshot_version"] == 1
    assert report["directory"]["changes"]["users_added"] == 3
    assert "acl-sync ok" in err
    metrics = (data_dir / "directory" / "acl_sync.prom").read_text()
    assert "clearance_acl_sync_last_success_timestamp_seconds" in metrics
    assert 'clearance_acl_sync_changes_total{kind="users_added"} 3.0' in metrics


def test_once_fails_with_exit_1_and_keeps_the_snapshot(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keycloak: FakeKeycloak,
    realm: Realm,
    data_dir: Path,
) -> None:
    configure(monkeypatch, keycloak, data_dir)
    assert main(["acl-sync", "--once"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("acl_sync.retry.Backoff.delay", lambda self, retry: 0.0)
    with keycloak.fault(Fault("/groups", status=502)):
        assert main(["acl-sync", "--once"]) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["outcome"] == "failed"
    assert report["directory"]["snapshot_version"] is None
    assert "502" in err
    assert json.loads((data_dir / "directory" / "snapshot.json").read_text())["version"] == 1


def test_index_held_by_an_ingest_still_syncs_the_directory(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keycloak: FakeKeycloak,
    realm: Realm,
    data_dir: Path,
) -> None:
    configure(monkeypatch, keycloak, data_dir)
    held = open_index(get_settings(), role="ingest")
    try:
        assert main(["acl-sync", "--once"]) == 1
    finally:
        held.close()
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["directory"]["snapshot_version"] == 1
    assert report["index"] is None
    assert f"sources: not refreshed: the embedded index at {data_dir / 'index'} is in use" in err
    assert f"(clearance ingest, pid {os.getpid()})" in err


def test_beside_serve_the_acl_rewrites_go_through_its_socket(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keycloak: FakeKeycloak,
    realm: Realm,
    data_dir: Path,
    tmp_path: Path,
    embedder: HashingEmbedder,
) -> None:
    """A cron `acl-sync --once` while serve runs: directory synced, manifest change applied in serve's index."""
    configure(monkeypatch, keycloak, data_dir)
    settings = get_settings()
    manifest = tmp_path / "acl.yaml"
    manifest.write_text(MANIFEST_V1)
    with serving(settings, embedder.info) as held:
        ingest_fake(settings, held, embedder, manifest)
        manifest.write_text(MANIFEST_V2)
        assert main(["acl-sync", "--once"]) == 0
        out, err = capsys.readouterr()
        report = json.loads(out)
        assert report["index"] == f"via clearance serve (pid {os.getpid()})"
        assert f"index: via clearance serve (pid {os.getpid()})" in err
        assert report["directory"]["snapshot_version"] == 1
        assert report["chunks_updated"] == 5
        assert len(readable(held, embedder, "group:/hr")) == 3
        assert readable(held, embedder, "group:/hr", "user:mallory") == {}


def test_release_hands_a_name_over_on_record_and_only_with_once(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keycloak: FakeKeycloak,
    realm: Realm,
    data_dir: Path,
) -> None:
    configure(monkeypatch, keycloak, data_dir)
    assert main(["acl-sync", "--once"]) == 0
    keycloak.realm.delete_user(realm.alice)
    assert main(["acl-sync", "--once"]) == 0
    new_alice = keycloak.realm.add_user("alice", "alice@acme.example")
    capsys.readouterr()
    assert main(["acl-sync", "--once"]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert any(f"user:alice ({new_alice})" in w and "--release" in w for w in warnings)
    assert main(["acl-sync", "--once", "--release", "user:Alice"]) == 0  # compared as principals are
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert f"released user:alice: bound to {realm.alice} before, to {new_alice} now" in warnings
    assert not any("belong to an older account" in w and "user:alice" in w for w in warnings)
    # Refused as usage errors: without --once, and for what is no name or path.
    assert main(["acl-sync", "--interval", "5", "--release", "user:alice"]) == 2
    assert main(["acl-sync", "--once", "--release", "role:admin"]) == 2
    assert main(["acl-sync", "--once", "--release", "user:\u212aate"]) == 2
    assert "--release" in capsys.readouterr().err


def test_a_directory_file_without_issuer_among_several_issuers_stops_acl_sync(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    directory = tmp_path / "directory.yaml"
    directory.write_text("version: 1\nusers:\n  - {username: alice}\n")
    monkeypatch.setenv("CLEARANCE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CLEARANCE_DIRECTORY_FILE", str(directory))
    monkeypatch.setenv("CLEARANCE_DEV_MODE", "true")
    monkeypatch.setenv("CLEARANCE_OIDC_ISSUERS", '[{"issuer": "https://idp.example/realms/a", "audience": "c"}]')
    assert main(["acl-sync", "--once"]) == 2
    err = capsys.readouterr().err
    assert str(directory) in err and "add `issuer:" in err and "urn:clearance:dev-issuer" in err
