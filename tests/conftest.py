"""Shared fixtures: settings in a temporary data dir, and the index on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from access_index.index import ChunkIndex, open_index
from access_index.settings import Settings, load_settings
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.served_index import serving

ENGINES = ["edge", "memory"]
# "socket": the embedded shard held by a `serve`-like holder and reached through its index socket. Suites
# about the index and the writes on it (the contract suite, ingest's pipeline) run on it too, by overriding
# the `engine` fixture with these params.
WITH_SOCKET = [*ENGINES, "socket"]


@pytest.fixture(scope="session", autouse=True)
def audit_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One audit key file for the session, outside every data dir; development audit keys (dev mode)
    go to a session config directory, never to the developer's own ~/.config."""

    from retrieval.audit.keys import add_key

    root = tmp_path_factory.mktemp("audit-keys")
    path = root / "keys.json"
    add_key(path, root / "no-data-dir")
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CONFIG_HOME", str(root / "config"))
    patch.setenv("CLEARANCE_AUDIT_KEY_FILE", str(path))  # also for module-scoped fixtures
    yield path
    patch.undo()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, audit_key_file: Path) -> None:
    """Tests never see the developer's CLEARANCE_* variables, and never reach a hub. Every in-process
    service signs its audit log with the session's key (a test of the key rules unsets it)."""
    import os

    for name in list(os.environ):
        if name.startswith("CLEARANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLEARANCE_AUDIT_KEY_FILE", str(audit_key_file))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def settings_for(engine: str, data_dir: Path, **overrides: object) -> Settings:
    url = ":memory:" if engine == "memory" else None
    return load_settings(data_dir=data_dir, qdrant_url=url, **overrides)


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def index(engine: str, data_dir: Path, embedder: HashingEmbedder) -> Iterator[ChunkIndex]:
    """An empty collection on each engine: the contract suite runs once per engine."""
    settings = settings_for(engine, data_dir)
    with ExitStack() as stack:
        if engine == "socket":
            stack.enter_context(serving(settings, embedder.info))
        opened = open_index(settings, role="test")
        stack.callback(opened.close)
        assert opened.route.startswith("via clearance serve") == (engine == "socket"), opened.route
        opened.ensure_collection(embedder.info)
        yield opened
