"""The three jobs at once on the embedded default (CONTRACT.md, Command line: "Every command can run while the
others run"): a real `clearance serve` keeps answering searches from another thread while `clearance ingest
--delete-missing` (a new, a changed and a deleted file) and a cron-style `clearance acl-sync --once` (a manifest
change and a directory change) run as separate processes. Both exit 0, every search answers 200, and each
change shows in search within seconds."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract import corpus
from tests.contract.harness import SEARCH_ALL, Server, clearance, environment, start_server
from tests.support.auth import bearer
from tests.support.readiness import wait_for

pytestmark = [pytest.mark.model, pytest.mark.slow]

FILES = {
    "pub/keep.md": "MKKEEP The cafeteria opens at eight.",
    "pub/change.md": "MKOLDTEXT The printer on the third floor is broken.",
    "pub/delete.md": "MKGONE The summer party is on Friday.",
    "eng/plan.md": "MKENGPLAN The engineering roadmap for the next quarter.",
    "hr/pay.md": "MKHRPAY Salary bands for every employee.",
}
MANIFEST = {
    "version": 1,
    "rules": [
        {"paths": ["eng/**"], "allow": ["group:/eng"]},
        {"paths": ["hr/**"], "allow": ["group:/hr"]},
        {"paths": ["**"], "allow": ["authenticated"]},
    ],
}
DIRECTORY: dict[str, Any] = {
    "version": 1,
    "groups": [{"id": "g-eng", "path": "/eng"}, {"id": "g-hr", "path": "/hr"}],
    "roles": [],
    "users": [
        {"username": "alice", "email": "alice@acme.example", "enabled": True, "groups": ["g-eng"], "roles": []},
        {"username": "bob", "email": "bob@acme.example", "enabled": True, "groups": ["g-hr"], "roles": []},
        {"username": "carol", "email": "carol@acme.example", "enabled": True, "groups": [], "roles": []},
    ],
}
PUBLIC_BEFORE = {"MKKEEP", "MKOLDTEXT", "MKGONE"}
PUBLIC_AFTER = {"MKKEEP", "MKNEWTEXT", "MKADDED"}


@dataclass
class Searcher:
    """Searches as each caller in a loop on its own thread, keeping every status code and the last view."""

    server: Server
    tokens: dict[str, str]
    statuses: list[int] = field(default_factory=list)
    seen: dict[str, set[str]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            while not self.stop.is_set():
                for user, token in self.tokens.items():
                    response = client.post("/v1/search", json=SEARCH_ALL, headers=bearer(token))
                    self.statuses.append(response.status_code)
                    if response.status_code == 200:
                        texts = [result["text"] for result in response.json()["results"]]
                        self.seen[user] = corpus.markers_in(texts)


def write_files(root: Path, files: dict[str, str]) -> None:
    for relpath, text in files.items():
        corpus.write(root / relpath, corpus.markdown(*text.split(" ", 1)))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str], Path]]:
    data_dir, root = tmp_path / "data", tmp_path / "share"
    write_files(root, FILES)
    corpus.write_yaml(tmp_path / "acl.yaml", MANIFEST)
    corpus.write_yaml(tmp_path / "directory.yaml", DIRECTORY)
    env = environment(
        data_dir,
        {
            "CLEARANCE_DEV_MODE": "true",
            "CLEARANCE_DIRECTORY_FILE": str(tmp_path / "directory.yaml"),
            "CLEARANCE_ACL_SYNC_INTERVAL": "0",  # only the cron-style acl-sync below changes anything
            "CLEARANCE_RATE_LIMIT_PER_MINUTE": "100000",
        },
    )
    for args in (
        ["ingest", str(root), "--acl", str(tmp_path / "acl.yaml"), "--source", "docs"],
        ["acl-sync", "--once"],
    ):
        done = clearance(args, env)
        assert done.returncode == 0, done.explain()
    server = start_server(env, data_dir, tmp_path / "serve.log")
    try:
        yield server, env, tmp_path
    finally:
        server.stop()


def test_ingest_and_acl_sync_beside_serve_while_search_keeps_answering(
    served: tuple[Server, dict[str, str], Path],
) -> None:
    server, env, workdir = served
    root, manifest = workdir / "share", workdir / "acl.yaml"
    tokens = {}
    for user in ("alice", "bob", "carol"):
        minted = clearance(["token", "--user", user], env)
        assert minted.returncode == 0, minted.explain()
        tokens[user] = minted.stdout.strip().splitlines()[-1]
    searcher = Searcher(server, tokens)
    thread = threading.Thread(target=searcher.run, daemon=True)
    thread.start()
    try:
        before = {"alice": PUBLIC_BEFORE | {"MKENGPLAN"}, "bob": PUBLIC_BEFORE | {"MKHRPAY"}, "carol": PUBLIC_BEFORE}
        assert wait_for(lambda: searcher.seen == before, timeout=30), searcher.seen
        pid = server.process.pid

        # ingest --delete-missing: one new, one changed, one deleted file, as a separate process.
        write_files(root, {"pub/change.md": "MKNEWTEXT The printer was repaired.", "pub/new.md": "MKADDED Lunch."})
        (root / "pub/delete.md").unlink()
        ingest = clearance(
            ["ingest", str(root), "--acl", str(manifest), "--source", "docs", "--delete-missing", "--json"], env
        )
        assert ingest.returncode == 0, ingest.explain()
        report = ingest.json()
        assert report["index"] == f"via clearance serve (pid {pid})"
        assert {k: report["counts"][k] for k in ("new", "updated", "deleted")} == {"new": 1, "updated": 1, "deleted": 1}
        started = time.monotonic()
        assert wait_for(lambda: searcher.seen.get("carol") == PUBLIC_AFTER, timeout=10), searcher.seen
        ingest_visible = time.monotonic() - started

        # acl-sync --once: the manifest opens eng/ to /hr too, the directory puts carol in /eng.
        corpus.write_yaml(
            manifest,
            {
                **MANIFEST,
                "rules": [{"paths": ["eng/**"], "allow": ["group:/eng", "group:/hr"]}, *MANIFEST["rules"][1:]],
            },
        )
        users = [dict(user, groups=["g-eng"]) if user["username"] == "carol" else user for user in DIRECTORY["users"]]
        corpus.write_yaml(workdir / "directory.yaml", {**DIRECTORY, "users": users})
        sync = clearance(["acl-sync", "--once"], env)
        assert sync.returncode == 0, sync.explain()
        synced = json.loads(sync.stdout.strip().splitlines()[-1])
        assert synced["index"] == f"via clearance serve (pid {pid})"
        assert synced["directory"]["snapshot_version"] == 2
        assert synced["chunks_updated"] >= 1
        started = time.monotonic()
        assert wait_for(lambda: "MKENGPLAN" in searcher.seen.get("bob", set()), timeout=10), searcher.seen
        assert wait_for(lambda: "MKENGPLAN" in searcher.seen.get("carol", set()), timeout=10), searcher.seen
        sync_visible = time.monotonic() - started

        status = clearance(["status", "--json"], env)
        assert status.returncode == 0, status.explain()
        state = status.json()
        assert state["index"]["holder"] == {"role": "serve", "pid": pid, "alive": True}
        assert state["directory"]["version"] == 2
        assert state["sources"][0]["last_ingest"]["index"] == f"via clearance serve (pid {pid})"
    finally:
        searcher.stop.set()
        thread.join(timeout=60)
    assert searcher.seen["alice"] == PUBLIC_AFTER | {"MKENGPLAN"}
    assert searcher.seen["bob"] == PUBLIC_AFTER | {"MKHRPAY", "MKENGPLAN"}
    assert searcher.seen["carol"] == PUBLIC_AFTER | {"MKENGPLAN"}
    assert len(searcher.statuses) > 30
    assert set(searcher.statuses) == {200}, {code: searcher.statuses.count(code) for code in set(searcher.statuses)}
    print(
        f"{len(searcher.statuses)} searches; ingest seen after {ingest_visible:.1f} s, sync after {sync_visible:.1f} s"
    )
