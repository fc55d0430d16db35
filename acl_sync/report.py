"""The outcome of one sync, as the CLI prints it (`--json`) and the scheduler logs it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from access_index.authz_model import AuthzModel
from acl_sync.changes import DirectoryChanges
from acl_sync.source_acls import SourceRefresh

Outcome = Literal["ok", "failed", "skipped"]
# What part of a sync a problem stopped: it labels clearance_acl_sync_errors_total.
Stage = Literal["store", "pull", "authz", "sources", "busy"]


@dataclass(frozen=True)
class SyncProblem:
    """One thing a sync could not do: its stage (for the error counter) and a message for the operator."""

    stage: Stage
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class SyncReport:
    """`ok`: everything configured was synced; `failed`: something was not (the last good snapshot and the
    untouched sources stay as they were); `skipped`: another sync was running."""

    outcome: Outcome
    started_at: datetime
    duration_seconds: float
    directory_source: str | None = None
    snapshot_version: int | None = None
    pulled_at: datetime | None = None
    attempts: int = 0
    changes: DirectoryChanges | None = None
    sources: tuple[SourceRefresh, ...] = ()
    errors: tuple[SyncProblem, ...] = ()
    warnings: tuple[str, ...] = ()
    # Worst case from an IAM change to its effect for this sync: now minus the previous pull's start.
    revocation_latency_bound_seconds: float | None = None
    # The Keycloak Authorization Services model compiled by this sync (None: not configured, or the pull failed
    # and the last good model stayed).
    authz: AuthzModel | None = None
    authz_seconds: float = 0.0  # its pull (with retries), compilation and save
    directory_seconds: float = 0.0  # pull (with retries) and snapshot swap
    sources_seconds: float = 0.0  # source ACL refresh: scan and payload rewrites
    # How the index was reached: "direct", "via clearance serve (pid N)", "Qdrant server"; None: not opened.
    index_route: str | None = None

    @property
    def chunks_updated(self) -> int:
        return sum(source.chunks_updated for source in self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "started_at": self.started_at.isoformat(),
            "duration_seconds": round(self.duration_seconds, 3),
            "directory_seconds": round(self.directory_seconds, 3),
            "sources_seconds": round(self.sources_seconds, 3),
            "directory": {
                "source": self.directory_source,
                "snapshot_version": self.snapshot_version,
                "pulled_at": self.pulled_at.isoformat() if self.pulled_at else None,
                "attempts": self.attempts,
                "changes": self.changes.to_dict() if self.changes else None,
                "revocation_latency_bound_seconds": self.revocation_latency_bound_seconds,
            },
            "authz": _authz_dict(self.authz, self.authz_seconds),
            "sources": [source.to_dict() for source in self.sources],
            "index": self.index_route,
            "chunks_updated": self.chunks_updated,
            "errors": [str(problem) for problem in self.errors],
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        """One human line."""
        parts = [f"acl-sync {self.outcome} in {self.duration_seconds:.2f}s"]
        if self.snapshot_version is not None:
            changed = self.changes.total if self.changes else 0
            parts.append(f"directory v{self.snapshot_version} from {self.directory_source} ({changed} changes)")
        if self.authz is not None:
            parts.append(
                f"Keycloak authorization of {self.authz.client!r}: {len(self.authz.resources)} resources, "
                f"{len(self.authz.unsupported)} without an ACL"
            )
        if self.sources:
            documents = sum(source.documents_changed for source in self.sources)
            parts.append(f"{len(self.sources)} sources: {documents} documents / {self.chunks_updated} chunks re-ACLed")
        if self.index_route:
            parts.append(f"index: {self.index_route}")
        unmatched = sum(len(source.unmatched) for source in self.sources)
        if unmatched:
            parts.append(f"{unmatched} documents match no rule (readable by nobody)")
        if self.errors:
            parts.append("errors: " + "; ".join(str(problem) for problem in self.errors))
        if self.warnings:
            more = f" (+{len(self.warnings) - 1} more)" if len(self.warnings) > 1 else ""
            parts.append(f"warning: {self.warnings[0]}{more}")
        return ", ".join(parts)


def _authz_dict(model: AuthzModel | None, seconds: float) -> dict[str, Any] | None:
    """The compiled model in the report: each resource without an ACL by name, with its permissions and why."""
    if model is None:
        return None
    return {
        "client": model.client,
        "pulled_at": model.pulled_at,
        "seconds": round(seconds, 3),
        "resources": len(model.resources),
        "unsupported": [
            {"resource": r.name, "id": r.id, "permissions": list(r.permissions), "reason": r.reason}
            for r in model.unsupported
        ],
    }
