"""Discovery: what is walked, what is skipped, and that nothing outside the root gets in via a symlink."""

from __future__ import annotations

import os
from pathlib import Path

from ingest.discovery import discover, own_scopes


def test_walks_files_and_skips_vcs_hidden_and_system_folders(tmp_path: Path) -> None:
    root = tmp_path / "share"
    for relpath in (
        "a.txt",
        "sub/b.md",
        ".git/config",
        ".svn/entries",
        ".hg/store",
        ".cache/x.txt",
        "sub/.hidden.txt",
        "__MACOSX/._a.txt",
        "Thumbs.db",
    ):
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text("x", encoding="utf-8")

    found = discover(own_scopes([root]))

    assert [f.relpath for f in found.files] == ["a.txt", "sub/b.md"]
    assert found.skipped == ()


def test_symlink_out_of_the_root_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "passwd.txt").write_text("root:x:0:0", encoding="utf-8")
    (outside / "dir" / "secret.txt").write_text("secret", encoding="utf-8")
    root = tmp_path / "share"
    root.mkdir()
    (root / "ok.txt").write_text("fine", encoding="utf-8")
    os.symlink(outside / "passwd.txt", root / "passwd.txt")
    os.symlink(outside / "dir", root / "linked")
    os.symlink(root / "missing.txt", root / "dangling.txt")

    found = discover(own_scopes([root]))

    assert [f.relpath for f in found.files] == ["ok.txt"]
    reasons = {s.relpath: s.reason for s in found.skipped}
    assert "outside the ingest root" in reasons["passwd.txt"]
    assert "outside the ingest root" in reasons["linked"]
    assert "broken" in reasons["dangling.txt"]
    assert all("secret" not in str(f.path) for f in found.files)


def test_symlink_inside_the_root_is_ingested_once_under_its_target_path(tmp_path: Path) -> None:
    root = tmp_path / "share"
    (root / "hr").mkdir(parents=True)
    (root / "public").mkdir()
    (root / "hr" / "salaries.txt").write_text("salaries", encoding="utf-8")
    # A link in public/ must not give the HR file public/'s ACL rule.
    os.symlink(root / "hr" / "salaries.txt", root / "public" / "salaries.txt")
    os.symlink(root / "hr", root / "public" / "hr-link")

    found = discover(own_scopes([root]))

    assert [f.relpath for f in found.files] == ["hr/salaries.txt"]


def test_a_file_path_is_its_own_document_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("x", encoding="utf-8")
    found = discover(own_scopes([tmp_path / "one.txt"]))
    assert [(f.relpath, f.root) for f in found.files] == [("one.txt", tmp_path.resolve())]
