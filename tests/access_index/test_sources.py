"""The source registry: one record per (tenant, name), records of the old name-keyed layout read as their
(tenant, name) and replaced at the next save, and an unusable record named with its file and never hiding the
others."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from access_index.errors import ConfigError
from access_index.settings import Settings, load_settings
from access_index.sources import SourceRecord, list_sources, save_source, scan_sources


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


def legacy(settings: Settings, name: str, tenant: str, root: str = "/srv/old") -> Path:
    path = settings.paths.legacy_source_record(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": name, "tenant": tenant, "roots": [root], "manifest": "/etc/acl.yaml"}))
    return path


def test_two_tenants_with_one_source_name_are_two_records(settings: Settings) -> None:
    acme = SourceRecord("wiki", "acme", ("/srv/acme/wiki",), "/etc/acme.yaml")
    globex = SourceRecord("wiki", "globex", ("/srv/globex/wiki",), "/etc/globex.yaml")
    save_source(settings, acme)
    save_source(settings, globex)
    assert list_sources(settings) == [acme, globex]
    assert settings.paths.source_record("acme", "wiki").is_file()
    assert settings.paths.source_record("globex", "wiki").is_file()


def test_a_legacy_record_is_read_then_replaced_by_its_own_sources_save(settings: Settings) -> None:
    old = legacy(settings, "wiki", "acme")
    assert list_sources(settings) == [SourceRecord("wiki", "acme", ("/srv/old",), "/etc/acl.yaml")]

    save_source(settings, SourceRecord("wiki", "globex", ("/srv/g",), "/etc/g.yaml"))
    assert old.exists()  # another tenant's save must not remove acme's only record
    assert {record.key for record in list_sources(settings)} == {("acme", "wiki"), ("globex", "wiki")}

    migrated = SourceRecord("wiki", "acme", ("/srv/old",), "/etc/acl.yaml")
    save_source(settings, migrated)
    assert not old.exists()
    assert migrated in list_sources(settings)


def test_the_new_layout_wins_over_a_legacy_record_of_the_same_source(settings: Settings) -> None:
    save_source(settings, SourceRecord("wiki", "acme", ("/srv/new",), "/etc/acl.yaml"))
    legacy(settings, "wiki", "acme", root="/srv/stale")
    assert [record.roots for record in list_sources(settings)] == [("/srv/new",)]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        json.dumps({"name": "wiki", "tenant": "acme", "roots": ["relative/root"], "manifest": "/etc/a.yaml"}),
        json.dumps({"name": "wiki", "tenant": "acme", "roots": [], "manifest": "/etc/a.yaml"}),
        json.dumps({"name": "a/b", "tenant": "acme", "roots": ["/r"], "manifest": "/etc/a.yaml"}),
        json.dumps({"name": "wiki", "tenant": "globex", "roots": ["/r"], "manifest": "/etc/a.yaml"}),  # misplaced
    ],
)
def test_an_unusable_record_is_named_and_the_others_still_read(settings: Settings, content: str) -> None:
    good = SourceRecord("docs", "acme", ("/srv/docs",), "/etc/acl.yaml")
    save_source(settings, good)
    bad = settings.paths.source_record("acme", "wiki")
    bad.write_text(content, encoding="utf-8")

    scan = scan_sources(settings)
    assert scan.records == (good,)
    (problem,) = scan.problems
    assert str(bad) in problem
    with pytest.raises(ConfigError, match=re.escape(str(bad))):
        list_sources(settings)


def test_a_document_is_held_only_at_its_path_under_a_recorded_root() -> None:
    record = SourceRecord("docs", "acme", ("/srv/corpus", "/srv/more"), "/etc/acl.yaml")
    assert record.holds("docs/hr/salaries.md", Path("/srv/corpus/hr/salaries.md").as_uri())
    assert record.holds("docs/x y\n.md", Path("/srv/more/x y\n.md").as_uri())
    assert not record.holds("docs/salaries.md", Path("/srv/corpus/hr/salaries.md").as_uri())  # re-rooted copy
    assert not record.holds("docs/hr/salaries.md", Path("/srv/other/hr/salaries.md").as_uri())  # another root
    assert not record.holds("wiki/hr/salaries.md", Path("/srv/corpus/hr/salaries.md").as_uri())
    assert not record.holds("docs/hr/salaries.md", "")
