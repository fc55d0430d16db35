"""Where the last good snapshot lives, readable by every `serve` process.

Embedded index: one JSON file in the data dir, replaced atomically (temp file + os.replace).
Qdrant server: a small side collection next to the chunks; the snapshot is written in parts under a new
version, then a pointer record is switched to it, so a reader sees the old or the new snapshot, never a mix.
`load()` is cheap per request: it re-reads only when the stored version (file identity / pointer) changes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from access_index.directory.codec import decode_snapshot, encode_snapshot
from access_index.directory.snapshot import DirectorySnapshot
from access_index.errors import DirectoryError
from access_index.settings import Settings

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

T = TypeVar("T")

PART_BYTES = 1 << 20
# How long a Qdrant-stored snapshot is trusted before its pointer is checked again: two small requests
# per search otherwise. A swap takes effect within this delay, far below the sync interval.
POINTER_TTL_SECONDS = 1.0
POINTER_ID = str(uuid.UUID(int=1))
_PART_NAMESPACE = uuid.UUID("0f4c2f0e-3a1b-4f7e-8d8e-6a0c9b1d2e3f")


class SnapshotStore(Protocol):
    """Load and atomically replace the last good directory snapshot."""

    def load(self) -> DirectorySnapshot | None:
        """The last good snapshot, or None when no sync has ever succeeded; DirectoryError when unreadable."""

    def save(self, snapshot: DirectorySnapshot) -> None:
        """Replace the stored snapshot in one atomic step."""


class FileSnapshotStore:
    """The snapshot as one JSON file (embedded deployments: every process on this machine reads it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int, int], DirectorySnapshot] | None = None

    def load(self) -> DirectorySnapshot | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise DirectoryError(f"cannot read the directory snapshot {self.path}: {error}") from error
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._cached is not None and self._cached[0] == identity:
                return self._cached[1]
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                return None
            except OSError as error:
                raise DirectoryError(f"cannot read the directory snapshot {self.path}: {error}") from error
            snapshot = decode_snapshot(raw, str(self.path))
            self._cached = (identity, snapshot)
            return snapshot

    def save(self, snapshot: DirectorySnapshot) -> None:
        raw = encode_snapshot(snapshot)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(prefix=".snapshot-", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(handle, "wb") as temp:
                    temp.write(raw)
                    temp.flush()
                    os.fsync(temp.fileno())
                os.chmod(temp_name, 0o640)  # names and e-mails: the service's user and group only
                os.replace(temp_name, self.path)
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
        except OSError as error:
            raise DirectoryError(f"cannot write the directory snapshot {self.path}: {error}") from error


class QdrantSnapshotStore:
    """The snapshot in a side collection of the Qdrant server, shared by every replica of `serve`."""

    def __init__(self, client: QdrantClient, collection: str, pointer_ttl: float = POINTER_TTL_SECONDS) -> None:
        self.client = client
        self.collection = collection
        self.pointer_ttl = pointer_ttl
        self._lock = threading.Lock()
        self._cached: tuple[str, DirectorySnapshot] | None = None
        self._checked_at = -float("inf")

    def load(self) -> DirectorySnapshot | None:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._checked_at < self.pointer_ttl:
                return self._cached[1]
        pointer = self._pointer()
        if pointer is None:
            return None
        digest = str(pointer.get("sha256", ""))
        with self._lock:
            if self._cached is not None and self._cached[0] == digest:
                self._checked_at = time.monotonic()
                return self._cached[1]
            version, parts = int(pointer["version"]), int(pointer["parts"])
            ids = [_part_id(version, part) for part in range(parts)]
            records = self._call(lambda: self.client.retrieve(self.collection, ids=ids, with_payload=True))
            by_id = {str(record.id): record.payload or {} for record in records}
            if len(by_id) != parts:
                raise DirectoryError(f"directory snapshot v{version} in {self.collection!r} is incomplete")
            raw = b"".join(str(by_id[part_id]["data"]).encode("latin-1") for part_id in ids)
            if hashlib.sha256(raw).hexdigest() != digest:
                raise DirectoryError(f"directory snapshot v{version} in {self.collection!r} fails its checksum")
            snapshot = decode_snapshot(raw, f"in Qdrant collection {self.collection!r}")
            self._cached = (digest, snapshot)
            self._checked_at = time.monotonic()
            return snapshot

    def save(self, snapshot: DirectorySnapshot) -> None:
        from qdrant_client import models as qm

        raw = encode_snapshot(snapshot)
        chunks = [raw[start : start + PART_BYTES] for start in range(0, len(raw), PART_BYTES)] or [b""]
        self._ensure_collection()
        previous = self._pointer()
        points = [
            qm.PointStruct(id=_part_id(snapshot.version, part), vector={}, payload={"data": chunk.decode("latin-1")})
            for part, chunk in enumerate(chunks)
        ]
        self._call(lambda: self.client.upsert(self.collection, points=points, wait=True))
        pointer = {"version": snapshot.version, "parts": len(chunks), "sha256": hashlib.sha256(raw).hexdigest()}
        self._call(
            lambda: self.client.upsert(
                self.collection, points=[qm.PointStruct(id=POINTER_ID, vector={}, payload=pointer)], wait=True
            )
        )
        with self._lock:
            self._checked_at = -float("inf")  # this process sees its own swap at once
        # Keep the previous version's parts: a reader that has just read the old pointer can still finish.
        if previous is not None:
            stale = [p for p in self._all_part_ids() if p not in _ids_of(snapshot.version, len(chunks), previous)]
            if stale:
                selector = qm.PointIdsList(points=list[qm.ExtendedPointId](stale))
                self._call(lambda: self.client.delete(self.collection, points_selector=selector, wait=True))

    def _pointer(self) -> dict[str, Any] | None:
        if not self._call(lambda: self.client.collection_exists(self.collection)):
            return None
        records = self._call(lambda: self.client.retrieve(self.collection, ids=[POINTER_ID], with_payload=True))
        return dict(records[0].payload or {}) if records else None

    def _all_part_ids(self) -> list[str]:
        found: list[str] = []
        offset: Any = None
        while True:
            records, offset = self._call(
                partial(
                    self.client.scroll,
                    self.collection,
                    limit=256,
                    offset=offset,
                    with_payload=False,
                    with_vectors=False,
                )
            )
            found.extend(str(record.id) for record in records if str(record.id) != POINTER_ID)
            if offset is None:
                return found

    def _ensure_collection(self) -> None:
        if not self._call(lambda: self.client.collection_exists(self.collection)):
            self._call(lambda: self.client.create_collection(self.collection, vectors_config={}))

    def _call(self, action: Callable[[], T]) -> T:
        """Run one client call; any failure leaves as DirectoryError (the snapshot cannot be trusted)."""
        try:
            return action()
        except DirectoryError:
            raise
        except Exception as error:
            raise DirectoryError(f"directory snapshot store {self.collection!r} unavailable: {error}") from error


def open_snapshot_store(settings: Settings, client: QdrantClient | None = None) -> SnapshotStore:
    """The data-dir file for the embedded engine, or a side collection when CLEARANCE_QDRANT_URL is set.

    `client` shares the index's qdrant-client (access_index/storage.py)."""
    if not settings.qdrant_url:
        return FileSnapshotStore(settings.paths.directory_snapshot)
    from access_index.index.server import connect

    return QdrantSnapshotStore(client or connect(settings), f"{settings.qdrant_collection}_directory")


def _part_id(version: int, part: int) -> str:
    return str(uuid.uuid5(_PART_NAMESPACE, f"{version}/{part}"))


def _ids_of(version: int, parts: int, previous: dict[str, Any]) -> set[str]:
    keep = {_part_id(version, part) for part in range(parts)}
    keep.update(_part_id(int(previous["version"]), part) for part in range(int(previous["parts"])))
    return keep
