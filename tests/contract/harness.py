"""Drives the product from outside: the `clearance` console script and `clearance serve` over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.auth import bearer
from tests.support.readiness import free_port, wait_until_ready

CLEARANCE = str(Path(sys.executable).with_name("clearance"))
SEARCH_ALL = {"query": "notes about the company", "top_k": 50}


def environment(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any CLEARANCE_* variable, offline, with the given data dir."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CLEARANCE_")}
    env.update({"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "CLEARANCE_DATA_DIR": str(data_dir)})
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class CliRun:
    """One finished `clearance` command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.stdout)

    def explain(self) -> str:
        command = " ".join(self.args)
        return f"clearance {command} -> {self.returncode}\nstdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-3000:]}"


def clearance(args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None, timeout: float = 240) -> CliRun:
    started = time.monotonic()
    done = subprocess.run(
        [CLEARANCE, *args], env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    return CliRun(tuple(args), done.returncode, done.stdout, done.stderr, time.monotonic() - started)


@dataclass
class Server:
    """A running `clearance serve`."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    data_dir: Path
    env: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_server(
    env: dict[str, str], data_dir: Path, log: Path, timeout: float = 180, command: Sequence[str] = (CLEARANCE,)
) -> Server:
    """Start `clearance serve` on a free loopback port; return once /readyz answers. `command` is how
    `clearance` is run (tests/ingest/cli_runner.py runs it with a test embedder)."""
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, data_dir, env)
    if wait_until_ready(server.url, process, timeout, server.log_tail):
        return server
    server.stop()
    raise RuntimeError(f"clearance serve not ready after {timeout}s:\n{server.log_tail()}")


def audit_records(data_dir: Path) -> list[dict[str, Any]]:
    """Every audit record (a JSON line with a request_id), oldest first: files in name order, lines in order.

    Other files the product keeps there (a head pointer, a lock) are not records and are skipped."""
    records: list[dict[str, Any]] = []
    audit = data_dir / "audit"
    for path in sorted(p for p in audit.rglob("*") if p.is_file()):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "request_id" in record:
                records.append(record)
    return records


def largest_file(directory: Path) -> Path:
    """The audit log itself, among whatever else the audit directory holds."""
    return max((p for p in directory.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def search(server: Server, token: str | None, body: Mapping[str, Any]) -> httpx.Response:
    headers = bearer(token) if token is not None else {}
    with server.client() as client:
        return client.post("/v1/search", json=dict(body), headers=headers)


def visible(server: Server, token: str) -> set[str]:
    """The markers of every chunk this caller can find (each corpus has far fewer than 50 chunks)."""
    from tests.contract.corpus import markers_in

    response = search(server, token, SEARCH_ALL)
    assert response.status_code == 200, response.text
    return markers_in([result["text"] for result in response.json()["results"]])


def document_id_of(server: Server, token: str, marker: str) -> str:
    """The document id of the chunk carrying `marker`, as this caller sees it."""
    response = search(server, token, {"query": marker, "top_k": 50})
    assert response.status_code == 200, response.text
    ids = {str(result["document_id"]) for result in response.json()["results"] if marker in result["text"]}
    assert len(ids) == 1, f"{marker} not found exactly once: {ids}"
    return ids.pop()
