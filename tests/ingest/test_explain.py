"""`clearance ingest --explain`: which rule each file gets and why, named as an ingest run would name it, without
the model and without writing anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from access_index.cli import main
from access_index.index import open_index
from access_index.settings import Settings, load_settings
from tests.support.hashing_embedder import HashingEmbedder

MANIFEST = """\
version: 1
tenant: acme
rules:
  - paths: ["hr/**", "people/**"]
    allow: ["group:/hr"]
    deny: ["user:mallory"]
    labels: {classification: confidential}
  - paths: ["**/*.md"]
    allow: ["authenticated"]
"""


def no_model(settings: Settings) -> HashingEmbedder:
    raise AssertionError("--explain must not load the model")


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ingest.command.load_embedder", no_model)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for relpath in ("hr/salaries.md", "public/readme.md", "public/data.csv", "public/logo.png"):
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text("Some words to index in this file.\n", encoding="utf-8")
    return root


@pytest.fixture
def acl(tmp_path: Path) -> Path:
    path = tmp_path / "acl.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def explain_json(data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str | Path) -> dict[str, object]:
    assert main(["--data-dir", str(data_dir), "ingest", *map(str, args), "--explain", "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_each_file_gets_its_rule_and_why_in_json(
    tmp_path: Path, corpus: Path, acl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    report = explain_json(data_dir, capsys, corpus, "--acl", acl, "--source", "docs")
    assert (report["source"], report["tenant"], report["roots"]) == ("docs", "acme", [str(corpus.resolve())])
    files = {item["document"]: item for item in report["files"]}  # type: ignore[attr-defined]
    documents = {"docs/hr/salaries.md", "docs/public/readme.md", "docs/public/data.csv", "docs/public/logo.png"}
    assert set(files) == documents

    hr = files["docs/hr/salaries.md"]
    assert hr["status"] == "indexed"
    assert hr["acl"]["decision"] == "acl"
    assert hr["acl"]["provider"] == "manifest"
    assert hr["acl"]["decided_by"]["ref"] == {"rule": 1, "line": 4, "globs": ["hr/**", "people/**"], "glob": "hr/**"}
    assert (hr["acl"]["allow"], hr["acl"]["deny"]) == (["group:/hr"], ["user:mallory"])
    assert hr["acl"]["labels"] == {"classification": "confidential"}
    assert hr["acl"]["passed_over"] == []

    readme = files["docs/public/readme.md"]["acl"]
    assert readme["decided_by"]["ref"] == {"rule": 2, "line": 8, "globs": ["**/*.md"], "glob": "**/*.md"}
    (first,) = readme["passed_over"]
    assert first["ref"] == {"rule": 1, "line": 4, "globs": ["hr/**", "people/**"]}
    assert "'hr/**', 'people/**'" in first["reason"]

    csv = files["docs/public/data.csv"]
    assert (csv["status"], csv["acl"]["decision"], csv["acl"]["decided_by"]) == ("no_acl", "no_acl", None)
    assert [c["ref"]["rule"] for c in csv["acl"]["passed_over"]] == [1, 2]
    assert files["docs/public/logo.png"]["status"] == "skipped"

    assert not data_dir.exists()  # no index, no registry record, nothing


def test_text_output_names_rule_line_glob_and_the_rules_passed_over(
    tmp_path: Path, corpus: Path, acl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path / "data"), "ingest", str(corpus), "--acl", str(acl), "--explain"]) == 0
    out = capsys.readouterr().out
    readme = out[out.index("corpus/public/readme.md") :]
    assert "rule 2 (line 8): '**/*.md' matches and no earlier rule matches" in readme
    assert "not rule 1 (line 4): none of its globs matches: 'hr/**', 'people/**'" in readme
    assert "allow group:/hr; deny user:mallory; labels classification=confidential" in out
    csv = out[out.index("corpus/public/data.csv") :]
    assert csv.splitlines()[1].strip() == "no_acl: no rule matches, so the file is not indexed"


def files_outside_the_index(data_dir: Path) -> list[tuple[Path, int]]:
    """Every file of the data dir but the index (which the test's own holder opens), with its mtime; the held
    index already proves that --explain never opens it."""
    index_dir = data_dir / "index"
    return sorted(
        (path, path.stat().st_mtime_ns)
        for path in data_dir.rglob("*")
        if path.is_file() and not path.is_relative_to(index_dir)
    )


def test_explain_follows_the_recorded_root_and_writes_nothing(
    tmp_path: Path, corpus: Path, acl: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setattr("ingest.command.load_embedder", lambda settings: HashingEmbedder())
    assert main(["--data-dir", str(data_dir), "ingest", str(corpus), "--acl", str(acl), "--source", "docs"]) == 0
    monkeypatch.setattr("ingest.command.load_embedder", no_model)
    capsys.readouterr()
    before = files_outside_the_index(data_dir)

    holder = open_index(load_settings(data_dir=data_dir), role="serve")  # explain never needs the index
    try:
        report = explain_json(data_dir, capsys, corpus / "hr" / "salaries.md", "--acl", acl)
    finally:
        holder.close()
    assert report["source"] == "docs"
    (only,) = report["files"]  # type: ignore[misc]
    assert only["document"] == "docs/hr/salaries.md"
    assert only["acl"]["decided_by"]["ref"]["glob"] == "hr/**"
    assert files_outside_the_index(data_dir) == before

    # A PATH outside the recorded root is refused as ingest would refuse it; --attach-root shows the effect.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "a.md").write_text("x", encoding="utf-8")
    args = ["--data-dir", str(data_dir), "ingest", str(outside), "--acl", str(acl), "--source", "docs", "--explain"]
    assert main(args) == 2
    assert "--attach-root" in capsys.readouterr().err
    assert main([*args, "--attach-root"]) == 0
    out = capsys.readouterr().out
    assert "docs/a.md" in out and "nothing is recorded by --explain" in out
    assert main(args) == 2  # still not attached


def test_a_name_with_a_newline_stays_on_one_line(tmp_path: Path, acl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "corpus"
    (root / "hr").mkdir(parents=True)
    (root / "hr" / "a\nb.md").write_text("x", encoding="utf-8")
    assert main(["--data-dir", str(tmp_path / "data"), "ingest", str(root), "--acl", str(acl), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "corpus/hr/a\\x0ab.md\n    rule 1 (line 4): 'hr/**' matches" in out
