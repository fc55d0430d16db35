"""`clearance status [--json]`: who holds the index and how big it is, how old the directory snapshot is, and
each source's last ingest. It works whether `serve` runs or not, on both engines, and changes nothing.

The embedded index is asked through `open_index` like any other command: through `serve`'s socket when
`serve` holds it, directly for a moment when nobody does (other commands wait for that moment rather than
fail), and not at all when another process holds it directly (its size on disk is still shown).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from access_index.directory import SnapshotStore, open_snapshot_store
from access_index.errors import ClearanceError, IndexLockedError
from access_index.index import ChunkIndex, index_exists, open_index
from access_index.settings import Settings
from access_index.sources import SourceRecord, scan_sources
from access_index.storage import open_storage


@dataclass(frozen=True)
class Holder:
    role: str | None
    pid: int | None
    alive: bool


@dataclass
class IndexStatus:
    engine: str  # "embedded" or "qdrant server"
    location: str
    holder: Holder | None = None  # embedded only: the process that has the shard open, if any
    route: str | None = None  # how this command reached it
    points: int | None = None
    bytes_on_disk: int | None = None
    model: dict[str, Any] | None = None
    problem: str | None = None


@dataclass
class DirectoryStatus:
    version: int | None = None
    source: str | None = None
    synced_at: str | None = None
    age_seconds: float | None = None
    max_age_seconds: int = 0
    problem: str | None = None


@dataclass
class Status:
    index: IndexStatus
    directory: DirectoryStatus
    sources: list[dict[str, Any]] = field(default_factory=list)
    sources_problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    """Print the status (one JSON object with --json); exit 0 whenever it could be gathered."""
    status = collect_status(settings)
    print(json.dumps(status.to_dict(), indent=2) if args.json else render_status(status))
    return 0


def collect_status(settings: Settings) -> Status:
    if settings.qdrant_url:
        storage = open_storage(settings, role="status")
        try:
            index = IndexStatus("qdrant server", settings.qdrant_url)
            _measure(index, storage.index)
            directory = _directory_status(settings, storage.snapshots)
        finally:
            storage.close()
    else:
        index = _embedded_status(settings)
        directory = _directory_status(settings, open_snapshot_store(settings))
    # Every readable record is shown; an unreadable one is named with its fix, never hidden or fatal.
    scan = scan_sources(settings)
    problem = "; ".join(scan.problems) if scan.problems else None
    if problem is not None:
        problem = f"cannot read the source registry {settings.paths.sources_dir}: {problem}"
    return Status(index, directory, [_source_status(record) for record in scan.records], problem)


def _embedded_status(settings: Settings) -> IndexStatus:
    paths = settings.paths
    status = IndexStatus("embedded", str(paths.index_dir.resolve()), bytes_on_disk=_bytes_under(paths.index_dir))
    if not index_exists(settings):
        status.problem = "no index yet: run `clearance ingest`"
        return status
    from access_index.index.edge import recorded_model
    from access_index.index.remote import RemoteIndex

    model = recorded_model(paths)
    status.model = {"name": model.name, "dimension": model.dimension} if model else None
    try:
        index = open_index(settings, role="status")
    except IndexLockedError as locked:
        status.holder = Holder(locked.holder_role, locked.holder_pid, _alive(locked.holder_pid))
        status.problem = f"held directly by clearance {locked.holder_role}: its size in points is not readable now"
        return status
    except ClearanceError as error:
        status.problem = str(error)
        return status
    try:
        if isinstance(index, RemoteIndex):
            status.holder = Holder("serve", index.owner_pid, True)
        _measure(status, index)
    finally:
        index.close()
    return status


def _measure(status: IndexStatus, index: ChunkIndex) -> None:
    status.route = index.route
    try:
        status.points = index.count()
    except ClearanceError as error:
        status.problem = str(error)


def _directory_status(settings: Settings, store: SnapshotStore) -> DirectoryStatus:
    status = DirectoryStatus(max_age_seconds=settings.directory_max_age)
    try:
        snapshot = store.load()
    except ClearanceError as error:
        status.problem = str(error)
        return status
    if snapshot is None:
        status.problem = "never synced" + ("" if settings.uses_keycloak or settings.directory_file else " (none set)")
        return status
    status.version = snapshot.version
    status.source = snapshot.source
    status.synced_at = snapshot.synced_at.isoformat(timespec="seconds")
    status.age_seconds = round(snapshot.age_seconds(), 1)
    return status


def _source_status(record: SourceRecord) -> dict[str, Any]:
    data = asdict(record)
    data["roots"] = list(record.roots)
    return data


def _bytes_under(directory: os.PathLike[str]) -> int | None:
    total = 0
    found = False
    for root, _, files in os.walk(directory):
        found = True
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total if found else None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


def render_status(status: Status) -> str:
    """The human form: one block per part."""
    index = status.index
    lines = [f"index       {index.engine} at {index.location}"]
    if index.holder is not None:
        state = "running" if index.holder.alive else "not running"
        lines.append(f"  held by   clearance {index.holder.role} (pid {index.holder.pid}, {state})")
    elif index.engine == "embedded" and index.route == "direct":
        lines.append("  held by   nobody (ingest and acl-sync open it directly)")
    if index.route and index.route.startswith("via"):
        lines.append("  others    ingest and acl-sync write through its index socket")
    size = [f"{index.points:,} points" if index.points is not None else None]
    if index.bytes_on_disk is not None:
        size.append(f"{index.bytes_on_disk / 1e6:,.1f} MB on disk")
    if index.model:
        size.append(f"model {index.model['name']} ({index.model['dimension']} dimensions)")
    if any(size):
        lines.append("  size      " + ", ".join(part for part in size if part))
    if index.problem:
        lines.append(f"  note      {index.problem}")
    directory = status.directory
    if directory.version is not None:
        stale = (
            " STALE: group and role grants fail closed"
            if (directory.age_seconds or 0) > directory.max_age_seconds
            else ""
        )
        lines.append(
            f"directory   v{directory.version} from {directory.source}, synced {directory.synced_at} "
            f"({_ago(directory.age_seconds)} ago; max age {directory.max_age_seconds} s){stale}"
        )
    else:
        lines.append(f"directory   {directory.problem}")
    if status.sources_problem:
        lines.append(f"sources     {status.sources_problem}")
    elif not status.sources:
        lines.append("sources     none ingested yet")
    for source in status.sources:
        lines.append(f"source      {source['name']} (tenant {source['tenant']}), roots {', '.join(source['roots'])}")
        run = source.get("last_ingest")
        if not run:
            lines.append("  last      no run recorded")
            continue
        finished = datetime.fromisoformat(run["finished_at"])
        counts = ", ".join(f"{n} {status_name}" for status_name, n in run["counts"].items() if n)
        ago = _ago((datetime.now(UTC) - finished).total_seconds())
        lines.append(
            f"  last      {run['finished_at']} ({ago} ago), {run['seconds']:.1f} s, {run['chunks_written']} chunks "
            f"written, index {run['index']}: {counts or 'nothing'}"
        )
    return "\n".join(lines)


def _ago(seconds: float | None) -> str:
    value = max(0.0, seconds or 0.0)
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    if value < 172800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.0f} days"
