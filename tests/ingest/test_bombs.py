"""Parser bombs: each ends as one `failed` file with the limit it passed named, within the limits, while the
rest of the batch is indexed and `clearance ingest` exits 1 instead of being killed.

Two layers are tested apart. The cheap checks before parsing (ingest/preflight/) catch the known shapes in
milliseconds; the worker process's hard limits (ingest/isolation/) catch what gets past them: those tests use
files made to pass every cheap check (or a worker killed from outside) and small limits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from access_index.errors import LimitExceededError
from access_index.index import ChunkIndex
from ingest.isolation.pool import WorkerPool
from ingest.limits import MiB, ParseLimits
from ingest.preflight import ooxml, preflight
from tests.fixtures import bombs
from tests.ingest.conftest import REPO, JobRunner
from tests.ingest.test_pipeline import all_chunks

GOOD = {  # relpath → a phrase its chunks must hold
    "public/notes.txt": "descaled every Friday",
    "public/guide.md": "orange zone",
    "public/rota.csv": "Oskar",
    "public/report.pdf": "nine percent",
    "public/policy.docx": "27 days",
    "public/numbers.xlsx": "Falcon",
}
# bomb → what its reason must say (the cheap check that catches it; docs/ingest-limits.md)
BOMBS = {
    "far-cell.xlsx": "sheets span more than 5,000,000 cells",
    "inflates-1.1GB.docx": "exceeds 512 MiB decompressed",
    "lying-directory.docx": "does not inflate to what the zip directory declares",
    "flate-600MB.pdf": "exceeds 512 MiB decompressed",
    "2M-paragraphs.docx": "a zip bomb",
    "3M-rows.xlsx": "a zip bomb",
    "300k-paragraphs.docx": "more than 200,000 paragraphs",
    "row-2M.xlsx": "more than 1,048,576 rows",
    "200k-columns.csv": "more than 16,384 columns",
    "3000-levels.md": "nests",
}


def write_good(root: Path, builders: ModuleType) -> None:
    (root / "public").mkdir(parents=True, exist_ok=True)
    (root / "public/notes.txt").write_text("Kitchen\n\nThe espresso machine is descaled every Friday.\n", "utf-8")
    (root / "public/guide.md").write_text("# Guide\n\n## Parking\n\nVisitors park in the orange zone.\n", "utf-8")
    (root / "public/rota.csv").write_text("day,person\nMonday,Ingrid\nTuesday,Oskar\n", "utf-8")
    builders.write_pdf(root / "public/report.pdf", "Quarterly report", [("Revenue", ["Revenue grew by nine percent."])])
    builders.write_docx(root / "public/policy.docx", "Leave", [("Annual leave", ["Everyone gets 27 days of leave."])])
    builders.write_xlsx(root / "public/numbers.xlsx", {"Plan": [("item", "amount"), ("Falcon", 42)]})


@pytest.fixture(scope="session")
def bomb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every bomb, written once per session (about ten seconds: the gigabyte ones are mostly CRC work)."""
    folder = tmp_path_factory.mktemp("bombs")
    bombs.xlsx_far_cell(folder / "far-cell.xlsx")
    bombs.docx_inflating(folder / "inflates-1.1GB.docx")
    bombs.docx_inflating(folder / "lying-directory.docx", lying=True)
    bombs.pdf_flate(folder / "flate-600MB.pdf")
    bombs.docx_paragraphs(folder / "2M-paragraphs.docx")
    bombs.xlsx_rows(folder / "3M-rows.xlsx")
    bombs.docx_paragraphs(folder / "300k-paragraphs.docx", 300_000)
    bombs.xlsx_far_row(folder / "row-2M.xlsx", 2_000_000)
    bombs.csv_columns(folder / "200k-columns.csv")
    bombs.markdown_nesting(folder / "3000-levels.md")
    return folder


@pytest.fixture
def bomb_corpus(tmp_path: Path, bomb_folder: Path, builders: ModuleType) -> Path:
    root = tmp_path / "share"
    write_good(root, builders)
    (root / "public" / "bombs").mkdir()
    for name in BOMBS:
        os.link(bomb_folder / name, root / "public" / "bombs" / name)
    return root


@pytest.mark.slow
def test_every_bomb_is_one_failed_file_and_the_batch_is_indexed(
    tmp_path: Path, bomb_corpus: Path, manifest_path: Path
) -> None:
    """The whole `clearance ingest` process, as an operator runs it, with its peak memory measured."""
    command = [sys.executable, "-m", "tests.ingest.cli_runner", "--data-dir", str(tmp_path / "data"), "ingest"]
    command += [str(bomb_corpus), "--acl", str(manifest_path), "--source", "share", "--json"]
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)}, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started

    assert process.returncode == 1, output  # some files failed; not killed, not crashed
    report = json.loads(output)
    outcomes = {item["document"].removeprefix("share/"): item for item in report["documents"]}
    for name, reason in BOMBS.items():
        outcome = outcomes[f"public/bombs/{name}"]
        assert outcome["status"] == "failed", outcome
        assert reason in outcome["reason"], outcome
    assert report["counts"]["failed"] == len(BOMBS)
    assert report["counts"]["new"] == len(GOOD)
    # Peak RSS of the ingest process and its worker (the largest of them): far below the gigabytes the bombs
    # aim at. The generous bound covers the ingest process's own imports.
    assert usage.ru_maxrss * 1024 < 2048 * MiB, f"peak RSS {usage.ru_maxrss // 1024} MiB"
    assert seconds < 600


