"""An embedded shard held the way `clearance serve` holds it, index socket open, inside the test process:
`open_index` in the same process then meets a held lock and hands out the socket client
(access_index/index/remote.py), exactly as it does for `ingest` beside a running `serve`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from access_index.index import ChunkIndex, ModelInfo, open_index
from access_index.index.socket_server import start_socket_server
from access_index.settings import Settings


@contextmanager
def serving(settings: Settings, model: ModelInfo) -> Iterator[ChunkIndex]:
    """Hold the shard as `serve` (its collection made for `model`) and serve it on the index socket."""
    holder = open_index(settings, role="serve")
    try:
        holder.ensure_collection(model)
        server = start_socket_server(settings, holder)
        assert server is not None, "the index socket needs Linux (SO_PEERCRED)"
        try:
            yield holder
        finally:
            server.stop()
    finally:
        holder.close()
