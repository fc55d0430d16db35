"""The README's main job with the real model: build the Acme corpus, `clearance ingest` it, and check
that different people asking the same question get different, correctly authorized answers."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest

from access_index.acl import Caller, build_access_filter
from access_index.cli import main
from access_index.embedder import load_embedder
from access_index.index import SearchQuery, open_index
from access_index.settings import load_settings
from tests.ingest.conftest import REPO

pytestmark = [pytest.mark.model, pytest.mark.slow]

CALLERS = {
    "alice": {"user:alice", "group:/eng/backend", "group:/eng", "role:employee", "authenticated"},
    "hannah": {"user:hannah", "group:/hr", "role:hr-admin", "role:payroll-admin", "role:employee", "authenticated"},
    "bob": {"user:bob", "group:/board", "role:employee", "authenticated"},
}


def test_acme_corpus_ingests_and_each_user_sees_their_own_results(
    tmp_path: Path, builders: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "acme"
    shutil.copytree(
        REPO / "examples" / "acme", corpus, ignore=shutil.ignore_patterns("*.docx", "*.pptx", "*.xlsx", "*.pdf")
    )
    builders.build(corpus)
    settings = load_settings(data_dir=tmp_path / "data")
    embedder = load_embedder(settings)
    monkeypatch.setattr("ingest.command.open_embedder", lambda _: embedder)
    args = ["--data-dir", str(tmp_path / "data"), "ingest", str(corpus), "--acl", str(REPO / "examples" / "acl.yaml")]

    assert main([*args, "--source", "acme"]) == 0
    assert main([*args, "--source", "acme", "--json"]) == 0

    index = open_index(settings, role="test")
    try:
        text = "Which company does the board want to acquire, and for how much?"
        query = SearchQuery(text, "hybrid", tuple(embedder.embed([text])[0].tolist()))
        seen = {}
        for user, tokens in CALLERS.items():
            hits = index.search(query, build_access_filter(Caller("acme", frozenset(tokens))), limit=5)
            seen[user] = [hit.chunk.document_id for hit in hits]
    finally:
        index.close()
    assert seen["bob"][0].startswith("acme/board/")
    assert not any(doc.startswith(("acme/board/", "acme/hr/", "acme/payroll/")) for doc in seen["alice"])
    assert not any(doc.startswith("acme/board/") for doc in seen["hannah"])
    assert any(doc.startswith(("acme/hr/", "acme/payroll/")) for doc in seen["hannah"])
    assert "acme/engineering/vendor-notes.md" not in {doc for docs in seen.values() for doc in docs}
