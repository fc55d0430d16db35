"""ACL sync benchmark against the fake Keycloak (tests/support/fake_keycloak/) and the embedded engine.

Realm: 10k users, 1k groups nested three levels deep (10 → 90 → 900), each user in 2 leaf groups, 30
realm roles (some composite, mapped to users and groups), a client with 5 roles. Index: 100k payload-only
chunks (tiny vectors: the sync never reads or writes vectors) in 10k documents of one source whose
manifest gives each of 100 team folders its own group.

Measured, each through `acl_sync.sync.sync_once` on the real python-keycloak client:
  1. full sync: first pull (no previous snapshot), snapshot swap, refresh scan of 100k chunks;
  2. no-change sync;
  3. an ACL change touching 10k chunks (10 team rules of the manifest change): payload updates/s;
  4. revocation latency: a membership removed in Keycloak → the snapshot that no longer grants it.

    python bench/acl_sync_bench.py                 # the issue's sizes
    python bench/acl_sync_bench.py --users 1000 --chunks 10000   # a quick run
    python bench/acl_sync_bench.py --tiny                         # every step at a toy size (CI runs it)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("DO_NOT_TRACK", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from access_index.directory import open_snapshot_store
from access_index.document_acl import DocumentAcl
from access_index.index import Chunk, ChunkIndex, Filter, ModelInfo, open_index
from access_index.manifest import load_manifest
from access_index.settings import Settings, load_settings
from access_index.sources import SourceRecord, save_source
from acl_sync.retry import Backoff
from acl_sync.sync import SyncOptions, sync_once
from tests.support.fake_keycloak import FakeKeycloak

TEAMS = 100
DIMENSION = 4


class TimedIndex:
    """The index with the time spent in payload updates recorded (the rest is passed through)."""

    def __init__(self, inner: ChunkIndex) -> None:
        self.inner = inner
        self.engine = inner.engine
        self.update_seconds = 0.0

    def set_payload_where(self, where: Filter, payload: Mapping[str, Any]) -> None:
        started = time.perf_counter()
        self.inner.set_payload_where(where, payload)
        self.update_seconds += time.perf_counter() - started

    def flush(self) -> None:
        started = time.perf_counter()
        self.inner.flush()
        self.update_seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def build_realm(server: FakeKeycloak, users: int, groups: int, rng: random.Random) -> dict[str, list[str]]:
    realm = server.realm
    top = [realm.add_group(f"dept{i:02d}") for i in range(10)]
    middle = [realm.add_group(f"area{i:03d}", top[i % 10]) for i in range(90)]
    leaves = [realm.add_group(f"team{i:03d}", middle[i % 90]) for i in range(max(0, groups - 100))]
    roles = [realm.add_realm_role(f"role{i:02d}") for i in range(30)]
    for i in range(0, 30, 3):
        realm.add_composite(roles[i], roles[i + 1])
    realm.add_client("crm")
    client_roles = [realm.add_client_role("crm", f"r{i}") for i in range(5)]
    realm.add_composite(roles[0], client_roles[0])
    for group_id in rng.sample(leaves + middle, 100):
        realm.map_group_role(group_id, rng.choice(roles))
    user_ids = []
    for i in range(users):
        user_id = realm.add_user(f"user{i:05d}", f"user{i:05d}@acme.example")
        user_ids.append(user_id)
        for group_id in rng.sample(leaves, 2):
            realm.add_member(group_id, user_id)
        if i % 10 == 0:
            realm.map_user_role(user_id, rng.choice(roles))
    return {"users": user_ids, "leaves": leaves}


def manifest_text(changed_teams: int) -> str:
    rules = ["version: 1", "rules:"]
    for team in range(TEAMS):
        rules.append(f'  - paths: ["team{team:03d}/**"]')
        extra = ', "role:role00"' if team < changed_teams else ""
        rules.append(f'    allow: ["group:/dept{team % 10:02d}/area{team % 90:03d}/team{team:03d}"{extra}]')
    return "\n".join(rules) + "\n"


def fill_index(index: ChunkIndex, settings: Settings, chunks: int, manifest: Path) -> int:
    rules = load_manifest(manifest)
    documents = chunks // 10
    batch: list[Chunk] = []
    rng = np.random.default_rng(7)
    for doc in range(documents):
        relpath = f"team{doc % TEAMS:03d}/doc{doc:06d}.md"
        rule = rules.rule_for(relpath)
        assert rule is not None
        acl = DocumentAcl.from_rule(rule)
        for part in range(10):
            batch.append(
                Chunk(
                    "default",
                    f"wiki/{relpath}",
                    "wiki",
                    part,
                    10,
                    "",
                    f"file:///srv/wiki/{relpath}",  # under the recorded root: acl-sync re-tags only such files
                    acl.allow,
                    acl.deny,
                    acl_hash=acl.acl_hash,
                )
            )
        if len(batch) >= 2000:
            index.upsert(batch, rng.standard_normal((len(batch), DIMENSION)).tolist())
            batch = []
    if batch:
        index.upsert(batch, rng.standard_normal((len(batch), DIMENSION)).tolist())
    index.flush()
    save_source(settings, SourceRecord("wiki", "default", ("/srv/wiki",), str(manifest)))
    return documents


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--changed-chunks", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="50 users, 110 groups, 1000 chunks (figures meaningless)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.users, args.groups, args.chunks, args.changed_chunks = 50, 110, 1000, 100
    # The realm: 10 departments and 90 areas above at least 10 teams (100 groups get roles); a document per team.
    if args.groups < 110 or args.users < 1 or args.chunks < 10 * TEAMS or not 0 < args.changed_chunks <= args.chunks:
        parser.error(
            f"--groups >= 110 (10 departments, 90 areas, 10 teams or more), --users >= 1, --chunks >= {10 * TEAMS} "
            "(ten per document, one document per team) and 0 < --changed-chunks <= --chunks"
        )
    rng = random.Random(11)
    figures: dict[str, Any] = {"users": args.users, "groups": args.groups, "chunks": args.chunks}
    server = FakeKeycloak().start()
    with tempfile.TemporaryDirectory(prefix="acl-sync-bench-") as tmp:
        started = time.perf_counter()
        ids = build_realm(server, args.users, args.groups, rng)
        figures["realm_build_s"] = round(time.perf_counter() - started, 1)
        settings = load_settings(
            data_dir=Path(tmp) / "data",
            keycloak_url=server.url,
            keycloak_realm=server.realm.name,
            keycloak_client_id=server.sync_client.client_id,
            keycloak_client_secret=server.sync_client.secret,
        )
        manifest = Path(tmp) / "acl.yaml"
        manifest.write_text(manifest_text(0))
        inner = open_index(settings, role="bench")
        inner.ensure_collection(ModelInfo("bench-payload-only", DIMENSION))
        started = time.perf_counter()
        documents = fill_index(inner, settings, args.chunks, manifest)
        figures["index_fill_s"] = round(time.perf_counter() - started, 1)
        index = TimedIndex(inner)
        options = SyncOptions(backoff=Backoff(attempts=1))
        typed: ChunkIndex = index
        try:
            server.requests.clear()
            full = sync_once(settings, typed, options)
            assert full.outcome == "ok", full.errors
            figures["full_sync_s"] = round(full.duration_seconds, 2)
            figures["full_sync_directory_s"] = round(full.directory_seconds, 2)
            figures["full_sync_sources_s"] = round(full.sources_seconds, 2)
            figures["full_sync_requests"] = len(server.requests)
            figures["snapshot_bytes"] = settings.paths.directory_snapshot.stat().st_size

            nochange = sync_once(settings, typed, options)
            assert nochange.outcome == "ok"
            assert nochange.chunks_updated == 0
            figures["no_change_sync_s"] = round(nochange.duration_seconds, 2)
            figures["no_change_directory_s"] = round(nochange.directory_seconds, 2)
            figures["no_change_sources_s"] = round(nochange.sources_seconds, 2)

            changed_teams = max(1, args.changed_chunks * TEAMS // args.chunks)
            manifest.write_text(manifest_text(changed_teams))
            index.update_seconds = 0.0
            change = sync_once(settings, typed, options)
            assert change.outcome == "ok", change.errors
            figures["acl_change_sync_s"] = round(change.duration_seconds, 2)
            figures["acl_change_chunks"] = change.chunks_updated
            figures["acl_change_documents"] = sum(s.documents_changed for s in change.sources)
            figures["payload_update_s"] = round(index.update_seconds, 3)
            figures["payload_updates_per_s"] = round(change.chunks_updated / max(index.update_seconds, 1e-9))
            figures["acl_change_sources_s"] = round(change.sources_seconds, 2)

            victim = ids["users"][0]
            group = next(g for g in ids["leaves"] if victim in server.realm.members[g])
            server.realm.remove_member(group, victim)
            changed_at = server.realm.changed_at
            revoke = sync_once(settings, typed, options)
            snapshot = open_snapshot_store(settings).load()
            assert snapshot is not None
            path = server.realm.path(group)
            assert f"group:{path}" not in snapshot.resolve("user00000", None).tokens
            figures["revocation_latency_s"] = round(time.time() - changed_at, 2)
            figures["revocation_sync_s"] = round(revoke.duration_seconds, 2)
            figures["documents"] = documents
        finally:
            inner.close()
            server.stop()
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:32s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
