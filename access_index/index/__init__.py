"""The chunk index: one protocol, two engines, chosen by one setting (`CLEARANCE_QDRANT_URL`).

On the embedded engine a process either holds the shard itself or, when a running `serve` holds it, reaches
it through `serve`'s index socket (access_index/index/remote.py); `open_index` makes that choice.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from access_index.errors import IndexLockedError
from access_index.index.base import MODES, ChunkIndex, Mode, ModelInfo, Role, SearchQuery
from access_index.index.chunk import Chunk, Hit, point_id
from access_index.index.filter import AnyOf, Filter, document_filter, source_filter
from access_index.paths import DataPaths
from access_index.settings import Settings

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

__all__ = [
    "MODES",
    "AnyOf",
    "Chunk",
    "ChunkIndex",
    "Filter",
    "Hit",
    "Mode",
    "ModelInfo",
    "Role",
    "SearchQuery",
    "document_filter",
    "index_exists",
    "open_index",
    "point_id",
    "source_filter",
]

# How long a command waits for the index socket of a `serve` that holds the shard but does not answer yet
# (it opens the socket right after the shard, before loading the model).
OWNER_START_SECONDS = 30.0


def open_index(settings: Settings, role: Role, client: QdrantClient | None = None) -> ChunkIndex:
    """The embedded Qdrant Edge shard in the data dir, or a Qdrant server when CLEARANCE_QDRANT_URL is set.

    `role` names this process in the embedded shard's lock, so a second process learns who holds it.
    `client` shares one qdrant-client with the directory store (access_index/storage.py).
    """
    if settings.qdrant_url:
        from access_index.index.server import ServerIndex, connect

        return ServerIndex(settings, client or connect(settings))
    return _open_embedded(settings.paths, role)


def _open_embedded(paths: DataPaths, role: Role) -> ChunkIndex:
    """The shard itself when it is free; a client of `serve` when a running `serve` holds it; otherwise the
    holder's IndexLockedError. A second `serve` never goes through the first."""
    from access_index.index.edge import EdgeIndex
    from access_index.index.local_socket import supported

    deadline = time.monotonic() + OWNER_START_SECONDS
    while True:
        try:
            return EdgeIndex(paths, role)
        except IndexLockedError as locked:
            if role == "serve" or locked.holder_role != "serve" or not supported():
                raise
            from access_index.index.remote import OwnerNotReady, RemoteIndex

            try:
                return RemoteIndex(paths, role, locked.holder_pid)
            except OwnerNotReady as why:
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"clearance serve (pid {locked.holder_pid}) holds the embedded index at {paths.index_dir}, "
                        f"but its index socket {paths.index_socket} did not answer within {OWNER_START_SECONDS:.0f} s "
                        f"({why}). Check that serve is running and healthy (`clearance status`), then try again.",
                        holder_role="serve",
                        holder_pid=locked.holder_pid,
                    ) from None
        time.sleep(0.25)


def index_exists(settings: Settings) -> bool:
    """Whether there may be a collection to read, without opening (or creating) one.

    A server is asked when the index is opened; an embedded index exists once its model is recorded."""
    return bool(settings.qdrant_url) or settings.paths.index_meta.exists()
