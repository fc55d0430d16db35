"""Keycloak Authorization Services as an ACL source: time to pull, compile and apply a resource server's model.

Fake Keycloak (tests/support/fake_keycloak/), real python-keycloak, embedded engine. Model: RESOURCES resources
(`wiki/team<i>/**`), each with its own resource permission over a group policy (one of 100 groups, children
included) and, for every tenth, a negative user policy (allow + deny). Index: DOCUMENTS documents of one
`source: keycloak` source spread over the resources, one payload-only chunk each (tiny vectors: the sync never
reads or writes vectors), ingested with a stale ACL so the first sync rewrites every one of them.

Measured:
  1. pull (python-keycloak, with the cross-checks) and compile, separately;
  2. the first sync through `sync_once`: pull + compile + save, then the payload rewrite of every document;
  3. a policy change (one group policy now names another group: RESOURCES/100 resources change) → one sync.

    python bench/authz_bench.py                 # 1,000 resources, 10,000 documents
    python bench/authz_bench.py --tiny          # seconds: 50 resources, 500 documents
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from access_index.index import Chunk, ModelInfo, open_index
from access_index.settings import load_settings
from access_index.sources import SourceRecord, save_source
from acl_sync.authz_compile import compile_model
from acl_sync.authz_pull import pull_authz
from acl_sync.keycloak_source import KeycloakSource
from acl_sync.retry import Backoff
from acl_sync.sync import SyncOptions, sync_once
from tests.support.fake_keycloak import FakeKeycloak

GROUPS = 100
DIMENSION = 4


def build_model(server: FakeKeycloak, resources: int) -> list[str]:
    """The resource server `docs`; returns the group policy ids (one per group)."""
    realm = server.realm
    groups = [realm.add_group(f"team{i:03d}") for i in range(GROUPS)]
    users = [realm.add_user(f"user{i:03d}") for i in range(GROUPS)]
    realm.add_client("docs")
    authz = realm.authorization("docs")
    group_policies = [authz.group_policy(f"members-{i:03d}", [group]) for i, group in enumerate(groups)]
    not_users = [authz.user_policy(f"not-{i:03d}", [user], logic="NEGATIVE") for i, user in enumerate(users)]
    for i in range(resources):
        resource = authz.add_resource(f"team{i:04d}", [f"wiki/team{i:04d}/**"], attributes={"tier": [str(i % 3)]})
        policies = [group_policies[i % GROUPS]] + ([not_users[i % GROUPS]] if i % 10 == 0 else [])
        authz.add_permission(f"read-{i:04d}", [resource], policies)
    return group_policies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=1_000)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--tiny", action="store_true", help="50 resources, 500 documents: runs in seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.tiny:
        args.resources, args.documents = 50, 500
    figures: dict[str, Any] = {"resources": args.resources, "documents": args.documents}
    server = FakeKeycloak().start()
    with tempfile.TemporaryDirectory(prefix="authz-bench-") as tmp:
        group_policies = build_model(server, args.resources)
        settings = load_settings(
            data_dir=Path(tmp) / "data",
            keycloak_url=server.url,
            keycloak_realm=server.realm.name,
            keycloak_client_id=server.sync_client.client_id,
            keycloak_client_secret=server.sync_client.secret,
            keycloak_authz_client="docs",
        )
        manifest = Path(tmp) / "acl.yaml"
        manifest.write_text("version: 1\nsource: keycloak\n", encoding="utf-8")
        index = open_index(settings, role="bench")
        index.ensure_collection(ModelInfo("bench-payload-only", DIMENSION))
        try:
            chunks = [
                Chunk(
                    "default",
                    f"wiki/team{doc % args.resources:04d}/doc{doc:06d}.md",
                    "wiki",
                    0,
                    1,
                    "",
                    f"file:///srv/wiki/team{doc % args.resources:04d}/doc{doc:06d}.md",
                    ("group:/stale",),
                )
                for doc in range(args.documents)
            ]
            for start in range(0, len(chunks), 2000):
                part = chunks[start : start + 2000]
                index.upsert(part, [[1.0, 0.0, 0.0, 0.0]] * len(part))
            index.flush()
            save_source(settings, SourceRecord("wiki", "default", ("/srv/wiki",), str(manifest)))

            source = KeycloakSource.from_settings(settings)
            server.requests.clear()
            started = time.perf_counter()
            data = pull_authz(source, "docs")
            figures["pull_s"] = round(time.perf_counter() - started, 2)
            figures["pull_requests"] = len(server.requests)
            started = time.perf_counter()
            model = compile_model(data)
            figures["compile_s"] = round(time.perf_counter() - started, 3)
            assert not model.unsupported, model.unsupported[:1]

            options = SyncOptions(backoff=Backoff(attempts=1))
            first = sync_once(settings, index, options)
            assert first.outcome == "ok", first.errors
            assert first.sources[0].documents_changed == args.documents, first.sources[0]
            figures["first_sync_s"] = round(first.duration_seconds, 2)
            figures["first_sync_authz_s"] = round(first.authz_seconds, 2)  # pull + compile + save
            figures["first_sync_apply_s"] = round(first.sources_seconds, 2)  # every document rewritten
            figures["documents_rewritten"] = first.sources[0].documents_changed

            team = server.realm.add_group("moved")
            server.realm.authorization("docs").update_policy(
                group_policies[0], config={"groups": [{"id": team, "extendChildren": True}]}
            )
            change = sync_once(settings, index, options)
            assert change.outcome == "ok", change.errors
            figures["change_sync_s"] = round(change.duration_seconds, 2)
            figures["change_apply_s"] = round(change.sources_seconds, 2)
            figures["change_documents"] = change.sources[0].documents_changed
        finally:
            index.close()
            server.stop()
    figures["load_average"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:24s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
