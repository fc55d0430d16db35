"""`clearance audit verify`: walk every segment in chain order and check every record and HEAD.

A break is the first thing that shows the log is not what the writer wrote: a line that is not a record,
a signature that does not verify (an edit, a forgery, an unknown key), a `prev` or `seq` that does not
follow (a removed, inserted or reordered record), a segment whose first record is not the one its name
promises or that does not follow the previous segment (a missing or reordered segment), and a HEAD that
is missing, not genuine, or names a record the log does not hold (a removed tail). Things that are not
breaks are reported as warnings: an interrupted write at the very end, HEAD lagging the log (a writer
died between its two writes), and `recovered` records (losses someone with the key acknowledged).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from access_index.paths import DataPaths
from retrieval.audit.chain import START, Head, Link, link_problem, parse_record, read_head
from retrieval.audit.keys import Keyring
from retrieval.audit.segments import lines


@dataclass(frozen=True)
class Break:
    """Where the chain first breaks, and why."""

    reason: str
    segment: str | None = None
    line: int | None = None
    seq: int | None = None


@dataclass
class SegmentSummary:
    name: str
    first_seq: int
    last_seq: int | None = None
    records: int = 0
    first_time: str | None = None
    last_time: str | None = None


@dataclass
class VerifyReport:
    """The outcome of `clearance audit verify`."""

    keys: str  # where the verifying keys came from
    records: int = 0
    segments: list[SegmentSummary] = field(default_factory=list)
    keys_used: set[str] = field(default_factory=set)
    head_seq: int | None = None
    first_break: Break | None = None
    warnings: list[str] = field(default_factory=list)
    recoveries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def as_json(self) -> dict[str, Any]:
        """The `--json` report."""
        return {
            "ok": self.ok,
            "records": self.records,
            "segments": [vars(summary) for summary in self.segments],
            "keys_used": sorted(self.keys_used),
            "key_source": self.keys,
            "head_seq": self.head_seq,
            "break": vars(self.first_break) if self.first_break else None,
            "warnings": self.warnings,
            "recoveries": self.recoveries,
        }


class _Stop(Exception):
    """Ends the walk at the first break."""


def verify_log(paths: DataPaths, keyring: Keyring, at_least: int | None = None) -> VerifyReport:
    """Check the whole chain. `at_least`: a seq an earlier verify saw; a chain ending before it was rolled
    back (to an older HEAD kept by whoever removed the tail)."""
    report = VerifyReport(keys=keyring.source)
    with contextlib.suppress(_Stop):
        _walk(paths, keyring, report, at_least)
    return report


def _walk(paths: DataPaths, keyring: Keyring, report: VerifyReport, at_least: int | None) -> None:
    if paths.audit_unkeyed_log.exists():
        _break(report, f"{paths.audit_unkeyed_log.name} is an unkeyed log from an earlier version (move it aside)")
    head: Head | None = None
    try:
        head = read_head(paths.audit_head, keyring)
    except ValueError as error:
        _break(report, f"HEAD: {error}")
    report.head_seq = head.seq if head else None
    segments = paths.audit_segments()
    link = START
    for index, (first, path) in enumerate(segments):
        summary = SegmentSummary(path.name, first)
        report.segments.append(summary)
        link = _walk_segment(path, first, index == len(segments) - 1, link, keyring, head, report, summary)
    _check_end(link, head, report, at_least)


def _walk_segment(
    path: Path,
    first: int,
    last_segment: bool,
    link: Link,
    keyring: Keyring,
    head: Head | None,
    report: VerifyReport,
    summary: SegmentSummary,
) -> Link:
    if first != link.seq + 1:
        _break(report, f"segment follows seq {link.seq} but is named for seq {first}: a segment is missing", path)
    for number, content, complete in lines(path):
        if not complete:
            if last_segment:
                report.warnings.append(
                    f"{path.name} ends with {len(content)} bytes of an interrupted write (cut at the next append)"
                )
                break
            _break(report, "an incomplete line inside the chain", path, number)
        record = parse_record(content)
        if isinstance(record, str):
            _break(report, record, path, number)
        problem = link_problem(link, record, keyring)
        if problem:
            _break(report, problem, path, number, record.get("seq"))
        if head is not None and record["seq"] == head.seq and record["sig"] != head.sig:
            _break(report, "HEAD names another record with this seq", path, number, record["seq"])
        link = Link(record["seq"], record["sig"])
        report.records += 1
        report.keys_used.add(str(record["key_id"]))
        summary.records += 1
        summary.last_seq, summary.last_time = link.seq, str(record["time"])
        summary.first_time = summary.first_time or summary.last_time
        if record.get("event") == "recovered":
            report.recoveries.append({key: record.get(key) for key in ("seq", "time", "reason", "problem")})
    if summary.records == 0 and not last_segment:
        _break(report, "an empty segment inside the chain", path)
    return link


def _check_end(link: Link, head: Head | None, report: VerifyReport, at_least: int | None) -> None:
    if head is None and link.seq > 0:
        _break(report, "HEAD is missing, so records removed from the end would go unnoticed")
    if head is not None and head.seq > link.seq:
        _break(report, f"the log ends at seq {link.seq} but HEAD names seq {head.seq}: records removed from the end")
    if head is not None and head.seq < link.seq:
        report.warnings.append(
            f"HEAD lags the log by {link.seq - head.seq} record(s): a writer stopped between its log and HEAD writes"
        )
    if at_least is not None and link.seq < at_least:
        _break(report, f"the log ends at seq {link.seq}, before seq {at_least} seen earlier: it was rolled back")
    for recovery in report.recoveries:
        report.warnings.append(f"recovered at seq {recovery['seq']} ({recovery['time']}): {recovery['problem']}")


def _break(
    report: VerifyReport, reason: str, path: Path | None = None, line: int | None = None, seq: object = None
) -> NoReturn:
    report.first_break = Break(reason, path.name if path else None, line, seq if isinstance(seq, int) else None)
    raise _Stop
