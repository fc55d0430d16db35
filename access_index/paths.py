"""Every path under `$CLEARANCE_DATA_DIR`, named once. Code asks `DataPaths` for a path; it never joins one.

index/                  the embedded Qdrant Edge shard (embedded engine only)
    shard/              the shard itself
    collection.json     the embedding model the collection was built with
    LOCK                flock held by the process that has the shard open (its role and pid inside)
run/                    0700: only the data dir's owner may enter (embedded engine, while `serve` runs)
    index.sock          0600: `serve` takes the index operations of `ingest` and `acl-sync` here
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
audit/                  the signed, chained audit log (docs/audit.md)
    audit-<first seq>.jsonl   one segment: JSON lines, rotated by size and by day
    HEAD                the signed pointer to the last record (detects a truncated tail)
    LOCK                flock held by the process appending (several serve processes share one chain)
models/                 the local int8 ONNX export of the embedding model
dev-issuer/signing-key.json   the development issuer's key (dev mode only)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

AUDIT_SEGMENT = re.compile(r"^audit-(?P<first>\d{12,})\.jsonl$")


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
    def audit_head(self) -> Path:
        return self.audit_dir / "HEAD"

    @property
    def audit_lock(self) -> Path:
        return self.audit_dir / "LOCK"

    @property
    def audit_unkeyed_log(self) -> Path:
        """The single unkeyed log of earlier versions: never continued, only reported."""
        return self.audit_dir / "audit.jsonl"

    def audit_segment(self, first_seq: int) -> Path:
        """The segment whose first record has sequence number `first_seq`."""
        return self.audit_dir / f"audit-{first_seq:012d}.jsonl"

    def audit_segments(self) -> list[tuple[int, Path]]:
        """Every segment with its first sequence number, in chain order (by number, not by file name)."""
        if not self.audit_dir.is_dir():
            return []
        found = [(match, path) for path in self.audit_dir.iterdir() if (match := AUDIT_SEGMENT.match(path.name))]
        return sorted((int(match["first"]), path) for match, path in found)

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def dev_issuer_key(self) -> Path:
        return self.root / "dev-issuer" / "signing-key.json"
