"""One sync at a time: a lock per data dir, held across threads (threading.Lock) and processes (flock)."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from access_index.errors import SyncBusyError

_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_GUARD = threading.Lock()


@contextmanager
def sync_lock(lock_file: Path) -> Iterator[None]:
    """Hold the sync lock of a data dir (DataPaths.sync_lock), or raise SyncBusyError at once (a second sync
    is skipped, not queued: the running one already brings the directory up to date)."""
    path = lock_file.resolve()
    with _GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(path, threading.Lock())
    if not thread_lock.acquire(blocking=False):
        raise SyncBusyError("another ACL sync is running in this process")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SyncBusyError(f"another ACL sync holds {path}") from None
            os.ftruncate(handle, 0)
            os.write(handle, f"{os.getpid()}\n".encode())
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            os.close(handle)
    finally:
        thread_lock.release()
