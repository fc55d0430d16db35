"""`clearance status`: who holds the index (nobody, a running `serve`, another ingest), its size, the
directory snapshot's age and version, each source's last ingest; on both engines, changing nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from access_index.cli import main
from access_index.index import open_index
from access_index.settings import load_settings
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.served_index import serving

DIRECTORY = """\
issuer: urn:clearance:dev-issuer
version: 1
groups: [{id: g-eng, path: /eng}]
roles: []
users: [{username: alice, email: alice@acme.example, enabled: true, groups: [g-eng], roles: []}]
"""


@pytest.fixture(autouse=True)
def _hashing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ingest.command.open_embedder", lambda settings: HashingEmbedder())


@pytest.fixture
def ingested(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir with one source of three documents and a synced directory file."""
    data_dir, root = tmp_path / "data", tmp_path / "wiki"
    for n in range(3):
        (root / "eng").mkdir(parents=True, exist_ok=True)
        (root / "eng" / f"page-{n}.md").write_text(f"# Page {n}\n\nRunbook step {n}.\n", encoding="utf-8")
    manifest = tmp_path / "acl.yaml"
    manifest.write_text('version: 1\nrules:\n  - paths: ["**"]\n    allow: ["group:/eng"]\n', encoding="utf-8")
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY, encoding="utf-8")
    monkeypatch.setenv("CLEARANCE_DIRECTORY_FILE", str(directory))
    assert main(["--data-dir", str(data_dir), "ingest", str(root), "--acl", str(manifest)]) == 0
    assert main(["--data-dir", str(data_dir), "acl-sync", "--once"]) == 0
    capsys.readouterr()
    return data_dir


def status(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["--data-dir", str(data_dir), "status", "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_nobody_holds_it(ingested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = status(ingested, capsys)
    index = found["index"]
    assert (index["engine"], index["holder"], index["route"]) == ("embedded", None, "direct")
    assert index["points"] == 3
    assert index["bytes_on_disk"] > 0
    assert index["model"] == {"name": "test-hashing-embedder", "dimension": 64}
    directory = found["directory"]
    assert directory["version"] == 1 and directory["source"].startswith("file:")
    assert 0 <= directory["age_seconds"] < 60
    (source,) = found["sources"]
    assert (source["name"], source["tenant"]) == ("wiki", "default")
    assert source["last_ingest"]["counts"]["new"] == 3
    assert source["last_ingest"]["index"] == "direct"
    # The human form says the same.
    assert main(["--data-dir", str(ingested), "status"]) == 0
    human = capsys.readouterr().out
    assert "held by   nobody" in human and "3 points" in human and "directory   v1" in human
    assert "source      wiki (tenant default)" in human and "3 new" in human


def test_a_running_serve_holds_it(ingested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(data_dir=ingested)
    with serving(settings, HashingEmbedder().info):
        index = status(ingested, capsys)["index"]
        assert index["holder"] == {"role": "serve", "pid": os.getpid(), "alive": True}
        assert index["route"] == f"via clearance serve (pid {os.getpid()})"
        assert index["points"] == 3
        assert main(["--data-dir", str(ingested), "status"]) == 0
        assert f"held by   clearance serve (pid {os.getpid()}, running)" in capsys.readouterr().out


def test_another_process_holds_it_directly(ingested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    held = open_index(load_settings(data_dir=ingested), role="ingest")
    try:
        index = status(ingested, capsys)["index"]
    finally:
        held.close()
    assert index["holder"] == {"role": "ingest", "pid": os.getpid(), "alive": True}
    assert index["points"] is None and index["bytes_on_disk"] > 0
    assert "held directly by clearance ingest" in index["problem"]


def test_a_fresh_data_dir_is_reported_and_left_as_it_was(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = status(tmp_path / "data", capsys)
    assert found["index"]["points"] is None and "no index yet" in found["index"]["problem"]
    assert found["directory"]["version"] is None and found["sources"] == []
    assert not (tmp_path / "data").exists()


def test_on_a_qdrant_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARANCE_QDRANT_URL", ":memory:")
    found = status(tmp_path / "data", capsys)
    assert found["index"]["engine"] == "qdrant server"
    assert found["index"]["route"] == "Qdrant server"
    assert found["index"]["holder"] is None


def test_an_unreadable_source_registry_is_reported_not_hidden(
    ingested: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ingested / "sources" / "broken.json").write_text("{not json", encoding="utf-8")
    found = status(ingested, capsys)
    assert "cannot read the source registry" in found["sources_problem"] and "broken.json" in found["sources_problem"]
    assert [source["name"] for source in found["sources"]] == ["wiki"]  # the readable record is still shown
