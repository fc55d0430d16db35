"""Prometheus metrics of the ACL sync. Each scheduler gets a registry (serve passes its app's registry);
the standalone `clearance acl-sync` also writes them as a textfile for node_exporter after each sync."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, write_to_textfile

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
LATENCY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


@dataclass(frozen=True)
class SyncMetrics:
    """Sync duration, last success, changes applied, errors, and the revocation latency bound."""

    registry: CollectorRegistry
    duration: Histogram
    last_success: Gauge
    changes: Counter
    errors: Counter
    revocation_latency: Histogram
    snapshot_version: Gauge
    snapshot_synced_at: Gauge

    @staticmethod
    def create(registry: CollectorRegistry | None = None) -> SyncMetrics:
        """Register the sync's metrics in `registry` (a fresh one when None)."""
        registry = registry or CollectorRegistry()
        return SyncMetrics(
            registry=registry,
            duration=Histogram(
                "clearance_acl_sync_duration_seconds",
                "Duration of one ACL sync (pull, snapshot swap, source ACL refresh) by outcome",
                ["outcome"],
                buckets=DURATION_BUCKETS,
                registry=registry,
            ),
            last_success=Gauge(
                "clearance_acl_sync_last_success_timestamp_seconds",
                "Unix time the last successful sync finished",
                registry=registry,
            ),
            changes=Counter(
                "clearance_acl_sync_changes_total",
                "Changes applied by ACL syncs, by kind (directory changes, documents and chunks rewritten)",
                ["kind"],
                registry=registry,
            ),
            errors=Counter(
                "clearance_acl_sync_errors_total",
                "Failed ACL syncs or steps, by stage (pull, store, sources, busy, crash)",
                ["stage"],
                registry=registry,
            ),
            revocation_latency=Histogram(
                "clearance_acl_sync_revocation_latency_seconds",
                "Upper bound on the time from an IAM change to its effect: a change made just after the "
                "previous pull started takes effect when this sync's snapshot is swapped in",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            snapshot_version=Gauge(
                "clearance_directory_snapshot_version", "Version of the directory snapshot in use", registry=registry
            ),
            snapshot_synced_at=Gauge(
                "clearance_directory_snapshot_synced_timestamp_seconds",
                "Unix time the directory snapshot in use was pulled (its age is now minus this)",
                registry=registry,
            ),
        )

    def write_textfile(self, path: Path) -> None:
        """Write every metric to `path` atomically (the node_exporter textfile collector format)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".metrics-", dir=path.parent)
        os.close(handle)
        try:
            write_to_textfile(temp, self.registry)
            os.chmod(temp, 0o644)
            os.replace(temp, path)
        finally:
            Path(temp).unlink(missing_ok=True)
