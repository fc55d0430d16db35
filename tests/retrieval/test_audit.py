"""The audit chain as an attacker and a faulty disk would try it.

Attacks (someone who can write the audit folder but has no key): edit, remove, reorder, insert, cut the
tail, re-sign with their own key, replace segments; every one is a break. Faults: a failed HEAD write,
a full disk mid-line, a failed fsync, a writer killed (SIGKILL) between its writes, writers in several
processes: none forks the chain, and the next append continues it.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from access_index.cli import main
from access_index.errors import AuditWriteError, ConfigError
from access_index.paths import DataPaths
from access_index.settings import load_settings
from retrieval.audit import AuditLog, AuditOptions, Keyring, verify_log
from retrieval.audit.chain import RECORD_CONTEXT, canonical
from retrieval.audit.keys import add_key, load_key_file, public_document, verifying_keyring, writing_keyring

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def paths(tmp_path: Path) -> DataPaths:
    return DataPaths(tmp_path / "data")


@pytest.fixture
def keyring(audit_key_file: Path, paths: DataPaths) -> Keyring:
    return load_key_file(audit_key_file, paths.root)


def new_log(paths: DataPaths, keyring: Keyring, **options: Any) -> AuditLog:
    return AuditLog(paths, keyring, AuditOptions(**{"fsync": "never", **options}))


def fill(log: AuditLog, count: int, subject: str = "alice") -> list[dict[str, Any]]:
    return [
        log.append({"event": "search", "request_id": f"r{number}", "subject": subject, "results": []})
        for number in range(count)
    ]


def segment_lines(paths: DataPaths) -> tuple[Path, list[str]]:
    """The (only or last) segment and its lines."""
    path = paths.audit_segments()[-1][1]
    return path, path.read_text(encoding="utf-8").splitlines()


def rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def signed_by(attacker: Keyring, record: dict[str, Any]) -> dict[str, Any]:
    """The record re-signed with a key the attacker made, under the same key id."""
    body = {name: value for name, value in record.items() if name != "sig"}
    return {**body, "sig": attacker.sign(RECORD_CONTEXT + canonical(body))}


@pytest.fixture
def attacker(tmp_path: Path, keyring: Keyring) -> Keyring:
    """A key the attacker generated, presented under the real key's id."""
    add_key(tmp_path / "attacker.json", tmp_path / "data")
    own = load_key_file(tmp_path / "attacker.json", tmp_path / "data")
    own_id = own.signing_key_id()
    real_id = keyring.signing_key_id()
    return Keyring(
        public={real_id: own.public[own_id]}, private={real_id: own.private[own_id]}, active=real_id, source="attacker"
    )


# -- attacks by someone who can write the audit folder, without the key ------------------------------------
def edit(paths: DataPaths, attacker: Keyring) -> None:
    path, lines = segment_lines(paths)
    record = json.loads(lines[2])
    record["subject"] = "mallory"
    lines[2] = canonical(record).decode()
    rewrite(path, lines)


def edit_and_resign(paths: DataPaths, attacker: Keyring) -> None:
    path, lines = segment_lines(paths)
    record = json.loads(lines[2])
    record["subject"] = "mallory"
    lines[2] = canonical(signed_by(attacker, record)).decode()
    rewrite(path, lines)


def remove(paths: DataPaths, attacker: Keyring) -> None:
    path, lines = segment_lines(paths)
    rewrite(path, lines[:2] + lines[3:])


def delete_rechain_and_rewrite_head(paths: DataPaths, attacker: Keyring) -> None:
    """The attack the unkeyed chain let through: delete a record, rebuild every later link (seq, prev and
    the record's own seal) and rewrite HEAD to match, all signed with the attacker's own key."""
    path, lines = segment_lines(paths)
    records = [json.loads(line) for line in lines]
    del records[2]
    for number in range(2, len(records)):
        records[number]["seq"] = number + 1
        records[number]["prev"] = records[number - 1]["sig"]
        records[number] = signed_by(attacker, records[number])
    rewrite(path, [canonical(record).decode() for record in records])
    forge_head(paths, attacker, records[-1])


def forge_head(paths: DataPaths, attacker: Keyring, last: dict[str, Any]) -> None:
    from retrieval.audit.chain import Head, head_bytes

    head = Head(last["seq"], last["sig"], paths.audit_segments()[-1][1].name, datetime.now(UTC).isoformat())
    paths.audit_head.write_bytes(head_bytes(head, attacker))


