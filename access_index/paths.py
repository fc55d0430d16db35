"""Every path under `$CLEARANCE_DATA_DIR`, named once. Code asks `DataPaths` for a path; it never joins one.

index/                  the embedded Qdrant Edge shard (embedded engine only)
    shard/              the shard itself
    collection.json     the embedding model the collection was built with
    LOCK                flock held by the process that has the shard open (its role and pid inside)
directory/
    snapshot.json       the last good directory snapshot (embedded engine; a side collection on a server)
    authz.json          the last good compiled Keycloak Authorization Services model (`source: keycloak`)
    sync.lock           one ACL sync at a time
    acl_sync.prom       the last sync's metrics (node_exporter textfile)
sources/                the source registry (access_index/sources.py)
    <tenant>/<source>.json   one record per (tenant, source): its roots and manifest
    <source>.json       a record of the old name-keyed layout (read, replaced at that source's next ingest)
    .lock               flock held while an ingest checks and writes a record (no tenant name starts with '.')
quarantine/             one JSON report per held-back document
audit/                  the hash-chained audit log
models/                 the local int8 ONNX export of the embedding model
dev-issuer/signing-key.json   the development issuer's key (dev mode only)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataPaths:
    """The layout of one data dir."""

    root: Path

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def index_shard(self) -> Path:
        return self.index_dir / "shard"

    @property
    def index_meta(self) -> Path:
        return self.index_dir / "collection.json"

    @property
    def index_lock(self) -> Path:
        return self.index_dir / "LOCK"

    @property
    def directory_dir(self) -> Path:
        return self.root / "directory"

    @property
    def directory_snapshot(self) -> Path:
        return self.directory_dir / "snapshot.json"

    @property
    def authz_model(self) -> Path:
        return self.directory_dir / "authz.json"

    @property
    def sync_lock(self) -> Path:
        return self.directory_dir / "sync.lock"

    @property
    def sync_metrics(self) -> Path:
        return self.directory_dir / "acl_sync.prom"

    @property
    def sources_dir(self) -> Path:
        return self.root / "sources"

    def source_record(self, tenant: str, source: str) -> Path:
        """The record of one source; tenant and source names are validated before they get here."""
        return self.sources_dir / tenant / f"{source}.json"

    def legacy_source_record(self, source: str) -> Path:
        """Where the old layout kept the record of every source of that name, whatever its tenant."""
        return self.sources_dir / f"{source}.json"

    @property
    def sources_lock(self) -> Path:
        return self.sources_dir / ".lock"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def audit_dir(self) -> Path:
        return self.root / "audit"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def dev_issuer_key(self) -> Path:
        return self.root / "dev-issuer" / "signing-key.json"
