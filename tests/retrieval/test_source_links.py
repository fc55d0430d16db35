"""retrieval/source_links.py: the link each result carries follows the source registry as it is when the search
is answered (a base set, changed or removed by an ingest beside `serve`), with nothing rewritten in the index."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_index.index import Chunk
from access_index.settings import Settings, load_settings
from access_index.sources import SourceRecord, save_source
from retrieval.source_links import SourceLinks

BASE = "https://intranet.acme.example/share/"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


def chunk(root: Path, relpath: str, tenant: str = "acme", source: str = "docs") -> Chunk:
    return Chunk(tenant, f"{source}/{relpath}", source, 0, 1, "text", (root / relpath).as_uri(), ("authenticated",))


def test_links_follow_each_change_of_the_registry(settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "share"
    links = SourceLinks(settings.paths)
    item = chunk(root, "hr/leave policy.md")
    assert links.links([item]) == [item.uri]  # no registry yet: the file URI
    record = SourceRecord("docs", "acme", (str(root),), str(tmp_path / "acl.yaml"))
    save_source(settings, record)
    assert links.links([item]) == [item.uri]  # a source without a base
    for base in (BASE, "https://docs.acme.example/", BASE):  # set, changed, changed back: each seen at once
        save_source(settings, SourceRecord("docs", "acme", (str(root),), str(tmp_path / "acl.yaml"), uri_base=base))
        assert links.links([item]) == [f"{base}hr/leave%20policy.md"]
    save_source(settings, record)
    assert links.links([item]) == [item.uri]


def test_a_base_belongs_to_its_own_tenant_and_source(settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "share"
    save_source(settings, SourceRecord("docs", "acme", (str(root),), str(tmp_path / "acl.yaml"), uri_base=BASE))
    links = SourceLinks(settings.paths)
    other_tenant, other_source = chunk(root, "a.md", tenant="globex"), chunk(root, "a.md", source="wiki")
    assert links.links([chunk(root, "a.md"), other_tenant, other_source]) == [
        f"{BASE}a.md",
        other_tenant.uri,
        other_source.uri,
    ]


def test_a_record_that_turns_unreadable_keeps_its_last_links(settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "share"
    save_source(settings, SourceRecord("docs", "acme", (str(root),), str(tmp_path / "acl.yaml"), uri_base=BASE))
    links = SourceLinks(settings.paths)
    assert links.links([chunk(root, "a.md")]) == [f"{BASE}a.md"]
    path = settings.paths.source_record("acme", "docs")
    broken = path.with_name(".broken")
    broken.write_text("{not json", encoding="utf-8")
    broken.replace(path)
    assert links.links([chunk(root, "a.md")]) == [f"{BASE}a.md"]