def reorder(paths: DataPaths, attacker: Keyring) -> None:
    path, lines = segment_lines(paths)
    lines[1], lines[2] = lines[2], lines[1]
    rewrite(path, lines)


def insert_forged(paths: DataPaths, attacker: Keyring) -> None:
    path, lines = segment_lines(paths)
    forged = {**json.loads(lines[1]), "subject": "mallory", "request_id": "forged"}
    lines.insert(2, canonical(signed_by(attacker, forged)).decode())
    rewrite(path, lines)


def cut_tail(paths: DataPaths, attacker: Keyring) -> None:
    path, lines = segment_lines(paths)
    rewrite(path, lines[:-2])


def cut_tail_and_point_head_back(paths: DataPaths, attacker: Keyring) -> None:
    """Truncate, then make HEAD name the new last record (HEAD re-signed with the attacker's key)."""
    path, lines = segment_lines(paths)
    rewrite(path, lines[:-2])
    forge_head(paths, attacker, json.loads(lines[-3]))


def copy_head_from_record(paths: DataPaths, attacker: Keyring) -> None:
    """Truncate, and replace HEAD by a genuine signed record (a record's signature is not HEAD's)."""
    path, lines = segment_lines(paths)
    rewrite(path, lines[:-2])
    paths.audit_head.write_text(lines[-3] + "\n")


def remove_head(paths: DataPaths, attacker: Keyring) -> None:
    paths.audit_head.unlink()


ATTACKS: dict[str, Callable[[DataPaths, Keyring], None]] = {
    "edited": edit,
    "edited and re-signed": edit_and_resign,
    "removed": remove,
    "removed, re-chained, HEAD rewritten": delete_rechain_and_rewrite_head,
    "reordered": reorder,
    "forged record inserted": insert_forged,
    "tail cut": cut_tail,
    "tail cut, HEAD pointed back": cut_tail_and_point_head_back,
    "tail cut, HEAD copied from a record": copy_head_from_record,
    "HEAD removed": remove_head,
}


def test_intact_chain_verifies(paths: DataPaths, keyring: Keyring) -> None:
    records = fill(new_log(paths, keyring), 6)
    report = verify_log(paths, keyring)
    assert report.ok, report.first_break
    assert report.records == 6 and report.keys_used == {keyring.signing_key_id()}
    assert [record["seq"] for record in records] == [1, 2, 3, 4, 5, 6]
    assert all(later["prev"] == earlier["sig"] for earlier, later in itertools.pairwise(records))


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_tampering_without_the_key_is_detected(
    attack: str, paths: DataPaths, keyring: Keyring, attacker: Keyring
) -> None:
    fill(new_log(paths, keyring), 6)
    ATTACKS[attack](paths, attacker)
    report = verify_log(paths, keyring)
    assert not report.ok, f"{attack} went unnoticed"
    assert report.first_break is not None and report.first_break.reason
    # ... and the service refuses to build on a log in that state rather than fork or bless it.
    if attack not in {"edited", "edited and re-signed", "reordered", "forged record inserted", "removed"}:
        with pytest.raises(AuditWriteError):
            new_log(paths, keyring).append({"event": "search"})


def test_a_record_signed_with_an_unknown_key_is_a_break(paths: DataPaths, keyring: Keyring, tmp_path: Path) -> None:
    add_key(tmp_path / "other.json", paths.root)
    fill(new_log(paths, load_key_file(tmp_path / "other.json", paths.root)), 2)
    report = verify_log(paths, keyring)
    assert not report.ok and "unknown to" in report.first_break.reason  # type: ignore[union-attr]


def test_a_rolled_back_log_is_caught_with_an_earlier_verify_s_seq(paths: DataPaths, keyring: Keyring) -> None:
    """Whoever kept an old segment and its old (genuine) HEAD can put both back; only a seq remembered
    from an earlier verify (or shipped elsewhere) shows the rollback (docs/audit.md, threat model)."""
    log = new_log(paths, keyring)
    fill(log, 3)
    old_segment = paths.audit_segments()[-1][1].read_bytes()
    old_head = paths.audit_head.read_bytes()
    fill(log, 3)
    seen = verify_log(paths, keyring).records
    paths.audit_segments()[-1][1].write_bytes(old_segment)
    paths.audit_head.write_bytes(old_head)
    assert verify_log(paths, keyring).ok  # indistinguishable from the older log, by design
    rolled_back = verify_log(paths, keyring, at_least=seen)
    assert not rolled_back.ok and "rolled back" in rolled_back.first_break.reason  # type: ignore[union-attr]


