"""One sync (`sync_once`); acl_sync/scheduler.py repeats it inside `serve`, acl_sync/command.py from the CLI.

A sync: take the lock → pull the directory (with retries) → build the next snapshot on top of the last
good one (group and name bindings and tombstones carried, `--release` applied) → swap it in atomically →
with CLEARANCE_KEYCLOAK_AUTHZ_CLIENT, pull and compile its Authorization Services (acl_sync/authz_pull.py,
acl_sync/authz_compile.py) and save the model → refresh the sources' ACLs.
A failed or incomplete pull leaves the last good snapshot (and the last good authorization model) in place;
the snapshot ages, and past CLEARANCE_DIRECTORY_MAX_AGE the service fails closed on group and role grants.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from access_index.authz_model import AuthzModel, save_authz_model
from access_index.directory import DirectorySnapshot, SnapshotStore, build_snapshot, names_of, open_snapshot_store
from access_index.errors import DirectoryError, SyncBusyError
from access_index.index import ChunkIndex
from access_index.settings import Settings
from acl_sync.authz_compile import compile_model
from acl_sync.authz_pull import pull_authz
from acl_sync.changes import DirectoryChanges, diff_snapshots
from acl_sync.directory_source import DirectorySource, open_directory_source
from acl_sync.keycloak_source import KeycloakSource
from acl_sync.lock import sync_lock
from acl_sync.metrics import SyncMetrics
from acl_sync.report import Outcome, SyncProblem, SyncReport
from acl_sync.retry import Backoff, with_retries
from acl_sync.source_acls import SourceRefresh, refresh_all_sources

log = logging.getLogger("clearance.acl_sync")


@dataclass(frozen=True)
class SyncOptions:
    """What a sync uses besides settings and index; defaults are the production ones."""

    source: DirectorySource | None = None  # None: the one the settings configure
    store: SnapshotStore | None = None  # None: open_snapshot_store(settings)
    metrics: SyncMetrics | None = None
    backoff: Backoff = field(default_factory=Backoff)
    sleep: Callable[[float], None] = time.sleep
    # `--release`: user:/email: names and group: paths handed to whoever holds them in this pull.
    release: tuple[str, ...] = ()


def sync_once(settings: Settings, index: ChunkIndex | None, options: SyncOptions | None = None) -> SyncReport:
    """Sync the directory and (when an index is given) the sources' ACLs once; never raises for a failed
    pull or refresh: the report says what failed, and nothing half-done is ever swapped in."""
    options = options or SyncOptions()
    started = time.monotonic()
    started_at = datetime.now(UTC)
    try:
        with sync_lock(settings.paths.sync_lock):
            report = _Sync(settings, index, options, started_at, started).run()
    except SyncBusyError as error:
        busy = (SyncProblem("busy", str(error)),)
        report = SyncReport("skipped", started_at, time.monotonic() - started, errors=busy)
    _record(report, options.metrics)
    level = logging.ERROR if report.outcome == "failed" else logging.INFO
    log.log(level, "%s", report.summary(), extra={"fields": {"acl_sync": report.to_dict()}})
    return report


class _Sync:
    def __init__(
        self, settings: Settings, index: ChunkIndex | None, options: SyncOptions, started_at: datetime, started: float
    ) -> None:
        self.settings = settings
        self.index = index
        self.options = options
        self.started_at = started_at
        self.started = started
        self.errors: list[SyncProblem] = []

    def run(self) -> SyncReport:
        source = self.options.source or open_directory_source(self.settings)
        directory = self.directory(source) if source is not None else None
        directory_done = time.monotonic()
        authz = self.authz()
        authz_done = time.monotonic()
        sources: tuple[SourceRefresh, ...] = ()
        if self.index is not None:
            sources = tuple(refresh_all_sources(self.settings, self.index))
            self.errors.extend(SyncProblem("sources", f"{s.label}: {s.error}") for s in sources if s.error)
        sources_done = time.monotonic()
        outcome: Outcome = "failed" if self.errors else "ok"
        return SyncReport(
            outcome=outcome,
            started_at=self.started_at,
            duration_seconds=time.monotonic() - self.started,
            directory_source=source.name if source is not None else None,
            snapshot_version=directory.snapshot.version if directory else None,
            pulled_at=directory.snapshot.synced_at if directory else None,
            attempts=directory.attempts if directory else 0,
            changes=directory.changes if directory else None,
            sources=sources,
            errors=tuple(self.errors),
            warnings=(
                *(directory.warnings if directory else self.idle_warning(source)),
                *(_unsupported(authz) if authz else ()),
                *(warning for refreshed in sources for warning in refreshed.warnings),
            ),
            revocation_latency_bound_seconds=directory.latency_bound if directory else None,
            authz=authz,
            authz_seconds=authz_done - directory_done,
            directory_seconds=directory_done - self.started,
            sources_seconds=sources_done - authz_done,
            index_route=self.index.route if self.index is not None else None,
        )

    def authz(self) -> AuthzModel | None:
        """Pull and compile the Authorization Services of CLEARANCE_KEYCLOAK_AUTHZ_CLIENT and save the model;
        on any failure the last good model stays (and keeps governing its sources) and the sync fails."""
        client = self.settings.keycloak_authz_client
        if not client:
            return None
        options = self.options
        source = KeycloakSource.from_settings(self.settings)
        try:
            attempted = with_retries(
                partial(pull_authz, source, client),
                options.backoff,
                on_retry=lambda attempt, error: log.warning("authorization pull attempt %d failed: %s", attempt, error),
                sleep=options.sleep,
            )
            model = compile_model(attempted.value)
            save_authz_model(self.settings.paths.authz_model, model)
        except DirectoryError as error:
            self.errors.append(SyncProblem("authz", f"Keycloak authorization (last good ACLs kept): {error}"))
            return None
        except OSError as error:
            self.errors.append(SyncProblem("authz", f"cannot save the Keycloak authorization model: {error}"))
            return None
        return model

    @staticmethod
    def idle_warning(source: DirectorySource | None) -> tuple[str, ...]:
        if source is not None:
            return ()
        return (
            "no directory source is configured (CLEARANCE_KEYCLOAK_* or CLEARANCE_DIRECTORY_FILE): only the "
            "sources' ACLs were refreshed",
        )

    def directory(self, source: DirectorySource) -> _DirectoryResult | None:
        options = self.options
        try:
            store = options.store or open_snapshot_store(self.settings)
            # An unreadable previous snapshot stops the sync: rebuilding from scratch would forget which
            # group ids own which paths, and a new group could then inherit a deleted group's documents.
            previous = store.load()
        except DirectoryError as error:
            self.errors.append(SyncProblem("store", f"store: {error}"))
            return None
        pulled_at = datetime.now(UTC)
        try:
            attempted = with_retries(
                source.pull,
                options.backoff,
                on_retry=lambda attempt, error: log.warning("directory pull attempt %d failed: %s", attempt, error),
                sleep=options.sleep,
            )
        except DirectoryError as error:
            self.errors.append(SyncProblem("pull", f"pull: {error}"))
            return None
        try:
            current = store.load()
            if current is not None and previous is not None and current.version != previous.version:
                previous = current  # another host synced meanwhile: build on its snapshot, keep its bindings
            snapshot = build_snapshot(attempted.value, previous, now=pulled_at, release=options.release)
            store.save(snapshot)
        except DirectoryError as error:
            self.errors.append(SyncProblem("store", f"store: {error}"))
            return None
        bound = (datetime.now(UTC) - previous.synced_at).total_seconds() if previous else None
        warnings = (
            *attempted.value.warnings,
            *_issuer_change(previous, snapshot),
            *_releases(previous, snapshot, options.release),
            *_unowned_paths(snapshot),
            *_unowned_names(snapshot),
        )
        return _DirectoryResult(snapshot, attempted.attempts, diff_snapshots(previous, snapshot), warnings, bound)


def _unsupported(model: AuthzModel) -> list[str]:
    """One warning per resource whose permissions Clearance cannot express: its documents are read by nobody."""
    return [
        f"Keycloak {resource.label}: no ACL, its documents are read by nobody: {resource.reason}"
        for resource in model.unsupported
    ]


def _unowned_paths(snapshot: DirectorySnapshot, limit: int = 20) -> list[str]:
    """Groups sitting at a path another (older) group id owns: their members get no token for that path.
    Expected after a group was re-created under an old name; many of them suggest the directory source
    was switched, whose old ids still own the paths (remove the snapshot to start over)."""
    unowned = sorted(g.path for g in snapshot.groups.values() if snapshot.bindings.get(g.path) != g.id)
    if not unowned:
        return []
    shown = ", ".join(unowned[:limit]) + (f" and {len(unowned) - limit} more" if len(unowned) > limit else "")
    return [
        f"{len(unowned)} group(s) sit at a path an older group id owns, so their members get no token for it: {shown}"
    ]


def _unowned_names(snapshot: DirectorySnapshot, limit: int = 20) -> list[str]:
    """Accounts whose username or e-mail an older account owns (or two accounts contest): they get no
    grant on that name. Expected after a user was deleted and a new account took the name; to hand the
    name over deliberately: `clearance acl-sync --once --release user:<name>`."""
    unowned = sorted(
        f"{name} ({user.id})"
        for user in snapshot.users.values()
        for name in names_of(user)
        if snapshot.names.get(name) != user.id
    )
    if not unowned:
        return []
    shown = ", ".join(unowned[:limit]) + (f" and {len(unowned) - limit} more" if len(unowned) > limit else "")
    return [
        f"{len(unowned)} account name(s) belong to an older account (or to no one, when two accounts held the "
        f"name at once), so these accounts get no grant on them: {shown}; to hand a name to the account that "
        "holds it now, run `clearance acl-sync --once --release <name>`"
    ]


def _releases(previous: DirectorySnapshot | None, snapshot: DirectorySnapshot, release: tuple[str, ...]) -> list[str]:
    """What each `--release` did, for the report (the operator's hand-over is on record)."""
    notes = []
    for token in release:
        if token.startswith("group:"):
            path = token.removeprefix("group:")
            before = previous.bindings.get(path) if previous else None
            after = snapshot.bindings.get(path)
        else:
            before = previous.names.get(token) if previous else None
            after = snapshot.names.get(token)
        notes.append(f"released {token}: bound to {before or 'nobody'} before, to {after or 'nobody'} now")
    return notes


def _issuer_change(previous: DirectorySnapshot | None, snapshot: DirectorySnapshot) -> list[str]:
    if previous is None or previous.issuer is None or previous.issuer == snapshot.issuer:
        return []
    return [
        f"the directory now answers for issuer {snapshot.issuer} instead of {previous.issuer}: names and group "
        "paths stay bound to the ids the old directory gave them; if this is another IdP, remove the snapshot "
        "to start over"
    ]


@dataclass(frozen=True)
class _DirectoryResult:
    snapshot: DirectorySnapshot
    attempts: int
    changes: DirectoryChanges
    warnings: tuple[str, ...]
    latency_bound: float | None


def _record(report: SyncReport, metrics: SyncMetrics | None) -> None:
    if metrics is None:
        return
    metrics.duration.labels(report.outcome).observe(report.duration_seconds)
    for problem in report.errors:
        metrics.errors.labels(problem.stage).inc()
    if report.outcome == "skipped":
        return
    if report.changes is not None:
        for kind, count in report.changes.counts().items():
            if count:
                metrics.changes.labels(kind).inc(count)
    documents = sum(source.documents_changed for source in report.sources)
    if documents:
        metrics.changes.labels("documents_reacled").inc(documents)
    if report.chunks_updated:
        metrics.changes.labels("chunks_reacled").inc(report.chunks_updated)
    if report.snapshot_version is not None and report.pulled_at is not None:
        metrics.snapshot_version.set(report.snapshot_version)
        metrics.snapshot_synced_at.set(report.pulled_at.timestamp())
    if report.revocation_latency_bound_seconds is not None:
        metrics.revocation_latency.observe(report.revocation_latency_bound_seconds)
    if report.outcome == "ok":
        metrics.last_success.set(time.time())


def report_json(report: SyncReport) -> str:
    return json.dumps(report.to_dict(), sort_keys=True)
