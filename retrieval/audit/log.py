"""`AuditLog`: appends signed, chained records to the segments in $CLEARANCE_DATA_DIR/audit/ (docs/audit.md).

Appends are committed in groups: the request threads that arrive while a commit is running wait, and the
next of them commits all of their records at once, so one fsync (and one HEAD) covers many searches. One
commit, under a thread lock and an exclusive flock (several serve processes share one chain):
1. the chain's head: kept in memory while the current segment is exactly as this process left it (same
   inode, same size, no newer segment); otherwise derived again from the log itself, never from HEAD;
2. each record is sealed after that head (retrieval/audit/chain.py) and written with one `write` of its
   whole line (O_APPEND), in a new segment when the size or the UTC day says so;
3. the segment is fsync'd per CLEARANCE_AUDIT_FSYNC, then HEAD, the signed pointer to the last record,
   is written (HEAD.tmp, renamed over HEAD).
Any failure fails every append of the commit and forgets the in-memory head, so the next commit derives
it again from what is on disk: a record that reached the log is built on (it is genuine and chained), a
torn line is cut off. So a failed write or a killed process never forks the chain. While the chain
cannot be continued safely (the last record does not verify, HEAD names a record the log does not hold),
every append raises AuditWriteError and the service answers 503 until `clearance audit recover` (or an
operator) has dealt with it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from access_index.errors import AuditWriteError
from access_index.paths import DataPaths
from access_index.settings import Settings
from retrieval.audit.chain import (
    START,
    Head,
    Link,
    canonical,
    head_bytes,
    link_problem,
    parse_record,
    read_head,
    seal,
    signature_problem,
)
from retrieval.audit.keys import Keyring
from retrieval.audit.segments import Tail, first_line, lines, read_tail

FsyncPolicy = Literal["record", "interval", "never"]
T = TypeVar("T")
log = logging.getLogger("clearance.audit")


@dataclass(frozen=True)
class AuditOptions:
    """When records reach the disk and when a segment is closed."""

    fsync: FsyncPolicy = "record"
    fsync_interval: float = 1.0  # seconds, for fsync="interval"
    segment_max_bytes: int = 64 * 1024 * 1024
    segment_daily: bool = True  # a new segment when the UTC day changes

    @classmethod
    def of(cls, settings: Settings) -> AuditOptions:
        return cls(
            fsync=settings.audit_fsync,
            fsync_interval=settings.audit_fsync_interval_ms / 1000,
            segment_max_bytes=settings.audit_segment_max_bytes,
            segment_daily=settings.audit_segment_daily,
        )


@dataclass
class _Position:
    """Where the next record goes, as this process last saw the log."""

    link: Link  # the last record
    segment: Path  # the segment the next record is appended to
    day: str | None  # UTC day of that segment's first record; None while it is empty
    size: int  # its size after the last record
    inode: int | None  # None while the segment file does not exist yet


@dataclass
class _Pending:
    """One append waiting for its group's commit."""

    fields: Mapping[str, Any]
    record: dict[str, Any] | None = None
    error: AuditWriteError | None = None
    done: bool = False


