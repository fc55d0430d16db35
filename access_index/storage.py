"""Where a deployment keeps its chunks and its directory snapshot, opened together.

The embedded engine keeps the snapshot in a file of the data dir; a Qdrant server keeps it in a side
collection reached through the same client as the chunks (one connection, and with `:memory:` one store).
"""

from __future__ import annotations

from dataclasses import dataclass

from access_index.directory import SnapshotStore, open_snapshot_store
from access_index.index import ChunkIndex, Role, open_index
from access_index.settings import Settings


@dataclass(frozen=True)
class Storage:
    """The chunk index and the directory snapshot store of one process."""

    index: ChunkIndex
    snapshots: SnapshotStore

    def close(self) -> None:
        self.index.close()


def open_storage(settings: Settings, role: Role) -> Storage:
    """The index (see `open_index`) and the snapshot store beside it."""
    client = None
    if settings.qdrant_url:
        from access_index.index.server import connect

        client = connect(settings)
    return Storage(open_index(settings, role, client), open_snapshot_store(settings, client))