def test_bombs_fail_alone_in_process(bomb_corpus: Path, ingest: JobRunner, index: ChunkIndex) -> None:
    """The same corpus through run_job (both engines): every good file indexed with its text, nothing of a bomb."""
    report = ingest(bomb_corpus)

    failed = {o.document: o.reason or "" for o in report.outcomes if o.status == "failed"}
    assert set(failed) == {f"docs/public/bombs/{name}" for name in BOMBS}
    for name, reason in BOMBS.items():
        assert reason in failed[f"docs/public/bombs/{name}"]
    texts = {chunk.document_id.removeprefix("docs/"): chunk.text for chunk in all_chunks(index)}
    for relpath, phrase in GOOD.items():
        assert phrase in texts[relpath]
    assert not any("bombs/" in document for document in texts)


@pytest.mark.parametrize("prefix", ["", "x"])
def test_rows_without_references_are_counted_whatever_the_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    """Rows and cells may leave out their reference (each then follows the one before), and elements may
    carry any namespace prefix: the counts depend on neither."""
    monkeypatch.setattr(ooxml, "MAX_SHEET_ROWS", 2_000)
    path = bombs.xlsx_rows(tmp_path / "rows.xlsx", 3_000, prefix)
    with pytest.raises(LimitExceededError, match="more than 2,000 rows"):
        preflight(path, ParseLimits.defaults())
    bombs.xlsx_rows(path, 1_500, prefix)
    preflight(path, ParseLimits.defaults())


@pytest.mark.parametrize("prefix", ["w", "", "word"])
def test_paragraphs_are_counted_whatever_the_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    monkeypatch.setattr(ooxml, "MAX_PARAGRAPHS", 20_000)
    path = bombs.docx_paragraphs(tmp_path / "paragraphs.docx", 30_000, prefix)
    with pytest.raises(LimitExceededError, match="more than 20,000 paragraphs"):
        preflight(path, ParseLimits.defaults())
    bombs.docx_paragraphs(path, 10_000, prefix)
    preflight(path, ParseLimits.defaults())


@pytest.mark.parametrize(
    ("streams", "ascii85"),
    [(1, False), (12, False), (1, True)],
    ids=["one stream", "spread over twelve streams", "ASCII85 before Flate"],
)
def test_pdf_streams_share_one_decompression_budget(tmp_path: Path, streams: int, ascii85: bool) -> None:
    limits = small_limits(max_decompressed_mb=64)
    path = bombs.pdf_flate(tmp_path / "bomb.pdf", 96 * MiB, streams=streams, ascii85=ascii85)
    with pytest.raises(LimitExceededError, match="exceeds 64 MiB decompressed"):
        preflight(path, limits)
    bombs.pdf_flate(path, 32 * MiB, streams=streams, ascii85=ascii85)
    preflight(path, limits)


def test_ordinary_files_pass_every_cheap_check(tmp_path: Path, builders: ModuleType) -> None:
    write_good(tmp_path, builders)
    rows = [("row", "amount", "note")] + [(f"item {n}", n, "fine") for n in range(20_000)]
    builders.write_xlsx(tmp_path / "public/long.xlsx", {"Data": rows})
    lines = [f"{'  ' * (level % 20)}- level {level % 20}" for level in range(2_000)]
    (tmp_path / "public/nested.md").write_text("\n".join(lines), "utf-8")
    for path in sorted((tmp_path / "public").iterdir()):
        preflight(path, ParseLimits.defaults())


# The second layer: limits of the worker process, for what the cheap checks cannot see.


def test_the_worker_parses_every_format_without_torch(tmp_path: Path, builders: ModuleType) -> None:
    """The parsers run without PyTorch (spaCy would load it through thinc): less start-up time, less of the
    worker's address-space limit, one native library less within a hostile file's reach."""
    write_good(tmp_path, builders)
    (tmp_path / "public/page.html").write_text("<p>The lift is serviced on Mondays.</p>", "utf-8")
    with WorkerPool(ParseLimits.defaults()) as pool:
        for path in sorted((tmp_path / "public").iterdir()):
            assert pool.extract(path, "strip", 10 * MiB).elements, path.name
        assert pool._worker is not None
        maps = Path(f"/proc/{pool._worker.process.pid}/maps").read_text(encoding="utf-8")
    assert "libtorch" not in maps
    assert "libc" in maps  # the map was read, and it names shared libraries


# The worker's limits do not depend on the index engine: these run on the embedded one only (what a failed
# file leaves in the index is checked on both engines above).
WORKER_ONLY = pytest.mark.parametrize("engine", ["edge"])


@pytest.fixture
def slow_docx(tmp_path: Path) -> Path:
    """150,000 paragraphs: under every cheap limit, and minutes of work for the Word parser."""
    return bombs.docx_paragraphs(tmp_path / "corpus" / "public" / "slow.docx", 150_000)


