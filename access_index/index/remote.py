"""A ChunkIndex whose operations run in the `serve` process that holds the embedded shard, over the index
socket (access_index/index/socket_server.py is the other side; access_index/index/wire.py what travels).

`open_index` returns one when the shard is held by a live `serve`; ingest and acl-sync use it exactly as
they use the shard itself. Writes are cut into requests of about TARGET_REQUEST_BYTES between documents,
so each document's chunks still arrive in one engine operation (a document larger than a request alone is
cut; ingest's state check repairs a cut document like any other interrupted write). If `serve` stops in
the middle, every later call fails with IndexUnavailableError naming it; what was written stays written.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from access_index.errors import IndexLockedError, IndexUnavailableError, ModelMismatchError
from access_index.index.base import ModelInfo, Role, SearchQuery
from access_index.index.chunk import Chunk, Hit
from access_index.index.filter import Filter
from access_index.index.local_socket import PrivateDirectory, peer_of
from access_index.index.wire import (
    CHUNK,
    METHODS,
    PROTOCOL,
    TARGET_REQUEST_BYTES,
    VECTOR,
    VERSION,
    Json,
    WireError,
    receive_frame,
    send_frame,
)
from access_index.paths import DataPaths

CONNECT_SECONDS = 10.0
REQUEST_SECONDS = 300.0  # one engine operation; a `serve` silent for longer is treated as gone
DELETE_BATCH = 10_000  # point ids per request
# The server's error codes that come back as the same Clearance error; any other becomes IndexUnavailableError.
_ERRORS: dict[str, type[IndexUnavailableError]] = {
    cls.code: cls for cls in (IndexUnavailableError, IndexLockedError, ModelMismatchError)
}


class OwnerNotReady(Exception):
    """The holder's socket does not answer (yet): `serve` is starting or stopping. `open_index` retries."""