# -- keys ----------------------------------------------------------------------------------------------
def test_key_rotation_keeps_the_old_records_verifiable(paths: DataPaths, tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "audit.json"
    first = add_key(key_file, paths.root)
    fill(new_log(paths, load_key_file(key_file, paths.root)), 3)
    second = add_key(key_file, paths.root)
    rotated = load_key_file(key_file, paths.root)
    assert rotated.signing_key_id() == second != first
    records = fill(new_log(paths, rotated), 3)
    assert [record["key_id"] for record in records] == [second] * 3
    report = verify_log(paths, rotated)
    assert report.ok and report.keys_used == {first, second}

    # Auditors verify with public halves only; and the old key's private half can be destroyed.
    public_file = tmp_path / "auditor.json"
    public_file.write_text(json.dumps(public_document(rotated)))
    auditor = load_key_file(public_file, paths.root)
    assert not auditor.can_sign() and verify_log(paths, auditor).ok
    with pytest.raises(ConfigError):
        new_log(paths, auditor)

    document = json.loads(key_file.read_text())
    document["keys"][first].pop("private")
    key_file.write_text(json.dumps(document))
    retired = load_key_file(key_file, paths.root)
    assert verify_log(paths, retired).ok
    fill(new_log(paths, retired), 1)

    # Dropping the old key from the file altogether makes its records unverifiable: a break, not a pass.
    del document["keys"][first]
    key_file.write_text(json.dumps(document))
    report = verify_log(paths, load_key_file(key_file, paths.root))
    assert not report.ok and first in report.first_break.reason  # type: ignore[union-attr]


def test_a_key_file_inside_the_data_dir_is_refused(paths: DataPaths) -> None:
    with pytest.raises(ConfigError, match="inside the data dir"):
        add_key(paths.root / "keys.json", paths.root)
    paths.root.mkdir(parents=True)
    outside = paths.root.parent / "keys.json"
    add_key(outside, paths.root)
    # A data dir that contains the file (here: its parent), or a link in the data dir that points out
    # of it (whoever writes the data dir can re-point it): both refused.
    with pytest.raises(ConfigError, match="inside the data dir"):
        load_key_file(outside, paths.root.parent)
    (paths.root / "keys.json").symlink_to(outside)
    with pytest.raises(ConfigError, match="inside the data dir"):
        load_key_file(paths.root / "keys.json", paths.root)
    # ... and a data dir reached through a link is the same data dir.
    (paths.root.parent / "data-link").symlink_to(paths.root)
    with pytest.raises(ConfigError, match="inside the data dir"):
        load_key_file(paths.root / "keys.json", paths.root.parent / "data-link")
    assert load_key_file(outside, paths.root).can_sign()


@pytest.mark.parametrize(("mode", "complaint"), [(0o620, "writable by others"), (0o604, "may read it")])
def test_a_key_file_others_can_reach_is_refused(tmp_path: Path, mode: int, complaint: str) -> None:
    key_file = tmp_path / "keys.json"
    add_key(key_file, tmp_path / "data")
    key_file.chmod(mode)
    with pytest.raises(ConfigError, match=complaint):
        load_key_file(key_file, tmp_path / "data")


def test_without_a_key_file_serve_signs_with_a_private_per_user_key_outside_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLEARANCE_AUDIT_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    settings = load_settings(data_dir=tmp_path / "data")
    keyring = writing_keyring(settings)
    assert not keyring.development
    key_file = tmp_path / "config" / "clearance" / "audit-keys.json"
    assert key_file.stat().st_mode & 0o077 == 0
    record = new_log(settings.paths, keyring).append({"event": "search"})
    assert writing_keyring(settings).signing_key_id() == record["key_id"]  # the same key next time
    assert verify_log(settings.paths, verifying_keyring(settings)).ok
    # a config dir inside the data dir would put the key within reach of whoever writes the audit folder
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "data" / "config"))
    with pytest.raises(ConfigError):
        writing_keyring(settings)


