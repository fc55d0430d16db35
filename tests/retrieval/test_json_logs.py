"""What an operator's log shipper and an agent's user see, from real processes with the real model:

- every line `clearance serve` writes (stdout and stderr) is a JSON object: through start-up (the model's weights
  load), searches, a 401, a 404, /readyz, /metrics, the in-process ACL sync, `acl-sync --once` beside it, and
  shutdown; no library progress bar ("Loading weights") or raw warning in between;
- `clearance acl-sync --once`: its report on stdout and its log on stderr are JSON lines;
- `clearance ingest --json` with stderr not a terminal prints one JSON object on stdout and nothing on stderr,
  though it loads the model;
- a source ingested with `--uri-base` gives search results (and document reads) a link under that base, and a
  later ingest that changes the base changes the links of the chunks already indexed, with nothing re-embedded.
"""

from __future__ import annotations

import json
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.contract.corpus import write_yaml
from tests.contract.harness import CLEARANCE, CliRun, clearance, environment
from tests.support.auth import bearer
from tests.support.oidc_issuer import OidcIssuer
from tests.support.readiness import free_port, wait_for, wait_until_ready

# One xdist worker runs the whole module, so its one `serve` is started once (`--dist loadgroup`).
pytestmark = [pytest.mark.model, pytest.mark.slow, pytest.mark.xdist_group("json-logs")]

BASE = "https://intranet.acme.example/share/"
MOVED = "https://docs.acme.example/finance/"


@dataclass
class Served:
    """Everything the tests look at, after `serve` stopped."""

    root: Path
    ingest: CliRun
    rebase: CliRun
    sync: CliRun
    results: list[dict[str, Any]]
    results_after_rebase: list[dict[str, Any]]
    document: dict[str, Any]
    statuses: dict[str, int]
    stdout: str
    stderr: str
    exit_code: int


