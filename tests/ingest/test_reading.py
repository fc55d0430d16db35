"""Files are read once, never through a link: attacks that change the tree between discovery and reading.

An attacker who can write into the ingest folder (but cannot read HR's or the system's files) swaps a file
or a folder for a symlink after the walk has checked it; whatever the timing, the outside text must never
reach the index under the folder's ACL. The swaps are real filesystem changes, made at a fixed point: right
after discovery returned (what was checked) and before any file is opened.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from access_index.errors import UnsafeFileError
from access_index.index import ChunkIndex
from ingest.discovery import Discovery, discover
from ingest.plan import Plan
from ingest.reading import PrivateFolder, open_in_root
from tests.ingest.conftest import JobRunner
from tests.ingest.test_pipeline import all_chunks, chunks_of

SECRET = "The merger with Globex closes on the ninth of March at forty dollars a share."


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the ingest root that the ingest process can read and the attacker cannot."""
    folder = tmp_path / "outside"
    (folder / "board").mkdir(parents=True)
    (folder / "secret.txt").write_text(SECRET, encoding="utf-8")
    (folder / "board" / "minutes.txt").write_text(SECRET, encoding="utf-8")
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "public" / "board").mkdir(parents=True)
    (root / "public" / "notes.txt").write_text("The canteen opens at noon.", encoding="utf-8")
    (root / "public" / "board" / "minutes.txt").write_text("Minutes: nothing to report.", encoding="utf-8")
    (root / "public" / "lunch.txt").write_text("Lunch is served on the third floor.", encoding="utf-8")
    return root


def after_discovery(monkeypatch: pytest.MonkeyPatch, swap: Callable[[], None]) -> None:
    """Run `swap` right after the run's discovery has walked and checked the tree."""

    def discover_then_swap(paths: Sequence[Path]) -> Discovery:
        found = discover(paths)
        swap()
        return found

    monkeypatch.setattr("ingest.pipeline.discover", discover_then_swap)


def test_a_file_swapped_for_a_symlink_after_discovery_is_not_read(
    corpus: Path, outside: Path, ingest: JobRunner, index: ChunkIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = corpus / "public" / "notes.txt"

    def swap() -> None:
        notes.unlink()
        os.symlink(outside / "secret.txt", notes)

    after_discovery(monkeypatch, swap)
    report = ingest(corpus)

    assert SECRET not in "".join(chunk.text for chunk in all_chunks(index))
    (failed,) = [o for o in report.outcomes if o.status == "failed"]
    assert failed.document == "docs/public/notes.txt"
    assert "public/notes.txt is a symbolic link now" in (failed.reason or "")
    assert chunks_of(index, "docs/public/lunch.txt")  # the rest of the batch is indexed


def test_a_folder_swapped_for_a_symlink_after_discovery_is_not_read(
    corpus: Path, outside: Path, ingest: JobRunner, index: ChunkIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = corpus / "public" / "board"

    def swap() -> None:
        board.rename(corpus / "public" / "board-old")
        os.symlink(outside / "board", board)

    after_discovery(monkeypatch, swap)
    report = ingest(corpus)

    assert SECRET not in "".join(chunk.text for chunk in all_chunks(index))
    (failed,) = [o for o in report.outcomes if o.status == "failed"]
    assert failed.document == "docs/public/board/minutes.txt"
    assert "public/board is a symbolic link now" in (failed.reason or "")
    assert chunks_of(index, "docs/public/notes.txt")


def test_the_indexed_hash_is_the_hash_of_the_parsed_bytes(
    corpus: Path, ingest: JobRunner, index: ChunkIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file rewritten after planning: whatever is parsed, its hash is what the index records, so the next run
    knows the indexed text is that content and not the one planned on."""
    notes = corpus / "public" / "notes.txt"
    from ingest.plan import plan as real_plan

    def plan_then_rewrite(*args: object) -> Plan:
        planned = real_plan(*args)  # type: ignore[arg-type]
        notes.write_text("The canteen now opens at one o'clock.", encoding="utf-8")
        return planned

    monkeypatch.setattr("ingest.pipeline.plan", plan_then_rewrite)
    ingest(corpus)

    (chunk,) = chunks_of(index, "docs/public/notes.txt")
    assert "one o'clock" in chunk.text
    assert chunk.content_hash == hashlib.sha256(notes.read_bytes()).hexdigest()


def test_open_in_root_refuses_a_link_anywhere_on_the_path(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "doc.txt").write_text("fine", encoding="utf-8")
    os.symlink(outside, root / "a" / "link")
    os.symlink(outside / "secret.txt", root / "a" / "b" / "file-link.txt")
    os.symlink(root / "a" / "b" / "doc.txt", root / "a" / "b" / "inside-link.txt")  # inside, still a link

    with open_in_root(root, "a/b/doc.txt") as opened:
        assert opened.size == 4
    for relpath in ("a/link/secret.txt", "a/b/file-link.txt", "a/b/inside-link.txt", "a/../a/b/doc.txt", "/etc/passwd"):
        with pytest.raises(UnsafeFileError):
            open_in_root(root, relpath)
    os.mkfifo(root / "a" / "fifo.txt")
    with pytest.raises(UnsafeFileError, match="not a regular file"):
        open_in_root(root, "a/fifo.txt")  # and it does not hang waiting for a writer
    with pytest.raises(FileNotFoundError):
        open_in_root(root, "a/b/gone.txt")


def test_the_private_copy_is_the_descriptor_s_bytes_in_an_owner_only_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    doc = root / "report.pdf"
    doc.write_bytes(b"%PDF-1.7 original bytes")
    with PrivateFolder() as folder:
        with open_in_root(root, "report.pdf") as opened:
            doc.unlink()  # gone from the folder, still readable through the one descriptor
            doc.write_bytes(b"%PDF-1.7 replacement")
            copy = opened.copy_into(folder, max_bytes=1000)
        assert copy.path.read_bytes() == b"%PDF-1.7 original bytes"
        assert copy.path.name == "report.pdf"  # parsers go by the suffix
        assert copy.content_hash == hashlib.sha256(b"%PDF-1.7 original bytes").hexdigest()
        assert stat.S_IMODE(folder.path.stat().st_mode) == 0o700
        assert stat.S_IMODE(copy.path.stat().st_mode) == 0o600
        copy.remove()
        assert not copy.path.exists()
    assert not folder.path.exists()