def test_a_verify_only_key_file_cannot_sign(tmp_path: Path) -> None:
    verify_only = tmp_path / "auditor.json"
    add_key(tmp_path / "full.json", tmp_path / "data")
    verify_only.write_text(json.dumps(public_document(load_key_file(tmp_path / "full.json", tmp_path / "data"))))
    with pytest.raises(ConfigError, match="no active private key"):
        writing_keyring(load_settings(data_dir=tmp_path / "data", audit_key_file=verify_only))


def test_dev_mode_signs_with_a_marked_development_key_outside_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLEARANCE_AUDIT_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    settings = load_settings(data_dir=tmp_path / "data", dev_mode=True)
    keyring = writing_keyring(settings)
    assert keyring.development and keyring.signing_key_id().startswith("dev-")
    assert (tmp_path / "config" / "clearance" / "dev-audit-keys.json").stat().st_mode & 0o077 == 0
    record = new_log(settings.paths, keyring).append({"event": "search"})
    assert record["key_id"].startswith("dev-")
    assert writing_keyring(settings).signing_key_id() == record["key_id"]  # the same key next time
    # verify finds the development key without any setting, as the developer would run it
    assert verify_log(settings.paths, verifying_keyring(load_settings(data_dir=tmp_path / "data"))).ok


# -- faults: none forks the chain ----------------------------------------------------------------------
def fail_with(code: int) -> Callable[..., Any]:
    def failing(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code))

    return failing


