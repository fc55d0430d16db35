"""sync_once and the scheduler: the snapshot swap, what a failed pull leaves behind, retries, one sync at a
time, metrics; with Keycloak (the fake server) and with the YAML directory file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from access_index.directory import open_snapshot_store
from access_index.errors import SyncBusyError
from acl_sync.lock import sync_lock
from acl_sync.metrics import SyncMetrics
from acl_sync.retry import Backoff
from acl_sync.scheduler import SyncScheduler
from acl_sync.sync import SyncOptions, sync_once
from tests.acl_sync.conftest import Realm, keycloak_settings
from tests.conftest import settings_for
from tests.support.fake_keycloak import FakeKeycloak, Fault
from tests.support.readiness import wait_for

FAST = Backoff(attempts=3, base_seconds=0.01, cap_seconds=0.05)


def test_sync_stores_a_versioned_snapshot_and_reports_changes(
    keycloak: FakeKeycloak, realm: Realm, data_dir: Path
) -> None:
    settings = keycloak_settings(keycloak, data_dir)
    first = sync_once(settings, None, SyncOptions(backoff=FAST))
    assert first.outcome == "ok", first.errors
    assert first.snapshot_version == 1
    keycloak.realm.remove_member(realm.backend, realm.alice)
    keycloak.realm.set_enabled(realm.carol, False)
    keycloak.realm.rename_group(realm.backend, "platform")
    second = sync_once(settings, None, SyncOptions(backoff=FAST))
    assert second.snapshot_version == 2
    assert second.changes is not None
    assert second.changes.memberships_removed == 1
    assert second.changes.users_disabled == ("carol",)
    assert [(m.old_path, m.new_path) for m in second.changes.groups_moved] == [("/eng/backend", "/eng/platform")]
    assert second.revocation_latency_bound_seconds is not None
    snapshot = open_snapshot_store(settings).load()
    assert snapshot is not None and snapshot.version == 2
    assert snapshot.resolve("carol", None).status == "disabled"
    assert "group:/eng/backend" not in snapshot.resolve("alice", None).tokens
    # A new group at the renamed group's old path is reported: it gains nothing from that path.
    keycloak.realm.add_group("backend", realm.eng)
    third = sync_once(settings, None, SyncOptions(backoff=FAST))
    assert any("/eng/backend" in warning for warning in third.warnings)


def test_a_failed_pull_keeps_the_last_good_snapshot(keycloak: FakeKeycloak, realm: Realm, data_dir: Path) -> None:
    settings = keycloak_settings(keycloak, data_dir)
    assert sync_once(settings, None, SyncOptions(backoff=FAST)).outcome == "ok"
    store = open_snapshot_store(settings)
    before = store.load()
    keycloak.realm.remove_member(realm.backend, realm.alice)
    for i in range(120):
        keycloak.realm.add_user(f"extra{i:03d}")
    slept: list[float] = []
    metrics = SyncMetrics.create()
    with keycloak.fault(Fault("/users", from_first=100)) as fault:
        report = sync_once(settings, None, SyncOptions(backoff=FAST, sleep=slept.append, metrics=metrics))
    assert report.outcome == "failed"
    assert fault.hits == 3  # three attempts, each failing on the second page
    assert len(slept) == 2 and slept[1] > slept[0] * 1.1  # backoff grows
    assert store.load() == before
    assert metrics.errors.labels("pull")._value.get() == 1
    # The next sync that succeeds applies the change.
    assert sync_once(settings, None, SyncOptions(backoff=FAST)).outcome == "ok"
    after = store.load()
    assert after is not None and "group:/eng/backend" not in after.resolve("alice", None).tokens


def test_a_transient_failure_is_retried(keycloak: FakeKeycloak, realm: Realm, data_dir: Path) -> None:
    settings = keycloak_settings(keycloak, data_dir)
    with keycloak.fault(Fault("/members", status=503, times=1)):
        report = sync_once(settings, None, SyncOptions(backoff=FAST, sleep=lambda _: None))
    assert report.outcome == "ok"
    assert report.attempts == 2


def test_only_one_sync_at_a_time(keycloak: FakeKeycloak, realm: Realm, data_dir: Path) -> None:
    settings = keycloak_settings(keycloak, data_dir)
    with sync_lock(settings.paths.sync_lock):
        report = sync_once(settings, None)
        assert report.outcome == "skipped"
        errors: list[BaseException] = []

        def other() -> None:  # the same lock from another thread
            try:
                with sync_lock(settings.paths.sync_lock):
                    pass
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert len(errors) == 1 and isinstance(errors[0], SyncBusyError)
    assert open_snapshot_store(settings).load() is None
    assert sync_once(settings, None).outcome == "ok"


def test_lock_excludes_another_process(keycloak: FakeKeycloak, realm: Realm, data_dir: Path) -> None:
    import subprocess
    import sys

    settings = keycloak_settings(keycloak, data_dir)
    with sync_lock(settings.paths.sync_lock):
        code = (
            "import sys; from pathlib import Path; from acl_sync.lock import sync_lock\n"
            "from access_index.errors import SyncBusyError\n"
            "try:\n    with sync_lock(Path(sys.argv[1])): sys.exit(0)\n"
            "except SyncBusyError: sys.exit(3)\n"
        )
        result = subprocess.run([sys.executable, "-c", code, str(settings.paths.sync_lock)], check=False, timeout=60)
    assert result.returncode == 3


def test_yaml_directory_file(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(
        "version: 1\ngroups:\n  - {id: g-eng, path: /eng}\n"
        "users:\n  - {username: alice, email: alice@acme.example, enabled: true, groups: [g-eng]}\n"
    )
    settings = settings_for("edge", data_dir, directory_file=path)
    assert sync_once(settings, None).outcome == "ok"
    path.write_text(
        "version: 1\ngroups:\n  - {id: g-eng, path: /engineering}\nusers:\n  - {username: alice, groups: [nope]}\n"
    )
    report = sync_once(settings, None)
    assert report.outcome == "failed"
    assert "directory.yaml:5" in str(report.errors[0])
    snapshot = open_snapshot_store(settings).load()
    assert snapshot is not None and snapshot.version == 1
    assert "group:/eng" in snapshot.resolve("alice", None).tokens


def test_scheduler_syncs_on_its_interval_and_stops(keycloak: FakeKeycloak, realm: Realm, data_dir: Path) -> None:
    settings = keycloak_settings(keycloak, data_dir, acl_sync_interval=1)
    reports = []
    scheduler = SyncScheduler(settings, None, on_report=reports.append)
    scheduler.start()
    wait_for(lambda: len(reports) >= 2, timeout=20, interval=0.05)
    scheduler.stop()
    assert [report.outcome for report in reports[:2]] == ["ok", "ok"]
    count = len(reports)
    time.sleep(1.5)
    assert len(reports) == count
    snapshot = open_snapshot_store(settings).load()
    assert snapshot is not None and snapshot.version >= 2
    assert scheduler.metrics.last_success._value.get() > 0