def _json_lines(text: str, who: str) -> list[dict[str, Any]]:
    """Every line of `text` parsed as one JSON object; a line that is not fails the test, shown."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"{who}, line {number} is not JSON: {line[:300]!r}")
        assert isinstance(entry, dict), f"{who}, line {number}: {line[:300]!r}"
        entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    root = tmp_path_factory.mktemp("json-logs")
    issuer = OidcIssuer().start()
    corpus = root / "finance"
    (corpus / "reports 2027").mkdir(parents=True)
    (corpus / "reports 2027" / "budget #1 ü.md").write_text(
        "# Budget\n\nThe travel budget for 2027 is forty thousand euros, approved by the board.\n", encoding="utf-8"
    )
    (corpus / "notes.md").write_text("# Notes\n\nThe office plants are watered on Mondays.\n", encoding="utf-8")
    manifest = root / "acl.yaml"
    write_yaml(manifest, {"version": 1, "rules": [{"paths": ["**"], "allow": ["group:/finance"]}]})
    directory = root / "directory.yaml"
    write_yaml(
        directory,
        {
            "version": 1,
            "issuer": issuer.url,
            "groups": [{"id": "g-fin", "path": "/finance"}],
            "users": [{"id": "u-1", "username": "alice", "enabled": True, "groups": ["g-fin"]}],
        },
    )
    env = environment(
        root / "data",
        {
            "CLEARANCE_OIDC_ISSUERS": json.dumps([issuer.config]),
            "CLEARANCE_DIRECTORY_FILE": str(directory),
            "CLEARANCE_ACL_SYNC_INTERVAL": "1",  # the in-process sync logs while the test runs
            "CLEARANCE_AUDIT_KEY_FILE": str(root / "keys" / "audit.json"),
        },
    )
    assert clearance(["audit", "keygen", "--key-file", str(root / "keys" / "audit.json")], env).returncode == 0
    # Before serve: the ingest holds the index itself and loads the model in its own process.
    ingest = clearance(
        ["ingest", str(corpus), "--acl", str(manifest), "--source", "finance", "--json", "--uri-base", BASE], env
    )
    assert ingest.returncode == 0, ingest.explain()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out, err = root / "serve.out", root / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [CLEARANCE, "serve", "--port", str(port)], env=env, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL
        )
    statuses: dict[str, int] = {}
    try:
        assert wait_until_ready(url, process, timeout=180, log=err.read_text), err.read_text()
        token = issuer.token(sub="u-1", preferred_username="alice")
        with httpx.Client(base_url=url, timeout=30) as client:
            query = {"query": "travel budget 2027", "top_k": 5}
            found = client.post("/v1/search", json=query, headers=bearer(token))
            statuses["search"] = found.status_code
            results = found.json()["results"] if found.status_code == 200 else []
            statuses["401"] = client.post("/v1/search", json=query, headers=bearer("x.y.z")).status_code
            statuses["404"] = client.get("/v1/documents/finance/no-such.md", headers=bearer(token)).status_code
            budget = next((r["document_id"] for r in results if "Budget" in r["text"]), "finance/missing")
            read = client.get(f"/v1/documents/{quote(budget)}", headers=bearer(token))
            statuses["document"] = read.status_code
            statuses["readyz"] = client.get("/readyz").status_code
            statuses["metrics"] = client.get("/metrics").status_code
            # Beside serve: the sync hands its writes to serve, the ingest only changes the source's link base.
            sync = clearance(["acl-sync", "--once"], env)
            rebase = clearance(
                ["ingest", str(corpus), "--acl", str(manifest), "--source", "finance", "--json", "--uri-base", MOVED],
                env,
            )
            after = client.post("/v1/search", json=query, headers=bearer(token))
            statuses["search after rebase"] = after.status_code
            results_after = after.json()["results"] if after.status_code == 200 else []
        # The in-process sync (every second) has logged at least once.
        wait_for(lambda: "clearance.acl_sync" in err.read_text(), timeout=15)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        issuer.stop()
    return Served(
        root,
        ingest,
        rebase,
        sync,
        results,
        results_after,
        read.json() if read.status_code == 200 else {},
        statuses,
        out.read_text(encoding="utf-8", errors="replace"),
        err.read_text(encoding="utf-8", errors="replace"),
        code,
    )


def test_every_line_serve_writes_is_json(served: Served) -> None:
    assert served.statuses == {
        "search": 200,
        "401": 401,
        "404": 404,
        "document": 200,
        "readyz": 200,
        "metrics": 200,
        "search after rebase": 200,
    }
    assert served.exit_code in (0, -signal.SIGTERM)
    assert "Loading weights" not in served.stderr + served.stdout
    entries = _json_lines(served.stdout, "serve stdout") + _json_lines(served.stderr, "serve stderr")
    loggers = {entry["logger"] for entry in entries}
    # Each part of the process logged through the one JSON handler: uvicorn, the requests, the in-process sync.
    assert {"uvicorn.error", "clearance.access", "clearance.acl_sync"} <= loggers, loggers
    routes = {entry.get("route") for entry in entries if entry["logger"] == "clearance.access"}
    assert {"/v1/search", "/readyz", "/metrics"} <= routes
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert any("Application shutdown complete" in entry["message"] for entry in entries)


def test_acl_sync_writes_json_lines_only(served: Served) -> None:
    assert served.sync.returncode == 0, served.sync.explain()
    [report] = _json_lines(served.sync.stdout, "acl-sync stdout")
    assert report["outcome"] == "ok" and report["index"].startswith("via clearance serve")
    logged = _json_lines(served.sync.stderr, "acl-sync stderr")
    assert logged and all(entry["logger"].startswith("clearance") for entry in logged)


def test_ingest_json_without_a_terminal_prints_one_object_and_nothing_else(served: Served) -> None:
    for run in (served.ingest, served.rebase):
        assert run.returncode == 0, run.explain()
        [summary] = _json_lines(run.stdout, "ingest stdout")
        assert summary["counts"]["failed"] == 0
        assert run.stderr == "", run.stderr[:2000]
    assert json.loads(served.ingest.stdout)["counts"]["new"] == 2  # this run loaded the model


def test_results_link_under_the_source_base_and_follow_a_new_base(served: Served) -> None:
    budget = "reports%202027/budget%20%231%20%C3%BC.md"  # each segment percent-encoded, '/' kept between them
    links = {result["source"]["uri"] for result in served.results}
    assert f"{BASE}{budget}" in links, links
    assert all(link.startswith(BASE) for link in links)
    assert {chunk["source"]["uri"] for chunk in served.document["chunks"]} == {f"{BASE}{budget}"}
    # The second ingest changed the base only: nothing was re-embedded, and search shows the new links at once.
    rebase = json.loads(served.rebase.stdout)
    assert rebase["counts"]["unchanged"] == 2 and rebase["chunks_written"] == 0
    assert any(BASE in note and MOVED in note for note in rebase["notes"]), rebase["notes"]
    assert {result["source"]["uri"] for result in served.results_after_rebase} == {
        link.replace(BASE, MOVED) for link in links
    }
