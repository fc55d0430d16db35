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


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's CLEARANCE_* variables, and never reach a hub."""
    import os

    for name in list(os.environ):
        if name.startswith("CLEARANCE_"):
            monkeypatch.delenv(name)
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
