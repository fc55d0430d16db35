"""The audit log: one hash-chained JSON line per search and document read, in $CLEARANCE_DATA_DIR/audit/.

`search_record` and `document_record` build a record from what the request found; `AuditLog.append`
chains and writes it before the response leaves (if it cannot be written, nothing leaves: 503).

Each record carries `seq`, the `prev` record's hash and its own `hash` = SHA-256 of its canonical JSON
(without `hash`). `HEAD` holds the last seq and hash, so removing records at the end is detected too.
Appends hold an exclusive flock, so several serve processes (on a Qdrant server) share one chain.
Records are flushed to the OS before the response is sent (durable across a process crash).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from access_index.errors import AuditWriteError
from retrieval.caller import Identity
from retrieval.search import Found

LOG_FILE = "audit.jsonl"
HEAD_FILE = "HEAD"
LOCK_FILE = "LOCK"
GENESIS = "0" * 64


def search_record(
    request_id: str, identity: Identity, query: str, top_k: int, found: Sequence[Found], store_query_text: bool
) -> dict[str, Any]:
    """What one search is remembered by: who asked, a hash of what (the text only if configured), what came back."""
    record = _base_record(request_id, "search", identity, found)
    record["query_sha256"] = hashlib.sha256(query.encode("utf-8")).hexdigest()
    record["top_k"] = top_k
    if store_query_text:
        record["query"] = query
    return record


def document_record(request_id: str, identity: Identity, document_id: str, found: Sequence[Found]) -> dict[str, Any]:
    """What one document read is remembered by (`results` is empty for a 404)."""
    record = _base_record(request_id, "document", identity, found)
    record["document_id"] = document_id
    return record


def _base_record(request_id: str, event: str, identity: Identity, found: Sequence[Found]) -> dict[str, Any]:
    return {
        "time": datetime.now(UTC).isoformat(timespec="microseconds"),
        "request_id": request_id,
        "event": event,
        "issuer": identity.issuer,
        "subject": identity.subject,
        "agents": list(identity.agents),
        "tenant": identity.caller.tenant,
        "results": [
            {"chunk_id": item.chunk.point_id, "document_id": item.chunk.document_id, "granted_by": item.granted_by}
            for item in found
        ],
    }


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the record without its own hash."""
    body = {key: value for key, value in record.items() if key != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AuditLog:
    """Appends records to the chain; thread-safe and process-safe."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._thread_lock = threading.Lock()

    def append(self, fields: Mapping[str, Any]) -> str:
        """Chain and write one record; AuditWriteError when it cannot be written (the caller fails closed)."""
        try:
            with self._thread_lock, self._process_lock():
                seq, previous = self._head()
                record = {**fields, "seq": seq + 1, "prev": previous}
                record["hash"] = record_hash(record)
                line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
                with open(self.directory / LOG_FILE, "a", encoding="utf-8") as handle:
                    handle.write(line)
                    handle.flush()
                self._write_head(record["seq"], record["hash"])
                return str(record["hash"])
        except AuditWriteError:
            raise
        except (OSError, ValueError) as error:
            raise AuditWriteError(f"cannot write the audit log in {self.directory}: {error}") from error

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / LOCK_FILE, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _head(self) -> tuple[int, str]:
        head_path = self.directory / HEAD_FILE
        if not head_path.exists():
            log_path = self.directory / LOG_FILE
            if log_path.exists() and log_path.stat().st_size > 0:
                # Never restart a chain silently: a missing HEAD next to records means tampering or damage.
                raise AuditWriteError(
                    f"{head_path} is missing but {log_path} has records: run `clearance audit verify` and "
                    "move the damaged log aside"
                )
            return 0, GENESIS
        head = json.loads(head_path.read_text(encoding="utf-8"))
        return int(head["seq"]), str(head["hash"])

    def _write_head(self, seq: int, digest: str) -> None:
        temporary = self.directory / (HEAD_FILE + ".tmp")
        temporary.write_text(json.dumps({"seq": seq, "hash": digest}), encoding="utf-8")
        os.replace(temporary, self.directory / HEAD_FILE)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of `clearance audit verify`: ok, how many records, and the first break if any."""

    ok: bool
    records: int
    problem: str | None = None


def verify_log(directory: Path) -> VerifyReport:
    """Walk the chain: every hash recomputes, every `prev` names the previous record, seq has no gap,
    and HEAD names the last record. Reports the first break (line number and what is wrong)."""
    log_path, head_path = directory / LOG_FILE, directory / HEAD_FILE
    if not log_path.exists():
        if head_path.exists():
            return VerifyReport(False, 0, f"{head_path} exists but {log_path} is missing")
        return VerifyReport(True, 0)
    previous, seq = GENESIS, 0
    with open(log_path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                record = json.loads(line)
            except ValueError:
                return VerifyReport(False, seq, f"line {number}: not a JSON record")
            if not isinstance(record, dict):
                return VerifyReport(False, seq, f"line {number}: not a JSON object")
            if record.get("hash") != record_hash(record):
                return VerifyReport(False, seq, f"line {number}: record was edited (hash does not match)")
            if record.get("prev") != previous:
                return VerifyReport(False, seq, f"line {number}: chain broken (a record was removed or reordered)")
            if record.get("seq") != seq + 1:
                return VerifyReport(False, seq, f"line {number}: sequence jumps from {seq} to {record.get('seq')}")
            previous, seq = record["hash"], seq + 1
    if not head_path.exists():
        return VerifyReport(False, seq, f"{head_path} is missing")
    try:
        head = json.loads(head_path.read_text(encoding="utf-8"))
    except ValueError:
        return VerifyReport(False, seq, f"{head_path} is not valid JSON")
    if head.get("seq") != seq or head.get("hash") != previous:
        return VerifyReport(
            False, seq, f"HEAD names record {head.get('seq')} but the log ends at {seq}: records were removed"
        )
    return VerifyReport(True, seq)
