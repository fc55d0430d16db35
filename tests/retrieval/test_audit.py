"""The audit chain detects an edited, removed, reordered or truncated record; `clearance audit verify` exits 1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from access_index.cli import main
from retrieval.audit import AuditLog, verify_log


def write_records(directory: Path, count: int = 5) -> Path:
    log = AuditLog(directory)
    for number in range(count):
        log.append({"event": "search", "request_id": f"r{number}", "subject": "alice", "results": []})
    return directory / "audit.jsonl"


def edit(path: Path) -> None:
    lines = path.read_text().splitlines()
    record = json.loads(lines[2])
    record["subject"] = "mallory"
    lines[2] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")


def edit_and_rehash(path: Path) -> None:
    # An attacker who recomputes the edited record's hash still breaks the next record's `prev`.
    from retrieval.audit import record_hash

    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["subject"] = "mallory"
    record["hash"] = record_hash(record)
    lines[1] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")


def remove(path: Path) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2] + lines[3:]) + "\n")


def reorder(path: Path) -> None:
    lines = path.read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    path.write_text("\n".join(lines) + "\n")


def truncate(path: Path) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")


TAMPERING: dict[str, Callable[[Path], None]] = {
    "edited": edit,
    "edited and rehashed": edit_and_rehash,
    "removed": remove,
    "reordered": reorder,
    "last record removed": truncate,
}


def test_intact_chain_verifies(tmp_path: Path) -> None:
    write_records(tmp_path)
    report = verify_log(tmp_path)
    assert report.ok and report.records == 5


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_detected(case: str, tmp_path: Path) -> None:
    TAMPERING[case](write_records(tmp_path))
    report = verify_log(tmp_path)
    assert not report.ok
    assert report.problem


def test_appending_after_head_loss_refuses_instead_of_restarting_the_chain(tmp_path: Path) -> None:
    from access_index.errors import AuditWriteError

    write_records(tmp_path)
    (tmp_path / "HEAD").unlink()
    with pytest.raises(AuditWriteError):
        AuditLog(tmp_path).append({"event": "search"})


def test_cli_verify_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit_dir = tmp_path / "audit"
    write_records(audit_dir)
    assert main(["--data-dir", str(tmp_path), "audit", "verify"]) == 0
    assert json.loads(capsys.readouterr().out)["records"] == 5
    reorder(audit_dir / "audit.jsonl")
    assert main(["--data-dir", str(tmp_path), "audit", "verify"]) == 1
    assert "chain broken" in capsys.readouterr().err
