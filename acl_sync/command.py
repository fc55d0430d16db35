"""`clearance acl-sync [--once | --interval SECONDS] [--release PRINCIPAL]...`: sync the IAM directory and
the sources' ACLs. `--release` (with `--once`) hands a user:/email: name or a group: path to whoever holds
it in this pull, instead of the first account or group the directory ever showed with it.

Each sync prints its report as one JSON line on stdout and a summary on stderr, and writes the sync's
metrics to the data dir's `directory/acl_sync.prom` (node_exporter textfile format). The index is
opened for each sync and closed right after, so an embedded index is held only while a sync runs; beside a
running `serve` the sync hands its ACL rewrites to serve (access_index/index/remote.py) and writes the
directory snapshot file, which serve re-reads at its next request.
Exit status of `--once`: 0 when everything synced (or another sync was already running), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from access_index.directory import open_snapshot_store
from access_index.errors import ConfigError, IndexUnavailableError, PrincipalError
from access_index.principals import parse_principal
from access_index.settings import Settings
from access_index.storage import Storage, open_storage
from acl_sync.directory_source import directory_issuer
from acl_sync.metrics import SyncMetrics
from acl_sync.report import SyncProblem, SyncReport
from acl_sync.sync import SyncOptions, report_json, sync_once


def run_acl_sync(args: argparse.Namespace, settings: Settings) -> int:
    """Once (`--once`, or when the interval is 0), else forever every `--interval`/CLEARANCE_ACL_SYNC_INTERVAL."""
    directory_issuer(settings)  # a directory file that names no issuer among several is a start-up error
    metrics = SyncMetrics.create()
    once = getattr(args, "once", False) or settings.acl_sync_interval == 0
    release = _releases(getattr(args, "release", None) or [], once)
    if once:
        return 0 if _sync(settings, metrics, release).outcome != "failed" else 1
    while True:  # Ctrl-C / SIGINT ends it (the CLI maps KeyboardInterrupt to exit 130)
        began = time.monotonic()
        _sync(settings, metrics)
        time.sleep(max(0.0, settings.acl_sync_interval - (time.monotonic() - began)))


def _releases(values: list[str], once: bool) -> tuple[str, ...]:
    """`--release` values as canonical principals; only names and paths can be handed over, and only once."""
    if values and not once:
        raise ConfigError("--release hands a name over in one sync: use it with --once")
    released = []
    for value in values:
        try:
            principal = parse_principal(value)
        except PrincipalError as error:
            raise ConfigError(f"--release {value!r}: {error.reason}") from None
        if principal.kind not in {"user", "email", "group"}:
            raise ConfigError(f"--release {value!r}: only user:, email: and group: bindings can be released")
        released.append(str(principal))
    return tuple(released)


def _sync(settings: Settings, metrics: SyncMetrics, release: tuple[str, ...] = ()) -> SyncReport:
    storage, problem = _open(settings)
    try:
        if storage is None:
            options = SyncOptions(store=open_snapshot_store(settings), metrics=metrics, release=release)
            report = sync_once(settings, None, options)
        else:
            options = SyncOptions(store=storage.snapshots, metrics=metrics, release=release)
            report = sync_once(settings, storage.index, options)
    finally:
        if storage is not None:
            storage.close()
    if problem is not None:
        report = replace(report, outcome="failed", errors=(*report.errors, problem))
    print(report_json(report), flush=True)
    print(f"clearance: {report.summary()}", file=sys.stderr, flush=True)
    try:
        metrics.write_textfile(settings.paths.sync_metrics)
    except OSError as error:
        print(f"clearance: cannot write the metrics textfile: {error}", file=sys.stderr)
    return report


def _open(settings: Settings) -> tuple[Storage | None, SyncProblem | None]:
    """The index and snapshot store, or None and why: the directory is still synced when the index cannot
    be opened."""
    try:
        return open_storage(settings, role="acl-sync"), None
    except IndexUnavailableError as error:  # held by another ingest or sync: the directory is still synced
        return None, SyncProblem("sources", f"sources: not refreshed: {error}")
