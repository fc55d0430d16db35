"""The link each result carries (`source.uri`): derived when `serve` answers, from the source registry as it
is now (access_index/sources.py, `SourceRecord.link`), so an ingest that sets or changes a source's
`--uri-base` reaches every chunk already indexed at once, with nothing rewritten in the index.

The registry is a few small JSON files; each lookup lists them (names, inodes, sizes and mtimes) and reads
them again only when that listing changed. A record is replaced by renaming a new file over it, so its inode
changes with every write.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from access_index.index import Chunk
from access_index.paths import DataPaths
from access_index.sources import SourceKey, SourceRecord, scan_registry

log = logging.getLogger("clearance.links")

Listing = tuple[tuple[str, int, int, int], ...]  # (relative path, inode, size, mtime ns) of each record file


class SourceLinks:
    """Each chunk's link: its source's `<uri_base><relpath>`, or its file URI when the source has no base."""

    def __init__(self, paths: DataPaths) -> None:
        self._paths = paths
        self._lock = threading.Lock()
        self._listing: Listing | None = None
        self._records: dict[SourceKey, SourceRecord] = {}

    def links(self, chunks: Sequence[Chunk]) -> list[str]:
        """Where a person opens each chunk's document (one look at the registry for all of them)."""
        records = self._current() if chunks else {}
        return [_link(records.get((chunk.tenant, chunk.source)), chunk) for chunk in chunks]

    def _current(self) -> dict[SourceKey, SourceRecord]:
        listing = _listing(self._paths.sources_dir)
        with self._lock:
            if listing != self._listing:
                scan = scan_registry(self._paths)
                records = {record.key: record for record in scan.records}
                if scan.problems:
                    # A record that cannot be read keeps the links it had (its file is named once per change).
                    log.warning("source registry: %s", "; ".join(scan.problems))
                    records = {**self._records, **records}
                self._records, self._listing = records, listing
            return self._records


def _link(record: SourceRecord | None, chunk: Chunk) -> str:
    return record.link(chunk.document_id, chunk.uri) if record is not None else chunk.uri


def _listing(sources_dir: Path) -> Listing:
    """What identifies the registry's current content without reading it."""
    found: list[tuple[str, int, int, int]] = []
    try:
        top = list(os.scandir(sources_dir))
    except FileNotFoundError:
        return ()
    for entry in top:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            try:
                inner = [(f"{entry.name}/{item.name}", item) for item in os.scandir(entry.path)]
            except OSError:
                continue
        else:
            inner = [(entry.name, entry)]
        for name, item in inner:
            if name.endswith(".json") and not item.name.startswith("."):
                try:
                    stat = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                found.append((name, stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))
