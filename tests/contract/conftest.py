"""One shared world for the contract suite: corpora ingested through the CLI, two `clearance serve` processes.

Model-loading commands are few and run in parallel threads (each `clearance` run loads the real model):
- "main": the main corpus and a second tenant, a directory file (the first issuer's), dev mode, two OIDC issuers;
- "lib": a corpus taken through ingest's lifecycle (dry run, updates, deletions), served with no directory,
  outside dev mode (its audit key made by `clearance audit keygen`);
- `clearance inspect` over hidden-text samples, and a human (non --json) ingest summary.
Setup failures are recorded, not raised, so each test reports the part it depends on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.contract import corpus
from tests.contract.harness import CliRun, Server, clearance, environment, start_server
from tests.support.oidc_issuer import OidcIssuer


@dataclass
class World:
    """Everything the contract tests look at: finished commands, running services, the issuers."""

    root: Path
    issuer: OidcIssuer
    acme_issuer: OidcIssuer
    main_dir: Path
    lib_dir: Path
    main_env: dict[str, str]
    lib_env: dict[str, str]
    directory_file: Path
    runs: dict[str, CliRun] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def server(self, name: str) -> Server:
        if name not in self.servers:
            pytest.fail(f"the {name!r} setup failed: {self.failures.get(name, 'unknown')}")
        return self.servers[name]

    def run(self, name: str) -> CliRun:
        if name not in self.runs:
            pytest.fail(f"command {name!r} never ran: {self.failures}")
        return self.runs[name]

    def dev_token(self, *args: str) -> str:
        """A token from `clearance token` in the main (dev mode) data dir."""
        done = clearance(["token", *args], self.main_env)
        assert done.returncode == 0, done.explain()
        return done.stdout.strip().splitlines()[-1]


def _main_pipeline(world: World) -> None:
    main_corpus, acme_corpus = world.root / "main-corpus", world.root / "acme-corpus"
    corpus.write_main_corpus(main_corpus)
    corpus.write_acme_corpus(acme_corpus)
    corpus.write_yaml(world.root / "main-acl.yaml", corpus.MAIN_MANIFEST)
    corpus.write_yaml(world.root / "acme-acl.yaml", corpus.ACME_MANIFEST)
    # cwd elsewhere and an absolute PATH: the manifest's globs must be relative to the ingest root.
    elsewhere = world.root / "elsewhere"
    elsewhere.mkdir()
    world.runs["main"] = clearance(
        ["ingest", str(main_corpus), "--acl", str(world.root / "main-acl.yaml"), "--source", "docs", "--json"],
        world.main_env,
        cwd=elsewhere,
    )
    world.runs["acme"] = clearance(
        ["ingest", str(acme_corpus), "--acl", str(world.root / "acme-acl.yaml"), "--source", "acme", "--json"],
        world.main_env,
        cwd=elsewhere,
    )
    world.runs["sync"] = clearance(["acl-sync", "--once"], world.main_env)
    started = time.monotonic()
    try:
        world.servers["main"] = start_server(world.main_env, world.main_dir, world.root / "main-serve.log")
    except RuntimeError as error:
        world.failures["main"] = str(error)
    world.timings["serve main"] = time.monotonic() - started


def _lib_pipeline(world: World) -> None:
    lib_corpus, acl = world.root / "lib-corpus", world.root / "lib-acl.yaml"
    corpus.write_lib_corpus(lib_corpus)
    corpus.write_yaml(acl, corpus.LIB_MANIFEST)
    ingest = ["ingest", str(lib_corpus), "--acl", str(acl), "--source", "lib", "--json"]
    world.runs["lib-initial"] = clearance(ingest, world.lib_env)
    corpus.mutate_lib_corpus(lib_corpus)
    world.runs["lib-dry-run"] = clearance([*ingest, "--dry-run"], world.lib_env)
    restricted = world.root / "lib-acl-restricted.yaml"
    corpus.write_yaml(restricted, corpus.LIB_MANIFEST_RESTRICTED)
    # Another manifest file for the same source: the contract asks for an explicit flag (README names it).
    last = ["ingest", str(lib_corpus), "--acl", str(restricted), "--source", "lib", "--json", "--delete-missing"]
    last.append("--replace-manifest")
    world.runs["lib-delete"] = clearance(last, world.lib_env)
    started = time.monotonic()
    try:
        world.servers["lib"] = start_server(world.lib_env, world.lib_dir, world.root / "lib-serve.log")
    except RuntimeError as error:
        world.failures["lib"] = str(error)
    world.timings["serve lib"] = time.monotonic() - started


def _inspect(world: World) -> None:
    files = [
        world.root / "inspect/p00.md",
        world.root / "inspect/benign-hidden.html",
        world.root / "inspect/benign-inline.html",
        world.root / "inspect/injected.html",
    ]
    corpus.write_main_corpus(world.root / "inspect-src")
    for target in files:
        corpus.write(target, (world.root / "inspect-src/public" / target.name).read_bytes())
    techniques = corpus.write_hidden_text_files(world.root / "techniques")
    world.runs["inspect"] = clearance(
        ["inspect", *map(str, files), *map(str, techniques), "--json"], environment(world.root / "inspect-data")
    )
    strip = environment(world.root / "inspect-data", {"CLEARANCE_HIDDEN_TEXT_POLICY": "strip"})
    world.runs["inspect-strip"] = clearance(["inspect", str(files[-1]), "--json"], strip)
    # A human summary (no --json), from a dry run into an empty data dir.
    corpus.write_acme_corpus(world.root / "human-corpus")
    corpus.write_yaml(world.root / "human-acl.yaml", corpus.ACME_MANIFEST)
    world.runs["human"] = clearance(
        ["ingest", str(world.root / "human-corpus"), "--acl", str(world.root / "human-acl.yaml"), "--dry-run"],
        environment(world.root / "human-data"),
    )


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("contract")
    issuer, acme_issuer = OidcIssuer().start(), OidcIssuer().start()
    main_dir, lib_dir = root / "main-data", root / "lib-data"
    directory_file = root / "directory.yaml"
    # The directory belongs to the first issuer (several are trusted, so the file must say which).
    corpus.write_yaml(directory_file, {**corpus.DIRECTORY, "issuer": issuer.url})
    # The second issuer names its JWKS explicitly; the first is found through discovery.
    acme_jwks = f"{acme_issuer.url}/protocol/openid-connect/certs"
    acme_config = {**acme_issuer.config, "tenant": "acme", "jwks_uri": acme_jwks}
    main_env = environment(
        main_dir,
        {
            "CLEARANCE_DEV_MODE": "true",
            "CLEARANCE_DIRECTORY_FILE": str(directory_file),
            "CLEARANCE_ACL_SYNC_INTERVAL": "1",
            "CLEARANCE_OIDC_ISSUERS": json.dumps([issuer.config, acme_config]),
        },
    )
    # Outside dev mode serve signs its audit log with a key kept outside the data dir (dev mode makes its own).
    audit_keys = root / "etc" / "audit-keys.json"
    keygen = clearance(["audit", "keygen", "--key-file", str(audit_keys)], environment(lib_dir))
    assert keygen.returncode == 0, keygen.explain()
    lib_env = environment(
        lib_dir, {"CLEARANCE_OIDC_ISSUERS": json.dumps([issuer.config]), "CLEARANCE_AUDIT_KEY_FILE": str(audit_keys)}
    )
    world = World(root, issuer, acme_issuer, main_dir, lib_dir, main_env, lib_env, directory_file)
    steps: list[Callable[[World], None]] = [_main_pipeline, _lib_pipeline, _inspect]
    with ThreadPoolExecutor(max_workers=len(steps)) as pool:
        for future in [pool.submit(step, world) for step in steps]:
            error = future.exception()
            if error is not None:
                world.failures[f"setup {len(world.failures)}"] = repr(error)
    world.timings.update({name: run.seconds for name, run in world.runs.items()})
    # Shown with `pytest -s`: where the suite's setup time goes.
    print("contract setup seconds:", json.dumps({name: round(t, 1) for name, t in world.timings.items()}))
    try:
        yield world
    finally:
        for server in world.servers.values():
            server.stop()
        issuer.stop()
        acme_issuer.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`), the contract suite's tests share one worker, so its one
    world (corpora ingested, two `serve` processes) is built once. First, so that the group is on the items
    before xdist's own hook reads it (checked by tests/test_workers.py)."""
    for item in items:
        if "tests/contract/" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("contract"))