def small_limits(**changes: int) -> ParseLimits:
    values = {"memory_mb": 3072, "timeout_seconds": 60, "max_decompressed_mb": 512, "max_text_mb": 64} | changes
    return ParseLimits(**values)


@pytest.fixture
def own_pool() -> Iterator[list[WorkerPool]]:
    """Pools a test starts with its own limits, closed after it."""
    pools: list[WorkerPool] = []
    yield pools
    for pool in pools:
        pool.close()


def run_with(ingest: JobRunner, root: Path, own_pool: list[WorkerPool], limits: ParseLimits) -> dict[str, str]:
    pool = WorkerPool(limits)
    own_pool.append(pool)
    report = ingest(root, extractor=pool, limits=limits)
    return {o.document.removeprefix("docs/"): f"{o.status}: {o.reason or ''}" for o in report.outcomes}


@WORKER_ONLY
def test_a_parse_past_the_time_limit_is_stopped_and_the_next_file_is_parsed(
    tmp_path: Path, slow_docx: Path, ingest: JobRunner, index: ChunkIndex, own_pool: list[WorkerPool]
) -> None:
    (tmp_path / "corpus/public/zzz-after.txt").write_text("Parsed after the slow one, by a new worker.", "utf-8")
    started = time.monotonic()

    # Long enough for a fresh worker's first small file on a loaded machine; the slow file needs minutes.
    outcomes = run_with(ingest, tmp_path / "corpus", own_pool, small_limits(timeout_seconds=20))

    assert outcomes["public/slow.docx"].startswith("failed: parse time limit 20 s")
    assert outcomes["public/zzz-after.txt"] == "new: "
    assert time.monotonic() - started < 180  # minutes of parsing were cut to seconds (plus worker starts)


@WORKER_ONLY
def test_a_worker_that_dies_fails_only_its_file(
    tmp_path: Path, slow_docx: Path, ingest: JobRunner, index: ChunkIndex, own_pool: list[WorkerPool]
) -> None:
    """The kernel's OOM killer, or a parser crashing, looks like this from the ingest side: SIGKILL mid-file."""
    (tmp_path / "corpus/public/zzz-after.txt").write_text("Parsed after the crash, by a new worker.", "utf-8")
    killed: list[int] = []

    def kill_the_worker() -> None:
        for _ in range(600):
            worker = next(iter(own_pool), None)
            process = getattr(getattr(worker, "_worker", None), "process", None)
            if process is not None and getattr(worker._worker, "ready", False):  # type: ignore[union-attr]
                time.sleep(1.0)  # into the slow file's parse
                os.kill(process.pid, signal.SIGKILL)
                killed.append(process.pid)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_the_worker, daemon=True)
    killer.start()
    outcomes = run_with(ingest, tmp_path / "corpus", own_pool, small_limits(timeout_seconds=300))
    killer.join(timeout=5)

    assert killed
    assert outcomes["public/slow.docx"].startswith("failed: the parser process died of SIGKILL")
    assert outcomes["public/zzz-after.txt"] == "new: "


@WORKER_ONLY
def test_what_a_document_yields_is_bounded(
    tmp_path: Path, ingest: JobRunner, index: ChunkIndex, own_pool: list[WorkerPool]
) -> None:
    folder = tmp_path / "corpus" / "public"
    folder.mkdir(parents=True)
    paragraph = "Every line of this very long report repeats the same quarterly figures again. "
    (folder / "long.txt").write_text((paragraph * 10 + "\n\n") * 2_000, "utf-8")  # 1.5 MiB of text
    (folder / "short.txt").write_text("A short note.", "utf-8")

    outcomes = run_with(ingest, tmp_path / "corpus", own_pool, small_limits(max_text_mb=1))

    assert "of text and findings, over 1 MiB (CLEARANCE_MAX_DOCUMENT_TEXT_MB)" in outcomes["public/long.txt"]
    assert outcomes["public/short.txt"] == "new: "


@pytest.mark.slow
@WORKER_ONLY
def test_a_parse_past_the_memory_limit_fails_its_file(
    tmp_path: Path, ingest: JobRunner, index: ChunkIndex, own_pool: list[WorkerPool]
) -> None:
    """A PDF stream of 1.5 GB, let through by a raised decompression budget: the parser runs out of address
    space inside the worker, the file fails naming the memory limit, the ingest process is unharmed."""
    folder = tmp_path / "corpus" / "public"
    bombs.pdf_flate(folder / "huge-stream.pdf", 1536 * MiB)
    (folder / "zzz-after.txt").write_text("Parsed after the memory bomb.", "utf-8")

    limits = small_limits(memory_mb=1536, max_decompressed_mb=4096, timeout_seconds=300)
    outcomes = run_with(ingest, tmp_path / "corpus", own_pool, limits)

    assert outcomes["public/huge-stream.pdf"].startswith(
        "failed: exceeds the parse memory limit of 1536 MiB (CLEARANCE_PARSE_MEMORY_MB)"
    ), outcomes
    assert outcomes["public/zzz-after.txt"] == "new: "
