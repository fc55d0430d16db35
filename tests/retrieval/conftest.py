"""Fixtures for the search API: a real OIDC issuer, an app on an injected index, chunk builders."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from access_index.index import Chunk, ChunkIndex, open_index
from access_index.paths import DataPaths
from access_index.settings import Settings
from retrieval.app import create_app
from retrieval.caller import SnapshotSource
from tests.conftest import settings_for
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.oidc_issuer import OidcIssuer, running_issuer


@pytest.fixture(scope="session")
def issuer() -> Iterator[OidcIssuer]:
    """One issuer for the session; tests that rotate keys or take it down start their own."""
    with running_issuer() as running:
        yield running


def make_chunk(
    document_id: str,
    text: str,
    allow: Sequence[str],
    deny: Sequence[str] = (),
    *,
    tenant: str = "default",
    source: str | None = None,
    labels: Mapping[str, str] | None = None,
    chunk_index: int = 0,
    findings: Sequence[Mapping[str, Any]] = (),
) -> Chunk:
    return Chunk(
        tenant=tenant,
        document_id=document_id,
        source=source or document_id.split("/", 1)[0],
        chunk_index=chunk_index,
        chunk_count=1,
        text=text,
        uri=f"file:///docs/{document_id}",
        allow=tuple(allow),
        deny=tuple(deny),
        title=document_id.rsplit("/", 1)[-1],
        labels=dict(labels or {}),
        findings=tuple(findings),
    )


def add_chunks(index: ChunkIndex, embedder: HashingEmbedder, chunks: Sequence[Chunk]) -> None:
    index.upsert(chunks, embedder.embed([chunk.text for chunk in chunks]).tolist())
    index.flush()


def api_settings(
    data_dir: Path, issuers: Sequence[OidcIssuer] = (), engine: str = "memory", **overrides: Any
) -> Settings:
    return settings_for(engine, data_dir, oidc_issuers=[issuer.config for issuer in issuers], **overrides)


@contextmanager
def api_client(
    settings: Settings,
    index: ChunkIndex | None = None,
    embedder: HashingEmbedder | None = None,
    directory_store: SnapshotSource | None = None,
) -> Iterator[TestClient]:
    """The app on an injected index and the hashing embedder, lifespan included."""
    own_index = index is None
    opened = open_index(settings, role="test") if index is None else index
    app = create_app(settings, index=opened, embedder=embedder or HashingEmbedder(), directory_store=directory_store)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
    finally:
        if own_index:
            opened.close()


def audit_records(data_dir: Path) -> list[dict[str, Any]]:
    """Every audit record in chain order, across segments."""
    return [
        json.loads(line)
        for _, path in DataPaths(data_dir).audit_segments()
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