class RemoteIndex:
    """ChunkIndex on the embedded shard of a running `serve`, through its index socket."""

    engine = "edge"

    def __init__(self, paths: DataPaths, role: Role, holder_pid: int | None) -> None:
        self.paths = paths
        self.role = role
        if not paths.socket_dir.is_dir():
            raise OwnerNotReady(f"{paths.socket_dir} does not exist yet")
        self._directory = PrivateDirectory(paths.socket_dir, create=False)
        try:
            self._connection, self.owner_pid = self._connect(holder_pid)
        except BaseException:
            self._directory.close()
            raise
        self.route = f"via clearance serve (pid {self.owner_pid})"
        self._lock = threading.Lock()
        self._broken: str | None = None

    # -- the protocol, forwarded ---------------------------------------------------------------------------
    def ensure_collection(self, model: ModelInfo) -> None:
        self._call("ensure_collection", model)

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        encoded = [(CHUNK.encode(chunk), VECTOR.encode(vector)) for chunk, vector in zip(chunks, vectors, strict=True)]
        sizes = [len(json.dumps(item, ensure_ascii=False)) for item in encoded]
        for start, end in request_ranges([chunk.document_id for chunk in chunks], sizes, TARGET_REQUEST_BYTES):
            self._send("upsert", [[c for c, _ in encoded[start:end]], [v for _, v in encoded[start:end]]])

    def delete_points(self, point_ids: Sequence[str]) -> None:
        for start in range(0, len(point_ids), DELETE_BATCH):
            self._call("delete_points", point_ids[start : start + DELETE_BATCH])

    def delete_where(self, where: Filter) -> None:
        self._call("delete_where", where)

    def set_payload_where(self, where: Filter, payload: Mapping[str, Any]) -> None:
        self._call("set_payload_where", where, payload)

    def search(self, query: SearchQuery, where: Filter, limit: int) -> list[Hit]:
        hits: list[Hit] = self._call("search", query, where, limit)
        return hits

    def fill_sparse(self, limit: int) -> int:
        filled: int = self._call("fill_sparse", limit)
        return filled

    def scroll(self, where: Filter, fields: Sequence[str] | None = None, batch: int = 256) -> Iterator[Chunk]:
        return self._stream("scroll", where, fields, batch)

    def count(self, where: Filter | None = None) -> int:
        counted: int = self._call("count", where)
        return counted

    def flush(self) -> None:
        self._call("flush")

    def close(self) -> None:
        """Close this client's connection; the shard stays open in `serve`."""
        self._connection.close()
        self._directory.close()

    # -- requests ------------------------------------------------------------------------------------------
    def _call(self, name: str, *args: Any) -> Any:
        return self._send(name, METHODS[name].encode_args(args))

    def _send(self, name: str, args: list[Json]) -> Any:
        with self._lock:
            if self._broken is not None:
                raise IndexUnavailableError(self._broken)
            try:
                send_frame(self._connection, {"call": name, "args": args})
                answer = receive_frame(self._connection)
            except (OSError, EOFError, WireError) as error:
                self._broken = self._gone(name, error)
                raise IndexUnavailableError(self._broken) from error
        return METHODS[name].result.decode(self._result(name, answer))

    def _stream(self, name: str, *args: Any) -> Iterator[Any]:
        """A streamed result, on a connection of its own: the caller may write while it iterates."""
        method = METHODS[name]
        try:
            connection, _ = self._connect(self.owner_pid)
        except OwnerNotReady as error:
            raise IndexUnavailableError(self._gone(name, error)) from error
        try:
            send_frame(connection, {"call": name, "args": method.encode_args(args)})
            while True:
                frame = receive_frame(connection)
                if isinstance(frame, dict) and isinstance(frame.get("items"), list):
                    for item in frame["items"]:
                        yield method.result.decode(item)
                    continue
                self._result(name, frame)
                return
        except (OSError, EOFError, WireError) as error:
            raise IndexUnavailableError(self._gone(name, error)) from error
        finally:
            connection.close()

    def _result(self, name: str, answer: Json) -> Json:
        if isinstance(answer, dict) and "ok" in answer:
            return answer["ok"]
        problem = answer.get("error") if isinstance(answer, dict) else None
        if not isinstance(problem, dict):
            raise WireError(f"clearance serve answered {name} with something that is not an answer")
        error_class = _ERRORS.get(str(problem.get("code")), IndexUnavailableError)
        raise error_class(f"clearance serve (pid {self.owner_pid}) refused {name}: {problem.get('message')}")

    def _gone(self, name: str, error: BaseException) -> str:
        return (
            f"clearance serve (pid {self.owner_pid}), which holds the embedded index at {self.paths.index_dir}, "
            f"stopped answering during {name} ({type(error).__name__}: {error or 'connection closed'}). "
            "What was written before this is kept."
        )

    def _connect(self, holder_pid: int | None) -> tuple[socket.socket, int]:
        """A connection that has greeted `serve`, and serve's pid; OwnerNotReady while nobody answers."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(CONNECT_SECONDS)
        try:
            connection.connect(self._directory.address(self.paths.index_socket.name))
            peer = peer_of(connection)
            if peer.uid != os.getuid():  # the directory is ours and private; this is a second check
                raise IndexUnavailableError(f"the index socket is served by uid {peer.uid}, not by this user")
            if holder_pid is not None and peer.pid != holder_pid:
                raise OwnerNotReady(f"the socket is served by pid {peer.pid}, not by the index holder {holder_pid}")
            send_frame(connection, {"hello": PROTOCOL, "version": VERSION, "role": self.role})
            answer = receive_frame(connection)
            problem = answer.get("error") if isinstance(answer, dict) else None
            if isinstance(problem, dict):
                if problem.get("code") == "busy":
                    raise OwnerNotReady(str(problem.get("message")))
                raise IndexUnavailableError(f"clearance serve (pid {peer.pid}) refused this command: {problem}")
            connection.settimeout(REQUEST_SECONDS)
            return connection, peer.pid
        except (OSError, EOFError, WireError) as error:
            connection.close()
            raise OwnerNotReady(f"{type(error).__name__}: {error}") from error
        except BaseException:
            connection.close()
            raise


def request_ranges(documents: Sequence[str], sizes: Sequence[int], target: int) -> list[tuple[int, int]]:
    """[start, end) ranges of about `target` bytes each, cut where one document ends and the next begins; a
    document larger than `target` on its own is cut inside."""
    ranges: list[tuple[int, int]] = []
    start, size, document_start = 0, 0, 0
    for position, item in enumerate(sizes):
        if position and documents[position] != documents[position - 1]:
            document_start = position
        if size + item > target and position > start:
            cut = document_start if document_start > start else position
            ranges.append((start, cut))
            size = sum(sizes[cut:position])
            start = cut
        size += item
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges
