"""The chunk index: one protocol, two engines, chosen by one setting (`CLEARANCE_QDRANT_URL`)."""

from __future__ import annotations

from access_index.index.base import ChunkIndex, ModelInfo, Role
from access_index.index.chunk import Chunk, Hit, point_id
from access_index.index.filter import AnyOf, Filter, document_filter
from access_index.settings import Settings

__all__ = [
    "AnyOf",
    "Chunk",
    "ChunkIndex",
    "Filter",
    "Hit",
    "ModelInfo",
    "Role",
    "document_filter",
    "open_index",
    "point_id",
]


def open_index(settings: Settings, role: Role) -> ChunkIndex:
    """The embedded Qdrant Edge shard in the data dir, or a Qdrant server when CLEARANCE_QDRANT_URL is set.

    `role` names this process in the embedded shard's lock, so a second process learns who holds it.
    """
    if settings.qdrant_url:
        from access_index.index.server import ServerIndex

        return ServerIndex(settings)
    from access_index.index.edge import EdgeIndex

    return EdgeIndex(settings.index_dir, role)
