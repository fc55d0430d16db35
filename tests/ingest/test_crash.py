"""Crash safety with a real SIGKILL: kill `clearance ingest` mid-run, run it again, and the index holds
exactly the chunks a clean run produces: no duplicates, no orphans, nothing half-labelled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from access_index.acl_provider import ManifestAcls
from access_index.cli import main
from access_index.index import AnyOf, Filter, open_index
from access_index.manifest import load_manifest
from access_index.settings import load_settings
from ingest.discovery import own_scopes
from ingest.pipeline import run_job
from ingest.plan import IngestJob
from tests.ingest.conftest import MANIFEST, REPO
from tests.support.hashing_embedder import HashingEmbedder

DOCS = 100


def write_corpus(root: Path, version: int) -> None:
    """DOCS documents of several chunks; version 2 changes every text and shrinks some documents."""
    for n in range(DOCS):
        folder = root / ("hr" if n % 3 == 0 else "public")
        folder.mkdir(parents=True, exist_ok=True)
        paragraphs = 12 if version == 1 or n % 2 else 3
        body = "\n\n".join(
            f"Version {version} of document {n}, paragraph {p}: the warehouse in zone {p} ships parcels "
            f"to customers in region {n % 7} every weekday morning before nine o'clock." * 2
            for p in range(paragraphs)
        )
        (folder / f"doc-{n:03d}.txt").write_text(f"Document {n}\n\n{body}\n", encoding="utf-8")


def snapshot(data_dir: Path) -> list[tuple[str, str, int, int, str, str]]:
    index = open_index(load_settings(data_dir=data_dir), role="test")
    try:
        chunks = list(index.scroll(Filter(must=(AnyOf("tenant", ("acme",)),))))
    finally:
        index.close()
    return sorted((c.point_id, c.document_id, c.chunk_index, c.chunk_count, c.content_hash, c.acl_hash) for c in chunks)


def ingest_in_process(root: Path, manifest: Path, data_dir: Path) -> list[tuple[str, str, int, int, str, str]]:
    embedder = HashingEmbedder()
    index = open_index(load_settings(data_dir=data_dir), role="test")
    index.ensure_collection(embedder.info)
    job = IngestJob(
        scopes=own_scopes([root]),
        acls=ManifestAcls(load_manifest(manifest)),
        source="share",
        tenant="acme",
        policy="quarantine",
        max_file_bytes=10_000_000,
        quarantine_dir=data_dir / "quarantine",
        delete_missing=True,
    )
    try:
        report = run_job(job, index, embedder)
    finally:
        index.close()
    assert report.counts["failed"] == 0
    return snapshot(data_dir)


def ingest_command(root: Path, manifest: Path, data_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.ingest.cli_runner",
        "--data-dir",
        str(data_dir),
        "ingest",
        str(root),
        "--acl",
        str(manifest),
        "--source",
        "share",
        "--delete-missing",
    ]


def kill_mid_run(command: list[str], after_batches: int) -> None:
    """Start the command and SIGKILL it shortly after it starts embedding batch `after_batches`: by then
    earlier batches are written and later ones are not, and the kill lands in that batch's embed or write."""
    # Small embedding batches: many write phases per run.
    environment = {**os.environ, "PYTHONPATH": str(REPO), "CLEARANCE_EMBEDDING_BATCH_SIZE": "8"}
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )
    assert process.stderr is not None
    try:
        for line in process.stderr:
            if line.strip() == f"embedding batch {after_batches}":
                time.sleep(0.08)
                break
        else:
            pytest.fail(f"ingest finished before it could be killed: {process.stdout.read() if process.stdout else ''}")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["first-run", "update-run"])
def test_kill_9_then_rerun_ends_with_exactly_the_right_chunks(
    tmp_path: Path, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "share"
    manifest = tmp_path / "acl.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    data_dir = tmp_path / "data"
    write_corpus(root, version=1)
    if scenario == "update-run":
        ingest_in_process(root, manifest, data_dir)
        write_corpus(root, version=2)

    kill_mid_run(ingest_command(root, manifest, data_dir), after_batches=2)
    interrupted = snapshot(data_dir)
    monkeypatch.setattr("ingest.command.open_embedder", lambda settings: HashingEmbedder())
    assert main(ingest_command(root, manifest, data_dir)[3:]) == 0

    expected = ingest_in_process(root, manifest, tmp_path / "clean")
    assert interrupted != expected  # the kill really left work undone
    assert snapshot(data_dir) == expected
