"""Attacks on source identity through the real `clearance` entry point (issue 10, flaws 1 and 5).

A source is (tenant, --source name) and keeps the root and manifest of its first ingest: document ids are
relative to that root whatever PATH `ingest` is given, a PATH outside it or another manifest is refused unless
the operator says so (`--attach-root`, `--replace-manifest`), and `--delete-missing` with a sub-path only
considers that sub-tree. Each test is an attack that succeeded before the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from access_index.cli import main
from access_index.index import Chunk, Filter, open_index
from access_index.settings import load_settings
from tests.support.hashing_embedder import HashingEmbedder

MANIFEST = """\
version: 1
tenant: acme
rules:
  - paths: ["hr/**"]
    allow: ["group:/hr"]
  - paths: ["**"]
    allow: ["authenticated"]
"""
OTHER_MANIFEST = """\
version: 1
tenant: acme
rules:
  - paths: ["**"]
    allow: ["authenticated"]
"""


@pytest.fixture(autouse=True)
def _hashing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ingest.command.load_embedder", lambda settings: HashingEmbedder())


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "hr").mkdir(parents=True)
    (root / "public").mkdir()
    (root / "hr" / "salaries.md").write_text("# Salaries\n\nThe CEO earns 900k.\n", encoding="utf-8")
    (root / "hr" / "reviews.md").write_text("# Reviews\n\nBob is on a plan.\n", encoding="utf-8")
    (root / "public" / "readme.md").write_text("# Readme\n\nWelcome to the wiki.\n", encoding="utf-8")
    return root


@pytest.fixture
def acl(tmp_path: Path) -> Path:
    path = tmp_path / "acl.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def clearance(data_dir: Path, *args: str | Path) -> int:
    return main(["--data-dir", str(data_dir), *map(str, args)])


def chunks(data_dir: Path) -> list[Chunk]:
    index = open_index(load_settings(data_dir=data_dir), role="test")
    try:
        return list(index.scroll(Filter()))
    finally:
        index.close()


def acls_by_file(data_dir: Path) -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    """file URI → every (document id, allow) the index holds for it: more than one entry is a second copy."""
    found: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
    for chunk in chunks(data_dir):
        found.setdefault(chunk.uri, set()).add((chunk.document_id, tuple(chunk.allow)))
    return found


@pytest.mark.parametrize("given", ["corpus/hr/salaries.md", "corpus/hr"])
@pytest.mark.parametrize("name_it", [True, False])
def test_a_file_or_subfolder_is_indexed_under_the_recorded_root(
    tmp_path: Path, corpus: Path, acl: Path, given: str, name_it: bool
) -> None:
    """Flaw 5: `ingest corpus/hr/salaries.md` re-rooted the file as `salaries.md`, under the catch-all."""
    data_dir = tmp_path / "data"
    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs") == 0
    (corpus / "hr" / "salaries.md").write_text("# Salaries\n\nThe CEO earns 950k.\n", encoding="utf-8")
    source = ["--source", "docs"] if name_it else []  # without --source: the source whose root holds PATH
    assert clearance(data_dir, "ingest", tmp_path / given, "--acl", acl, *source) == 0

    salaries = (corpus / "hr" / "salaries.md").resolve().as_uri()
    assert acls_by_file(data_dir)[salaries] == {("docs/hr/salaries.md", ("group:/hr",))}
    assert {c.document_id for c in chunks(data_dir)} == {
        "docs/hr/salaries.md",
        "docs/hr/reviews.md",
        "docs/public/readme.md",
    }
    assert "950k" in " ".join(c.text for c in chunks(data_dir) if c.document_id == "docs/hr/salaries.md")


def test_a_path_outside_the_recorded_root_is_refused_unless_attached(
    tmp_path: Path, corpus: Path, acl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    assert clearance(data_dir, "ingest", corpus / "public", "--acl", acl, "--source", "docs") == 0
    capsys.readouterr()

    assert clearance(data_dir, "ingest", corpus / "hr" / "salaries.md", "--acl", acl, "--source", "docs") == 2
    err = capsys.readouterr().err
    assert str((corpus / "public").resolve()) in err  # what is recorded
    assert str((corpus / "hr" / "salaries.md").resolve()) in err  # what was given
    assert "--attach-root" in err  # the flag to use
    assert {c.document_id for c in chunks(data_dir)} == {"docs/readme.md"}

    args = ("ingest", corpus / "hr", "--acl", acl, "--source", "docs", "--attach-root")
    assert clearance(data_dir, *args) == 0
    assert {c.document_id for c in chunks(data_dir)} == {"docs/readme.md", "docs/salaries.md", "docs/reviews.md"}


def test_delete_missing_with_a_sub_path_only_considers_that_sub_tree(tmp_path: Path, corpus: Path, acl: Path) -> None:
    """Before the fix, `ingest corpus/hr --delete-missing` re-rooted hr/ and deleted the rest of the source."""
    data_dir = tmp_path / "data"
    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs") == 0
    (corpus / "hr" / "reviews.md").unlink()
    (corpus / "public" / "readme.md").unlink()  # gone too, but outside the sub-tree given: kept

    args = ("ingest", corpus / "hr", "--acl", acl, "--source", "docs", "--delete-missing", "--json")
    assert clearance(data_dir, *args) == 0
    assert {c.document_id for c in chunks(data_dir)} == {"docs/hr/salaries.md", "docs/public/readme.md"}

    assert (
        clearance(
            data_dir, "ingest", corpus / "hr" / "salaries.md", "--acl", acl, "--source", "docs", "--delete-missing"
        )
        == 0
    )
    assert {c.document_id for c in chunks(data_dir)} == {"docs/hr/salaries.md", "docs/public/readme.md"}

    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs", "--delete-missing") == 0
    assert {c.document_id for c in chunks(data_dir)} == {"docs/hr/salaries.md"}


def test_one_source_name_for_a_second_root_or_manifest_is_refused(
    tmp_path: Path, corpus: Path, acl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Flaw 1: a second root with another manifest under the same name replaced the record, and acl-sync
    then re-tagged the first root's hr/salaries.md with the second manifest's catch-all."""
    data_dir = tmp_path / "data"
    other_root = tmp_path / "other"
    (other_root / "hr").mkdir(parents=True)
    (other_root / "hr" / "lunch.md").write_text("# Lunch\n\nPizza on Friday.\n", encoding="utf-8")
    other_acl = tmp_path / "other-acl.yaml"
    other_acl.write_text(OTHER_MANIFEST, encoding="utf-8")
    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs") == 0
    capsys.readouterr()

    assert clearance(data_dir, "ingest", other_root, "--acl", other_acl, "--source", "docs") == 2
    err = capsys.readouterr().err
    assert "--attach-root" in err and str(corpus.resolve()) in err
    assert clearance(data_dir, "ingest", corpus, "--acl", other_acl, "--source", "docs") == 2
    err = capsys.readouterr().err
    assert str(acl.resolve()) in err and str(other_acl.resolve()) in err and "--replace-manifest" in err

    assert clearance(data_dir, "acl-sync", "--once") == 0
    salaries = (corpus / "hr" / "salaries.md").resolve().as_uri()
    assert acls_by_file(data_dir)[salaries] == {("docs/hr/salaries.md", ("group:/hr",))}
    assert {c.document_id for c in chunks(data_dir)} == {
        "docs/hr/salaries.md",
        "docs/hr/reviews.md",
        "docs/public/readme.md",
    }


