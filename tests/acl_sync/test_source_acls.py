"""Source ACL refresh on both engines (and through `serve`'s index socket): a manifest change rewrites only
the ACL payload of the documents it affects (vectors untouched, nothing re-embedded), an unmatched document
is readable by nobody, and a broken manifest leaves the source as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_index.acl import Caller, build_access_filter
from access_index.document_acl import DocumentAcl
from access_index.index import Chunk, ChunkIndex, SearchQuery
from access_index.manifest import load_manifest
from access_index.settings import Settings
from access_index.sources import SourceRecord, save_source
from acl_sync.sync import sync_once
from tests.conftest import WITH_SOCKET, settings_for
from tests.support.hashing_embedder import HashingEmbedder


@pytest.fixture(params=WITH_SOCKET)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


MANIFEST_V1 = """\
version: 1
tenant: acme
rules:
  - paths: ["hr/**"]
    allow: ["group:/hr"]
  - paths: ["**/*.md"]
    allow: ["group:/eng"]
    labels: {classification: internal}
"""
MANIFEST_V2 = """\
version: 1
tenant: acme
rules:
  - paths: ["hr/**"]
    allow: ["group:/hr"]
    deny: ["user:mallory"]
  - paths: ["docs/**"]
    allow: ["group:/eng"]
    labels: {classification: internal}
"""
DOCUMENTS = {"hr/pay.md": 3, "docs/a.md": 2, "notes/b.md": 2}


def ingest_fake(settings: Settings, index: ChunkIndex, embedder: HashingEmbedder, manifest: Path) -> None:
    """What ingest stores: chunks tagged with their rule's ACL, and the source's record."""
    rules = load_manifest(manifest)
    for relpath, count in DOCUMENTS.items():
        rule = rules.rule_for(relpath)
        assert rule is not None
        acl = DocumentAcl.from_rule(rule)
        chunks = [
            Chunk(
                tenant="acme",
                document_id=f"wiki/{relpath}",
                source="wiki",
                chunk_index=i,
                chunk_count=count,
                text=f"{relpath} part {i} salary budget",
                uri=f"file:///srv/wiki/{relpath}",  # the file under the source's recorded root
                allow=acl.allow,
                deny=acl.deny,
                labels=acl.labels,
                acl_hash=acl.acl_hash,
            )
            for i in range(count)
        ]
        index.upsert(chunks, embedder.embed([chunk.text for chunk in chunks]).tolist())
    save_source(settings, SourceRecord("wiki", "acme", ("/srv/wiki",), str(manifest)))


def readable(index: ChunkIndex, embedder: HashingEmbedder, *tokens: str) -> dict[str, float]:
    query = SearchQuery("salary budget", "semantic", tuple(embedder.embed(["salary budget"])[0].tolist()))
    hits = index.search(query, build_access_filter(Caller("acme", frozenset(tokens))), 20)
    return {f"{hit.chunk.document_id}#{hit.chunk.chunk_index}": hit.score for hit in hits}


def test_manifest_change_rewrites_only_changed_documents(
    engine: str, data_dir: Path, tmp_path: Path, index: ChunkIndex, embedder: HashingEmbedder
) -> None:
    settings = settings_for(engine, data_dir)
    manifest = tmp_path / "acl.yaml"
    manifest.write_text(MANIFEST_V1)
    ingest_fake(settings, index, embedder, manifest)
    before = readable(index, embedder, "group:/eng")
    assert len(before) == 4  # docs/a.md and notes/b.md

    unchanged = sync_once(settings, index)
    assert unchanged.outcome == "ok"
    assert unchanged.sources[0].documents == 3
    assert unchanged.chunks_updated == 0

    manifest.write_text(MANIFEST_V2)
    report = sync_once(settings, index)
    refresh = report.sources[0]
    assert report.outcome == "ok", report.errors
    assert refresh.documents_changed == 2  # hr/pay.md gains a deny; notes/b.md loses its rule
    assert refresh.chunks_updated == 5
    assert refresh.unmatched == ("wiki/notes/b.md",)

    after = readable(index, embedder, "group:/eng")
    assert after == {key: score for key, score in before.items() if key.startswith("wiki/docs/")}
    assert len(readable(index, embedder, "group:/hr")) == 3
    assert readable(index, embedder, "group:/hr", "user:mallory") == {}
    # Nobody reads the unmatched document any more, whatever they hold.
    everyone = ("group:/eng", "group:/hr", "authenticated", "user:alice")
    assert not [key for key in readable(index, embedder, *everyone) if key.startswith("wiki/notes/")]
    stored = {c.document_id: c for c in index.scroll(build_access_filter(Caller("acme", frozenset({"group:/hr"}))))}
    assert stored["wiki/hr/pay.md"].deny == ("user:mallory",)
    assert stored["wiki/hr/pay.md"].text.startswith("hr/pay.md part")  # only ACL keys were rewritten
    # Applied once: the next sync finds nothing to do.
    assert sync_once(settings, index).chunks_updated == 0


def test_broken_manifest_leaves_the_source_untouched(
    engine: str, data_dir: Path, tmp_path: Path, index: ChunkIndex, embedder: HashingEmbedder
) -> None:
    settings = settings_for(engine, data_dir)
    manifest = tmp_path / "acl.yaml"
    manifest.write_text(MANIFEST_V1)
    ingest_fake(settings, index, embedder, manifest)
    before = readable(index, embedder, "group:/eng")
    manifest.write_text("version: 1\nrules:\n  - paths: [x]\n    allow: ['not a principal']\n")
    report = sync_once(settings, index)
    assert report.outcome == "failed"
    assert "acl.yaml" in (report.sources[0].error or "")
    assert readable(index, embedder, "group:/eng") == before
