"""Crash safety across the index socket, with real processes and SIGKILL: `clearance ingest` writing through
a running `clearance serve` is killed, or `serve` is killed under it; the next run (through serve, or alone)
ends with exactly the chunks of a clean ingest, and nothing complete before the kill is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.contract.harness import start_server
from tests.ingest.conftest import MANIFEST, REPO
from tests.ingest.test_crash import ingest_command, ingest_in_process, kill_mid_run, snapshot, write_corpus

pytestmark = pytest.mark.slow

Snapshot = list[tuple[str, str, int, int, str, str]]


def runner_env() -> dict[str, str]:
    """Small embedding batches (many write phases), no in-process sync, this checkout importable."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")},
        "PYTHONPATH": str(REPO),
        "CLEARANCE_EMBEDDING_BATCH_SIZE": "8",
        "CLEARANCE_ACL_SYNC_INTERVAL": "0",
        "HF_HUB_OFFLINE": "1",
    }


def start_serve(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """`clearance serve` with the test embedder, returned once it answers /readyz."""
    runner = (sys.executable, "-m", "tests.ingest.cli_runner", "--data-dir", str(data_dir))
    return start_server(runner_env(), data_dir, log, command=runner).process


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, Path]:
    root, manifest, data_dir = tmp_path / "share", tmp_path / "acl.yaml", tmp_path / "data"
    manifest.write_text(MANIFEST, encoding="utf-8")
    write_corpus(root, version=1)
    return root, manifest, data_dir


def run_ingest(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, env=runner_env(), capture_output=True, text=True, timeout=300)


def complete_documents(chunks: Snapshot) -> dict[str, Snapshot]:
    """Each document whose chunks agree and are all there (ingest/state.py's rule), with its chunks."""
    by_document: dict[str, Snapshot] = {}
    for row in chunks:
        by_document.setdefault(row[1], []).append(row)
    return {
        document: rows
        for document, rows in by_document.items()
        if len({(r[3], r[4], r[5]) for r in rows}) == 1 and sorted(r[2] for r in rows) == list(range(rows[0][3]))
    }


@pytest.mark.parametrize("scenario", ["first-run", "update-run"])
def test_kill_9_of_ingest_writing_through_serve(world: tuple[Path, Path, Path], tmp_path: Path, scenario: str) -> None:
    root, manifest, data_dir = world
    if scenario == "update-run":
        ingest_in_process(root, manifest, data_dir)
        write_corpus(root, version=2)
    serve = start_serve(data_dir, tmp_path / "serve.log")
    try:
        kill_mid_run(ingest_command(root, manifest, data_dir), after_batches=2)
        interrupted = snapshot(data_dir)  # read through serve's socket, as anything beside serve does
        done = run_ingest(ingest_command(root, manifest, data_dir))
        assert done.returncode == 0, done.stderr
        assert f"index: via clearance serve (pid {serve.pid})" in done.stdout
        converged = snapshot(data_dir)
        assert serve.poll() is None, "serve must keep running through its clients' crashes"
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    expected = ingest_in_process(root, manifest, tmp_path / "clean")
    assert interrupted != expected  # the kill really left work undone
    assert converged == expected
    assert snapshot(data_dir) == expected  # and that is what serve left on disk


def test_kill_9_of_serve_under_a_running_ingest(world: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, manifest, data_dir = world
    serve = start_serve(data_dir, tmp_path / "serve.log")
    ingest = subprocess.Popen(
        ingest_command(root, manifest, data_dir),
        cwd=REPO,
        env=runner_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert ingest.stderr is not None
    stderr_lines: list[str] = []
    try:
        for line in ingest.stderr:
            stderr_lines.append(line)
            if line.strip() == "embedding batch 3":
                break
        else:
            pytest.fail(f"ingest finished before serve could be killed: {''.join(stderr_lines)}")
        serve.send_signal(signal.SIGKILL)
        serve.wait(timeout=30)
        _, rest_err = ingest.communicate(timeout=120)
    finally:
        if serve.poll() is None:
            serve.kill()
        if ingest.poll() is None:
            ingest.kill()
    message = "".join(stderr_lines) + rest_err
    assert ingest.returncode == 1, message
    assert f"clearance serve (pid {serve.pid})" in message and "stopped answering" in message
    assert "while writing share/" in message  # which file
    assert "run the same `clearance ingest` again" in message  # what to do

    interrupted = snapshot(data_dir)  # serve is gone: read directly
    expected = ingest_in_process(root, manifest, tmp_path / "clean")
    kept = complete_documents(interrupted)
    assert kept, "documents written before serve died must still be there"
    wanted = complete_documents(expected)
    assert all(rows == wanted[document] for document, rows in kept.items())  # nothing written is lost or wrong

    done = run_ingest(ingest_command(root, manifest, data_dir))  # alone now: it holds the shard itself
    assert done.returncode == 0, done.stderr
    assert "index: direct" in done.stdout
    assert snapshot(data_dir) == expected