def test_a_failed_head_write_leaves_no_fork(
    paths: DataPaths, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = new_log(paths, keyring, fsync="record")
    fill(log, 3)
    with monkeypatch.context() as patch:
        patch.setattr("retrieval.audit.log.os.replace", fail_with(errno.ENOSPC))
        with pytest.raises(AuditWriteError):
            log.append({"event": "search", "request_id": "head-fails"})
        with pytest.raises(AuditWriteError):
            log.append({"event": "search", "request_id": "head-fails-again"})
    # Both records reached the log (their responses were withheld); HEAD lags, which is not a break.
    lagging = verify_log(paths, keyring)
    assert lagging.ok and lagging.records == 5 and lagging.head_seq == 3 and lagging.warnings
    record = log.append({"event": "search", "request_id": "after"})
    assert record["seq"] == 6
    report = verify_log(paths, keyring)
    assert report.ok and report.records == 6 and report.head_seq == 6 and not report.warnings


def test_a_new_chain_survives_losing_its_first_head_write(
    paths: DataPaths, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace, calls = os.replace, []

    def second_fails(source: Any, target: Any) -> None:
        calls.append(target)
        if len(calls) == 2:  # the first is HEAD for the empty chain, the second names record 1
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(source, target)

    with monkeypatch.context() as patch:
        patch.setattr("retrieval.audit.log.os.replace", second_fails)
        with pytest.raises(AuditWriteError):
            new_log(paths, keyring).append({"event": "search"})
    assert verify_log(paths, keyring).ok and verify_log(paths, keyring).head_seq == 0
    assert new_log(paths, keyring).append({"event": "search"})["seq"] == 2
    assert verify_log(paths, keyring).ok


def test_a_full_disk_mid_line_leaves_no_fork(
    paths: DataPaths, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = new_log(paths, keyring)
    fill(log, 3)
    real_write = os.write

    def half_then_full(descriptor: int, data: bytes) -> int:
        return real_write(descriptor, data[: len(data) // 2])  # the kernel's short write when the disk fills

    with monkeypatch.context() as patch:
        patch.setattr("retrieval.audit.log.os.write", half_then_full)
        with pytest.raises(AuditWriteError):
            log.append({"event": "search", "request_id": "torn"})
    torn = verify_log(paths, keyring)
    assert torn.ok and any("interrupted write" in warning for warning in torn.warnings)
    with monkeypatch.context() as patch:
        patch.setattr("retrieval.audit.log.os.write", fail_with(errno.ENOSPC))
        with pytest.raises(AuditWriteError):
            log.append({"event": "search", "request_id": "nothing-written"})
    assert log.append({"event": "search", "request_id": "after"})["seq"] == 4
    report = verify_log(paths, keyring)
    assert report.ok and report.records == 4 and not report.warnings
    assert [json.loads(line)["request_id"] for line in segment_lines(paths)[1]] == ["r0", "r1", "r2", "after"]


def test_a_failed_fsync_is_a_failed_append(paths: DataPaths, keyring: Keyring, monkeypatch: pytest.MonkeyPatch) -> None:
    log = new_log(paths, keyring, fsync="record")
    fill(log, 2)
    with monkeypatch.context() as patch:
        patch.setattr("retrieval.audit.log.os.fdatasync", fail_with(errno.EIO))
        with pytest.raises(AuditWriteError):
            log.append({"event": "search"})
    assert log.append({"event": "search"})["seq"] == 4
    assert verify_log(paths, keyring).ok


def run_writer(
    paths: DataPaths, key_file: Path, count: int, fsync: str = "never", segment_bytes: int = 4096, **popen: Any
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.audit_writer",
            str(paths.root),
            str(key_file),
            str(count),
            fsync,
            str(segment_bytes),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        **popen,
    )


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_never_forks_the_chain(
    paths: DataPaths, keyring: Keyring, audit_key_file: Path
) -> None:
    """SIGKILL a writer that appends in a loop (with rotations every few records), many times: each kill
    lands between any two of its steps, the log write and the HEAD write included."""
    chance = random.Random(14)
    appended = 0
    lagged = 0
    for _ in range(30):
        writer = run_writer(paths, audit_key_file, 0)
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        try:
            writer.wait(timeout=chance.uniform(0.0, 0.06))
        except subprocess.TimeoutExpired:
            writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=30) == -signal.SIGKILL
        report = verify_log(paths, keyring)
        assert report.ok, report.first_break
        lagged += report.head_seq != report.records
        record = new_log(paths, keyring).append({"event": "search", "request_id": "after-kill"})
        appended += 1
        assert record["seq"] == report.records + 1
        assert verify_log(paths, keyring).ok
    final = verify_log(paths, keyring)
    assert final.ok and final.records > appended and len(final.segments) > 1
    assert final.records == len(
        {(r["seq"]) for _, path in paths.audit_segments() for r in map(json.loads, path.read_text().splitlines())}
    )
    print(f"{final.records} records, {len(final.segments)} segments, HEAD lagged after {lagged} of 30 kills")


def test_a_file_size_limit_mid_write_leaves_no_fork(paths: DataPaths, keyring: Keyring, audit_key_file: Path) -> None:
    """A real kernel refusal: the writer runs under RLIMIT_FSIZE, so a write that crosses the limit is
    cut short and the next one fails with EFBIG, as on a full disk; HEAD (a small file) still writes."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))

    writer = run_writer(paths, audit_key_file, 1000, segment_bytes=1 << 20, preexec_fn=limit)
    output, _ = writer.communicate(timeout=60)
    assert writer.returncode == 3, output
    assert "File too large" in output or "short write" in output
    size = paths.audit_segments()[-1][1].stat().st_size
    assert size <= 6000
    before = verify_log(paths, keyring)
    assert before.ok, before.first_break
    assert new_log(paths, keyring).append({"event": "search"})["seq"] == before.records + 1
    assert verify_log(paths, keyring).ok


def test_writers_in_several_processes_share_one_chain(paths: DataPaths, keyring: Keyring, audit_key_file: Path) -> None:
    writers = [run_writer(paths, audit_key_file, 60, fsync=fsync) for fsync in ("never", "record", "interval")]
    for writer in writers:
        output, _ = writer.communicate(timeout=120)
        assert writer.returncode == 0, output
    report = verify_log(paths, keyring)
    assert report.ok, report.first_break
    assert report.records == 180 and len(report.segments) > 2


def test_concurrent_appends_are_committed_in_groups_without_a_fork(
    paths: DataPaths, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16 request threads at once: every append gets its own seq, fewer fsyncs than records are needed,
    and a group whose fsync fails fails all of its appends and none of the next group's."""
    log = new_log(paths, keyring, fsync="record", segment_max_bytes=4096)
    real_fdatasync, syncs, failed = os.fdatasync, [], []

    def counted(descriptor: int) -> None:
        syncs.append(descriptor)
        if len(syncs) == 5:
            raise OSError(errno.EIO, "Input/output error")
        real_fdatasync(descriptor)

    monkeypatch.setattr("retrieval.audit.log.os.fdatasync", counted)
    seqs: list[int] = []

    def caller(number: int) -> None:
        for round_ in range(10):
            try:
                seqs.append(log.append({"event": "search", "request_id": f"{number}-{round_}"})["seq"])
            except AuditWriteError:
                failed.append(number)

    threads = [threading.Thread(target=caller, args=(number,)) for number in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify_log(paths, keyring)
    assert report.ok, report.first_break
    assert failed and len(seqs) + len(failed) == 160
    assert len(set(seqs)) == len(seqs) and report.records >= len(seqs)  # a failed group's records may remain
    assert len(syncs) < report.records


def test_a_stale_writer_follows_a_rotation_by_another(paths: DataPaths, keyring: Keyring) -> None:
    """Two logs in one process stand for two serve processes: each has its own view of the head."""
    first, second = new_log(paths, keyring, segment_max_bytes=600), new_log(paths, keyring, segment_max_bytes=600)
    for number in range(12):
        (first if number % 3 else second).append({"event": "search", "request_id": f"r{number}"})
    report = verify_log(paths, keyring)
    assert report.ok and report.records == 12 and len(report.segments) >= 4


# -- segments ------------------------------------------------------------------------------------------
def test_segments_rotate_by_size_and_verify_spans_them(paths: DataPaths, keyring: Keyring) -> None:
    log = new_log(paths, keyring, segment_max_bytes=1500)
    fill(log, 20)
    segments = paths.audit_segments()
    assert len(segments) >= 4
    assert all(path.stat().st_size <= 1500 for _, path in segments)
    report = verify_log(paths, keyring)
    assert report.ok and report.records == 20
    assert [summary.first_seq for summary in report.segments] == [first for first, _ in segments]
    assert report.segments[0].first_seq == 1 and report.segments[-1].last_seq == 20


def test_segments_rotate_by_day(paths: DataPaths, keyring: Keyring) -> None:
    moment = [datetime(2025, 3, 1, 23, 59, 58, tzinfo=UTC)]
    log = AuditLog(paths, keyring, AuditOptions(fsync="never"), clock=lambda: moment[0])
    fill(log, 2)
    moment[0] += timedelta(seconds=5)
    fill(log, 2)
    moment[0] += timedelta(days=1)
    fill(log, 1)
    report = verify_log(paths, keyring)
    assert report.ok
    assert [(s.first_seq, s.records, (s.first_time or "")[:10]) for s in report.segments] == [
        (1, 2, "2025-03-01"),
        (3, 2, "2025-03-02"),
        (5, 1, "2025-03-03"),
    ]
    undivided = DataPaths(paths.root.parent / "undivided")
    log = AuditLog(undivided, keyring, AuditOptions(fsync="never", segment_daily=False), clock=lambda: moment[0])
    fill(log, 1)
    moment[0] += timedelta(days=1)
    fill(log, 1)
    assert len(undivided.audit_segments()) == 1


def missing_middle(paths: DataPaths) -> None:
    paths.audit_segments()[1][1].unlink()


def missing_last(paths: DataPaths) -> None:
    paths.audit_segments()[-1][1].unlink()


def missing_first(paths: DataPaths) -> None:
    paths.audit_segments()[0][1].unlink()


def swapped(paths: DataPaths) -> None:
    (_, one), (_, two) = paths.audit_segments()[1:3]
    one_bytes, two_bytes = one.read_bytes(), two.read_bytes()
    one.write_bytes(two_bytes)
    two.write_bytes(one_bytes)


def renamed(paths: DataPaths) -> None:
    """A segment moved to the end of the chain under a later name."""
    _, path = paths.audit_segments()[1]
    path.rename(paths.audit_segment(10_000))


def emptied(paths: DataPaths) -> None:
    paths.audit_segments()[1][1].write_bytes(b"")


SEGMENT_ATTACKS: dict[str, Callable[[DataPaths], None]] = {
    "a middle segment removed": missing_middle,
    "the last segment removed": missing_last,
    "the first segment removed": missing_first,
    "two segments swapped": swapped,
    "a segment renamed": renamed,
    "a middle segment emptied": emptied,
}


@pytest.mark.parametrize("attack", sorted(SEGMENT_ATTACKS))
def test_a_missing_or_reordered_segment_is_a_break(attack: str, paths: DataPaths, keyring: Keyring) -> None:
    fill(new_log(paths, keyring, segment_max_bytes=1500), 20)
    assert len(paths.audit_segments()) >= 4
    SEGMENT_ATTACKS[attack](paths)
    report = verify_log(paths, keyring)
    assert not report.ok, f"{attack} went unnoticed"


# -- what the service refuses, and recovery ------------------------------------------------------------
def test_head_ahead_of_the_log_refuses_until_recovered(paths: DataPaths, keyring: Keyring) -> None:
    """What a power failure with fsync off can leave: HEAD names records the log lost."""
    log = new_log(paths, keyring)
    fill(log, 5)
    path, lines = segment_lines(paths)
    rewrite(path, lines[:3])
    with pytest.raises(AuditWriteError, match="log ends at 3"):
        new_log(paths, keyring).append({"event": "search"})
    assert not verify_log(paths, keyring).ok
    record = new_log(paths, keyring).recover("power failure on 2025-03-01, fsync was off")
    assert record is not None and record["seq"] == 4 and record["event"] == "recovered"
    assert "HEAD names record 5" in record["problem"]
    assert new_log(paths, keyring).append({"event": "search"})["seq"] == 5
    report = verify_log(paths, keyring)
    assert report.ok and report.recoveries and any("recovered at seq 4" in w for w in report.warnings)
    assert new_log(paths, keyring).recover("again") is None


def test_an_unkeyed_log_of_an_earlier_version_is_never_continued(paths: DataPaths, keyring: Keyring) -> None:
    paths.audit_dir.mkdir(parents=True)
    paths.audit_unkeyed_log.write_text('{"seq": 1}\n')
    with pytest.raises(AuditWriteError, match="earlier version"):
        new_log(paths, keyring).append({"event": "search"})
    assert not verify_log(paths, keyring).ok


def test_fields_the_chain_cannot_hold_fail_the_append_and_nothing_else(paths: DataPaths, keyring: Keyring) -> None:
    log = new_log(paths, keyring)
    fill(log, 1)
    with pytest.raises(AuditWriteError):
        log.append({"event": "search", "seq": 99})  # the chain's own field
    with pytest.raises(AuditWriteError):
        log.append({"event": "search", "agents": {"not", "json"}})
    assert log.append({"event": "search"})["seq"] == 2 and verify_log(paths, keyring).ok


def test_interval_fsync_brings_head_up_without_further_traffic(paths: DataPaths, keyring: Keyring) -> None:
    log = new_log(paths, keyring, fsync="interval", fsync_interval=0.05)
    fill(log, 3)
    assert verify_log(paths, keyring).head_seq == 1  # synced with the first record, then not yet
    for _ in range(100):
        if verify_log(paths, keyring).head_seq == 3:
            break
        time.sleep(0.05)
    assert verify_log(paths, keyring).head_seq == 3
    log.close()


# -- the command ---------------------------------------------------------------------------------------
@pytest.fixture
def cli_data(tmp_path: Path, keyring: Keyring) -> Path:
    fill(new_log(DataPaths(tmp_path / "data"), keyring, segment_max_bytes=1500), 12)
    return tmp_path / "data"


def test_cli_verify_reports_in_json_and_in_words(cli_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(cli_data), "audit", "verify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["records"] == 12 and report["break"] is None
    assert len(report["segments"]) >= 2 and report["segments"][0]["first_seq"] == 1
    assert len(report["keys_used"]) == 1 and report["head_seq"] == 12
    assert main(["--data-dir", str(cli_data), "audit", "verify"]) == 0
    assert "intact: 12 records" in capsys.readouterr().out

    reorder(DataPaths(cli_data), Keyring(public={}))
    assert main(["--data-dir", str(cli_data), "audit", "verify", "--json"]) == 1
    captured = capsys.readouterr()
    broken = json.loads(captured.out)["break"]
    assert broken["segment"].startswith("audit-") and broken["line"] == 2 and "chain broken" in broken["reason"]
    assert "chain broken" in captured.err
    assert main(["--data-dir", str(cli_data), "audit", "verify"]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_cli_keygen_and_public_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "etc" / "keys.json"
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "audit", "keygen", "--key-file", str(key_file)]) == 0
    assert key_file.stat().st_mode & 0o077 == 0
    assert main(["--data-dir", str(data), "audit", "keygen", "--key-file", str(key_file)]) == 0
    assert len(json.loads(key_file.read_text())["keys"]) == 2
    capsys.readouterr()
    assert main(["--data-dir", str(data), "audit", "public-keys", "--key-file", str(key_file)]) == 0
    public = json.loads(capsys.readouterr().out)
    assert len(public["keys"]) == 2 and "private" not in json.dumps(public)
    assert main(["--data-dir", str(data), "audit", "keygen", "--key-file", str(data / "keys.json")]) == 2
