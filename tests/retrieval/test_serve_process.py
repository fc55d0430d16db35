"""`clearance serve` as a real process: dev-mode tokens from `clearance token`, real HTTP (uvicorn/h11,
including a 1000-group token), JSON logs without tokens, clean shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.auth import bearer
from tests.support.readiness import free_port, wait_until_ready

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_serve_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLEARANCE_")}
    env.update(
        CLEARANCE_DATA_DIR=str(tmp_path / "data"),
        CLEARANCE_DEV_MODE="true",
        CLEARANCE_ACL_SYNC_INTERVAL="0",
        HF_HUB_OFFLINE="1",
    )
    cli = [sys.executable, "-m", "access_index.cli"]
    groups = [arg for i in range(1000) for arg in ("--group", f"/org/u{i // 50}/t{i}")]
    mint = subprocess.run(
        [*cli, "token", "--user", "alice", *groups], env=env, capture_output=True, text=True, check=True
    )
    token = mint.stdout.strip()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_ready(url, server, timeout=120, log=log_path.read_text), log_path.read_text()
        headers = bearer(token)
        response = httpx.post(f"{url}/v1/search", json={"query": "hello"}, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["results"] == []
        refused = httpx.post(f"{url}/v1/search", json={"query": "hello"}, headers={"Authorization": "Bearer x.y.z"})
        assert refused.status_code == 401
        assert "clearance_request_seconds" in httpx.get(f"{url}/metrics").text
    finally:
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    logs = log_path.read_text()
    assert '"route": "/v1/search"' in logs
    assert token[:40] not in logs and token[-40:] not in logs
