"""The registry of ingested sources: `ingest` records each source's roots and manifest, `acl-sync` re-reads
the manifests later to refresh the documents' ACLs.

One JSON file per source in the data dir's `sources/`, written atomically (temp + rename).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from access_index.errors import ConfigError
from access_index.settings import Settings

_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class IngestRun:
    """What the last finished ingest of a source did (`clearance status` shows it)."""

    finished_at: str  # ISO 8601, UTC
    seconds: float
    counts: Mapping[str, int]
    chunks_written: int
    index: str  # how the index was reached: "direct", "via clearance serve (pid N)", "Qdrant server"

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> IngestRun:
        return IngestRun(
            finished_at=str(data["finished_at"]),
            seconds=float(data["seconds"]),
            counts={str(status): int(count) for status, count in dict(data["counts"]).items()},
            chunks_written=int(data["chunks_written"]),
            index=str(data["index"]),
        )


@dataclass(frozen=True)
class SourceRecord:
    """A source as last ingested: its tenant, its roots and its manifest (absolute paths), and that run."""

    name: str
    tenant: str
    roots: tuple[str, ...]
    manifest: str
    last_ingest: IngestRun | None = None


def check_source_name(name: str) -> str:
    """Source names prefix document ids (`<source>/<relpath>`), so they may not contain '/'."""
    if not _SOURCE_NAME.match(name):
        raise ConfigError(
            f"invalid source name {name!r}: use letters, digits, '.', '_' or '-' (set it with --source NAME)"
        )
    return name


def save_source(settings: Settings, record: SourceRecord) -> None:
    """Write (or replace) the record of one source."""
    directory = settings.paths.sources_dir
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{check_source_name(record.name)}.json"
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(asdict(record), indent=2, sort_keys=True), encoding="utf-8")
    os.replace(temporary, target)


def list_sources(settings: Settings) -> list[SourceRecord]:
    """Every recorded source, by name."""
    directory = settings.paths.sources_dir
    if not directory.is_dir():
        return []
    records = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        records.append(
            SourceRecord(
                name=str(data["name"]),
                tenant=str(data["tenant"]),
                roots=tuple(str(root) for root in data["roots"]),
                manifest=str(data["manifest"]),
                last_ingest=IngestRun.from_dict(data["last_ingest"]) if data.get("last_ingest") else None,
            )
        )
    return records
