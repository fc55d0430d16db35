"""The chunk index: one protocol, two engines, chosen by one setting (`CLEARANCE_QDRANT_URL`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from access_index.index.base import MODES, ChunkIndex, Mode, ModelInfo, Role, SearchQuery
from access_index.index.chunk import Chunk, Hit, point_id
from access_index.index.filter import AnyOf, Filter, document_filter, source_filter
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


def open_index(settings: Settings, role: Role, client: QdrantClient | None = None) -> ChunkIndex:
    """The embedded Qdrant Edge shard in the data dir, or a Qdrant server when CLEARANCE_QDRANT_URL is set.

    `role` names this process in the embedded shard's lock, so a second process learns who holds it.
    `client` shares one qdrant-client with the directory store (access_index/storage.py).
    """
    if settings.qdrant_url:
        from access_index.index.server import ServerIndex, connect

        return ServerIndex(settings, client or connect(settings))
    from access_index.index.edge import EdgeIndex

    return EdgeIndex(settings.paths, role)


def index_exists(settings: Settings) -> bool:
    """Whether there may be a collection to read, without opening (or creating) one.

    A server is asked when the index is opened; an embedded index exists once its model is recorded."""
    return bool(settings.qdrant_url) or settings.paths.index_meta.exists()