class AuditLog:
    """Appends records to the chain; thread-safe and process-safe."""

    def __init__(
        self,
        paths: DataPaths,
        keyring: Keyring,
        options: AuditOptions | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        keyring.signing_key_id()  # a keyring that cannot sign fails here, at start, not at the first request
        self.paths = paths
        self.keyring = keyring
        self.options = options or AuditOptions()
        self.clock = clock
        self._thread_lock = threading.Lock()  # the in-memory head and the files
        self._queue_lock = threading.Condition()  # the appends waiting, and whether a commit is running
        self._queue: list[_Pending] = []
        self._committing = False
        self._position: _Position | None = None
        self._segment_fd: int | None = None
        self._lock_fd: int | None = None
        self._unsynced = 0
        self._last_sync = float("-inf")  # the first commit of a process syncs
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def open(self) -> None:
        """Derive the chain's head now, so a chain that cannot be continued is reported at start."""
        with self._thread_lock:
            self._guarded(self._current)

    def append(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Chain, sign and write one record (durable per CLEARANCE_AUDIT_FSYNC when this returns); the
        record as written. AuditWriteError when it cannot be written."""
        pending = _Pending(fields)
        group: list[_Pending] = []
        with self._queue_lock:
            self._queue.append(pending)
            while self._committing and not pending.done:
                self._queue_lock.wait()
            if not pending.done:  # this thread commits everything queued so far, its own record included
                self._committing = True
                group, self._queue = self._queue, []
        if group:
            try:
                self._commit(group)
            finally:
                with self._queue_lock:
                    for member in group:
                        member.done = True
                    self._committing = False
                    self._queue_lock.notify_all()
        if pending.error is not None:
            raise pending.error
        assert pending.record is not None
        return pending.record

    def status(self) -> str:
        """Whether the next record can be chained, for /readyz: "ok" or "unavailable"."""
        try:
            self.open()
        except AuditWriteError:
            return "unavailable"
        return "ok"

    def recover(self, reason: str) -> dict[str, Any] | None:
        """Continue a chain whose HEAD does not match the log (records lost in a power failure with
        fsync off, or removed): append a signed `recovered` record that states what HEAD claimed, so the
        loss stays on record. None when there is nothing to recover."""

        def recover() -> dict[str, Any] | None:
            self._forget()
            position, problem = self._derive(strict=False)
            if problem is None:
                self._position = position
                return None
            self._position = position
            record = self._write_record(position, {"event": "recovered", "reason": reason, "problem": problem})
            self._sync(self._current_in_memory())
            return record

        with self._thread_lock:
            return self._guarded(recover)

    def close(self) -> None:
        """Write what is pending (fsync="interval") and release the files."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
        self._stop.clear()
        with self._thread_lock:
            if self._unsynced:
                try:
                    self._guarded(self._sync_current)
                except AuditWriteError:
                    log.exception("audit: pending records could not be synced at close")
            self._forget()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # -- under the thread lock ------------------------------------------------------------------------
    def _guarded(self, action: Callable[[], T]) -> T:
        """Run `action` under the process lock; on any failure forget the head (derive it again next time)."""
        try:
            with self._process_lock():
                return action()
        except AuditWriteError:
            self._forget()
            raise
        except Exception as error:  # OS errors, and anything unforeseen: fail closed for the whole group
            self._forget()
            raise AuditWriteError(f"cannot write the audit log in {self.paths.audit_dir}: {error}") from error

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        if self._lock_fd is None:
            self.paths.audit_dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.paths.audit_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _forget(self) -> None:
        self._position = None
        if self._segment_fd is not None:
            os.close(self._segment_fd)
            self._segment_fd = None

    def _current(self) -> _Position:
        position = self._position
        if position is None or not self._unchanged(position):
            self._forget()
            position, _ = self._derive(strict=True)
            self._position = position
        return position

    def _unchanged(self, position: _Position) -> bool:
        """The log is exactly as this process left it: nobody appended, rotated or replaced the segment."""
        following = self.paths.audit_segment(position.link.seq + 1)
        if following != position.segment and following.exists():
            return False
        try:
            found = os.stat(position.segment)
        except FileNotFoundError:
            return position.inode is None
        return found.st_ino == position.inode and found.st_size == position.size

    def _commit(self, group: Sequence[_Pending]) -> None:
        """Write the group's records, then make them durable per the fsync setting; on any failure every
        append of the group fails (records already in the log stay: their responses are withheld)."""

        def write_all() -> None:
            position = self._current()
            for member in group:
                member.record = self._write_record(position, member.fields)
                position = self._current_in_memory()
            if self.options.fsync == "record":
                self._sync(position)
            elif self.options.fsync == "never":
                self._write_head(position, durable=False)
            else:
                self._unsynced += len(group)
                self._start_ticker()
                if time.monotonic() - self._last_sync >= self.options.fsync_interval:
                    self._sync(position)

        with self._thread_lock:
            try:
                self._guarded(write_all)
            except AuditWriteError as error:
                for member in group:
                    member.error = error

    def _current_in_memory(self) -> _Position:
        assert self._position is not None
        return self._position

    def _write_record(self, position: _Position, fields: Mapping[str, Any]) -> dict[str, Any]:
        now = self.clock()
        record = seal(fields, position.link, now.isoformat(timespec="microseconds"), self.keyring)
        line = canonical(record) + b"\n"
        if self._must_rotate(position, len(line), now):
            position = self._rotate(position)
        self._write(position, line)
        position.link = Link(record["seq"], record["sig"])
        position.size += len(line)
        position.day = position.day or _day(now)
        return record

    def _must_rotate(self, position: _Position, length: int, now: datetime) -> bool:
        if position.size == 0:
            return False
        if position.size + length > self.options.segment_max_bytes:
            return True
        return self.options.segment_daily and position.day is not None and position.day != _day(now)

    def _rotate(self, position: _Position) -> _Position:
        """Close the current segment (durable first, unless fsync is off) and start the next one."""
        if self._segment_fd is not None:
            if self.options.fsync != "never":
                os.fsync(self._segment_fd)
            os.close(self._segment_fd)
            self._segment_fd = None
        following = _Position(position.link, self.paths.audit_segment(position.link.seq + 1), None, 0, None)
        self._position = following
        return following

    def _write(self, position: _Position, line: bytes) -> None:
        if self._segment_fd is None:
            created = not position.segment.exists()
            if position.link == START:
                # HEAD exists before the first record: from then on a missing HEAD is always a break.
                self._write_head(position, durable=self.options.fsync != "never")
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._segment_fd = os.open(position.segment, flags, 0o600)
            position.inode = os.fstat(self._segment_fd).st_ino
            if created and self.options.fsync != "never":
                _fsync_directory(self.paths.audit_dir)
        written = os.write(self._segment_fd, line)
        if written != len(line):
            raise OSError(errno.EIO, f"short write to {position.segment.name}: {written} of {len(line)} bytes")

    def _sync(self, position: _Position) -> None:
        """The log reaches the disk, then HEAD does: HEAD never names a record the disk may not hold."""
        if self._segment_fd is not None:
            os.fdatasync(self._segment_fd)
        self._write_head(position, durable=True)
        self._unsynced = 0
        self._last_sync = time.monotonic()

    def _sync_current(self) -> None:
        position = self._current()
        if self._segment_fd is None and position.inode is not None:
            self._segment_fd = os.open(position.segment, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self._sync(position)

    def _write_head(self, position: _Position, durable: bool) -> None:
        head = Head(position.link.seq, position.link.sig, position.segment.name, self.clock().isoformat())
        content = head_bytes(head, self.keyring)
        temporary = self.paths.audit_head.with_name(self.paths.audit_head.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            if os.write(descriptor, content) != len(content):
                raise OSError(errno.EIO, "short write to HEAD.tmp")
            if durable:
                os.fdatasync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, self.paths.audit_head)

    def _start_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="audit-fsync", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        """fsync="interval": pending records reach the disk within one interval even when traffic stops."""
        while not self._stop.wait(self.options.fsync_interval):
            with self._thread_lock:
                if not self._unsynced:
                    continue
                try:
                    self._guarded(self._sync_current)
                except AuditWriteError:
                    log.exception("audit: periodic fsync failed")

    # -- deriving the head from the log ---------------------------------------------------------------
    def _derive(self, strict: bool) -> tuple[_Position, str | None]:
        """The head as the log on disk has it, and what (if anything) makes continuing it unsafe.

        strict: raise AuditWriteError on such a problem (appends); otherwise return it (recover)."""
        paths = self.paths
        if paths.audit_unkeyed_log.exists():
            raise AuditWriteError(
                f"{paths.audit_unkeyed_log} is an unkeyed audit log from an earlier version: keep it as evidence "
                "elsewhere (move it out of the audit directory) so a signed chain can start"
            )
        segments = paths.audit_segments()
        head: Head | None = None
        problem: str | None = None
        try:
            head = read_head(paths.audit_head, self.keyring)
        except ValueError as error:
            problem = str(error)
        if not segments:
            position = _Position(START, paths.audit_segment(1), None, 0, None)
            if head is not None:
                problem = f"HEAD names record {head.seq} but the audit directory holds no segment"
        else:
            position = self._position_in(segments)
            problem = problem or self._head_problem(head, position.link, segments)
        if problem and strict:
            raise AuditWriteError(
                f"the audit chain cannot be continued safely: {problem}. Run `clearance audit verify`; if records "
                "were lost (a power failure with CLEARANCE_AUDIT_FSYNC=never) run `clearance audit recover`"
            )
        return position, problem

    def _position_in(self, segments: Sequence[tuple[int, Path]]) -> _Position:
        first, path = segments[-1]
        tail = read_tail(path)
        if tail.torn:
            _cut_torn_tail(path, tail)
        if tail.line is None:
            link = START if len(segments) == 1 else self._last_link(segments[-2][1])
            if first != link.seq + 1:
                raise AuditWriteError(f"{path.name} is empty but the chain before it ends at seq {link.seq}")
            return _Position(link, path, None, 0, os.stat(path).st_ino)
        record = self._genuine(tail.line, path, "last")
        opening = self._genuine(first_line(path) or b"", path, "first")
        if opening["seq"] != first:
            raise AuditWriteError(f"{path.name} starts at seq {opening['seq']}: segments were renamed or reordered")
        link = Link(record["seq"], record["sig"])
        return _Position(link, path, str(opening["time"])[:10], tail.complete_end, os.stat(path).st_ino)

    def _last_link(self, path: Path) -> Link:
        tail = read_tail(path)
        if tail.line is None or tail.torn:
            raise AuditWriteError(f"{path.name} does not end with a complete record")
        record = self._genuine(tail.line, path, "last")
        return Link(record["seq"], record["sig"])

    def _genuine(self, line: bytes, path: Path, which: str) -> dict[str, Any]:
        record = parse_record(line)
        problem = record if isinstance(record, str) else signature_problem(record, self.keyring)
        if problem or isinstance(record, str):
            raise AuditWriteError(f"the {which} record of {path.name} cannot be trusted ({problem})")
        return record

    def _head_problem(self, head: Head | None, last: Link, segments: Sequence[tuple[int, Path]]) -> str | None:
        """HEAD must name the log's last record, or one before it followed by genuine records only
        (HEAD lags when a process died, or HEAD failed to be written, after its record reached the log)."""
        if head is None:
            return "HEAD is missing while the log has records, so a removed tail cannot be ruled out"
        if head.seq > last.seq:
            return f"HEAD names record {head.seq} but the log ends at {last.seq}: records were lost or removed"
        if head.seq == last.seq:
            return None if head.sig == last.sig else f"HEAD names another record {head.seq} than the log's last"
        if head.seq == 0 and head.sig != START.sig:
            return "HEAD names record 0 with a signature"
        start = max((index for index, (first, _) in enumerate(segments) if first <= head.seq), default=0)
        link: Link | None = START if head.seq == 0 else None
        for _, path in segments[start:]:
            for number, content, complete in lines(path):
                record = parse_record(content) if complete else "an incomplete line"
                if isinstance(record, str):
                    return f"{path.name} line {number}: {record}"
                if link is None:
                    if record["seq"] < head.seq:
                        continue
                    if record["seq"] != head.seq or record["sig"] != head.sig:
                        return f"HEAD names record {head.seq}, which the log does not hold"
                    link = Link(head.seq, head.sig)
                    continue
                problem = link_problem(link, record, self.keyring)
                if problem:
                    return f"{path.name} line {number}: {problem}"
                link = Link(record["seq"], record["sig"])
        return None if link == last else f"HEAD names record {head.seq}, which the log does not hold"


def _cut_torn_tail(path: Path, tail: Tail) -> None:
    """Bytes after the last newline are a write that never completed, so no response went out with them:
    cut them off (their size and SHA-256 go to the service log) so the next record starts on a new line."""
    with open(path, "rb") as handle:
        handle.seek(tail.complete_end)
        torn = handle.read()
    os.truncate(path, tail.complete_end)
    log.warning(
        "audit: cut an interrupted write from the end of %s: %d bytes, sha256 %s",
        path.name,
        len(torn),
        hashlib.sha256(torn).hexdigest(),
    )


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _day(moment: datetime) -> str:
    return moment.date().isoformat()
