"""The Keycloak authorization bench runs in its tiny mode and measures what it says: every document of the
source is rewritten by the first sync, and a policy change reaches exactly the documents it covers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_tiny_run_rewrites_every_document_and_then_only_the_changed_ones() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "authz_bench.py"), "--tiny", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["resources"] == 50 and figures["documents"] == 500
    assert figures["documents_rewritten"] == 500
    # The changed group policy covers resource 0 only (50 resources over 100 groups): its 500 / 50 documents.
    assert figures["change_documents"] == 10
    assert figures["pull_s"] > 0 and figures["compile_s"] >= 0
