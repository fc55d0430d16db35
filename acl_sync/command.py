"""`clearance acl-sync [--once | --interval SECONDS]`: sync the IAM directory and the sources' ACLs.

Each sync prints its report as one JSON line on stdout and a summary on stderr, and writes the sync's
metrics to `$CLEARANCE_DATA_DIR/directory/acl_sync.prom` (node_exporter textfile format). The index is
opened for each sync and closed right after, so an embedded index is held only while a sync runs.
Exit status of `--once`: 0 when everything synced (or another sync was already running), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from access_index.errors import IndexError_, IndexLockedError
from access_index.index import ChunkIndex, open_index
from access_index.settings import Settings
from acl_sync.metrics import SyncMetrics
from acl_sync.report import SyncReport
from acl_sync.service import SyncOptions, report_json, sync_once


def run_acl_sync(args: argparse.Namespace, settings: Settings) -> int:
    """Once (`--once`, or when the interval is 0), else forever every `--interval`/CLEARANCE_ACL_SYNC_INTERVAL."""
    metrics = SyncMetrics.create()
    options = SyncOptions(metrics=metrics)
    if getattr(args, "once", False) or settings.acl_sync_interval == 0:
        return 0 if _sync(settings, options).outcome != "failed" else 1
    while True:  # Ctrl-C / SIGINT ends it (the CLI maps KeyboardInterrupt to exit 130)
        began = time.monotonic()
        _sync(settings, options)
        time.sleep(max(0.0, settings.acl_sync_interval - (time.monotonic() - began)))


def _sync(settings: Settings, options: SyncOptions) -> SyncReport:
    index, problem = _open(settings)
    try:
        report = sync_once(settings, index, options)
    finally:
        if index is not None:
            index.close()
    if problem is not None:
        report = replace(report, outcome="failed", errors=(*report.errors, problem))
    print(report_json(report), flush=True)
    print(f"clearance: {report.summary()}", file=sys.stderr, flush=True)
    if options.metrics is not None:
        try:
            options.metrics.write_textfile(settings.data_dir / "directory" / "acl_sync.prom")
        except OSError as error:
            print(f"clearance: cannot write the metrics textfile: {error}", file=sys.stderr)
    return report


def _open(settings: Settings) -> tuple[ChunkIndex | None, str | None]:
    """The index, or None and why: the directory is still synced when the index cannot be opened."""
    try:
        return open_index(settings, role="acl-sync"), None
    except IndexLockedError as error:
        return None, (
            f"sources: not refreshed: {error} When `clearance serve` holds the embedded index, its in-process "
            "sync (CLEARANCE_ACL_SYNC_INTERVAL) refreshes the sources' ACLs."
        )
    except IndexError_ as error:
        return None, f"sources: not refreshed: {error}"
