"""What a run did, per file and in total: the contract's counts, findings by technique, timings;
rendered as a human summary, as one JSON object (`--json`), and as a progress bar while it runs."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TextIO

Status = Literal["new", "updated", "unchanged", "deleted", "no_acl", "failed", "quarantined", "skipped"]
COUNTED: tuple[Status, ...] = ("new", "updated", "unchanged", "deleted", "no_acl", "failed", "quarantined", "skipped")
STAGES = ("hash", "parse", "sanitize", "chunk", "embed", "write")


@dataclass(frozen=True)
class Outcome:
    """What happened to one document (or one skipped path)."""

    document: str
    status: Status
    reason: str | None = None
    chunks: int = 0
    findings: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"document": self.document, "status": self.status}
        if self.reason:
            data["reason"] = self.reason
        if self.chunks:
            data["chunks"] = self.chunks
        if self.findings:
            data["findings"] = [dict(finding) for finding in self.findings]
        return data


@dataclass
class StageTimes:
    """Seconds spent per stage (parse/sanitize/chunk run on the reader thread, embed/write on the main one)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def add(self, stage: str, started: float) -> None:
        self.record(stage, time.perf_counter() - started)

    def record(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def shares(self) -> dict[str, float]:
        total = sum(self.seconds.values()) or 1.0
        return {stage: round(value / total, 3) for stage, value in self.seconds.items()}


@dataclass(frozen=True)
class IngestReport:
    source: str
    tenant: str
    dry_run: bool
    outcomes: tuple[Outcome, ...]
    seconds: float
    chunks_written: int
    stage_seconds: Mapping[str, float]
    notes: tuple[str, ...] = ()
    # How the index was reached: "direct", "via clearance serve (pid N)", "Qdrant server"; None: not opened.
    index_route: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(outcome.status for outcome in self.outcomes)
        return {status: counter.get(status, 0) for status in COUNTED}

    @property
    def findings_by_technique(self) -> dict[str, int]:
        counter = Counter(str(f.get("technique")) for outcome in self.outcomes for f in outcome.findings)
        return dict(sorted(counter.items()))

    @property
    def failed(self) -> bool:
        return self.counts["failed"] > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "tenant": self.tenant,
            "dry_run": self.dry_run,
            "counts": self.counts,
            "findings_by_technique": self.findings_by_technique,
            "chunks_written": self.chunks_written,
            "seconds": round(self.seconds, 3),
            "stage_seconds": {stage: round(value, 3) for stage, value in self.stage_seconds.items()},
            "notes": list(self.notes),
            "index": self.index_route,
            "documents": [outcome.to_dict() for outcome in self.outcomes if outcome.status != "unchanged"],
        }


def render_summary(report: IngestReport) -> str:
    """The human summary: counts, then every file that needs attention, named with its reason."""
    verb = "would be" if report.dry_run else "were"
    counts = report.counts
    lines = [
        f"{'dry run: ' if report.dry_run else ''}source {report.source!r} (tenant {report.tenant!r}): "
        + ", ".join(f"{counts[status]} {status}" for status in COUNTED)
        + f" in {report.seconds:.1f} s ({report.chunks_written} chunks written"
        + (f"; index: {report.index_route})" if report.index_route else ")")
    ]
    if report.findings_by_technique:
        lines.append(
            "hidden-text findings: " + ", ".join(f"{name} {n}" for name, n in report.findings_by_technique.items())
        )
    for outcome in report.outcomes:
        if outcome.status in ("failed", "quarantined", "no_acl", "skipped", "deleted"):
            reason = f": {outcome.reason}" if outcome.reason else ""
            lines.append(f"  {outcome.status:<11} {outcome.document}{reason}")
        elif report.dry_run and outcome.status in ("new", "updated"):
            lines.append(f"  {outcome.status:<11} {outcome.document} {verb} indexed")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


class Progress(Protocol):
    def start(self, total_files: int) -> None: ...

    def advance(self, files: int, chunks: int) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, total_files: int) -> None:
        pass

    def advance(self, files: int, chunks: int) -> None:
        pass

    def finish(self) -> None:
        pass


class StreamProgress:
    """A redrawn bar on a terminal; on a pipe or log, one line per tenth of the files (at most 1/s)."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total = 0
        self.files = 0
        self.chunks = 0
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.last_decile = -1

    def start(self, total_files: int) -> None:
        self.total, self.started = total_files, time.monotonic()
        self._draw(force=True)

    def advance(self, files: int, chunks: int) -> None:
        self.files += files
        self.chunks += chunks
        self._draw(force=False)

    def finish(self) -> None:
        self._draw(force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, force: bool) -> None:
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-6)
        decile = self.files * 10 // self.total if self.total else 10
        if self.tty:
            if not force and now - self.last_draw < 0.1:
                return
        elif not force and (decile == self.last_decile or now - self.last_draw < 1.0):
            return
        self.last_draw, self.last_decile = now, decile
        rate = self.chunks / elapsed
        remaining = (self.total - self.files) * elapsed / self.files if self.files else 0.0
        eta = f"{int(remaining // 60)}:{int(remaining % 60):02d}"
        status = f"{self.files}/{self.total} files  {self.chunks} chunks  {rate:.1f} chunks/s  ETA {eta}"
        if self.tty:
            width = 24
            filled = width * self.files // self.total if self.total else width
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {status}\x1b[K")
        else:
            self.stream.write(f"ingest: {status}\n")
        self.stream.flush()
