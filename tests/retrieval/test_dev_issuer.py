"""`clearance token` mints only in dev mode, and only a dev-mode service trusts its tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from joserfc import jwt

from access_index.cli import main
from retrieval.dev_issuer import load_or_create_key
from tests.conftest import settings_for
from tests.retrieval.conftest import add_chunks, api_client, make_chunk
from tests.support.auth import bearer


def mint(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["--data-dir", str(tmp_path), "token", *args]) == 0
    return capsys.readouterr().out.strip()


def test_token_is_refused_without_dev_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(tmp_path), "token", "--user", "alice"]) == 2
    assert "CLEARANCE_DEV_MODE" in capsys.readouterr().err
    assert not settings_for("memory", tmp_path).paths.dev_issuer_key.exists()


def test_dev_tokens_work_in_dev_mode_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARANCE_DEV_MODE", "true")
    alice = mint(tmp_path, capsys, "--user", "alice", "--group", "/eng/backend", "--role", "client-role:crm/reader")
    bob = mint(tmp_path, capsys, "--user", "bob", "--role", "role:crm%2Freader")  # the realm role "crm/reader"
    assert settings_for("memory", tmp_path).paths.dev_issuer_key.stat().st_mode & 0o077 == 0
    settings = settings_for("memory", tmp_path, dev_mode=True)
    with api_client(settings) as client:
        index = client.app.state.services.search.index
        add_chunks(
            index,
            client.app.state.services.embedder,
            [
                make_chunk("eng/a.md", "backend notes", ["group:/eng"]),
                make_chunk("crm/b.md", "crm notes", ["client-role:crm/reader"]),
            ],
        )
        found = client.post("/v1/search", json={"query": "notes", "top_k": 5}, headers=bearer(alice))
        assert {r["document_id"] for r in found.json()["results"]} == {"eng/a.md", "crm/b.md"}
        assert client.post("/v1/search", json={"query": "notes"}, headers=bearer(bob)).json()["results"] == []
    with api_client(settings_for("memory", tmp_path, dev_mode=False)) as client:
        assert client.post("/v1/search", json={"query": "notes"}, headers=bearer(alice)).status_code == 401


def test_role_option_spellings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare name is a realm role; `crm/reader`, the old spelling of a client role, is read as one, with a warning."""
    monkeypatch.setenv("CLEARANCE_DEV_MODE", "true")
    roles = ["auditor", "role:50%25", "client-role:a%2Fb/r%2Fs", "crm/reader"]
    assert main(["--data-dir", str(tmp_path), "token", "--user", "a", *(f"--role={r}" for r in roles)]) == 0
    out = capsys.readouterr()
    key = load_or_create_key(settings_for("memory", tmp_path, dev_mode=True))
    claims = jwt.decode(out.out.strip(), key).claims
    assert claims["realm_access"] == {"roles": ["auditor", "50%"]}
    assert claims["resource_access"] == {"a/b": {"roles": ["r/s"]}, "crm": {"roles": ["reader"]}}
    assert "'crm/reader' is the old spelling of 'client-role:crm/reader'" in out.err
    assert main(["--data-dir", str(tmp_path), "token", "--user", "a", "--role", "role:a/b"]) == 2


def test_dev_mode_refuses_non_loopback_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARANCE_DEV_MODE", "true")
    assert main(["--data-dir", str(tmp_path), "serve", "--host", "0.0.0.0"]) == 2
