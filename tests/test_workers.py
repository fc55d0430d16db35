"""The suite's two workers keep each `xdist_group` on one worker, as scripts/test.sh relies on.

The contract suite, the bench smoke runs and the JSON-log checks each build one expensive world (corpora
ingested, `serve` processes, benches) in a module- or session-scoped fixture. If a group spread over both
workers, each worker would build that world again: nothing fails, the suite just takes minutes longer (pytest
9.2 with pytest-xdist 3.8 ignores every group: pyproject.toml pins pytest). This runs a throwaway suite grouped
both ways we group: a module's `pytestmark`, and tests/contract/conftest.py's own hook.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("xdist")

ROOT = Path(__file__).resolve().parents[1]

TEST = """
import os
import pytest
{mark}

@pytest.mark.parametrize("i", range(6))
def test_record_the_worker(i):
    with open(os.environ["WORKER_LOG"], "a") as log:
        log.write("{group} " + os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""


def test_each_group_runs_on_one_worker(tmp_path: Path) -> None:
    marked = tmp_path / "test_marked.py"
    marked.write_text(TEST.format(mark='pytestmark = [pytest.mark.xdist_group("marked")]', group="marked"))
    # The same path shape as the contract suite's, so that its real hook groups it.
    contract = tmp_path / "tests" / "contract"
    contract.mkdir(parents=True)
    (contract / "test_hooked.py").write_text(TEST.format(mark="", group="contract"))
    (contract / "conftest.py").write_text("from tests.contract.conftest import pytest_collection_modifyitems\n")
    log = tmp_path / "workers.log"
    env = {**os.environ, "WORKER_LOG": str(log), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 12, lines
    workers: dict[str, set[str]] = {}
    for line in lines:
        group, worker = line.split()
        workers.setdefault(group, set()).add(worker)
    assert workers.keys() == {"marked", "contract"}
    assert all(len(used) == 1 for used in workers.values()), f"a group ran on several workers: {workers}"
