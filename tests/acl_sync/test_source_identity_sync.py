"""acl-sync and source identity on both engines (issue 10, flaw 1): each record's manifest applies only to its
own (tenant, source), an indexed pair without a record fails the sync by name, and a record never re-tags a
document that was not ingested from one of its roots (records of the old name-keyed layout included)."""

from __future__ import annotations

import json
from pathlib import Path

from access_index.document_acl import DocumentAcl
from access_index.index import Chunk, ChunkIndex, Filter
from access_index.manifest import load_manifest
from access_index.settings import Settings
from acl_sync.sync import sync_once
from tests.conftest import settings_for
from tests.support.hashing_embedder import HashingEmbedder

HR_FIRST = """\
version: 1
rules:
  - paths: ["hr/**"]
    allow: ["group:/hr"]
  - paths: ["**"]
    allow: ["authenticated"]
"""
EVERYONE = """\
version: 1
rules:
  - paths: ["**"]
    allow: ["authenticated"]
"""


def index_file(
    index: ChunkIndex, embedder: HashingEmbedder, tenant: str, source: str, root: Path, relpath: str, manifest: Path
) -> None:
    """What ingest stores for one file of `root`: one chunk tagged by the manifest's rule."""
    rule = load_manifest(manifest).rule_for(relpath)
    assert rule is not None
    acl = DocumentAcl.from_rule(rule)
    chunk = Chunk(
        tenant=tenant,
        document_id=f"{source}/{relpath}",
        source=source,
        chunk_index=0,
        chunk_count=1,
        text=f"{relpath} of {tenant}",
        uri=(root / relpath).as_uri(),
        allow=acl.allow,
        deny=acl.deny,
        labels=acl.labels,
        acl_hash=acl.acl_hash,
    )
    index.upsert([chunk], embedder.embed([chunk.text]).tolist())


def write_legacy_record(settings: Settings, name: str, tenant: str, root: Path, manifest: Path) -> Path:
    """A record as the name-keyed layout wrote it: sources/<name>.json, the last ingest of that name."""
    path = settings.paths.sources_dir / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "tenant": tenant, "roots": [str(root)], "manifest": str(manifest)}
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def allow_of(index: ChunkIndex) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(c.tenant, c.document_id): tuple(c.allow) for c in index.scroll(Filter())}


def test_a_legacy_record_never_re_tags_another_roots_file_with_its_catch_all(
    engine: str, data_dir: Path, tmp_path: Path, index: ChunkIndex, embedder: HashingEmbedder
) -> None:
    """The old layout kept one record per name: the last ingest's root and manifest. A first root's
    hr/salaries.md indexed under the same name must not get the second manifest's `**` → authenticated."""
    settings = settings_for(engine, data_dir)
    first, second = tmp_path / "first", tmp_path / "second"
    hr_first, everyone = tmp_path / "hr-first.yaml", tmp_path / "everyone.yaml"
    hr_first.write_text(HR_FIRST, encoding="utf-8")
    everyone.write_text(EVERYONE, encoding="utf-8")
    index_file(index, embedder, "default", "docs", first, "hr/salaries.md", hr_first)
    index_file(index, embedder, "default", "docs", second, "lunch.md", everyone)
    write_legacy_record(settings, "docs", "default", second, everyone)

    report = sync_once(settings, index)

    assert allow_of(index)[("default", "docs/hr/salaries.md")] != ("authenticated",)
    assert allow_of(index)[("default", "docs/lunch.md")] == ("authenticated",)
    assert report.outcome == "failed"
    assert any("docs/hr/salaries.md" in str(error) for error in report.errors), report.errors


def test_a_legacy_record_is_read_as_its_tenant_and_name(
    engine: str, data_dir: Path, tmp_path: Path, index: ChunkIndex, embedder: HashingEmbedder
) -> None:
    settings = settings_for(engine, data_dir)
    root, manifest = tmp_path / "wiki", tmp_path / "acl.yaml"
    manifest.write_text(HR_FIRST, encoding="utf-8")
    index_file(index, embedder, "acme", "wiki", root, "hr/pay.md", manifest)
    index_file(index, embedder, "acme", "wiki", root, "notes.md", manifest)
    write_legacy_record(settings, "wiki", "acme", root, manifest)
    manifest.write_text(HR_FIRST.replace('["authenticated"]', '["group:/staff"]'), encoding="utf-8")

    report = sync_once(settings, index)

    assert report.outcome == "ok", report.errors
    assert allow_of(index) == {("acme", "wiki/hr/pay.md"): ("group:/hr",), ("acme", "wiki/notes.md"): ("group:/staff",)}


def test_an_indexed_pair_without_a_record_is_named_and_left_alone(
    engine: str, data_dir: Path, tmp_path: Path, index: ChunkIndex, embedder: HashingEmbedder
) -> None:
    """A legacy record only knew the last tenant of its name: the other tenant's `wiki` has no record now."""
    settings = settings_for(engine, data_dir)
    manifest = tmp_path / "acl.yaml"
    manifest.write_text(HR_FIRST, encoding="utf-8")
    for tenant in ("acme", "globex", "initech"):
        index_file(index, embedder, tenant, "wiki", tmp_path / tenant, "notes.md", manifest)
    index_file(index, embedder, "acme", "lost", tmp_path / "lost", "notes.md", manifest)
    write_legacy_record(settings, "wiki", "globex", tmp_path / "globex", manifest)
    before = allow_of(index)

    report = sync_once(settings, index)

    assert report.outcome == "failed"
    unrecorded = {(s.tenant, s.source) for s in report.sources if s.error and "no source record" in s.error}
    assert unrecorded == {("acme", "wiki"), ("initech", "wiki"), ("acme", "lost")}
    assert allow_of(index) == before
