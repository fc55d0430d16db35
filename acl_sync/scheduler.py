"""The schedule inside `serve`: `sync_once` every CLEARANCE_ACL_SYNC_INTERVAL seconds on a daemon thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from access_index.index import ChunkIndex
from access_index.settings import Settings
from acl_sync.metrics import SyncMetrics
from acl_sync.report import SyncReport
from acl_sync.sync import SyncOptions, sync_once

log = logging.getLogger("clearance.acl_sync")


class SyncScheduler:
    """Syncs every `settings.acl_sync_interval` seconds on a daemon thread; the first sync runs at start.
    Syncs never overlap (one thread, plus the data-dir lock against other processes)."""

    def __init__(
        self,
        settings: Settings,
        index: ChunkIndex | None,
        registry: CollectorRegistry | None = None,
        options: SyncOptions | None = None,
        on_report: Callable[[SyncReport], None] | None = None,
    ) -> None:
        if settings.acl_sync_interval <= 0:
            raise ValueError("CLEARANCE_ACL_SYNC_INTERVAL is 0: the schedule is off")
        self.settings = settings
        self.index = index
        base = options or SyncOptions()
        metrics = base.metrics or SyncMetrics.create(registry)
        self.options = SyncOptions(base.source, base.store, metrics, base.backoff, base.sleep)
        self.on_report = on_report
        self.last_report: SyncReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def metrics(self) -> SyncMetrics:
        assert self.options.metrics is not None
        return self.options.metrics

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="clearance-acl-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop after the current sync and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                report = sync_once(self.settings, self.index, self.options)
                self.last_report = report
                if self.on_report is not None:
                    self.on_report(report)
            except Exception:  # a bug must not kill the schedule: the snapshot would silently go stale
                log.exception("ACL sync crashed")
                self.metrics.errors.labels("crash").inc()
            wait = max(0.0, self.settings.acl_sync_interval - (time.monotonic() - began))
            self._stop.wait(wait)
