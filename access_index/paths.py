"""Every path under `$CLEARANCE_DATA_DIR`, named once. Code asks `DataPaths` for a path; it never joins one.

index/                  the embedded Qdrant Edge shard (embedded engine only)
    shard/              the shard itself
    collection.json     the embedding model the collection was built with
    LOCK                flock held by the process that has the shard open (its role and pid inside)
run/                    0700: only the data dir's owner may enter (embedded engine, while `serve` runs)
    index.sock          0600: `serve` takes the index operations of `ingest` and `acl-sync` here
directory/
    snapshot.json       the last good directory snapshot (embedded engine; a side collection on a server)
    sync.lock           one ACL sync at a time
    acl_sync.prom       the last sync's metrics (node_exporter textfile)
sources/                the source registry: one JSON record per (tenant, source)
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
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def index_socket(self) -> Path:
        return self.socket_dir / "index.sock"

    @property
    def directory_dir(self) -> Path:
        return self.root / "directory"

    @property
    def directory_snapshot(self) -> Path:
        return self.directory_dir / "snapshot.json"

    @property
    def sync_lock(self) -> Path:
        return self.directory_dir / "sync.lock"

    @property
    def sync_metrics(self) -> Path:
        return self.directory_dir / "acl_sync.prom"

    @property
    def sources_dir(self) -> Path:
        return self.root / "sources"

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
