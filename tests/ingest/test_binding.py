"""ingest/binding.py: where a run's PATHs lie in its source, and what a run may change in a source's record."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_index.errors import ConfigError, SourceConflictError
from access_index.manifest import load_manifest
from access_index.settings import load_settings
from access_index.sources import SourceRecord
from ingest.binding import LinkBase, bind, default_source_name
from ingest.command import requested_link


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for folder in ("corpus/hr/payroll", "corpus/public", "other"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "corpus/hr/salaries.md").write_text("x", encoding="utf-8")
    (tmp_path / "acl.yaml").write_text("version: 1\n", encoding="utf-8")
    (tmp_path / "acl2.yaml").write_text("version: 1\n", encoding="utf-8")
    return tmp_path.resolve()


def test_a_first_ingest_of_a_folder_and_a_file_inside_it_has_one_root(tree: Path) -> None:
    paths = [tree / "corpus/hr/salaries.md", tree / "corpus"]
    binding = bind(paths, tree / "acl.yaml", "acme", "docs", [])
    assert binding.record == SourceRecord("docs", "acme", (str(tree / "corpus"),), str(tree / "acl.yaml"))
    assert [(scope.root, scope.path) for scope in binding.scopes] == [
        (tree / "corpus", tree / "corpus/hr/salaries.md"),
        (tree / "corpus", tree / "corpus"),
    ]
    assert binding.changes and "new source 'docs'" in binding.changes[0]


def test_a_later_run_is_scoped_to_its_path_under_the_recorded_root(tree: Path) -> None:
    record = SourceRecord("docs", "acme", (str(tree / "corpus"),), str(tree / "acl.yaml"))
    binding = bind([tree / "corpus/hr"], tree / "acl.yaml", "acme", "docs", [record])
    assert binding.record == record
    assert binding.changes == ()
    (scope,) = binding.scopes
    assert (scope.root, scope.path) == (tree / "corpus", tree / "corpus/hr")
    assert scope.covers((tree / "corpus/hr/payroll/x.md").as_uri())
    assert not scope.covers((tree / "corpus/hrx/x.md").as_uri())
    assert not scope.covers((tree / "corpus/public/x.md").as_uri())


def test_an_attached_root_may_not_contain_a_recorded_one(tree: Path) -> None:
    record = SourceRecord("docs", "acme", (str(tree / "corpus/hr"),), str(tree / "acl.yaml"))
    with pytest.raises(SourceConflictError, match="would contain"):
        bind([tree / "corpus"], tree / "acl.yaml", "acme", "docs", [record], attach_root=True)
    attached = bind([tree / "other"], tree / "acl.yaml", "acme", "docs", [record], attach_root=True)
    assert attached.record.roots == (str(tree / "corpus/hr"), str(tree / "other"))


def test_one_manifest_serves_one_tree_per_tenant(tree: Path) -> None:
    """Re-using a source's manifest for another source on a nested root would give its files other paths, and
    so other rules: `hr/salaries.md` under the docs root is `salaries.md` under a root at corpus/hr."""
    docs = SourceRecord("docs", "acme", (str(tree / "corpus"),), str(tree / "acl.yaml"))
    with pytest.raises(SourceConflictError, match="--source docs"):
        bind([tree / "corpus/hr"], tree / "acl.yaml", "acme", "hr", [docs])
    assert bind([tree / "corpus/hr"], tree / "acl2.yaml", "acme", "hr", [docs]).record.name == "hr"
    assert bind([tree / "corpus/hr"], tree / "acl.yaml", "globex", "hr", [docs]).record.tenant == "globex"


def test_without_source_the_source_whose_root_holds_the_path_is_used(tree: Path) -> None:
    docs = SourceRecord("docs", "acme", (str(tree / "corpus"),), str(tree / "acl.yaml"))
    other_tenant = SourceRecord("wiki", "globex", (str(tree / "corpus"),), str(tree / "acl.yaml"))
    records = [docs, other_tenant]
    assert default_source_name([tree / "corpus/hr/salaries.md"], "acme", records) == "docs"
    assert default_source_name([tree / "corpus/hr"], "globex", records) == "wiki"
    assert default_source_name([tree / "other"], "acme", records) == "other"


BASE = "https://intranet.acme.example/share/"


def test_a_new_source_records_the_base_it_was_given(tree: Path) -> None:
    link = LinkBase(BASE, "--uri-base")
    binding = bind([tree / "corpus"], tree / "acl.yaml", "acme", "docs", [], link=link)
    assert binding.record.uri_base == BASE
    assert BASE in binding.changes[0] and "--uri-base" in binding.changes[0]
    assert bind([tree / "corpus"], tree / "acl.yaml", "acme", "docs", []).record.uri_base is None


def test_a_run_without_a_base_keeps_the_recorded_one_and_another_base_is_a_reported_change(tree: Path) -> None:
    record = SourceRecord("docs", "acme", (str(tree / "corpus"),), str(tree / "acl.yaml"), uri_base=BASE)
    kept = bind([tree / "corpus/hr"], tree / "acl.yaml", "acme", "docs", [record])
    assert kept.record.uri_base == BASE and kept.changes == ()
    same = bind([tree / "corpus"], tree / "acl.yaml", "acme", "docs", [record], link=LinkBase(BASE, "--uri-base"))
    assert same.changes == ()
    moved = "https://docs.acme.example/"
    changed = bind(
        [tree / "corpus"], tree / "acl.yaml", "acme", "docs", [record], link=LinkBase(moved, "CLEARANCE_URI_BASE")
    )
    assert changed.record.uri_base == moved
    (change,) = changed.changes
    assert BASE in change and moved in change and "CLEARANCE_URI_BASE" in change and "nothing is re-indexed" in change
    removed = bind([tree / "corpus"], tree / "acl.yaml", "acme", "docs", [record], link=LinkBase(None, "--uri-base"))
    assert removed.record.uri_base is None and "file: URIs" in removed.changes[0]


def test_the_flag_wins_over_the_variable_which_wins_over_the_manifest(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest_file = tree / "with-base.yaml"
    manifest_file.write_text(f'version: 1\nuri_base: "{BASE}"\nrules:\n  - {{paths: ["**"], allow: [authenticated]}}\n')
    manifest = load_manifest(manifest_file)
    assert requested_link(None, load_settings(), manifest) == LinkBase(BASE, f"'uri_base' in {manifest_file}")
    monkeypatch.setenv("CLEARANCE_URI_BASE", "https://env.example/")
    assert requested_link(None, load_settings(), manifest) == LinkBase("https://env.example/", "CLEARANCE_URI_BASE")
    flag = requested_link("https://flag.example/", load_settings(), manifest)
    assert flag == LinkBase("https://flag.example/", "--uri-base")
    assert requested_link("", load_settings(), manifest) == LinkBase(None, "--uri-base")  # '' removes the base
    with pytest.raises(ConfigError, match=r"^--uri-base: .*end with '/'"):
        requested_link("https://flag.example", load_settings(), manifest)
    monkeypatch.delenv("CLEARANCE_URI_BASE")
    plain = tree / "plain.yaml"
    plain.write_text('version: 1\nrules:\n  - {paths: ["**"], allow: [authenticated]}\n')
    assert requested_link(None, load_settings(), load_manifest(plain)) is None
