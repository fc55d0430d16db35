"""The source registry. A source is identified by (tenant, name) and keeps the roots and the manifest of its
first ingest: its document ids are `<name>/<path relative to its root>`, and `acl-sync` re-reads its recorded
manifest to refresh those documents' ACLs (docs/acl-semantics.md, "Source identity"). `ingest` decides what a
run may change in a record (ingest/binding.py); this module stores and reads records.

One JSON file per source, `sources/<tenant>/<name>.json` (access_index/paths.py), written atomically (temp +
rename) under the registry's lock. The old layout kept one file per name, `sources/<name>.json`, overwritten by
the last ingest of that name whatever its tenant or root. Such a record is read as the record of the (tenant,
name) it names, and replaced by the new file at that source's next ingest. What it lost is caught where it
matters: `acl-sync` fails on an indexed (tenant, source) without a record, and never re-tags a document whose
file is not at `<root>/<path>` for one of the record's roots (`SourceRecord.holds`).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from access_index.errors import ConfigError
from access_index.manifest import is_valid_tenant
from access_index.settings import Settings

_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SourceKey = tuple[str, str]  # (tenant, name)


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
    """A source: its tenant and name, the roots its document ids are relative to, its manifest (absolute
    paths), and what its last finished ingest did."""

    name: str
    tenant: str
    roots: tuple[str, ...]
    manifest: str
    # Read from the old layout: it holds the last ingest of the name, which may not be the first (or right) one.
    legacy: bool = field(default=False, compare=False)
    # Reported by `clearance status`; not part of what the source is.
    last_ingest: IngestRun | None = field(default=None, compare=False)

    @property
    def key(self) -> SourceKey:
        return (self.tenant, self.name)

    @property
    def label(self) -> str:
        """How messages and reports name the source."""
        return f"source {self.name!r} of tenant {self.tenant!r}"

    def holds(self, document_id: str, uri: str) -> bool:
        """Whether a document was ingested from one of this source's roots: its file is `<root>/<relpath>`,
        where relpath is its id after `<name>/`. Anything else was indexed under another root or id (an ingest
        before sources were keyed by tenant and root) and this record's manifest says nothing about it."""
        prefix = f"{self.name}/"
        if not document_id.startswith(prefix):
            return False
        relpath = document_id[len(prefix) :]
        return any(uri == (Path(root) / relpath).as_uri() for root in self.roots)


@dataclass(frozen=True)
class RegistryScan:
    """Every readable record, and a message (file and fix) for each record that cannot be used."""

    records: tuple[SourceRecord, ...]
    problems: tuple[str, ...]


def check_source_name(name: str) -> str:
    """Source names prefix document ids (`<source>/<relpath>`), so they may not contain '/'."""
    if not _SOURCE_NAME.match(name):
        raise ConfigError(
            f"invalid source name {name!r}: use letters, digits, '.', '_' or '-' (set it with --source NAME)"
        )
    return name


def scan_sources(settings: Settings) -> RegistryScan:
    """Read the registry; an unusable record is a problem of its own and never hides the others."""
    paths = settings.paths
    if not paths.sources_dir.is_dir():
        return RegistryScan((), ())
    records: dict[SourceKey, SourceRecord] = {}
    problems: list[str] = []
    for path in sorted(paths.sources_dir.glob("*/*.json")):
        record = _read_at(path, lambda r: paths.source_record(r.tenant, r.name), problems)
        if record is not None:
            records[record.key] = record
    for path in sorted(paths.sources_dir.glob("*.json")):
        record = _read_at(path, lambda r: paths.legacy_source_record(r.name), problems)
        if record is not None:  # a record in the new layout is newer than the old one
            records.setdefault(record.key, replace(record, legacy=True))
    ordered = tuple(records[key] for key in sorted(records))
    return RegistryScan(ordered, tuple(problems))


def _read_at(path: Path, home: Callable[[SourceRecord], Path], problems: list[str]) -> SourceRecord | None:
    """The record in `path` if it is readable and lies where it belongs (`home`), else None and a problem."""
    if not path.is_file():  # a tenant's folder may be called `x.json`
        return None
    try:
        record = _read(path)
    except ConfigError as error:
        problems.append(str(error))
        return None
    if path != home(record):
        problems.append(
            f"{path}: the record names {record.label} but lies elsewhere: move it to {home(record)} or remove it "
            "and ingest the source again"
        )
        return None
    return record


def list_sources(settings: Settings) -> list[SourceRecord]:
    """Every recorded source, by (tenant, name); ConfigError when a record cannot be read (it names the file)."""
    scan = scan_sources(settings)
    if scan.problems:
        raise ConfigError("; ".join(scan.problems))
    return list(scan.records)


def save_source(settings: Settings, record: SourceRecord) -> None:
    """Write (or replace) the record of one source; an old-layout record of the same source is removed."""
    check_source_name(record.name)
    if not is_valid_tenant(record.tenant):
        raise ConfigError(f"invalid tenant {record.tenant!r}: use letters, digits, '.', '_' or '-' (--tenant ID)")
    target = settings.paths.source_record(record.tenant, record.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    data: dict[str, Any] = {
        "name": record.name,
        "tenant": record.tenant,
        "roots": list(record.roots),
        "manifest": record.manifest,
    }
    if record.last_ingest is not None:
        data["last_ingest"] = asdict(record.last_ingest)
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(temporary, target)
    legacy = settings.paths.legacy_source_record(record.name)
    try:
        if legacy.is_file() and _read(legacy).key == record.key:
            legacy.unlink()
    except ConfigError:
        pass  # an unreadable old record stays where it is; scan_sources reports it


@contextmanager
def registry_lock(settings: Settings) -> Iterator[None]:
    """Hold the registry's lock while a record is checked and written, so that two ingests of one new source
    cannot both record their own root."""
    lock = settings.paths.sources_lock
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the flock


def _read(path: Path) -> SourceRecord:
    fix = "remove it and ingest the source again (clearance ingest ROOT --acl FILE --source NAME --tenant ID)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigError(f"{path}: unreadable source record ({error}): {fix}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a source record is a JSON object: {fix}")
    invalid = f"{path}: not a valid source record (name, tenant, absolute roots and manifest): {fix}"
    name, tenant, roots, manifest = data.get("name"), data.get("tenant"), data.get("roots"), data.get("manifest")
    if not isinstance(name, str) or not _SOURCE_NAME.match(name):
        raise ConfigError(invalid)
    if not isinstance(tenant, str) or not is_valid_tenant(tenant):
        raise ConfigError(invalid)
    if not isinstance(roots, list) or not roots or not all(isinstance(r, str) and Path(r).is_absolute() for r in roots):
        raise ConfigError(invalid)
    if not isinstance(manifest, str) or not Path(manifest).is_absolute():
        raise ConfigError(invalid)
    try:
        last = IngestRun.from_dict(data["last_ingest"]) if data.get("last_ingest") else None
    except (KeyError, TypeError, ValueError, AttributeError):
        last = None  # only a report: an unreadable one is not shown, the record itself stays usable
    return SourceRecord(
        name=name, tenant=tenant, roots=tuple(str(root) for root in roots), manifest=manifest, last_ingest=last
    )
