"""An embedded shard is open in one process at a time: a second process gets a clear error (unless the
holder is a `serve` answering on its index socket, tests/access_index/test_index_socket.py), and the
holder's data is intact afterwards."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from access_index.errors import IndexLockedError
from access_index.index import open_index
from tests.access_index.test_index_contract import chunk, put
from tests.conftest import settings_for
from tests.support.hashing_embedder import HashingEmbedder

HOLDER = textwrap.dedent(
    """
    import sys, time
    from access_index.index import open_index
    from access_index.settings import load_settings
    index = open_index(load_settings(data_dir=sys.argv[1]), role=sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()
    index.close()
    """
)


@pytest.mark.parametrize("role", ["ingest", "serve"])
def test_second_process_is_told_who_holds_the_shard(
    data_dir: Path, embedder: HashingEmbedder, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another ingest is waited for by nobody; a `serve` whose index socket never answers (here: a holder
    that calls itself serve but opens no socket) is waited for a while, then named with its socket."""
    monkeypatch.setattr("access_index.index.OWNER_START_SECONDS", 1.0)
    settings = settings_for("edge", data_dir)
    setup = open_index(settings, role="ingest")
    setup.ensure_collection(embedder.info)
    put(setup, embedder, [chunk("a"), chunk("b")])
    setup.close()

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), role], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(IndexLockedError) as refused:
            open_index(settings, role="ingest")
        message = str(refused.value)
        assert f"clearance {role}" in message
        assert f"pid {holder.pid}" in message
        assert (refused.value.holder_role, refused.value.holder_pid) == (role, holder.pid)
        if role == "serve":
            assert str(settings.paths.index_socket) in message
            assert "did not answer" in message
        else:
            assert "CLEARANCE_QDRANT_URL" in message
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)

    reopened = open_index(settings, role="ingest")
    reopened.ensure_collection(embedder.info)
    assert reopened.count() == 2
    reopened.close()


def test_lock_is_released_when_the_holder_is_killed(data_dir: Path, embedder: HashingEmbedder) -> None:
    settings = settings_for("edge", data_dir)
    setup = open_index(settings, role="ingest")
    setup.ensure_collection(embedder.info)
    put(setup, embedder, [chunk("a")])
    setup.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    holder.kill()
    holder.wait(timeout=30)
    # flock dies with its process: no stale-lock clean-up is ever needed, and the data survives SIGKILL
    reopened = open_index(settings, role="ingest")
    reopened.ensure_collection(embedder.info)
    assert reopened.count() == 1
    reopened.close()