def test_replace_manifest_is_explicit_and_the_sync_follows_it(
    tmp_path: Path, corpus: Path, acl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs") == 0
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(MANIFEST.replace('["authenticated"]', '["group:/staff"]'), encoding="utf-8")
    args = ("ingest", corpus / "public", "--acl", stricter, "--source", "docs", "--replace-manifest")
    assert clearance(data_dir, *args) == 0
    assert clearance(data_dir, "acl-sync", "--once") == 0
    capsys.readouterr()
    allow = {c.document_id: tuple(c.allow) for c in chunks(data_dir)}
    assert allow == {
        "docs/hr/salaries.md": ("group:/hr",),
        "docs/hr/reviews.md": ("group:/hr",),
        "docs/public/readme.md": ("group:/staff",),
    }
    # The old manifest is no longer this source's: using it again is the same refusal.
    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs") == 2
    assert str(stricter.resolve()) in capsys.readouterr().err


def test_two_tenants_with_a_wiki_source_are_two_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Flaw 1: acme and globex each ingest a folder called `wiki`; acme then revokes bob in its manifest. Before
    the fix globex's later ingest replaced the one `wiki` record, and acl-sync (exit 0) never applied acme's
    revocation."""
    data_dir = tmp_path / "data"
    for tenant in ("acme", "globex"):
        root = tmp_path / tenant / "wiki"
        root.mkdir(parents=True)
        (root / "plans.md").write_text(f"# Plans\n\nThe {tenant} roadmap.\n", encoding="utf-8")
        (tmp_path / tenant / "acl.yaml").write_text(
            f'version: 1\ntenant: {tenant}\nrules:\n  - paths: ["**"]\n    allow: ["user:bob", "group:/{tenant}"]\n',
            encoding="utf-8",
        )
        assert clearance(data_dir, "ingest", root, "--acl", tmp_path / tenant / "acl.yaml") == 0
    revoked = 'version: 1\ntenant: acme\nrules:\n  - paths: ["**"]\n    allow: ["group:/acme"]\n'
    (tmp_path / "acme" / "acl.yaml").write_text(revoked, encoding="utf-8")
    capsys.readouterr()

    assert clearance(data_dir, "acl-sync", "--once") == 0
    report = json.loads(capsys.readouterr().out)
    assert {(s["tenant"], s["source"]) for s in report["sources"]} == {("acme", "wiki"), ("globex", "wiki")}
    allow = {(c.tenant, c.document_id): tuple(c.allow) for c in chunks(data_dir)}
    assert allow == {
        ("acme", "wiki/plans.md"): ("group:/acme",),
        ("globex", "wiki/plans.md"): ("group:/globex", "user:bob"),
    }


def test_acl_sync_fails_loudly_on_an_indexed_source_without_a_record(
    tmp_path: Path, corpus: Path, acl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs") == 0
    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs", "--tenant", "globex") == 0
    for record in (data_dir / "sources").rglob("*.json"):
        if "globex" in record.read_text(encoding="utf-8"):
            record.unlink()
    capsys.readouterr()

    assert clearance(data_dir, "acl-sync", "--once") == 1
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["outcome"] == "failed"
    assert any("globex" in error and "docs" in error and "record" in error for error in report["errors"]), report
    assert "globex" in err


def test_a_subfolder_under_another_source_name_cannot_reuse_the_manifest(
    tmp_path: Path, corpus: Path, acl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Flaw 5 by another name: `--source hr` on corpus/hr with the manifest written for corpus made
    hr/salaries.md the path `salaries.md`, which only the catch-all matches."""
    data_dir = tmp_path / "data"
    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs") == 0
    capsys.readouterr()
    assert clearance(data_dir, "ingest", corpus / "hr", "--acl", acl, "--source", "hr") == 2
    assert "--source docs" in capsys.readouterr().err
    salaries = (corpus / "hr" / "salaries.md").resolve().as_uri()
    assert acls_by_file(data_dir)[salaries] == {("docs/hr/salaries.md", ("group:/hr",))}


def make_legacy(data_dir: Path, tenant: str, name: str, root: Path, manifest: Path) -> Path:
    """Replace the registry by one record of the old name-keyed layout: what the last ingest of `name` left."""
    for record in (data_dir / "sources").rglob("*.json"):
        record.unlink()
    legacy = data_dir / "sources" / f"{name}.json"
    record = {"name": name, "tenant": tenant, "roots": [str(root.resolve())], "manifest": str(manifest.resolve())}
    legacy.write_text(json.dumps(record), encoding="utf-8")
    return legacy


def test_an_upgrade_fails_closed_on_re_rooted_copies_and_one_ingest_cleans_them(
    tmp_path: Path, corpus: Path, acl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the fix, `ingest corpus/hr/salaries.md` left a copy `docs/salaries.md` under the catch-all, and the
    old record kept the last ingest (root corpus). After the upgrade the first sync takes that copy's ACL away
    and names it; `ingest corpus --delete-missing` removes it and migrates the record."""
    data_dir = tmp_path / "data"
    hr_file = corpus / "hr" / "salaries.md"
    assert clearance(data_dir, "ingest", hr_file, "--acl", acl, "--source", "docs") == 0  # re-rooted, as before
    for record in (data_dir / "sources").rglob("*.json"):
        record.unlink()
    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs") == 0
    legacy = make_legacy(data_dir, "acme", "docs", corpus, acl)
    assert acls_by_file(data_dir)[hr_file.resolve().as_uri()] == {
        ("docs/hr/salaries.md", ("group:/hr",)),
        ("docs/salaries.md", ("authenticated",)),  # the leak the old code left
    }
    capsys.readouterr()

    assert clearance(data_dir, "acl-sync", "--once") == 1
    report = json.loads(capsys.readouterr().out)
    (docs,) = [s for s in report["sources"] if s["source"] == "docs"]
    assert docs["outside_roots"] == ["docs/salaries.md"]
    assert acls_by_file(data_dir)[hr_file.resolve().as_uri()] == {
        ("docs/hr/salaries.md", ("group:/hr",)),
        ("docs/salaries.md", ()),  # readable by nobody
    }

    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--delete-missing", "--json") == 0
    ingested = json.loads(capsys.readouterr().out)
    assert {"document": "docs/salaries.md", "status": "deleted"}.items() <= next(
        d for d in ingested["documents"] if d["document"] == "docs/salaries.md"
    ).items()
    assert not legacy.exists() and (data_dir / "sources" / "acme" / "docs.json").is_file()
    assert clearance(data_dir, "acl-sync", "--once") == 0
    assert acls_by_file(data_dir)[hr_file.resolve().as_uri()] == {("docs/hr/salaries.md", ("group:/hr",))}


def test_an_old_record_with_a_wrong_root_is_named_with_the_fix(
    tmp_path: Path, corpus: Path, acl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    assert clearance(data_dir, "ingest", corpus / "hr", "--acl", acl, "--source", "docs") == 0
    legacy = make_legacy(data_dir, "acme", "docs", corpus / "hr", acl)
    capsys.readouterr()

    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs") == 2
    err = capsys.readouterr().err
    assert "old layout" in err and "sources/docs.json" in err and "remove the file" in err
    legacy.unlink()
    assert clearance(data_dir, "ingest", corpus, "--acl", acl, "--source", "docs", "--delete-missing") == 0
    assert {c.document_id for c in chunks(data_dir)} == {
        "docs/hr/salaries.md",
        "docs/hr/reviews.md",
        "docs/public/readme.md",
    }
