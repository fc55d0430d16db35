"""End to end with real processes: Keycloak Authorization Services (the fake server) → `clearance ingest` and
`clearance acl-sync --once` as processes → search (the REST app over the same data dir, real RS256 tokens).

The source's manifest is `source: keycloak`; every change is made in Keycloak only and must reach search
after one acl-sync, by rewriting ACL payloads (no ingest runs, nothing is embedded again). Tokens are issued
before each change: the sync, not the token, takes access away.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from access_index.index import open_index
from retrieval.app import create_app
from tests.acl_sync.conftest import Realm
from tests.acl_sync.test_revocation_e2e import app_settings, found, login
from tests.support.fake_keycloak import FakeKeycloak, Fault
from tests.support.fake_keycloak.authz import ResourceServer
from tests.support.hashing_embedder import HashingEmbedder

REPO = Path(__file__).resolve().parents[2]
FILES = {"hr/plan.md": "hr budget plan", "eng/plan.md": "eng budget plan", "board/plan.md": "board budget plan"}

pytestmark = pytest.mark.slow


@dataclass
class World:
    keycloak: FakeKeycloak
    realm: Realm
    authz: ResourceServer
    data_dir: Path
    root: Path
    manifest: Path
    ids: dict[str, str]

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CLEARANCE_DATA_DIR": str(self.data_dir),
            "CLEARANCE_KEYCLOAK_URL": self.keycloak.url,
            "CLEARANCE_KEYCLOAK_REALM": self.keycloak.realm.name,
            "CLEARANCE_KEYCLOAK_CLIENT_ID": self.keycloak.sync_client.client_id,
            "CLEARANCE_KEYCLOAK_CLIENT_SECRET": self.keycloak.sync_client.secret,
            "CLEARANCE_KEYCLOAK_AUTHZ_CLIENT": "docs",
        }

    def clearance(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """`clearance` as a process (tests/ingest/cli_runner.py: the hashing embedder in place of the model,
        announcing every batch it embeds on stderr)."""
        command = [sys.executable, "-m", "tests.ingest.cli_runner", *arguments]
        return subprocess.run(
            command, cwd=REPO, env=self.environment(), capture_output=True, text=True, timeout=120, check=False
        )

    def ingest(self) -> dict[str, Any]:
        done = self.clearance("ingest", str(self.root), "--acl", str(self.manifest), "--source", "wiki", "--json")
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    def sync(self, expect: int = 0) -> dict[str, Any]:
        done = self.clearance("acl-sync", "--once")
        assert done.returncode == expect, done.stdout + done.stderr
        assert "embedding batch" not in done.stderr  # a payload rewrite: nothing is embedded
        return dict(json.loads(done.stdout))

    def readers(self, *usernames: str) -> dict[str, set[str] | int]:
        """What each user finds now, with a token issued before this call."""
        tokens = {name: login(self.keycloak, name) for name in usernames}
        settings = app_settings(self.keycloak, self.data_dir)
        index = open_index(settings, role="test")
        try:
            app = create_app(settings, index=index, embedder=HashingEmbedder())
            with TestClient(app, raise_server_exceptions=False) as client:
                return {name: found(client, token) for name, token in tokens.items()}
        finally:
            index.close()

    def policy(self, name: str) -> str:
        return next(pid for pid, policy in self.authz.policies.items() if policy.name == name)


@pytest.fixture
def world(keycloak: FakeKeycloak, realm: Realm, tmp_path: Path, data_dir: Path) -> World:
    """HR (wiki/hr/**): /hr; Eng (wiki/eng/**): /eng with children; Board (wiki/board/**): user carol.
    Synced, then ingested (a `source: keycloak` source)."""
    root = tmp_path / "share"
    for relpath, text in FILES.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(f"# {relpath}\n\n{text}\n", encoding="utf-8")
    manifest = tmp_path / "acl.yaml"
    manifest.write_text("version: 1\nsource: keycloak\n", encoding="utf-8")
    keycloak.realm.add_client("docs")
    authz = keycloak.realm.authorization("docs")
    ids = {
        "HR": authz.add_resource("HR", ["wiki/hr/**"], attributes={"classification": ["confidential"]}),
        "Eng": authz.add_resource("Eng", ["/wiki/eng/**"]),
        "Board": authz.add_resource("Board", ["wiki/board/**"]),
    }
    hr = authz.group_policy("hr-members", [realm.hr], extend_children=False)
    eng = authz.group_policy("eng-tree", [realm.eng], extend_children=True)
    carol = authz.user_policy("carol", [realm.carol])
    ids["hr-read"] = authz.add_permission("hr-read", [ids["HR"]], [hr])
    ids["eng-read"] = authz.add_permission("eng-read", [ids["Eng"]], [eng])
    ids["board-read"] = authz.add_permission("board-read", [ids["Board"]], [carol])
    world = World(keycloak, realm, authz, data_dir, root, manifest, ids)
    world.sync()
    report = world.ingest()
    assert report["counts"]["new"] == 3, report
    return world


def test_before_any_sync_a_keycloak_source_indexes_nothing_and_says_why(
    keycloak: FakeKeycloak, realm: Realm, tmp_path: Path, data_dir: Path
) -> None:
    root = tmp_path / "share"
    (root / "hr").mkdir(parents=True)
    (root / "hr" / "plan.md").write_text("hr budget plan\n", encoding="utf-8")
    manifest = tmp_path / "acl.yaml"
    manifest.write_text("version: 1\nsource: keycloak\n", encoding="utf-8")
    keycloak.realm.add_client("docs")
    world = World(keycloak, realm, keycloak.realm.authorization("docs"), data_dir, root, manifest, {})
    report = world.ingest()
    assert report["counts"]["no_acl"] == 1 and report["counts"]["new"] == 0
    assert "clearance acl-sync --once" in json.dumps(report)


def test_explain_shows_the_resource_and_permission(world: World) -> None:
    done = world.clearance("ingest", str(world.root), "--acl", str(world.manifest), "--source", "wiki", "--explain")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    hr = out[out.index("wiki/hr/plan.md") :]
    assert "resource 'HR' (permissions 'hr-read')" in hr.splitlines()[1]
    assert "allow group:/hr; labels classification=confidential" in hr


def test_a_group_policy_change_reaches_search_in_one_sync(world: World) -> None:
    assert world.readers("alice", "bob") == {"alice": {"wiki/eng/plan.md"}, "bob": {"wiki/hr/plan.md"}}
    world.authz.update_policy(
        world.policy("hr-members"), config={"groups": [{"id": world.realm.eng, "extendChildren": True}]}
    )
    report = world.sync()
    assert report["sources"][0]["documents_changed"] == 1 and report["sources"][0]["chunks_updated"] >= 1
    assert world.readers("alice", "bob") == {"alice": {"wiki/eng/plan.md", "wiki/hr/plan.md"}, "bob": set()}


def test_a_negative_and_an_aggregated_policy(world: World) -> None:
    not_alice = world.authz.user_policy("not-alice", [world.realm.alice], logic="NEGATIVE")
    world.authz.update_policy(world.ids["eng-read"], associated=[world.policy("eng-tree"), not_alice])
    either = world.authz.add_policy(
        "hr-or-alice",
        "aggregate",
        decision_strategy="AFFIRMATIVE",
        associated=[world.policy("hr-members"), world.authz.user_policy("alice", [world.realm.alice])],
    )
    world.authz.update_policy(world.ids["hr-read"], associated=[either])
    world.sync()
    found = world.readers("alice", "bob", "carol")
    assert found["alice"] == {"wiki/hr/plan.md"}  # denied Eng by the negative policy, granted HR by the aggregate
    assert found["bob"] == {"wiki/hr/plan.md"}
    assert found["carol"] == {"wiki/eng/plan.md", "wiki/board/plan.md"}


def test_an_unsupported_policy_fails_closed_and_the_report_names_it(world: World) -> None:
    assert world.readers("carol")["carol"] == {"wiki/eng/plan.md", "wiki/board/plan.md"}
    office = world.authz.add_policy("office-hours", "time", {"hour": "9", "hourEnd": "17"})
    world.authz.update_policy(world.ids["board-read"], associated=[world.policy("carol"), office])
    report = world.sync()
    assert [(u["resource"], u["permissions"]) for u in report["authz"]["unsupported"]] == [("Board", ["board-read"])]
    assert "policy 'office-hours' (time)" in report["authz"]["unsupported"][0]["reason"]
    assert report["sources"][0]["unmatched"] == ["wiki/board/plan.md"]
    assert world.readers("carol")["carol"] == {"wiki/eng/plan.md"}  # nobody reads Board now


def test_a_resource_uri_change_moves_the_acl(world: World) -> None:
    world.authz.set_uris(world.ids["HR"], ["wiki/hr/**", "wiki/board/**"])
    world.authz.set_uris(world.ids["Board"], [])
    world.sync()
    assert world.readers("bob", "carol") == {
        "bob": {"wiki/hr/plan.md", "wiki/board/plan.md"},
        "carol": {"wiki/eng/plan.md"},
    }


def test_a_failed_pull_keeps_the_last_good_acls(world: World) -> None:
    model = (world.data_dir / "directory" / "authz.json").read_bytes()
    world.authz.update_policy(world.policy("hr-members"), config={"groups": []})  # would revoke bob
    with world.keycloak.fault(Fault("/authz/", status=500)):
        report = world.sync(expect=1)
    assert any("Keycloak authorization (last good ACLs kept)" in error for error in report["errors"])
    assert report["sources"][0]["documents_changed"] == 0
    assert (world.data_dir / "directory" / "authz.json").read_bytes() == model
    assert world.readers("bob")["bob"] == {"wiki/hr/plan.md"}
    world.sync()  # the next good pull applies the change
    assert world.readers("bob")["bob"] == set()
